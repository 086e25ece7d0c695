"""No DataLoaders: offers are not stored yet; only the live feed carries them."""
