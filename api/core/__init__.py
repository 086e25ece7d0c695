"""What every API area shares: the request context and its services, errors, permissions,
pagination, global ids, the request's DataLoaders and the query limits."""
