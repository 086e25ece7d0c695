"""Referrals: members bring friends, both are rewarded once the friend really buys; one
fraud service screens every sign-up, whichever way the friend came in."""
