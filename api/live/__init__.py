"""Live updates: GraphQL subscriptions over graphql-transport-ws."""
