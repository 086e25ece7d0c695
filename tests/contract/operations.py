"""The client operations under shared/contract/, and which of them the server serves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from graphql import (
    DocumentNode,
    print_ast,
)

from api.core.documents import operations_of
from tests.conftest import CONTRACT_DIR

# File (relative to the contract directory) -> operations the server answers today. Each later
# capability adds its operations here; an operation listed here must validate and be exercised.
SERVED: dict[str, set[str]] = {
    # Exercised by tests/api/test_privacy_api.py.
    "member-app/privacy.graphql": {"RequestDataExport", "DeleteAccount", "CancelAccountDeletion"},
    # And tests/api/test_audit_api.py.
    "admin/privacy-audit.graphql": {"ExportMemberData", "EraseMember", "AuditLog"},
    "member-app/auth.graphql": {"SignUp", "SignIn", "RefreshSession", "SignOut"},
    "member-app/profile.graphql": {"Profile", "UpdateProfile", "SetConsent"},
    "member-app/points.graphql": {"Transactions", "Rewards", "RedeemReward"},
    # Exercised by tests/notifications/test_live_updates.py over a real websocket client.
    "member-app/live.graphql": {"OnBalanceChanged", "OnOffersChanged"},
    # Exercised by tests/api/test_inbox_api.py, tests/wallet/test_webservice.py and
    # tests/api/test_referrals_api.py.
    "member-app/referral-wallet-inbox.graphql": {
        "Inbox",
        "MarkMessageRead",
        "WalletPass",
        "Referral",
    },
    # Exercised by tests/api/test_offers_api.py.
    "member-app/offers.graphql": {"Offers", "ActivateOffer"},
    # Exercised by tests/api/test_offer_admin_api.py and tests/api/test_segments_api.py.
    "admin/offers-segments.graphql": {
        "CreateOffer",
        "UpdateOffer",
        "PauseOffer",
        "MemberOffers",
        "Segments",
        "SegmentMembers",
        "MemberInsight",
    },
    # Exercised by tests/api/test_home_api.py and tests/api/test_surveys_api.py.
    "member-app/home.graphql": {"Home"},
    # Exercised by tests/api/test_surveys_api.py.
    "member-app/surveys.graphql": {"Surveys", "StartSurvey", "AnswerSurvey"},
    # Referrals: exercised by tests/api/test_referrals_api.py.
    "admin/surveys-referrals.graphql": {"SurveyResults", "HeldReferrals", "ReviewReferral"},
    # Exercised by tests/api/test_campaigns_api.py.
    "admin/campaigns.graphql": {"Campaigns", "CampaignDryRun", "CampaignReport", "MemberJourneys"},
    "pos/pos.graphql": {
        "LookupMember",
        "RecordPurchase",
        "RecordReturn",
        "RecordEvent",
        "RedeemCode",
        "AdjustPoints",
    },
}


@dataclass(frozen=True)
class Operation:
    file: str
    name: str
    document: DocumentNode

    @property
    def text(self) -> str:
        return print_ast(self.document)

    @property
    def served(self) -> bool:
        return self.name in SERVED.get(self.file, set())


def contract_files() -> list[Path]:
    return sorted(CONTRACT_DIR.rglob("*.graphql"))


def load_operations() -> list[Operation]:
    """Every named operation, each with the fragments of its file that it uses, as the client
    sends it."""
    return [
        Operation(path.relative_to(CONTRACT_DIR).as_posix(), op.name, op.document)
        for path in contract_files()
        for op in operations_of(path.read_text(encoding="utf-8"))
    ]


def operation(file: str, name: str) -> str:
    """The text of one contract operation, exactly as the client sends it."""
    for op in load_operations():
        if op.file == file and op.name == name:
            return op.text
    raise KeyError(f"{file}: no operation {name}")
