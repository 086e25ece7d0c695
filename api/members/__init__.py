"""Members: the profile, the card, consents, and the lists of members."""
