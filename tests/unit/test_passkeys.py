"""core/passkeys.py without I/O: the ceremonies' checks on recorded answers, challenges, the relying party."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import webauthn
from webauthn.helpers import parse_authentication_credential_json, parse_registration_credential_json

from core import passkeys

RECORDED = json.loads((Path(__file__).parent / "recordings" / "passkey_ceremonies.json").read_text())
RP = passkeys.RelyingParty("localhost", "Dance of Mind", ("http://localhost:8000",))


class FakeRedis:
    """SET with expiry and GETDEL, as core/passkeys.py uses Redis."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self.expiry: dict[str, int] = {}

    def set(self, key: str, value: str, ex: int) -> None:
        self.values[key], self.expiry[key] = value.encode(), ex

    def getdel(self, key: str) -> bytes | None:
        return self.values.pop(key, None)


def registration(**rp_changes: Any) -> Any:
    recorded = RECORDED["registration"]
    rp = passkeys.RelyingParty(**{**RP.__dict__, **rp_changes})
    credential = parse_registration_credential_json(recorded["credential"])
    return passkeys.verify_registration(rp, credential, webauthn.base64url_to_bytes(recorded["challenge"]))


def sign_in(credential: dict[str, Any] | None = None, **rp_changes: Any) -> Any:
    recorded = RECORDED["authentication"]
    rp = passkeys.RelyingParty(**{**RP.__dict__, **rp_changes})
    parsed = parse_authentication_credential_json(credential or recorded["credential"])
    return passkeys.verify_sign_in(
        rp, parsed, webauthn.base64url_to_bytes(recorded["challenge"]), webauthn.base64url_to_bytes(recorded["public_key"])
    )


def test_a_recorded_registration_verifies():
    verified = registration()
    assert verified.user_verified and verified.sign_count == 0
    assert webauthn.helpers.bytes_to_base64url(verified.credential_public_key) == RECORDED["authentication"]["public_key"]


@pytest.mark.parametrize("rp_changes", [{"origins": ("https://evil.example",)}, {"id": "evil.example"}])
def test_a_registration_for_another_origin_or_rp_id_is_refused(rp_changes):
    with pytest.raises(passkeys.RegistrationRefused):
        registration(**rp_changes)


def test_a_recorded_sign_in_verifies_with_its_counter():
    assert sign_in().new_sign_count == RECORDED["authentication"]["sign_count"]


@pytest.mark.parametrize("rp_changes", [{"origins": ("https://evil.example",)}, {"id": "evil.example"}])
def test_a_sign_in_for_another_origin_or_rp_id_is_refused(rp_changes):
    with pytest.raises(passkeys.SignInRefused):
        sign_in(**rp_changes)


def test_a_tampered_signature_is_refused():
    credential = copy.deepcopy(RECORDED["authentication"]["credential"])
    signature = webauthn.base64url_to_bytes(credential["response"]["signature"])
    credential["response"]["signature"] = webauthn.helpers.bytes_to_base64url(signature[:-1] + bytes([signature[-1] ^ 1]))
    with pytest.raises(passkeys.SignInRefused):
        sign_in(credential)


def test_a_sign_in_without_user_verification_is_refused():
    credential = copy.deepcopy(RECORDED["authentication"]["credential"])
    data = bytearray(webauthn.base64url_to_bytes(credential["response"]["authenticatorData"]))
    data[32] &= ~0x04  # clear UV (the signature then fails too: both are refusals)
    credential["response"]["authenticatorData"] = webauthn.helpers.bytes_to_base64url(bytes(data))
    with pytest.raises(passkeys.SignInRefused):
        sign_in(credential)


def test_the_challenge_is_found_from_client_data_and_taken_once():
    redis = FakeRedis()
    challenge = webauthn.base64url_to_bytes(RECORDED["authentication"]["challenge"])
    passkeys._remember_challenge(redis, challenge, passkeys.LOGIN)
    assert list(redis.expiry.values()) == [passkeys.CHALLENGE_TTL_SECONDS] == [300]
    client_data = parse_authentication_credential_json(RECORDED["authentication"]["credential"]).response.client_data_json
    found, _ = passkeys._take_challenge(redis, client_data, passkeys.LOGIN)
    assert found == challenge
    with pytest.raises(passkeys.ChallengeNotFound):
        passkeys._take_challenge(redis, client_data, passkeys.LOGIN)


def test_a_challenge_of_the_other_ceremony_is_not_found():
    redis = FakeRedis()
    passkeys._remember_challenge(redis, webauthn.base64url_to_bytes(RECORDED["authentication"]["challenge"]),
                                 passkeys.REGISTRATION)
    client_data = parse_authentication_credential_json(RECORDED["authentication"]["credential"]).response.client_data_json
    with pytest.raises(passkeys.ChallengeNotFound):
        passkeys._take_challenge(redis, client_data, passkeys.LOGIN)


def test_unreadable_client_data_is_an_invalid_credential():
    with pytest.raises(passkeys.InvalidCredential):
        passkeys._take_challenge(FakeRedis(), b"not json", passkeys.LOGIN)


def test_development_derives_the_relying_party_from_the_web_servers_own_localhost_origin():
    rp = passkeys.relying_party("", "Site", (), relaxed=True, own_origin="http://localhost:8000/")
    assert rp == passkeys.RelyingParty("localhost", "Site", ("http://localhost:8000",))
    # 127.0.0.1 is no RP id: a page there can't use passkeys, and its origin is not allowed.
    assert passkeys.relying_party("", "Site", (), relaxed=True, own_origin="http://127.0.0.1:8000/").origins == ()


def test_configured_values_win_and_production_derives_nothing():
    configured = passkeys.relying_party("example.com", "Ex", ("https://app.example.com",), relaxed=True,
                                        own_origin="http://localhost:8000/")
    assert configured.origins == ("https://app.example.com",)
    assert passkeys.relying_party("", "Ex", (), relaxed=False, own_origin="http://localhost:8000/") == \
        passkeys.RelyingParty("", "Ex", ())


@pytest.mark.parametrize(
    "origin, on_rp_id",
    [("https://example.com", True), ("https://login.example.com", True), ("https://badexample.com", False),
     ("https://example.com.evil.test", False)],
)
def test_an_origin_is_on_the_rp_id_or_a_subdomain_of_it(origin, on_rp_id):
    assert passkeys.origin_on_rp_id(origin, "example.com") is on_rp_id


def test_a_passkey_is_named_after_the_browser_and_os():
    windows_chrome = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/120.0.0.0 Safari/537.36")
    assert passkeys.name_for(windows_chrome) == "Chrome on Windows"
    assert passkeys.name_for(None) == "Passkey"
