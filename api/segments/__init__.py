"""Segments in the admin API: the segments, their members, and why a member is where they
are (lifecycle stage, churn risk, memberships with reasons)."""
