"""Inputs of wallet passes: none (the pass is the member's own; nothing is asked)."""
