"""Rewards: the catalogue, redemptions and the codes the tills take."""
