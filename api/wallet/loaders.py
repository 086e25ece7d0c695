"""DataLoaders of wallet passes: none (one pass per member, asked for on its own)."""
