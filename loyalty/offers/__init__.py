"""Offers: personalised promotions a member sees, activates and uses at the till."""
