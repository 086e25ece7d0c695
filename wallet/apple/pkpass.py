"""A member's Apple Wallet pass (`storeCard`), built from a `PassView` and signed.

The archive is built deterministically: `pass.json` (`wallet.apple.pass_document`), the
programme's images and strings, the manifest, fixed zip timestamps. The same view gives the
same pass.json, images and manifest; only the signature's signing time tells two builds
apart. What every pass of a programme shares is made once and kept.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from wallet.apple.archive import ArchiveHead, archive_head, stored_zip
from wallet.apple.images import pass_images
from wallet.apple.pass_document import PassIssuer, pass_document, pass_json, programme_json
from wallet.apple.signing import sign_manifest
from wallet.apple.strings import LANGUAGES, pass_strings
from wallet.passes import PassProgramme, PassView

__all__ = ["CONTENT_TYPE", "PassIssuer", "build_pkpass", "manifest", "pass_files", "pass_json"]

CONTENT_TYPE = "application/vnd.apple.pkpass"


@dataclass(frozen=True)
class _Shared:
    """What every pass of a programme from one issuer shares, made once: the images and
    strings (laid out at the start of the archive), the programme's part of pass.json as
    JSON text, and the manifest around the one digest that differs (pass.json's)."""

    programme: PassProgramme
    issuer: PassIssuer
    files: dict[str, bytes]
    archive_head: ArchiveHead
    programme_json: str  # the programme's part of pass.json
    manifest_head: bytes
    manifest_tail: bytes


# By identity: the pass views hand out one PassProgramme object while the programme file
# stays the same, and hashing it (pydantic models inside) for every pass would cost more
# than making the pass's own parts.
_SHARED: dict[tuple[int, int], _Shared] = {}


def _shared(programme: PassProgramme, issuer: PassIssuer) -> _Shared:
    found = _SHARED.get((id(programme), id(issuer)))
    if found is not None and found.programme is programme and found.issuer is issuer:
        return found
    files = dict(pass_images(programme.look, programme.name))
    for language in LANGUAGES:
        files[f"{language}.lproj/pass.strings"] = pass_strings(language)
    digests = {n: hashlib.sha1(data).hexdigest() for n, data in files.items()}  # noqa: S324
    digests["pass.json"] = "-"
    head, tail = manifest_json(digests).split(b'"pass.json":"-"')
    if len(_SHARED) >= 16:
        _SHARED.clear()
    own = programme_json(programme, issuer)
    found = _Shared(programme, issuer, files, archive_head(files), own, head, tail)
    _SHARED[(id(programme), id(issuer))] = found
    return found


def pass_files(view: PassView, issuer: PassIssuer) -> dict[str, bytes]:
    """Every file of the pass but the manifest and the signature, by name."""
    shared = _shared(view.programme, issuer)
    return {"pass.json": pass_document(shared.programme_json, view), **shared.files}


def manifest_json(digests: dict[str, str]) -> bytes:
    return json.dumps(digests, sort_keys=True, separators=(",", ":")).encode()


def manifest(files: dict[str, bytes]) -> bytes:
    """`manifest.json`: the hex SHA-1 of every file, by name."""
    return manifest_json(
        {name: hashlib.sha1(data).hexdigest() for name, data in files.items()}  # noqa: S324
    )


def build_pkpass(view: PassView, issuer: PassIssuer, now: datetime | None = None) -> bytes:
    """The signed .pkpass archive of `view` (signed at `now`, by default the present)."""
    shared = _shared(view.programme, issuer)
    document = pass_document(shared.programme_json, view)
    digest = hashlib.sha1(document).hexdigest().encode()  # noqa: S324 (Apple's format)
    manifest_file = shared.manifest_head + b'"pass.json":"' + digest + b'"' + shared.manifest_tail
    signature = sign_manifest(manifest_file, issuer.credentials, now)
    own = {"manifest.json": manifest_file, "pass.json": document, "signature": signature}
    return stored_zip(own, shared.archive_head)
