"""Google Wallet: a loyalty class per programme and a loyalty object per member, through the
REST API with the service account's OAuth token; skinny save links; updates with at most three
member notifications per pass per 24 hours."""
