"""Lifecycle campaigns: entries, journeys of steps, holdouts, the contact budget they share
with every other sender, and whether each campaign worked (treated against held out)."""
