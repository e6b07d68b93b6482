// errorText.js: sentences for people from the errors of authClient.js. Pure functions, no DOM:
// a site that integrates authClient.js can take these too, or write its own in its language.
//
//   import { errorSentence } from "./errorText.js";
//   try { await auth.start(phone); } catch (error) { banner.textContent = errorSentence(error); }

const NOT_ANSWERING = "The server is not answering; try again in a moment.";

// What the person can do about each known error code of the API (and of authClient.js).
const SENTENCES = {
  invalid_phone_number: "This is not a phone number we can use. Write it with the country code, like +7 916 123-45-67.",
  session_not_found: "This login is no longer known. Start again.",
  session_not_pending: "This login has already ended.",
  session_consumed: "This login was already used. Start again.",
  token_expired: "Your login has ended. Log in again.",
  token_reused: "Your login was ended for safety, because its tokens were used twice. Log in again.",
  token_revoked: "Your login has ended. Log in again.",
  invalid_token: "Your login has ended. Log in again.",
  login_expired: "Your login is too old to be extended. Log in again.",
  not_logged_in: "You are not logged in.",
  fresh_login_required: "To add a passkey, log in with Telegram again first (within 5 minutes).",
  passkey_sign_in_failed: "This passkey was not accepted. It may have been removed; log in with Telegram.",
  passkey_clone_detected: "This passkey was refused because it looks copied. Log in with Telegram.",
  passkey_challenge_expired: "The passkey request took too long. Try again.",
  passkey_registration_failed: "The passkey could not be added. Try again.",
  passkey_exists: "This device's passkey is already added.",
  passkey_not_found: "This passkey is already gone.",
};

// Codes that say "wait": the sentence ends with how long, from Retry-After.
const WAIT_SENTENCES = {
  rate_limited: "Too many login attempts.",
  slow_down: "The page asked the server too often.",
};
// The email endpoints' 429 counts codes mailed and guessed, which are not always logins.
const EMAIL_WAIT_SENTENCES = {
  rate_limited: "Too many email codes asked for or tried.",
};

/**
 * Write a number of seconds the way people say it: 570 → "9 min 30 s", 45 → "45 s", 7200 → "2 h".
 * Rounds up (never tells anyone to come back too early); from an hour on, whole minutes only.
 */
export function formatDuration(seconds) {
  const total = Math.max(0, Math.ceil(Number(seconds) || 0));
  if (total < 60) return `${total} s`;
  if (total < 3600) {
    const minutes = Math.floor(total / 60);
    const rest = total % 60;
    return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
  }
  const minutes = Math.ceil(total / 60);
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

/** Answer "Try again in 9 min 30 s." for a wait in seconds, or "Try again in a moment." without one. */
export function tryAgainIn(seconds) {
  return seconds > 0 ? `Try again in ${formatDuration(seconds)}.` : "Try again in a moment.";
}

/**
 * Answer a sentence for a person about `error`: an AuthError of authClient.js (`status`, `code`,
 * `message`, `retryAfter`), or anything else thrown. Known codes get our own words; unknown ones
 * the server's message, which the API writes for people too. `about: "email"` words a 429 of
 * the email calls (addEmail, confirmEmail, requestEmailSignInCode, signInWithEmailCode).
 */
export function errorSentence(error, { about = "login" } = {}) {
  const status = error?.status ?? null;
  const code = error?.code ?? null;
  const waits = about === "email" ? { ...WAIT_SENTENCES, ...EMAIL_WAIT_SENTENCES } : WAIT_SENTENCES;
  if (code === "network_error" || (typeof status === "number" && status >= 500)) return NOT_ANSWERING;
  if (code in waits) return `${waits[code]} ${tryAgainIn(error.retryAfter)}`;
  if (code in SENTENCES) return SENTENCES[code];
  // Not an answer of the API: a fault of the page itself, whose message means nothing to people.
  if (!code) return "Something went wrong on this page. Reload it and try again.";
  const message = typeof error.message === "string" && error.message ? error.message : "Something went wrong.";
  if (status === 429) return `${message.replace(/[;,]?\s*try again later\.?$/i, ".")} ${tryAgainIn(error.retryAfter)}`;
  return message;
}
