// authClient.js: the reference browser client of the Dance of Mind login. Copy it into your site.
//
//   import { createAuthClient } from "./authClient.js";
//   const auth = createAuthClient({ baseUrl: "https://login.example.com" });
//   const login = await auth.start("+7 916 123-45-67");   // show login.match_code, link login.bot_url
//   const result = await auth.waitForResult(login.session_id, { onStatus: (s) => console.log(s.status) });
//   if (result.status === "approved") console.log(await auth.me());
//
// Tokens live in this closure only, never in localStorage or sessionStorage: any script that
// runs on the page (an XSS, a compromised dependency) can read web storage and ship the tokens
// away, and they would outlive the tab. The price: a reload logs the person out.

const LONG_POLL_SECONDS = 25;
// Past expires_in, keep polling this long for the server's own "expired" before giving up.
const EXPIRY_GRACE_SECONDS = 5;
const TERMINAL = new Set(["approved", "rejected", "expired", "cancelled"]);

/** An error answer of the API: `status` (HTTP), `code` (snake_case), `message`, `retryAfter` (s). */
export class AuthError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = "AuthError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Wait `seconds`, or reject at once with an AbortError when `signal` aborts. */
function sleep(seconds, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new DOMException("Aborted", "AbortError"));
    const timer = setTimeout(resolve, seconds * 1000);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason ?? new DOMException("Aborted", "AbortError"));
    }, { once: true });
  });
}

/** Return the Retry-After header in seconds, or `fallback`. */
function retryAfter(response, fallback) {
  const seconds = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : fallback;
}

/** Create a client of the login API at `baseUrl` ("" for the page's own origin). */
export function createAuthClient({ baseUrl = "" } = {}) {
  const root = baseUrl.replace(/\/+$/, "");
  let tokens = null;
  let sessionId = null;
  // One refresh at a time: presenting a refresh token twice counts as theft and ends the login.
  let refreshing = null;

  async function call(method, path, { body, bearer, signal } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    const response = await fetch(root + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "omit",
      cache: "no-store",
    });
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    return { response, data };
  }

  function failure(response, data) {
    const error = data?.error ?? {};
    return new AuthError(
      response.status,
      error.code ?? "http_error",
      error.message ?? `The server answered ${response.status}.`,
      response.headers.has("Retry-After") ? retryAfter(response, 0) : null,
    );
  }

  async function authorized(method, path) {
    if (!tokens) throw new AuthError(401, "not_logged_in", "Log in first.");
    let { response, data } = await call(method, path, { bearer: tokens.access_token });
    if (response.status === 401 && data?.error?.code === "token_expired") {
      await refresh(); // once: a second 401 is a real one
      ({ response, data } = await call(method, path, { bearer: tokens.access_token }));
    }
    if (!response.ok) {
      if (response.status === 401) tokens = null;
      throw failure(response, data);
    }
    return data;
  }

  /** Start a login for `phone`; answer {session_id, status, expires_in, poll_interval, bot_url, match_code?}. */
  async function start(phone) {
    const { response, data } = await call("POST", "/api/auth/init", { body: { phone_number: phone } });
    if (response.status !== 201) throw failure(response, data);
    sessionId = data.session_id;
    return data;
  }

  /**
   * Long-poll the login until it ends; answer the final status object (with `tokens` and `user`
   * when approved). `onStatus` sees every answer; `signal` (an AbortSignal) stops the loop.
   */
  async function waitForResult(id = sessionId, { onStatus, signal, pollInterval = 2, expiresIn = null } = {}) {
    let interval = pollInterval;
    let deadline = expiresIn == null ? null : Date.now() + (expiresIn + EXPIRY_GRACE_SECONDS) * 1000;
    let lastPoll = 0;
    for (;;) {
      // Never start two polls closer than poll_interval: the server answers 429 slow_down to that.
      const early = interval - (Date.now() - lastPoll) / 1000;
      if (early > 0) await sleep(early, signal);
      if (deadline !== null && Date.now() > deadline) {
        const expired = { status: "expired" };
        onStatus?.(expired);
        return expired;
      }
      lastPoll = Date.now();
      let response, data;
      try {
        ({ response, data } = await call("GET", `/api/auth/status/${encodeURIComponent(id)}?wait=${LONG_POLL_SECONDS}`, { signal }));
      } catch (error) {
        if (error.name === "AbortError") throw error;
        continue; // the network failed: try again after poll_interval, until the deadline
      }
      if (response.status === 429 || response.status === 503) {
        // slow_down, rate_limited, or the service restarting: wait what the server says.
        await sleep(retryAfter(response, interval), signal);
        continue;
      }
      if (!response.ok) throw failure(response, data);
      if (data.poll_interval) interval = data.poll_interval;
      if (data.expires_in != null) deadline = Date.now() + (data.expires_in + EXPIRY_GRACE_SECONDS) * 1000;
      if (data.status === "approved") tokens = data.tokens;
      if (TERMINAL.has(data.status) && id === sessionId) sessionId = null;
      onStatus?.(data);
      if (TERMINAL.has(data.status)) return data;
    }
  }

  /** Abandon the pending login (`id` defaults to the last one started); answer {status: "cancelled"}. */
  async function cancel(id = sessionId) {
    const { response, data } = await call("DELETE", `/api/auth/session/${encodeURIComponent(id)}`);
    if (!response.ok) throw failure(response, data);
    if (id === sessionId) sessionId = null;
    return data;
  }

  /** Answer the logged-in person's profile from /api/auth/me. */
  function me() {
    return authorized("GET", "/api/auth/me");
  }

  /** Swap the refresh token for new access and refresh tokens; answer the new tokens. */
  function refresh() {
    if (!tokens) return Promise.reject(new AuthError(401, "not_logged_in", "Log in first."));
    refreshing ??= (async () => {
      try {
        const { response, data } = await call("POST", "/api/auth/refresh", { body: { refresh_token: tokens.refresh_token } });
        if (!response.ok) {
          tokens = null; // token_reused or revoked: this login is over
          throw failure(response, data);
        }
        tokens = data;
        return data;
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  /** End this login on the server (its access and refresh tokens) and forget the tokens. */
  async function logout() {
    const access = tokens?.access_token;
    tokens = null;
    if (!access) return;
    const { response, data } = await call("POST", "/api/auth/logout", { bearer: access });
    // 401: the login had ended already, which is what logging out wants.
    if (!response.ok && response.status !== 401) throw failure(response, data);
  }

  return {
    start,
    waitForResult,
    cancel,
    me,
    refresh,
    logout,
    /** Answer the current tokens (null when logged out). */
    tokens: () => tokens,
  };
}
