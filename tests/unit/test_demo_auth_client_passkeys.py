"""authClient.js's passkey calls under Node, with a fake `fetch` and a fake `navigator.credentials`:
the fallback JSON conversions for browsers without PublicKeyCredential's JSON helpers.

Skipped, saying so, where `node` is not installed (the real browser path is
tests/e2e/test_browser_passkeys.py).
"""

from __future__ import annotations

import pytest

from tests.unit.test_demo_auth_client import DEMO, NODE, run_node

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the demo's scripts are tested in a browser only")

FAKE_BROWSER = """
const bytes = (...values) => new Uint8Array(values).buffer;
const asked = {};
globalThis.PublicKeyCredential = function PublicKeyCredential() {};  // no JSON helpers: the fallback runs
Object.defineProperty(globalThis, "isSecureContext", { value: true, configurable: true });
Object.defineProperty(globalThis, "navigator", { configurable: true, value: { credentials: {
  async create({ publicKey }) {
    asked.create = publicKey;
    return { id: "AQI", rawId: bytes(1, 2), type: "public-key", authenticatorAttachment: "platform",
             getClientExtensionResults: () => ({}),
             response: { clientDataJSON: bytes(123, 125), attestationObject: bytes(255, 254, 253), getTransports: () => ["internal"] } };
  },
  async get(options) {
    asked.get = options;
    return { id: "AQI", rawId: bytes(1, 2), type: "public-key", authenticatorAttachment: "platform",
             getClientExtensionResults: () => ({}),
             response: { clientDataJSON: bytes(123, 125), authenticatorData: bytes(0), signature: bytes(62, 63), userHandle: bytes(7) } };
  },
} } });
const bodies = {};
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
  bodies[`${init.method} ${new URL(url, "http://page.test").pathname}`] = init.body && JSON.parse(init.body);
  return realFetch(url, init);
};
const TOKENS = { access_token: "a1", refresh_token: "r1", token_type: "bearer", expires_in: 1800 };
"""


def test_sign_in_with_a_passkey_converts_options_and_answer_and_keeps_the_tokens() -> None:
    run_node(
        FAKE_BROWSER
        + """
        routes["POST /api/auth/passkeys/login/options"] = () => json(200, { challenge: "AP-_", rpId: "localhost", timeout: 300000, allowCredentials: [], userVerification: "required" });
        routes["POST /api/auth/passkeys/login/verify"] = () => json(200, { status: "approved", tokens: TOKENS, user: { id: 1 } });
        routes["GET /api/auth/passkeys"] = () => json(200, { passkeys: [] });
        const { passkeysSupported } = await import("CLIENT_URL");
        assert.equal(passkeysSupported(), true);
        const auth = createAuthClient();
        const answer = await auth.signInWithPasskey({ conditional: true });
        assert.equal(answer.status, "approved");
        assert.deepEqual([...new Uint8Array(asked.get.publicKey.challenge)], [0, 255, 191]);
        assert.equal(asked.get.mediation, "conditional");
        assert.deepEqual(bodies["POST /api/auth/passkeys/login/verify"], {
          id: "AQI", rawId: "AQI", type: "public-key", authenticatorAttachment: "platform", clientExtensionResults: {},
          response: { clientDataJSON: "e30", authenticatorData: "AA", signature: "Pj8", userHandle: "Bw" },
        });
        assert.equal(auth.tokens().access_token, "a1");
        assert.deepEqual(await auth.listPasskeys(), []);
        """.replace("CLIENT_URL", (DEMO / "authClient.js").as_uri())
    )


def test_adding_a_passkey_sends_the_bearer_token_and_the_attestation() -> None:
    run_node(
        FAKE_BROWSER
        + """
        routes["POST /api/auth/passkeys/login/options"] = () => json(200, { challenge: "AA", rpId: "localhost", allowCredentials: [], userVerification: "required" });
        routes["POST /api/auth/passkeys/login/verify"] = () => json(200, { status: "approved", tokens: TOKENS, user: { id: 1 } });
        routes["POST /api/auth/passkeys/registration/options"] = () => json(200, {
          rp: { id: "localhost", name: "Site" }, user: { id: "Bw", name: "+79161234567", displayName: "Anna" },
          challenge: "AQ", pubKeyCredParams: [{ type: "public-key", alg: -7 }], timeout: 300000,
          excludeCredentials: [{ id: "AQI", type: "public-key" }], authenticatorSelection: {}, attestation: "none" });
        routes["POST /api/auth/passkeys/registration/verify"] = () => json(201, { id: "p1", name: "Chrome on Linux", created_at: "2026-12-05T10:00:00Z" });
        const auth = createAuthClient();
        await auth.signInWithPasskey();
        const added = await auth.addPasskey();
        assert.equal(added.name, "Chrome on Linux");
        assert.deepEqual([...new Uint8Array(asked.create.user.id)], [7]);
        assert.deepEqual([...new Uint8Array(asked.create.excludeCredentials[0].id)], [1, 2]);
        assert.deepEqual(bodies["POST /api/auth/passkeys/registration/verify"].response,
                         { clientDataJSON: "e30", attestationObject: "__79", transports: ["internal"] });
        """
    )


def test_a_refused_passkey_throws_the_apis_error() -> None:
    run_node(
        FAKE_BROWSER
        + """
        routes["POST /api/auth/passkeys/login/options"] = () => json(200, { challenge: "AA", rpId: "localhost", allowCredentials: [], userVerification: "required" });
        routes["POST /api/auth/passkeys/login/verify"] = () => json(401, { error: { code: "passkey_sign_in_failed", message: "This passkey was not accepted." } });
        const auth = createAuthClient();
        const error = await auth.signInWithPasskey().catch((e) => e);
        assert.ok(error instanceof AuthError);
        assert.deepEqual([error.status, error.code], [401, "passkey_sign_in_failed"]);
        assert.equal(auth.tokens(), null);
        """
    )


def test_a_passkey_sign_in_stops_and_cancels_the_pending_telegram_login() -> None:
    run_node(
        FAKE_BROWSER
        + """
        routes["POST /api/auth/passkeys/login/options"] = () => json(200, { challenge: "AA", rpId: "localhost", allowCredentials: [], userVerification: "required" });
        routes["POST /api/auth/passkeys/login/verify"] = () => json(200, { status: "approved", tokens: TOKENS, user: { id: 1 } });
        routes["DELETE /api/auth/session/s1"] = () => json(200, { status: "cancelled" });
        const auth = createAuthClient();
        const login = await auth.start("+79161234567");
        const waiting = auth.waitForResult(login.session_id, { pollInterval: 0.01 }).then((a) => a.status, (e) => e.name);
        await tick();
        await auth.signInWithPasskey();
        assert.equal(await waiting, "AbortError");
        assert.equal(auth.tokens().access_token, "a1");
        assert.deepEqual(log.filter((line) => !line.includes("answered")), [
          "POST /api/auth/init", "GET /api/auth/status/s1", "POST /api/auth/passkeys/login/options",
          "POST /api/auth/passkeys/login/verify", "DELETE /api/auth/session/s1",
        ]);
        """
    )
