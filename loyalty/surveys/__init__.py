"""Surveys: short questions asked in the app, with logic, incentives, NPS and feedback loops."""
