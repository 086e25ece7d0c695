"""Sessions: signing up, in and out, and refreshing tokens."""
