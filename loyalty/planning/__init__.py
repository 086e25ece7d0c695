"""Programme plans: what a new programme file would change, before it is applied."""
