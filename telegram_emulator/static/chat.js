// The chat page: play a Telegram user against the emulator's control API (/control).
// Every text from the bot or a user goes into the page as a text node (textContent), never as
// HTML: the bot under test may send anything.
"use strict";

const POLL_MS = 500;
const POPUP_MS = 4000;
const USERS_EVERY = 10; // polls between refreshes of the user list (5 s)
const DEFAULT_PHONE = "+79161234567";
const DEFAULT_NAME = "Phone"; // `make phone`'s default first name: the same person
const STORAGE_KEY = "telegram-emulator-chat-user";
// Deep links: https://t.me/<bot>?start=<token> and tg://resolve?domain=<bot>&start=<token>.
const START_LINK = /^(?:(?:https?:\/\/)?(?:t\.me|telegram\.me)\/[A-Za-z0-9_]+|tg:\/\/resolve)\?(?:[^#]*&)?start=([A-Za-z0-9_-]{1,64})(?:[&#].*)?$/;

const $ = (id) => document.getElementById(id);

const page = {
  user: null,          // the Telegram user played: {id, first_name, language_code, ...}
  chatJson: "",        // the last chat seen, to redraw only on a change
  answersSeen: 0,      // callback answers already shown as popups
  pollTimer: 0,
  polls: 0,
  popupTimer: 0,
};

/** Return the user id `make phone` uses for a phone number (devstack/phone.py user_id_for). */
function userIdFor(phone) {
  const digits = phone.replace(/\D/g, "") || "0";
  return Number(7000000000n + (BigInt(digits) % 1000000000n));
}

/** Turn a pasted deep link (alone or after /start) into "/start <token>"; leave other text as is. */
function asMessage(text) {
  const trimmed = text.trim();
  const link = trimmed.replace(/^\/start\s+/, "");
  const match = START_LINK.exec(link);
  return match ? `/start ${match[1]}` : trimmed;
}

/** Call the control API; resolve to its JSON answer or reject with its error text. */
async function control(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(`/control${path}`, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(data.error || `${response.status} ${response.statusText}`);
  }
  return data;
}

/** Create an element with a class and, optionally, text (as a text node). */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function showError(message) {
  const box = $("chat-error");
  box.textContent = message;
  box.hidden = !message;
}

function showPopup(answer) {
  const box = $("popup");
  box.textContent = answer.text;
  box.classList.toggle("alert", Boolean(answer.show_alert));
  box.hidden = false;
  clearTimeout(page.popupTimer);
  page.popupTimer = setTimeout(() => { box.hidden = true; }, POPUP_MS);
}

function timeOf(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function contactText(contact, forwarded) {
  const name = [contact.first_name, contact.last_name].filter(Boolean).join(" ");
  const prefix = forwarded ? "Forwarded contact" : "Contact";
  return `📞 ${prefix}: ${name} · ${contact.phone_number}`;
}

function inlineRows(message) {
  const markup = message.reply_markup || {};
  return Array.isArray(markup.inline_keyboard) ? markup.inline_keyboard : [];
}

function renderButtons(message) {
  const keyboard = el("div", "inline-keyboard");
  for (const row of inlineRows(message)) {
    const line = el("div", "keyboard-row");
    for (const button of row) {
      const node = el("button", "inline-button", button.text);
      node.type = "button";
      node.addEventListener("click", () => tap(message, button, node));
      line.append(node);
    }
    keyboard.append(line);
  }
  return keyboard;
}

function renderMessage(message) {
  const item = el("li", `message ${message.from_bot ? "bot" : "user"}`);
  item.dataset.messageId = String(message.message_id);
  const bubble = el("div", "bubble");
  const text = message.contact
    ? contactText(message.contact, Boolean(message.forward_origin))
    : message.text ?? "";
  bubble.append(el("div", "text", text));
  const meta = el("div", "meta");
  if (message.deleted) {
    item.classList.add("deleted");
    meta.append(el("span", "deleted-label", "deleted"));
  } else if (message.edited) {
    item.classList.add("edited");
    meta.append(el("span", "edited-label", "edited"));
  }
  meta.append(el("time", "", timeOf(message.date)));
  bubble.append(meta);
  item.append(bubble);
  if (message.from_bot && !message.deleted && inlineRows(message).length) {
    item.append(renderButtons(message));
  }
  return item;
}

/** Return the reply keyboard the bot shows now, or null (removed, used up, or never sent). */
function currentReplyKeyboard(messages) {
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    const message = messages[i];
    const markup = message.from_bot && !message.deleted ? message.reply_markup : null;
    if (!markup || (!markup.keyboard && !markup.remove_keyboard)) continue;
    if (markup.remove_keyboard) return null;
    const answered = messages.slice(i + 1).some((later) => !later.from_bot);
    return markup.one_time_keyboard && answered ? null : markup;
  }
  return null;
}

function renderReplyKeyboard(markup) {
  const box = $("reply-keyboard");
  box.replaceChildren();
  box.hidden = !markup;
  if (!markup) return;
  for (const row of markup.keyboard) {
    const line = el("div", "keyboard-row");
    for (const raw of row) {
      const button = typeof raw === "string" ? { text: raw } : raw;
      const node = el("button", "keyboard-button", button.text);
      node.type = "button";
      if (button.request_contact) {
        node.classList.add("request-contact");
        node.addEventListener("click", shareContact);
      } else {
        node.addEventListener("click", () => send(button.text));
      }
      line.append(node);
    }
    box.append(line);
  }
}

function renderChat(chat) {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...chat.messages.map(renderMessage));
  renderReplyKeyboard(currentReplyKeyboard(chat.messages));
  if (atBottom) list.scrollTop = list.scrollHeight;
}

async function poll() {
  clearTimeout(page.pollTimer);
  const user = page.user;
  if (user) {
    try {
      const chat = await control("GET", `/chats/${user.id}`);
      $("connection").textContent = "online";
      if (user === page.user) {
        const json = JSON.stringify(chat);
        if (json !== page.chatJson) {
          page.chatJson = json;
          renderChat(chat);
        }
        for (const answer of chat.callback_answers.slice(page.answersSeen)) {
          if (answer.text) showPopup(answer);
        }
        page.answersSeen = chat.callback_answers.length;
      }
    } catch (error) {
      $("connection").textContent = "emulator unreachable";
    }
  }
  page.polls += 1;
  // Not while the list is focused: replacing its options would close it under the pointer.
  if (page.polls % USERS_EVERY === 0 && document.activeElement !== $("user-list")) loadUsers();
  page.pollTimer = setTimeout(poll, POLL_MS);
}

async function act(action) {
  showError("");
  try {
    await action();
  } catch (error) {
    showError(error.message);
  }
  poll();
}

function send(text) {
  const message = asMessage(text);
  if (!message || !page.user) return Promise.resolve();
  return act(() => control("POST", "/send_message", { user_id: page.user.id, text: message }));
}

function shareContact() {
  const phone = $("user-phone").value.trim();
  if (!phone) {
    showError("Type the phone number to share first.");
    return Promise.resolve();
  }
  remember();
  return act(() => control("POST", "/share_contact", { user_id: page.user.id, phone_number: phone }));
}

function tap(message, button, node) {
  node.disabled = true;
  const body = { user_id: page.user.id, message_id: message.message_id };
  if (button.callback_data !== undefined) {
    body.callback_data = button.callback_data;
  } else if (button.url) {
    // A URL button opens the link; only web links, never javascript: or the like.
    if (/^https?:\/\//.test(button.url)) window.open(button.url, "_blank", "noopener");
    return Promise.resolve();
  } else {
    body.button_text = button.text;
  }
  return act(() => control("POST", "/tap", body));
}

function describe(user) {
  const lang = user.language_code ? `, ${user.language_code}` : "";
  return `${user.first_name} (id ${user.id}${lang})`;
}

function remember() {
  if (!page.user) return;
  const saved = { id: page.user.id, phone: $("user-phone").value.trim() };
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(saved));
  } catch (error) {
    // Storage may be disabled (private mode): the page then starts from the defaults.
  }
}

function recalled() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) || "null") || {};
  } catch (error) {
    return {};
  }
}

/** Play `user` from now on: show its chat and fill the form with its fields. */
function become(user) {
  page.user = user;
  page.chatJson = "";
  page.answersSeen = Number.POSITIVE_INFINITY; // old popups are not news; set on the first poll
  $("messages").replaceChildren();
  renderReplyKeyboard(null);
  $("current-user").textContent = describe(user);
  $("user-name").value = user.first_name;
  $("user-id").value = String(user.id);
  $("user-language").value = user.language_code === "ru" ? "ru" : "en";
  remember();
  loadUsers();
  firstPoll();
}

async function firstPoll() {
  try {
    const chat = await control("GET", `/chats/${page.user.id}`);
    page.answersSeen = chat.callback_answers.length;
  } catch (error) {
    page.answersSeen = 0;
  }
  poll();
}

async function loadUsers() {
  const select = $("user-list");
  try {
    const { users } = await control("GET", "/users");
    const options = [el("option", "", `${users.length} known user(s)…`)];
    options[0].value = "";
    for (const user of users) {
      const option = el("option", "", describe(user));
      option.value = String(user.id);
      options.push(option);
    }
    select.replaceChildren(...options);
    select.value = page.user ? String(page.user.id) : "";
    select.users = users;
  } catch (error) {
    showError(`Can't list users: ${error.message}`);
  }
}

/** Create (or replace) the user from the form's fields and play it. */
async function saveUser(event) {
  event.preventDefault();
  const idText = $("user-id").value.trim();
  const fields = {
    id: idText ? Number(idText) : userIdFor($("user-phone").value),
    first_name: $("user-name").value.trim() || DEFAULT_NAME,
    language_code: $("user-language").value,
  };
  showError("");
  try {
    become(await control("POST", "/users", fields));
  } catch (error) {
    showError(error.message);
  }
}

function pickUser() {
  const select = $("user-list");
  const user = (select.users || []).find((known) => String(known.id) === select.value);
  if (user) become(user);
}

async function loadBot() {
  try {
    const bot = await control("GET", "/bot");
    $("bot-name").textContent = bot.first_name;
    const words = bot.first_name.split(/\s+/).filter(Boolean);
    $("bot-avatar").textContent = words.length > 1 ? words[0][0] + words[words.length - 1][0] : bot.first_name.slice(0, 1);
    $("bot-username").textContent = `@${bot.username} · bot`;
  } catch (error) {
    $("connection").textContent = "emulator unreachable";
  }
}

/** Start as the user the address or the last visit names, else the one derived from the phone. */
async function start() {
  const params = new URLSearchParams(window.location.search);
  const saved = recalled();
  const phone = params.get("phone") || saved.phone || DEFAULT_PHONE;
  $("user-phone").value = phone;
  const wanted = Number(params.get("user_id") || (params.get("phone") ? 0 : saved.id) || userIdFor(phone));
  const startToken = params.get("start");
  if (startToken) $("text").value = asMessage(`https://t.me/bot?start=${startToken}`);
  loadBot();
  try {
    const { users } = await control("GET", "/users");
    const known = users.find((user) => user.id === wanted);
    const fields = {
      id: wanted,
      first_name: params.get("name") || DEFAULT_NAME,
      language_code: params.get("lang") === "ru" ? "ru" : "en",
    };
    become(known && !params.get("name") && !params.get("lang") ? known : await control("POST", "/users", fields));
  } catch (error) {
    showError(`Can't reach the emulator's control API: ${error.message}`);
    setTimeout(start, 2000);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("text");
    const text = input.value;
    input.value = "";
    await send(text);
  });
  $("share-contact").addEventListener("click", shareContact);
  $("user-phone").addEventListener("change", remember);
  $("user-form").addEventListener("submit", saveUser);
  $("user-list").addEventListener("change", pickUser);
  start();
});
