"""authClient.js's email calls under Node, against a fake `fetch`: what each sends, what it keeps,
and that the API's error comes back as an AuthError.

Skipped, saying so, where `node` is not installed (the page itself is tested in a real browser
by tests/e2e/test_browser_email.py).
"""

from __future__ import annotations

import pytest

from tests.unit.test_demo_auth_client import NODE, run_node

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the demo's scripts are tested in a browser only")

# Records each request's body and Authorization header by "METHOD path".
RECORDING = """
const sent = {};
const fakeFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
  sent[`${init.method} ${new URL(url, "http://page.test").pathname}`] = {
    body: init.body && JSON.parse(init.body), authorization: init.headers?.Authorization ?? null,
  };
  return fakeFetch(url, init);
};
const TOKENS = { access_token: "a1", refresh_token: "r1", token_type: "bearer", expires_in: 1800 };
const CODE_SENT = { status: "code_sent", expires_in: 600 };
"""


def test_signing_in_with_an_email_code_keeps_the_tokens_for_the_calls_after_it() -> None:
    run_node(
        RECORDING
        + """
        routes["POST /api/auth/email/login"] = () => json(202, CODE_SENT);
        routes["POST /api/auth/email/login/verify"] = () => json(200, { status: "approved", tokens: TOKENS, user: { id: 7 } });
        routes["GET /api/auth/me"] = () => json(200, { id: 7, email: "ann@example.com", email_verified: true });
        const auth = createAuthClient();
        assert.deepEqual(await auth.requestEmailSignInCode("ann@example.com"), CODE_SENT);
        assert.deepEqual(sent["POST /api/auth/email/login"], { body: { email: "ann@example.com" }, authorization: null });
        const answer = await auth.signInWithEmailCode("ann@example.com", "042917");
        assert.equal(answer.status, "approved");
        assert.deepEqual(sent["POST /api/auth/email/login/verify"].body, { email: "ann@example.com", code: "042917" });
        assert.equal(auth.tokens().access_token, "a1");
        assert.equal((await auth.me()).email, "ann@example.com");
        assert.equal(sent["GET /api/auth/me"].authorization, "Bearer a1");
        """
    )


def test_adding_and_confirming_an_address_go_with_the_bearer_token() -> None:
    run_node(
        RECORDING
        + """
        routes["POST /api/auth/email/login/verify"] = () => json(200, { status: "approved", tokens: TOKENS, user: { id: 7 } });
        routes["POST /api/auth/email"] = () => json(202, CODE_SENT);
        routes["POST /api/auth/email/confirm"] = () => json(200, { id: 7, email: "bob@example.com", email_verified: true });
        const auth = createAuthClient();
        await assert.rejects(auth.addEmail("bob@example.com"), (e) => e instanceof AuthError && e.code === "not_logged_in");
        await auth.signInWithEmailCode("ann@example.com", "042917");
        assert.deepEqual(await auth.addEmail("bob@example.com"), CODE_SENT);
        assert.deepEqual(sent["POST /api/auth/email"], { body: { email: "bob@example.com" }, authorization: "Bearer a1" });
        const profile = await auth.confirmEmail("123456");
        assert.equal(profile.email_verified, true);
        assert.deepEqual(sent["POST /api/auth/email/confirm"], { body: { code: "123456" }, authorization: "Bearer a1" });
        """
    )


def test_the_email_calls_throw_the_apis_error() -> None:
    run_node(
        RECORDING
        + """
        routes["POST /api/auth/email/login"] = () => json(429,
          { error: { code: "rate_limited", message: "Too many requests; try again later." } }, { "Retry-After": "600" });
        routes["POST /api/auth/email/login/verify"] = () => json(422,
          { error: { code: "invalid_code", message: "The code is wrong or no longer valid; ask for a new one." } });
        const auth = createAuthClient();
        const limited = await auth.requestEmailSignInCode("ann@example.com").catch((e) => e);
        assert.ok(limited instanceof AuthError);
        assert.deepEqual([limited.status, limited.code, limited.retryAfter], [429, "rate_limited", 600]);
        const wrong = await auth.signInWithEmailCode("ann@example.com", "000000").catch((e) => e);
        assert.ok(wrong instanceof AuthError);
        assert.deepEqual([wrong.status, wrong.code, wrong.message],
                         [422, "invalid_code", "The code is wrong or no longer valid; ask for a new one."]);
        assert.equal(auth.tokens(), null);
        """
    )
