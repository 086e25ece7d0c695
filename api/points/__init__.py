"""Points: balances, history, tiers, and the tills' purchases, returns and events."""
