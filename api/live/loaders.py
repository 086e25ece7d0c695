"""No DataLoaders: live updates are built from the events themselves, not read."""
