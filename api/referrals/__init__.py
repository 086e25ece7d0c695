"""GraphQL API of referrals: the member's code and counts, held referrals for review."""
