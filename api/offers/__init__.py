"""Personal offers: the types the live feed sends (the offers capability is not built yet)."""
