// authClient.js: the reference browser client of the Dance of Mind login. Copy it into your site.
//
//   import { createAuthClient } from "./authClient.js";
//   const auth = createAuthClient({ baseUrl: "https://login.example.com" });
//   const login = await auth.start("+7 916 123-45-67");   // show login.match_code, link login.bot_url
//   const result = await auth.waitForResult(login.session_id, { onStatus: (s) => console.log(s.status) });
//   if (result.status === "approved") console.log(await auth.me());
//
// One login per page: `start()` again first cancels the login it started before (if still
// pending) and stops that login's `waitForResult` loop (it rejects with an AbortError), so the
// person never sees two live prompts for one browser. A sign-in with a passkey or an email code
// ends a pending login the same way, once it has succeeded. Leaving the page (`pagehide`) cancels
// a pending login too, best-effort, unless `createAuthClient({ cancelOnPageHide: false })`.
//
// Passkeys (a second way in, after a login approved in Telegram): `addPasskey()` from a fresh
// Telegram login, `signInWithPasskey()` beside the phone form (`{ conditional: true }` for the
// browser's autofill), `listPasskeys()`, `removePasskey(id)`. The browser's own JSON helpers
// (PublicKeyCredential.parseCreationOptionsFromJSON, toJSON) are used where they exist.
//
// Email: `addEmail(address)` then `confirmEmail(code)` while logged in; where the server has
// EMAIL_LOGIN=on, `requestEmailSignInCode(address)` then `signInWithEmailCode(address, code)`
// beside the phone form. Codes are 6 digits, mailed, valid 10 minutes, ended by 5 wrong tries.
//
// Tokens live in this closure only, never in localStorage or sessionStorage: any script that
// runs on the page (an XSS, a compromised dependency) can read web storage and ship the tokens
// away, and they would outlive the tab. The price: a reload logs the person out.

const LONG_POLL_SECONDS = 25;
// Past expires_in, keep polling this long for the server's own "expired" before giving up.
const EXPIRY_GRACE_SECONDS = 5;
const TERMINAL = new Set(["approved", "rejected", "expired", "cancelled"]);

/**
 * An error answer of the API: `status` (HTTP), `code` (snake_case), `message`, `retryAfter` (s).
 * When the server could not be reached at all: `status` 0 and `code` "network_error".
 * errorText.js turns these into sentences for people.
 */
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

/**
 * Create a client of the login API at `baseUrl` ("" for the page's own origin). With
 * `cancelOnPageHide` (the default) leaving the page cancels its pending login.
 */
export function createAuthClient({ baseUrl = "", cancelOnPageHide = true } = {}) {
  const root = baseUrl.replace(/\/+$/, "");
  let tokens = null;
  // The login this page started last, while it may still be pending; null once it has ended.
  let sessionId = null;
  // The AbortControllers of the waitForResult loops of `sessionId`, so a new start() can stop them.
  const loops = new Set();
  // start() calls run one after another: each must see (and cancel) the login of the one before.
  let starting = Promise.resolve();
  // One refresh at a time: presenting a refresh token twice counts as theft and ends the login.
  let refreshing = null;

  async function call(method, path, { body, bearer, signal } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    let response;
    try {
      response = await fetch(root + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        credentials: "omit",
        cache: "no-store",
      });
    } catch (error) {
      if (error?.name === "AbortError") throw error;
      throw new AuthError(0, "network_error", "The server could not be reached.");
    }
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

  async function authorized(method, path, body) {
    if (!tokens) throw new AuthError(401, "not_logged_in", "Log in first.");
    let { response, data } = await call(method, path, { bearer: tokens.access_token, body });
    if (response.status === 401 && data?.error?.code === "token_expired") {
      await refresh(); // once: a second 401 is a real one
      ({ response, data } = await call(method, path, { bearer: tokens.access_token, body }));
    }
    if (!response.ok) {
      if (response.status === 401) tokens = null;
      throw failure(response, data);
    }
    return data;
  }

  /**
   * Start a login for `phone`; answer {session_id, status, expires_in, poll_interval, bot_url, match_code?}.
   * The login started before, if still pending, is cancelled first (see the top of this file).
   */
  function start(phone) {
    const run = starting.catch(() => {}).then(async () => {
      await abandonCurrent();
      const { response, data } = await call("POST", "/api/auth/init", { body: { phone_number: phone } });
      if (response.status !== 201) throw failure(response, data);
      sessionId = data.session_id;
      return data;
    });
    starting = run;
    return run;
  }

  /** Stop the waitForResult loops of the current login: each rejects with an AbortError. */
  function stopLoops() {
    const replaced = new DOMException("A new login replaced this one.", "AbortError");
    for (const loop of loops) loop.abort(replaced);
    loops.clear();
  }

  /** Stop the loop of the current login and cancel it on the server, awaiting the answer. */
  async function abandonCurrent() {
    stopLoops();
    if (!sessionId) return;
    try {
      await cancel(sessionId);
    } catch (error) {
      // 409: it had ended already (approved, rejected, expired); 404: long gone. Both are fine.
      if (!(error instanceof AuthError && (error.status === 409 || error.status === 404))) throw error;
    }
    sessionId = null;
  }

  /** Cancel the pending login without waiting for the answer, in a request that outlives the page. */
  function abandonOnLeave() {
    if (!sessionId) return;
    const id = sessionId;
    sessionId = null;
    // A page restored from the back-forward cache finds out from its running loop: "cancelled".
    fetch(`${root}/api/auth/session/${encodeURIComponent(id)}`, {
      method: "DELETE",
      headers: { Accept: "application/json" },
      keepalive: true,
      credentials: "omit",
    }).catch(() => {});
  }

  /**
   * Keep the tokens of a sign-in another way (passkey, email code) and end the Telegram login still
   * pending on this page, as start() does: a later tap in Telegram must not swap these tokens for
   * that login's, and its prompt is closed. Answers `answer`.
   */
  async function signedIn(answer) {
    // Stopped before the tokens are kept: a poll answering meanwhile can't overwrite them.
    stopLoops();
    tokens = answer.tokens;
    // After a start() still under way, so that its login is the one cancelled.
    const run = starting.catch(() => {}).then(abandonCurrent);
    starting = run;
    // The person is signed in whatever the cancel answers; one that failed stays due (sessionId is
    // kept): the next start() or leaving the page tries it again.
    await run.catch(() => {});
    return answer;
  }

  if (cancelOnPageHide && typeof globalThis.addEventListener === "function") {
    globalThis.addEventListener("pagehide", abandonOnLeave);
  }

  /**
   * Long-poll the login until it ends; answer the final status object (with `tokens` and `user`
   * when approved). `onStatus` sees every answer; `signal` (an AbortSignal) stops the loop, and
   * so does a new start(): either way it rejects with an AbortError.
   */
  async function waitForResult(id = sessionId, { onStatus, signal, pollInterval = 2, expiresIn = null } = {}) {
    const own = new AbortController();
    const forward = () => own.abort(signal.reason);
    if (signal?.aborted) forward();
    signal?.addEventListener("abort", forward, { once: true });
    if (id === sessionId) loops.add(own);
    try {
      return await pollUntilEnd(id, { onStatus, signal: own.signal, pollInterval, expiresIn });
    } finally {
      signal?.removeEventListener("abort", forward);
      loops.delete(own);
    }
  }

  async function pollUntilEnd(id, { onStatus, signal, pollInterval, expiresIn }) {
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
      // An answer that arrived just as the loop was stopped belongs to a login nobody shows now.
      signal.throwIfAborted();
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

  /**
   * Abandon the pending login (`id` defaults to the last one started); answer {status: "cancelled"}.
   * Its waitForResult loop gets the "cancelled" status and ends.
   */
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

  /**
   * Add a passkey of this device to the account: needs a login approved in Telegram in the last
   * 5 minutes (else AuthError 403 fresh_login_required). Answers {id, name, created_at}.
   */
  async function addPasskey() {
    const options = await authorized("POST", "/api/auth/passkeys/registration/options");
    const credential = await navigator.credentials.create({ publicKey: passkeyJson.creationOptions(options) });
    return authorized("POST", "/api/auth/passkeys/registration/verify", passkeyJson.credential(credential));
  }

  /**
   * Sign in with a passkey of this site, no phone number; answers what an approved status poll
   * does ({status: "approved", tokens, user}). `conditional`: wait for the person to pick a
   * passkey from the browser's autofill (an input with autocomplete="... webauthn"); `signal`
   * (an AbortSignal) stops the wait, as starting another passkey request must.
   */
  async function signInWithPasskey({ conditional = false, signal } = {}) {
    const { response, data } = await call("POST", "/api/auth/passkeys/login/options");
    if (!response.ok) throw failure(response, data);
    const credential = await navigator.credentials.get({
      publicKey: passkeyJson.requestOptions(data),
      ...(conditional ? { mediation: "conditional" } : {}),
      signal,
    });
    const answer = await call("POST", "/api/auth/passkeys/login/verify", { body: passkeyJson.credential(credential) });
    if (!answer.response.ok) throw failure(answer.response, answer.data);
    return signedIn(answer.data);
  }

  /** Answer the logged-in person's passkeys: [{id, name, created_at, last_used_at}], newest first. */
  async function listPasskeys() {
    return (await authorized("GET", "/api/auth/passkeys")).passkeys;
  }

  /** Remove one of the logged-in person's passkeys. */
  async function removePasskey(id) {
    await authorized("DELETE", `/api/auth/passkeys/${encodeURIComponent(id)}`);
  }

  /**
   * Add an email address to the account: a 6-digit code is mailed to it. Answers {status:
   * "code_sent", expires_in}. A confirmed address is changed only in the bot (AuthError 409
   * email_change_in_telegram).
   */
  function addEmail(email) {
    return authorized("POST", "/api/auth/email", { email });
  }

  /** Confirm the address with the code mailed to it; answers the profile, as me() does, now email_verified. */
  function confirmEmail(code) {
    return authorized("POST", "/api/auth/email/confirm", { code });
  }

  /**
   * Mail a sign-in code to a confirmed address (the server needs EMAIL_LOGIN=on, else AuthError
   * 403 email_login_disabled). Answers {status: "code_sent", expires_in}, for unknown addresses too.
   */
  async function requestEmailSignInCode(email) {
    const { response, data } = await call("POST", "/api/auth/email/login", { body: { email } });
    if (!response.ok) throw failure(response, data);
    return data;
  }

  /**
   * Sign in with the code mailed to `email`; answers what an approved status poll does ({status:
   * "approved", tokens, user}). A wrong, spent or expired code: AuthError 422 invalid_code.
   */
  async function signInWithEmailCode(email, code) {
    const { response, data } = await call("POST", "/api/auth/email/login/verify", { body: { email, code } });
    if (!response.ok) throw failure(response, data);
    return signedIn(data);
  }

  return {
    start,
    waitForResult,
    cancel,
    me,
    refresh,
    logout,
    addPasskey,
    signInWithPasskey,
    listPasskeys,
    removePasskey,
    addEmail,
    confirmEmail,
    requestEmailSignInCode,
    signInWithEmailCode,
    /** Answer the current tokens (null when logged out). */
    tokens: () => tokens,
  };
}


/** Tell whether this browser can use passkeys here (WebAuthn needs a secure context: https or localhost). */
export function passkeysSupported() {
  return typeof globalThis.PublicKeyCredential === "function" && globalThis.isSecureContext === true;
}

/** Tell whether the browser offers passkeys in its autofill (conditional mediation). */
export async function passkeyAutofillSupported() {
  if (!passkeysSupported() || typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") return false;
  return PublicKeyCredential.isConditionalMediationAvailable().catch(() => false);
}

// The WebAuthn Level 3 JSON forms, by the browser's own helpers where it has them, else by hand.
const passkeyJson = {
  creationOptions(options) {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
      return PublicKeyCredential.parseCreationOptionsFromJSON(options);
    }
    return {
      ...options,
      challenge: fromBase64url(options.challenge),
      user: { ...options.user, id: fromBase64url(options.user.id) },
      excludeCredentials: (options.excludeCredentials ?? []).map((c) => ({ ...c, id: fromBase64url(c.id) })),
    };
  },
  requestOptions(options) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
      return PublicKeyCredential.parseRequestOptionsFromJSON(options);
    }
    return {
      ...options,
      challenge: fromBase64url(options.challenge),
      allowCredentials: (options.allowCredentials ?? []).map((c) => ({ ...c, id: fromBase64url(c.id) })),
    };
  },
  credential(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const response = {};
    for (const name of ["clientDataJSON", "attestationObject", "authenticatorData", "signature", "userHandle"]) {
      if (credential.response[name]) response[name] = toBase64url(credential.response[name]);
    }
    if (typeof credential.response.getTransports === "function") response.transports = credential.response.getTransports();
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response,
      authenticatorAttachment: credential.authenticatorAttachment ?? null,
      clientExtensionResults: credential.getClientExtensionResults?.() ?? {},
    };
  },
};

function fromBase64url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)).buffer;
}

function toBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
