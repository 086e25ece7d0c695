"""Segments: groups of members described by rules over their rhythm (RFM, lifecycle stage,
churn risk), tier, interests, location, consents and activity; kept up to date from events
and rebuilt in full by a job."""
