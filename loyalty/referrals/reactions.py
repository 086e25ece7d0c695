"""What the referrals area does when other areas' events happen, inside their transactions:
every new member is screened (`screening`: fingerprints, a code, the fraud service's verdict
on a referral code), and the friend's purchases and returns qualify or cancel the referral
(`qualifying`). The rewards are given later by the `referrals` job, once the return window
has passed."""

from __future__ import annotations

from loyalty.core.events import MemberSignedUp, PurchaseRecorded, PurchaseReturned
from loyalty.core.reactions import Reactions
from loyalty.referrals.qualifying import purchase_recorded, purchase_returned
from loyalty.referrals.screening import signed_up


def register(reactions: Reactions) -> None:
    reactions.in_transaction_many(MemberSignedUp, signed_up)
    reactions.in_transaction(PurchaseRecorded, purchase_recorded)
    reactions.in_transaction(PurchaseReturned, purchase_returned)
