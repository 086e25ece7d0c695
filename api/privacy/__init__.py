"""privacy: the member's and the back office's data exports and erasure."""
