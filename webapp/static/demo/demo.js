// The demo login page: a thin view over authClient.js, which does all the talking to the API
// (and cancels this page's pending login on a new Start, on a sign-in another way, or when the
// page is left).
import { createAuthClient, passkeyAutofillSupported, passkeysSupported } from "./authClient.js";
import { errorSentence } from "./errorText.js";

const auth = createAuthClient({ baseUrl: "" }); // the page and the API share an origin
const $ = (id) => document.getElementById(id);
// What this server offers, written into the page's markup by webapp/demo.py.
const EMAIL = $("demo").dataset.email === "on";
const EMAIL_LOGIN = $("demo").dataset.emailLogin === "on";

const HINTS = {
  pending: "Confirm the login in Telegram.",
  approved: "Logged in.",
  rejected: "The login was rejected in Telegram.",
  expired: "The login timed out. Start again.",
  cancelled: "The login was cancelled.",
};

// Counts Starts and sign-ins another way: a handler still awaiting an older login must not draw
// over the newest one.
let attempt = 0;

/**
 * Show a sentence about `error` in the alert box, or empty and hide it when `error` is null;
 * `options` go to errorSentence (`{ about: "email" }`).
 */
function showError(error, options) {
  $("error").textContent = error ? errorSentence(error, options) : "";
  $("error").hidden = !error;
}

/** Show a message that is not an error (e.g. "You are logged out."), or hide it with null. */
function showNotice(text) {
  $("notice").textContent = text ?? "";
  $("notice").hidden = !text;
}

function showStatus(answer) {
  $("status").textContent = answer.status;
  const failing = answer.delivery === "failing" ? " Telegram is not accepting our messages right now; we keep trying." : "";
  $("status-hint").textContent = (HINTS[answer.status] ?? "") + failing;
  $("cancel").hidden = answer.status !== "pending";
  // An ended login's number, link and QR code would only invite taps that can no longer work.
  if (answer.status !== "pending") hidePrompt();
}

function showPrompt(login) {
  $("match-code").textContent = login.match_code ?? "";
  $("match-block").hidden = !login.match_code;
  $("open-telegram").href = login.bot_url;
  drawQr($("qr"), login.bot_url);
  $("prompt").hidden = false;
}

function hidePrompt() {
  $("prompt").hidden = true;
  $("match-code").textContent = "";
  $("open-telegram").removeAttribute("href");
  $("qr").replaceChildren();
}

/** Take the login card away after an error: nothing of the old login is left to act on. */
function hideLogin() {
  hidePrompt();
  $("login").hidden = true;
}

/** Draw `text` as a QR code: an SVG built node by node (the CSP forbids inline markup styles). */
function drawQr(container, text) {
  const qr = qrcode(0, "M"); // global of vendor/qrcode-generator/qrcode.js
  qr.addData(text);
  qr.make();
  const size = qr.getModuleCount();
  const quiet = 4; // the white margin QR readers need, in modules
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${size + 2 * quiet} ${size + 2 * quiet}`);
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.setAttribute("role", "img");
  const background = document.createElementNS(ns, "rect");
  background.setAttribute("width", "100%");
  background.setAttribute("height", "100%");
  background.setAttribute("fill", "#fff");
  let d = "";
  for (let row = 0; row < size; row += 1) {
    for (let col = 0; col < size; col += 1) {
      if (qr.isDark(row, col)) d += `M${col + quiet} ${row + quiet}h1v1h-1z`;
    }
  }
  const modules = document.createElementNS(ns, "path");
  modules.setAttribute("d", d);
  modules.setAttribute("fill", "#000");
  svg.append(background, modules);
  container.replaceChildren(svg);
}

function showStartForm() {
  offerPasskeyAutofill();
  $("start-form").hidden = false;
  $("start").disabled = false;
  $("account").hidden = true;
  $("profile").textContent = "";
  $("tokens").textContent = "";
  resetEmailForms();
}

async function showProfile() {
  stopPasskeyAutofill();
  const profile = await auth.me();
  $("profile").textContent = JSON.stringify(profile, null, 2);
  $("login").hidden = true;
  $("start-form").hidden = true;
  $("email-sign-in-card").hidden = true;
  $("account").hidden = false;
  showEmail(profile);
  $("passkeys-block").hidden = !passkeysSupported();
  if (passkeysSupported()) await showPasskeys();
}

// ---- passkeys ----------------------------------------------------------------------------
// The browser allows one passkey request at a time: the autofill's waiting request is stopped
// before the button's, and while logged in.
let autofill = null;

function stopPasskeyAutofill() {
  autofill?.abort(new DOMException("Replaced by another passkey request.", "AbortError"));
  autofill = null;
}

async function offerPasskeyAutofill() {
  if (autofill || !(await passkeyAutofillSupported())) return;
  const controller = new AbortController();
  autofill = controller;
  try {
    await auth.signInWithPasskey({ conditional: true, signal: controller.signal });
    await signedInAnotherWay("Signed in with a passkey.");
  } catch (error) {
    if (error?.name !== "AbortError" && error?.name !== "NotAllowedError") showError(error);
  } finally {
    if (autofill === controller) autofill = null;
  }
}

/**
 * Show the account after a sign-in with a passkey or an email code. authClient.js has ended the
 * Telegram login this page was waiting for, if any: its card goes too.
 */
async function signedInAnotherWay(notice) {
  attempt += 1;
  hideLogin();
  showError(null);
  showNotice(notice);
  await showProfile();
}

async function showPasskeys() {
  const list = $("passkeys");
  const passkeys = await auth.listPasskeys();
  list.replaceChildren(...passkeys.map((passkey) => {
    const item = document.createElement("li");
    const used = passkey.last_used_at ? `last used ${new Date(passkey.last_used_at).toLocaleString()}` : "never used";
    item.textContent = `${passkey.name} — added ${new Date(passkey.created_at).toLocaleString()}, ${used} `;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary remove-passkey";
    remove.dataset.passkeyId = passkey.id;
    remove.textContent = "Remove";
    item.append(remove);
    return item;
  }));
}

if (passkeysSupported()) {
  $("passkey-sign-in-block").hidden = false;
  offerPasskeyAutofill();
}

$("passkey-sign-in").addEventListener("click", async () => {
  showError(null);
  showNotice(null);
  stopPasskeyAutofill();
  try {
    await auth.signInWithPasskey();
    await signedInAnotherWay("Signed in with a passkey.");
  } catch (error) {
    // NotAllowedError: the person closed the browser's passkey dialog.
    showError(error?.name === "NotAllowedError" ? null : error);
    offerPasskeyAutofill();
  }
});

$("add-passkey").addEventListener("click", async () => {
  showError(null);
  showNotice(null);
  try {
    const added = await auth.addPasskey();
    showNotice(`Passkey added: ${added.name}. Telegram has been told.`);
    await showPasskeys();
  } catch (error) {
    if (error?.name !== "NotAllowedError") showError(error);
  }
});

$("passkeys").addEventListener("click", async (event) => {
  const id = event.target?.dataset?.passkeyId;
  if (!id) return;
  showError(null);
  try {
    await auth.removePasskey(id);
    showNotice("Passkey removed.");
    await showPasskeys();
  } catch (error) {
    showError(error);
  }
});

// ---- email -------------------------------------------------------------------------------
function showEmailError(error) {
  showError(error, { about: "email" });
}

/** Put every email form back as a fresh page has it: empty, the code fields hidden. */
function resetEmailForms() {
  for (const id of ["sign-in-email", "sign-in-code", "new-email", "confirm-code"]) $(id).value = "";
  $("email-code-form").hidden = true;
  $("email-sign-in-card").hidden = true;
  $("confirm-email-form").hidden = true;
  $("email-block").hidden = true;
}

/** Show the account's address: a form to add one, the code field while one waits, or where to change it. */
function showEmail(profile) {
  $("email-block").hidden = !EMAIL;
  const confirmed = Boolean(profile.email && profile.email_verified);
  const uses = EMAIL_LOGIN ? "hears of every new login and can sign you in with a code" : "hears of every new login";
  $("add-email-form").hidden = confirmed;
  $("confirm-email-form").hidden = confirmed || !profile.email;
  if (confirmed) {
    // The API changes a confirmed address only through the bot, which asks its owner first.
    $("email-state").textContent = `${profile.email} is confirmed: it ${uses}. Change or remove it in the Telegram bot with /email.`;
  } else if (profile.email) {
    $("email-state").textContent = `${profile.email} waits for the code mailed to it.`;
  } else {
    $("email-state").textContent = `An address you confirm ${uses}.`;
  }
}

if (EMAIL_LOGIN) $("email-sign-in-block").hidden = false;

$("email-sign-in").addEventListener("click", () => {
  $("email-sign-in-card").hidden = false;
  $("sign-in-email").focus();
});

/**
 * Handle an email form's submit with `act`: the page's messages cleared, its button disabled
 * meanwhile, the API's error shown. `loggedIn`: the form needs a login, so a refused token shows
 * the start form again.
 */
function onEmailSubmit(formId, buttonId, act, { loggedIn = false } = {}) {
  $(formId).addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(null);
    showNotice(null);
    $(buttonId).disabled = true;
    try {
      await act();
    } catch (error) {
      showEmailError(error);
      if (loggedIn && !auth.tokens()) showStartForm();
    } finally {
      $(buttonId).disabled = false;
    }
  });
}

onEmailSubmit("email-sign-in-form", "send-sign-in-code", async () => {
  await auth.requestEmailSignInCode($("sign-in-email").value.trim());
  // The server answers alike for every address: the page can't know whether one is on its way.
  showNotice("If this address is confirmed on an account, a code is on its way to it.");
  $("email-code-form").hidden = false;
  $("sign-in-code").focus();
});

onEmailSubmit("email-code-form", "verify-sign-in-code", async () => {
  await auth.signInWithEmailCode($("sign-in-email").value.trim(), $("sign-in-code").value.trim());
  resetEmailForms();
  await signedInAnotherWay("Signed in with an email code.");
});

onEmailSubmit("add-email-form", "add-email", async () => {
  const address = $("new-email").value.trim();
  await auth.addEmail(address);
  showNotice(`A code is on its way to ${address}.`);
  showEmail({ email: address, email_verified: false });
  $("confirm-code").focus();
}, { loggedIn: true });

onEmailSubmit("confirm-email-form", "confirm-email", async () => {
  const profile = await auth.confirmEmail($("confirm-code").value.trim());
  resetEmailForms();
  showNotice(`${profile.email} is confirmed.`);
  await showProfile(); // from /me, which now has the address
}, { loggedIn: true });

function tail(token) {
  return `…${token.slice(-8)}`;
}

$("start-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const mine = ++attempt;
  showError(null);
  showNotice(null);
  hideLogin();
  $("start").disabled = true;
  let login;
  try {
    // Cancels the login of the previous Start first, if it is still pending.
    login = await auth.start($("phone").value);
  } catch (error) {
    if (mine === attempt) showError(error);
    return;
  } finally {
    if (mine === attempt) $("start").disabled = false;
  }
  if (mine !== attempt) return;
  showPrompt(login);
  showStatus(login);
  $("login").hidden = false;

  try {
    const result = await auth.waitForResult(login.session_id, {
      onStatus: showStatus,
      pollInterval: login.poll_interval,
      expiresIn: login.expires_in,
    });
    if (result.status === "approved") await showProfile();
  } catch (error) {
    // AbortError: a newer Start replaced this login, and its handler owns the page now.
    if (error.name === "AbortError" || mine !== attempt) return;
    showError(error);
    hideLogin();
  }
});

$("cancel").addEventListener("click", async () => {
  showError(null);
  try {
    // The running long poll answers "cancelled" too, and ends its loop.
    showStatus(await auth.cancel());
  } catch (error) {
    showError(error);
  }
});

$("refresh").addEventListener("click", async () => {
  showError(null);
  const before = auth.tokens();
  try {
    const after = await auth.refresh();
    $("tokens").textContent =
      `Tokens rotated: access ${tail(before.access_token)} → ${tail(after.access_token)}, ` +
      `refresh ${tail(before.refresh_token)} → ${tail(after.refresh_token)}.`;
    await showProfile();
  } catch (error) {
    showError(error);
    if (!auth.tokens()) showStartForm();
  }
});

$("logout").addEventListener("click", async () => {
  showError(null);
  try {
    await auth.logout();
    showNotice("You are logged out.");
  } catch (error) {
    showError(error);
  }
  showStartForm();
  $("phone").focus();
});
