"""No DataLoaders: signing in and out reads nothing per member."""
