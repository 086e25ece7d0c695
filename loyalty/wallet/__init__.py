"""Wallet passes, the domain's side: each member's pass (serial number, authentication token,
update tag), the devices registered for it, and marking it changed when what it shows changes.
Building, signing and serving passes is the `wallet` package's (an adapter)."""
