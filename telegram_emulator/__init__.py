"""A fake Telegram Bot API server that real python-telegram-bot talks to, plus a control API.

Run it:    python -m telegram_emulator --host 127.0.0.1 --port 8081 \\
               --bot-username dance_of_mind_bot --bot-name "Dance of Mind"
           (prints "telegram emulator listening on http://127.0.0.1:8081" when ready)
In tests:  running = start_in_thread()            # or: url, shutdown = serve_in_thread()
           client = EmulatorClient(running.url)    # telegram_emulator.client
Point PTB at it with base_url=f"{url}/bot"; any token shaped "<digits>:<20+ chars>" works and
the digits are the bot's user id.

Bot API (/bot<token>/<method>, GET or POST; form, multipart, JSON or query string):
every call is checked against bot_api_spec/api.json (our copy, see its README) and Telegram's content
rules; refusals answer exactly like Telegram and land in the invalid-calls log, which tests
should find empty. Unknown top-level parameters are refused too (Telegram ignores them, but
for us they are a bug). Real behaviour: getMe, getUpdates (long poll), set/delete/getWebhook(Info),
sendMessage, editMessageText, editMessageReplyMarkup, deleteMessage, answerCallbackQuery,
set/get/deleteMyCommands, set/getMyDescription, set/getMyShortDescription,
set/getChatMenuButton, close, logOut. Any other spec method answers 400
"method is not supported by the emulator".

Faults (POST /control/faults) fire before validation, FIFO, once each; with "chat_id" only
calls for that chat take them (other chats' calls of the method pass). Kind "timeout" holds the
connection `delay` seconds and then answers 500 WITHOUT performing the call: the client times
out and the message is NOT delivered, as when Telegram loses a request. Kind "slow" performs the
call (the message is there at once) and holds the answer `delay` seconds, as when Telegram's
answer is late: what a client does between Telegram acting and hearing back can be tested.

Chat page: GET / (files under static/, served at /chat/...): a person plays a Telegram user.

Control API (JSON; errors are {"error": "..."} with 400/404/409):
  GET    /control/health                -> {"ok": true}
  POST   /control/reset                 -> {"ok": true}  (ids keep counting)
  POST   /control/users                 {first_name, id?, last_name?, username?, language_code?="en"|null} -> User
                                         (null: no language_code; an existing id is replaced, as when a
                                         person changes their app's language)
  GET    /control/users                 -> {users: [User, ...]}
  GET    /control/bot                   -> the bot's User (as getMe answers)
  POST   /control/send_message          {user_id, text} -> {update_id, message}
  POST   /control/share_contact         {user_id, phone_number, contact_user_id?=own|int|null,
                                         first_name?, last_name?, forwarded?=false} -> {update_id, message}
  POST   /control/tap                   {user_id, message_id, chat_id?, callback_data? | button_text?}
                                         -> {update_id, callback_query_id}; 409 for stale buttons
  POST   /control/block                 {user_id, blocked?=true} -> {"ok": true}
  GET    /control/chats/<chat_id>       -> {messages: [...], callback_answers: [...]}
         [?after=<message_id>&wait=<s>]    (first waits up to `wait` s, max 60, for a newer bot message)
  POST   /control/faults                {method|"*", kind: 500|502|429|timeout|slow, count?, retry_after?, delay?,
                                         chat_id?}
  GET    /control/faults, DELETE /control/faults -> {faults: [...]}
  GET    /control/calls[?method=X]      -> {calls: [...]}
  GET    /control/invalid_calls         -> {invalid_calls: [...]}
  GET    /control/updates/pending       -> {pending: N}
"""

from telegram_emulator.server import create_app, serve_in_thread, start_in_thread

__all__ = ["create_app", "serve_in_thread", "start_in_thread"]
