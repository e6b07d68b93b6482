"""A software passkey authenticator for tests, built on the `fido2` package's WebAuthn structures.

It answers creation and request options (their JSON forms) the way a browser's
`PublicKeyCredential.toJSON()` does, with "none" attestation, ES256 keys, user presence and
verification, and a signature counter. `soft-webauthn` 0.1.4 does the same job but needs
fido2 < 2, whose cryptography pin conflicts with webauthn 3.0.1's; hence these few lines.
Knobs for the refusals tests need: another origin or RP id, a counter held back (a clone), a
broken signature.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)

FLAGS = AuthenticatorData.FLAG


def b64url(data: bytes) -> str:
    """Encode bytes as unpadded base64url, as WebAuthn's JSON forms do."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Decode unpadded base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    """One passkey held in memory: its credential id, key, user handle and counter."""

    origin: str = "http://localhost"
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    rp_id: str | None = None
    user_handle: bytes | None = None
    sign_count: int = 0

    def create(self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None) -> dict[str, Any]:
        """Answer creation options: a new discoverable credential, as `toJSON()` writes it."""
        self.rp_id = rp_id or options["rp"]["id"]
        self.user_handle = unb64url(options["user"]["id"])
        assert {"type": "public-key", "alg": -7} in options["pubKeyCredParams"]
        client_data = CollectedClientData.create("webauthn.create", unb64url(options["challenge"]), origin or self.origin)
        credential = AttestedCredentialData.create(
            b"\0" * 16, self.credential_id, ES256.from_cryptography_key(self.private_key.public_key())
        )
        auth_data = AuthenticatorData.create(
            hashlib.sha256(self.rp_id.encode()).digest(), FLAGS.UP | FLAGS.UV | FLAGS.AT, self.sign_count, credential
        )
        attestation = AttestationObject.create("none", auth_data, {})
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(bytes(client_data)),
                "attestationObject": b64url(bytes(attestation)),
                "transports": ["internal"],
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        count_up: bool = True,
        break_signature: bool = False,
    ) -> dict[str, Any]:
        """Answer request options with a signed assertion, as `toJSON()` writes it."""
        assert self.rp_id is not None, "create() first"
        if count_up:
            self.sign_count += 1
        client_data = CollectedClientData.create("webauthn.get", unb64url(options["challenge"]), origin or self.origin)
        auth_data = AuthenticatorData.create(
            hashlib.sha256((rp_id or self.rp_id).encode()).digest(), FLAGS.UP | FLAGS.UV, self.sign_count
        )
        signature = self.private_key.sign(bytes(auth_data) + client_data.hash, ec.ECDSA(hashes.SHA256()))
        if break_signature:
            signature = signature[:-1] + bytes([signature[-1] ^ 1])
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(bytes(client_data)),
                "authenticatorData": b64url(bytes(auth_data)),
                "signature": b64url(signature),
                "userHandle": b64url(self.user_handle or b""),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    def clone(self) -> "SoftAuthenticator":
        """Return a copy holding the same key and counter (what a cloned authenticator is)."""
        return SoftAuthenticator(
            self.origin, self.credential_id, self.private_key, self.rp_id, self.user_handle, self.sign_count
        )
