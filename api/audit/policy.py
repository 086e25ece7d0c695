"""Which mutations the audit log leaves out: a member's own self-service, done with a member
token (an API key calling one is still recorded). Every other mutation is recorded when an
API key calls it, so a new admin or till mutation is audited without anyone remembering to;
`tests/api/test_audit_api.py` fails when a mutation is in neither group."""

from __future__ import annotations

MEMBER_SELF_SERVICE = frozenset(
    {
        "signUp",
        "signIn",
        "refreshSession",
        "signOut",
        "updateProfile",
        "setConsent",
        "redeemReward",
        "cancelRedemption",
        "activateOffer",
        "startSurvey",
        "answerSurvey",
        "registerDevice",
        "unregisterDevice",
        "markMessageRead",
    }
)

# Input fields whose text is kept in an entry's summary: keys, names and references of the
# programme and the till, never personal data or secrets. Other text is summarised by length.
KEPT_TEXT = frozenset(
    {
        "externalId",
        "purchaseExternalId",
        "key",
        "name",
        "title",
        "tier",
        "state",
        "kind",
        "store",
        "currency",
        "sku",
        "category",
        "idempotencyKey",
        "until",
    }
)

# Mutations recorded in the transaction of their write, by an in-transaction reaction that
# names the objects their payload does (`loyalty.audit.reactions`): a till's purchase.
IN_TRANSACTION = frozenset({"recordPurchase"})
