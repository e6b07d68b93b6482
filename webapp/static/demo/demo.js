// The demo login page: a thin view over authClient.js, which does all the talking to the API.
import { createAuthClient } from "./authClient.js";

const auth = createAuthClient({ baseUrl: "" }); // the page and the API share an origin
const $ = (id) => document.getElementById(id);

const HINTS = {
  pending: "Confirm the login in Telegram.",
  approved: "Logged in.",
  rejected: "The login was rejected in Telegram.",
  expired: "The login timed out. Start again.",
  cancelled: "The login was cancelled.",
};

let waiting = null; // the AbortController of the running long-poll loop

function showError(error) {
  if (!error) {
    $("error").hidden = true;
    $("error").textContent = "";
    return;
  }
  const wait = error.retryAfter ? ` Try again in ${error.retryAfter} s.` : "";
  $("error").textContent = (error.code ? `${error.message} (${error.code})` : String(error.message ?? error)) + wait;
  $("error").hidden = false;
}

function showStatus(answer) {
  $("status").textContent = answer.status;
  const failing = answer.delivery === "failing" ? " Telegram is not accepting our messages right now; we keep trying." : "";
  $("status-hint").textContent = (HINTS[answer.status] ?? "") + failing;
  $("cancel").hidden = answer.status !== "pending";
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
  $("start-form").hidden = false;
  $("start").disabled = false;
  $("account").hidden = true;
  $("profile").textContent = "";
  $("tokens").textContent = "";
}

async function showProfile() {
  $("profile").textContent = JSON.stringify(await auth.me(), null, 2);
  $("login").hidden = true;
  $("start-form").hidden = true;
  $("account").hidden = false;
}

function tail(token) {
  return `…${token.slice(-8)}`;
}

$("start-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(null);
  waiting?.abort();
  $("start").disabled = true;
  let login;
  try {
    login = await auth.start($("phone").value);
  } catch (error) {
    showError(error);
    $("start").disabled = false;
    return;
  }
  $("match-code").textContent = login.match_code ?? "";
  $("match-block").hidden = !login.match_code;
  $("open-telegram").href = login.bot_url;
  drawQr($("qr"), login.bot_url);
  showStatus(login);
  $("login").hidden = false;
  $("start").disabled = false;

  waiting = new AbortController();
  try {
    const result = await auth.waitForResult(login.session_id, {
      onStatus: showStatus,
      signal: waiting.signal,
      pollInterval: login.poll_interval,
      expiresIn: login.expires_in,
    });
    if (result.status === "approved") await showProfile();
  } catch (error) {
    if (error.name !== "AbortError") showError(error);
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
  } catch (error) {
    showError(error);
  }
  showStartForm();
  $("phone").focus();
});
