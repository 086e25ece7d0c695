"""privacy: data exports, erasure and the check that nothing personal is left."""
