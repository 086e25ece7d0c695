"""No queries: offers are not stored yet; only the live feed carries them."""
