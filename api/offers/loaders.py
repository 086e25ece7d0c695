"""DataLoaders of offers: none yet (a member's offers are one service call per member)."""
