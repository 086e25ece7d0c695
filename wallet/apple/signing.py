"""The `signature` of a pass: a detached PKCS#7 (CMS) signature of the exact bytes of
`manifest.json`, in DER, with the pass certificate as signer, Apple's WWDR intermediate beside
it and a signing time. `Binary` keeps the bytes as they are (without it they would be
canonicalised as MIME text, and a manifest with newlines would no longer verify)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from wallet.credentials import AppleCredentials

OPTIONS = [
    pkcs7.PKCS7Options.DetachedSignature,
    pkcs7.PKCS7Options.Binary,
    pkcs7.PKCS7Options.NoCapabilities,
]


def sign_manifest(manifest: bytes, credentials: AppleCredentials) -> bytes:
    # The WWDR certificate is added last: `set_data` and `add_signer` return builders that
    # drop certificates added before them.
    builder = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest)
        .add_signer(credentials.certificate, credentials.key, hashes.SHA256())
        .add_certificate(credentials.wwdr)
    )
    return builder.sign(serialization.Encoding.DER, OPTIONS)
