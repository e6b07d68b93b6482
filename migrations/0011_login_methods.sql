-- How a login was approved. Every login is an auth session, whichever way it came in, so its token
-- family, its "New login" notice, "End this login" and /sessions work the same for all of them.
-- A login made another way than a Telegram prompt (a passkey, an email code) is recorded already
-- consumed: there is nothing to approve or poll, only the family it opened.
ALTER TABLE auth_sessions
    ADD COLUMN method text NOT NULL DEFAULT 'telegram'
        CONSTRAINT auth_sessions_method_check CHECK (method IN ('telegram', 'passkey', 'email'));
