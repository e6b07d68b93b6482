"""authClient.js under Node, against a fake `fetch` that records every request: how it replaces
and abandons logins, so that one browser never has two live prompts.

Skipped, saying so, where `node` is not installed (the page itself is tested in a real browser
by tests/e2e/test_browser_demo_page.py).
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap

import pytest

from devstack import PROJECT_ROOT

NODE = shutil.which("node")
DEMO = PROJECT_ROOT / "webapp" / "static" / "demo"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the demo's scripts are tested in a browser only")

# A fake server for authClient.js: answers by "METHOD path" from `routes` (a function or a value),
# records what was asked and when each answer was finished. A status long poll that is aborted
# rejects as a browser's fetch does.
FAKE_FETCH = """
import assert from "node:assert/strict";
import { createAuthClient, AuthError } from "%(client)s";

const log = [];
const routes = {};
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));
function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}
let sessions = 0;
routes["POST /api/auth/init"] = () => {
  sessions += 1;
  return json(201, { session_id: `s${sessions}`, status: "pending", expires_in: 300, poll_interval: 0.01, bot_url: `https://t.me/bot?start=t${sessions}` });
};
globalThis.fetch = async (url, init = {}) => {
  const key = `${init.method ?? "GET"} ${new URL(url, "http://page.test").pathname}`;
  log.push(init.keepalive ? `${key} (keepalive)` : key);
  if (key.startsWith("GET /api/auth/status/") && !routes[key]) {
    // Nothing happens to the login: the long poll hangs until aborted.
    return new Promise((resolve, reject) => {
      init.signal?.addEventListener("abort", () => reject(init.signal.reason), { once: true });
    });
  }
  await tick();
  const route = routes[key];
  if (route === undefined) throw new Error(`unexpected request ${key}`);
  if (route instanceof Error) throw new TypeError("Failed to fetch");
  const response = typeof route === "function" ? route() : route;
  log.push(`${key} answered ${response.status}`);
  return response;
};
"""


def run_node(script: str) -> str:
    """Run an ES module under node with the fake server prepended; fail with its output unless it exits 0."""
    source = FAKE_FETCH % {"client": (DEMO / "authClient.js").as_uri()} + textwrap.dedent(script)
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", source], capture_output=True, text=True, timeout=30, cwd=PROJECT_ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_start_again_stops_the_earlier_loop_and_awaits_its_cancel_before_the_new_init() -> None:
    run_node(
        """
        routes["DELETE /api/auth/session/s1"] = () => json(200, { status: "cancelled" });
        const auth = createAuthClient();
        const first = await auth.start("+79161234567");
        const seen = [];
        const waiting = auth.waitForResult(first.session_id, { onStatus: (s) => seen.push(s.status), pollInterval: 0.01 })
          .then((answer) => answer.status, (error) => error.name);
        await tick();
        const second = await auth.start("+79161234567");
        assert.equal(await waiting, "AbortError");
        assert.equal(second.session_id, "s2");
        assert.deepEqual(seen, []);
        assert.deepEqual(log, [
          "POST /api/auth/init", "POST /api/auth/init answered 201",
          "GET /api/auth/status/s1",
          "DELETE /api/auth/session/s1", "DELETE /api/auth/session/s1 answered 200",
          "POST /api/auth/init", "POST /api/auth/init answered 201",
        ]);
        """
    )


def test_starts_called_at_once_still_cancel_each_earlier_login() -> None:
    run_node(
        """
        routes["DELETE /api/auth/session/s1"] = () => json(200, { status: "cancelled" });
        const auth = createAuthClient();
        const [a, b] = await Promise.all([auth.start("+79161234567"), auth.start("+79161234567")]);
        assert.deepEqual([a.session_id, b.session_id], ["s1", "s2"]);
        assert.deepEqual(log.filter((line) => !line.includes("answered")), [
          "POST /api/auth/init", "DELETE /api/auth/session/s1", "POST /api/auth/init",
        ]);
        """
    )


def test_a_login_that_ended_already_is_not_in_the_way_of_a_new_one() -> None:
    run_node(
        """
        // 409: approved (or rejected, expired) meanwhile without this page polling: go on.
        routes["DELETE /api/auth/session/s1"] = () => json(409, { error: { code: "session_not_pending", message: "No longer pending." } });
        // A login whose end the loop saw is not cancelled at all.
        routes["GET /api/auth/status/s2"] = () => json(200, { status: "rejected" });
        const auth = createAuthClient();
        await auth.start("+79161234567");
        await auth.start("+79161234567");
        assert.equal((await auth.waitForResult("s2", { pollInterval: 0.01 })).status, "rejected");
        await auth.start("+79161234567");
        assert.deepEqual(log.filter((line) => !line.includes("answered")), [
          "POST /api/auth/init", "DELETE /api/auth/session/s1", "POST /api/auth/init",
          "GET /api/auth/status/s2", "POST /api/auth/init",
        ]);
        """
    )


def test_a_cancel_that_did_not_reach_the_server_stops_the_start_and_is_tried_again() -> None:
    run_node(
        """
        routes["DELETE /api/auth/session/s1"] = new Error("offline");
        const auth = createAuthClient();
        await auth.start("+79161234567");
        await assert.rejects(auth.start("+79161234567"), (error) => error instanceof AuthError && error.code === "network_error" && error.status === 0);
        routes["DELETE /api/auth/session/s1"] = () => json(200, { status: "cancelled" });
        assert.equal((await auth.start("+79161234567")).session_id, "s2");
        assert.deepEqual(log.filter((line) => !line.includes("answered")), [
          "POST /api/auth/init", "DELETE /api/auth/session/s1", "DELETE /api/auth/session/s1", "POST /api/auth/init",
        ]);
        """
    )


SIGNED_IN = """
const TOKENS = { access_token: "a1", refresh_token: "r1", token_type: "bearer", expires_in: 1800 };
routes["POST /api/auth/email/login/verify"] = () => json(200, { status: "approved", tokens: TOKENS, user: { id: 7 } });
"""


def test_a_sign_in_with_an_email_code_stops_and_cancels_the_pending_login_before_it_answers() -> None:
    run_node(
        SIGNED_IN
        + """
        routes["DELETE /api/auth/session/s1"] = () => json(200, { status: "cancelled" });
        const auth = createAuthClient();
        const first = await auth.start("+79161234567");
        const seen = [];
        const waiting = auth.waitForResult(first.session_id, { onStatus: (s) => seen.push(s.status), pollInterval: 0.01 })
          .then((answer) => answer.status, (error) => error.name);
        await tick();
        const answer = await auth.signInWithEmailCode("ann@example.com", "042917");
        assert.equal(answer.user.id, 7);
        assert.equal(await waiting, "AbortError");
        assert.deepEqual(seen, []);
        assert.equal(auth.tokens().access_token, "a1");
        assert.deepEqual(log, [
          "POST /api/auth/init", "POST /api/auth/init answered 201",
          "GET /api/auth/status/s1",
          "POST /api/auth/email/login/verify", "POST /api/auth/email/login/verify answered 200",
          "DELETE /api/auth/session/s1", "DELETE /api/auth/session/s1 answered 200",
        ]);
        // Nothing is pending any more: another sign-in and a new start cancel nothing.
        await auth.signInWithEmailCode("ann@example.com", "042917");
        await auth.start("+79161234567");
        assert.equal(log.filter((line) => line.startsWith("DELETE")).length, 2);
        """
    )


def test_a_refused_sign_in_leaves_the_pending_login_alone() -> None:
    run_node(
        """
        routes["POST /api/auth/email/login/verify"] = () => json(422, { error: { code: "invalid_code", message: "Wrong." } });
        const auth = createAuthClient();
        const first = await auth.start("+79161234567");
        const waiting = auth.waitForResult(first.session_id, { pollInterval: 0.01 }).then((a) => a.status, (e) => e.name);
        await tick();
        await assert.rejects(auth.signInWithEmailCode("ann@example.com", "000000"), { name: "AuthError", code: "invalid_code" });
        assert.equal(await Promise.race([waiting, tick().then(() => "still waiting")]), "still waiting");
        assert.equal(auth.tokens(), null);
        assert.equal(log.filter((line) => line.startsWith("DELETE")).length, 0);
        """
    )


def test_a_sign_in_is_kept_when_the_cancel_fails_and_the_next_start_tries_the_cancel_again() -> None:
    run_node(
        SIGNED_IN
        + """
        routes["DELETE /api/auth/session/s1"] = new Error("offline");
        const auth = createAuthClient();
        await auth.start("+79161234567");
        assert.equal((await auth.signInWithEmailCode("ann@example.com", "042917")).status, "approved");
        assert.equal(auth.tokens().access_token, "a1");
        routes["DELETE /api/auth/session/s1"] = () => json(200, { status: "cancelled" });
        assert.equal((await auth.start("+79161234567")).session_id, "s2");
        assert.deepEqual(log.filter((line) => !line.includes("answered")), [
          "POST /api/auth/init", "POST /api/auth/email/login/verify", "DELETE /api/auth/session/s1",
          "DELETE /api/auth/session/s1", "POST /api/auth/init",
        ]);
        """
    )


def test_a_sign_in_during_a_start_cancels_the_login_that_start_opens() -> None:
    run_node(
        SIGNED_IN
        + """
        routes["DELETE /api/auth/session/s1"] = () => json(200, { status: "cancelled" });
        let answerInit;
        const initAnswered = new Promise((resolve) => { answerInit = resolve; });
        const init = routes["POST /api/auth/init"];
        routes["POST /api/auth/init"] = () => initAnswered.then(init);
        const auth = createAuthClient();
        const starting = auth.start("+79161234567");
        await tick();
        const signingIn = auth.signInWithEmailCode("ann@example.com", "042917");
        await tick(); await tick();
        answerInit();
        assert.equal((await starting).session_id, "s1");
        await signingIn;
        assert.deepEqual(log.filter((line) => !line.includes("answered")), [
          "POST /api/auth/init", "POST /api/auth/email/login/verify", "DELETE /api/auth/session/s1",
        ]);
        """
    )


def test_leaving_the_page_cancels_the_pending_login_in_a_keepalive_request() -> None:
    run_node(
        """
        const listeners = {};
        const added = [];
        globalThis.addEventListener = (type, listener) => { added.push(type); listeners[type] = listener; };
        routes["DELETE /api/auth/session/s1"] = () => json(200, { status: "cancelled" });
        const auth = createAuthClient();
        listeners.pagehide?.();  // nothing pending: nothing sent
        await auth.start("+79161234567");
        listeners.pagehide();
        listeners.pagehide();  // once is enough
        await tick(); await tick();
        assert.deepEqual(log.filter((line) => !line.includes("answered")), [
          "POST /api/auth/init", "DELETE /api/auth/session/s1 (keepalive)",
        ]);
        createAuthClient({ cancelOnPageHide: false });
        assert.deepEqual(added, ["pagehide"]);
        """
    )


def test_a_rate_limited_start_carries_retry_after_in_seconds() -> None:
    run_node(
        """
        routes["POST /api/auth/init"] = () => json(429, { error: { code: "rate_limited", message: "Too many requests; try again later." } }, { "Retry-After": "570" });
        const auth = createAuthClient();
        await assert.rejects(auth.start("+79161234567"), { name: "AuthError", status: 429, code: "rate_limited", retryAfter: 570 });
        """
    )
