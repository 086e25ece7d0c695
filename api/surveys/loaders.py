"""DataLoaders of surveys: none yet (a member's surveys are one service call per member)."""
