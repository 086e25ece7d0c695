"""Every way a member comes in goes through the referrals' fraud service.

The service runs as the referrals area's in-transaction reaction to `member.signed_up`, which
`members.create_members` (`create_member` for one) emits for every member it inserts, with
the signals the way in must pass (`signals=`, no default). These tests fail when a new way in
skips that: a new caller of either that is not listed here (list it, pass its signals and test
it through its entry point), a caller that passes no signals, or a member inserted any other
way."""

from __future__ import annotations

import ast
from pathlib import Path

from loyalty.areas import register_reactions
from loyalty.core.events import MemberSignedUp
from loyalty.core.reactions import Reactions
from loyalty.referrals import screening

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("loyalty", "api", "notifications", "wallet")
# Each way in, with the test that signs a member up through it and sees the referral checks.
KNOWN_WAYS_IN = {
    # GraphQL signUp: tests/api/test_referrals_api.py
    ("loyalty/auth/service.py", "sign_up"),
    # The brand's identity provider: tests/api/test_identity_provider.py (referral claim)
    ("loyalty/auth/identity.py", "provision"),
    # The demo data that `make run` loads (a referral code for the friends of a demo member):
    # tests/loyalty/test_demo_referrals.py
    ("loyalty/demo/data.py", "load_demo"),
    # Members brought over from another platform, a chunk at a time through create_members
    # (no device, address or referral code; the checks keep their email and phone prints):
    # tests/loyalty/test_member_import.py
    ("loyalty/imports/members.py", "_create"),
}


# The ways to create a member; `create_member` is `create_members` for one.
CREATORS = ("create_member", "create_members")
MEMBERS = "loyalty/members/service.py"


def _sources() -> list[tuple[str, ast.Module]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found.append((str(path.relative_to(ROOT)), ast.parse(path.read_text("utf-8"))))
    return found


def _callee(call: ast.Call) -> str | None:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def _calls_in_functions(tree: ast.Module) -> list[tuple[str, ast.Call]]:
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call):
                    calls.append((node.name, inner))
    return calls


def test_every_caller_of_create_member_is_a_known_way_in_and_passes_its_signals() -> None:
    ways_in = set()
    for path, tree in _sources():
        for function, call in _calls_in_functions(tree):
            if _callee(call) not in CREATORS or (path, function) == (MEMBERS, "create_member"):
                continue
            ways_in.add((path, function))
            signals = [k for k in call.keywords if k.arg == "signals"]
            assert signals, f"{path}:{call.lineno} creates a member without signals="
            value = signals[0].value
            assert not (isinstance(value, ast.Constant) and value.value is None), (
                f"{path}:{call.lineno} passes signals=None"
            )
    assert ways_in == KNOWN_WAYS_IN, (
        "A new way in creates members: pass its signals (device, client address, referral "
        "code) to create_member, add it to KNOWN_WAYS_IN and test the referral checks "
        "through it"
    )


# Copies of members that are already in: a programme plan replays history in a scratch
# database holding a copy of the running one's members; no one signs up there.
COPIES = {"loyalty/members/service.py", "loyalty/planning/replay.py"}


def test_no_member_is_inserted_except_by_create_member() -> None:
    for path, tree in _sources():
        if path in COPIES:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _callee(node) in ("Member", "insert"):
                args = [a for a in node.args if isinstance(a, ast.Name)]
                is_insert = _callee(node) == "insert" and any(a.id == "Member" for a in args)
                is_new = _callee(node) == "Member" and path.startswith("loyalty/")
                assert not (is_insert or is_new), (
                    f"{path}:{node.lineno} inserts a member around create_member (and so "
                    "around the referral checks)"
                )


def test_the_referral_checks_react_to_every_sign_up() -> None:
    reactions = register_reactions(Reactions())
    handlers = reactions.handlers_of(MemberSignedUp)
    assert screening.signed_up in handlers
