"""No queries: a session is read through the member it belongs to (`me`)."""
