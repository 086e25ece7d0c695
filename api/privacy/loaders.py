"""No DataLoaders: exports and erasures are only returned by their mutations."""
