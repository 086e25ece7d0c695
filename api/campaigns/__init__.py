"""Campaigns in the API: the back office's campaigns, dry runs, reports and members'
journeys, and the late deliveries that tills and web shops report."""
