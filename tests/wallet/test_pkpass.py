"""The Apple pass: its files, Apple's rules for pass.json, and a signature that openssl
verifies against the development root."""

from __future__ import annotations

import io
import json
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from loyalty.programme.wallet_spec import WalletImages, WalletNfc, WalletSpec
from loyalty.wallet.messages import PassMessage
from tests.wallet.helpers import dev_certs, issuer, openssl_verify, rule_breaches, unzip, view
from wallet.apple.pkpass import build_pkpass, pass_files
from wallet.devcerts import DevCertFiles


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> DevCertFiles:
    return dev_certs(tmp_path_factory.mktemp("wallet-certs"))


def test_a_pass_verifies_with_openssl_against_the_local_root(
    certs: DevCertFiles, tmp_path: Path
) -> None:
    files = unzip(build_pkpass(view(), issuer(certs)))
    verified = openssl_verify(files, certs.root, tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert "Verification successful" in verified.stderr
    # A changed manifest no longer verifies.
    files["manifest.json"] = files["manifest.json"].replace(b"{", b"{ ", 1)
    assert openssl_verify(files, certs.root, tmp_path).returncode != 0


def test_the_signature_carries_the_signer_the_intermediate_and_a_signing_time(
    certs: DevCertFiles, tmp_path: Path
) -> None:
    files = unzip(build_pkpass(view(), issuer(certs)))
    (tmp_path / "signature").write_bytes(files["signature"])
    printed = subprocess.run(
        ["openssl", "cms", "-cmsout", "-print", "-inform", "DER",
         "-in", str(tmp_path / "signature")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "signingTime" in printed
    assert "eContent: <ABSENT>" in printed  # detached
    certificates = subprocess.run(
        ["openssl", "pkcs7", "-inform", "DER", "-print_certs", "-in", str(tmp_path / "signature")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    subjects = [line for line in certificates.splitlines() if line.startswith("subject=")]
    assert len(subjects) == 2
    assert any("Pass Type ID: pass.nl.trouw.demo" in s for s in subjects)
    assert any("WWDR" in s for s in subjects)


def test_pass_json_obeys_apples_rules(certs: DevCertFiles) -> None:
    files = unzip(build_pkpass(view(), issuer(certs)))
    assert rule_breaches(files) == []
    assert set(files) >= {
        "pass.json", "manifest.json", "signature", "en.lproj/pass.strings",
        "nl.lproj/pass.strings",
        *(f"{kind}{scale}.png" for kind in ("icon", "logo", "strip")
          for scale in ("", "@2x", "@3x")),
    }  # fmt: skip
    document = json.loads(files["pass.json"])
    card = document["storeCard"]
    assert card["headerFields"][0]["value"] == 1250
    assert card["primaryFields"][0]["value"] == "Noor Visser"
    assert document["barcodes"][0]["message"] == "TRW1234567890"
    assert document["barcodes"][0]["format"] == "PKBarcodeFormatQR"
    assert document["semantics"]["balance"] == {"amount": "12.50", "currencyCode": "EUR"}
    assert document["semantics"]["membershipProgramNumber"] == "1234 5678 90"
    assert document["locations"][0]["relevantText"] == "Dam is nearby"
    assert document["relevantDates"] == [
        {"startDate": "2027-03-01T12:00:00Z", "endDate": "2027-03-08T12:00:00Z"}
    ]
    assert document["webServiceURL"] == "https://loyalty.example.com/wallet"
    assert b'"Points" = "Punten";' in files["nl.lproj/pass.strings"]


def test_the_rules_check_catches_what_apple_refuses(certs: DevCertFiles) -> None:
    files = unzip(build_pkpass(view(authentication_token="short"), issuer(certs)))
    assert "authenticationToken shorter than 16 characters" in rule_breaches(files)


def test_the_same_view_builds_the_same_files(certs: DevCertFiles) -> None:
    first, second = pass_files(view(), issuer(certs)), pass_files(view(), issuer(certs))
    assert first == second
    changed = pass_files(view(balance=1300), issuer(certs))
    assert changed["pass.json"] != first["pass.json"]
    assert changed["icon.png"] == first["icon.png"]


def test_pass_json_written_as_text_is_json_with_every_value_as_given(certs: DevCertFiles) -> None:
    odd = 'Zoë "de Koffie" \\ Visser\n\u2603'
    bare = view(member_name=odd, tier=None, expiring_points=0, pending=0, offers=())
    files = unzip(build_pkpass(bare, issuer(certs)))
    document = json.loads(files["pass.json"])
    assert rule_breaches(files) == []
    card = document["storeCard"]
    assert card["primaryFields"] == [{"key": "member", "label": "Member", "value": odd}]
    assert card["secondaryFields"] == [] and "relevantDates" not in document
    assert [f["key"] for f in card["backFields"]] == ["message", "terms", "links"]
    assert document["formatVersion"] == 1 and document["sharingProhibited"] is True
    full = json.loads(pass_files(view(), issuer(certs))["pass.json"])
    assert [f["key"] for f in full["storeCard"]["secondaryFields"]] == [
        "tier", "expiring", "expiringAt",
    ]  # fmt: skip
    assert full["storeCard"]["secondaryFields"][2]["value"] == "2027-03-21T12:00:00Z"
    assert full["storeCard"]["headerFields"][0]["textAlignment"] == "PKTextAlignmentRight"


def test_the_campaign_message_is_one_back_field_whose_value_changes(certs: DevCertFiles) -> None:
    """The field is on every pass under one key, so a message is a changed value: Wallet then
    shows the change message, "%@" (the message itself), on the lock screen."""
    before = unzip(build_pkpass(view(), issuer(certs)))
    sent = PassMessage("Dubbele punten", 'Dit weekend "dubbel" op koffie.', datetime.now(UTC))
    after = unzip(build_pkpass(view(message=sent), issuer(certs)))
    assert rule_breaches(after) == []
    fields = [json.loads(f["pass.json"])["storeCard"]["backFields"][0] for f in (before, after)]
    assert fields == [
        {"key": "message", "label": "News", "value": "No news yet.", "changeMessage": "%@"},
        {"key": "message", "label": "Dubbele punten", "value": sent.body, "changeMessage": "%@"},
    ]
    assert b'"No news yet." = "Nog geen nieuws.";' in after["nl.lproj/pass.strings"]


def test_images_come_from_the_asset_files_named_scaled_to_each_size(
    certs: DevCertFiles, tmp_path: Path
) -> None:
    for kind, colour in (("icon", (200, 0, 0)), ("logo", (0, 200, 0)), ("strip", (0, 0, 200))):
        Image.new("RGB", (600, 300), colour).save(tmp_path / f"{kind}.png")
    images = WalletImages(
        icon=str(tmp_path / "icon.png"),
        logo=str(tmp_path / "logo.png"),
        strip=str(tmp_path / "strip.png"),
    )
    drawn = view()
    named = view(programme=replace(drawn.programme, look=WalletSpec(images=images)))
    files = unzip(build_pkpass(named, issuer(certs)))
    assert rule_breaches(files) == []
    for name, size, colour in (
        ("icon.png", (29, 29), (200, 0, 0)),
        ("icon@3x.png", (87, 87), (200, 0, 0)),
        ("logo@2x.png", (320, 100), (0, 200, 0)),
        ("strip.png", (375, 123), (0, 0, 200)),
    ):
        with Image.open(io.BytesIO(files[name])) as image:
            assert image.size == size
            assert image.convert("RGB").getpixel((size[0] // 2, size[1] // 2)) == colour
    assert files["icon.png"] != unzip(build_pkpass(drawn, issuer(certs)))["icon.png"]


def test_nfc_is_in_the_pass_only_when_configured(certs: DevCertFiles) -> None:
    plain = view()
    assert "nfc" not in json.loads(pass_files(plain, issuer(certs))["pass.json"])
    key = "MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgAC" + "A" * 24
    look = WalletSpec(nfc=WalletNfc(message="TRW1234567890", encryption_public_key=key))
    with_nfc = view(programme=replace(plain.programme, look=look))
    document = json.loads(pass_files(with_nfc, issuer(certs))["pass.json"])
    assert document["nfc"] == {"message": "TRW1234567890", "encryptionPublicKey": key}
