-- Email: an address on the account, one-time codes sent to it, and the outbox of emails.

ALTER TABLE users
    -- The confirmed address (normalised, lower case); one account per address, so a code sent
    -- to it can sign only that account in.
    ADD COLUMN email text CONSTRAINT users_email_key UNIQUE,
    ADD COLUMN email_verified_at timestamptz,
    -- An address asked for and not confirmed yet (shown by /me with email_verified false).
    ADD COLUMN email_pending text,
    -- Non-security mail (login notices of logins approved in Telegram) may be switched off in the bot.
    ADD COLUMN email_notices boolean NOT NULL DEFAULT true;

-- A 6-digit code mailed to an address: to confirm it ('confirm'), or to sign in with it ('login').
-- Only its hash is kept; a code dies when used, after 10 minutes, or at its 5th wrong try.
CREATE TABLE email_codes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    purpose     text NOT NULL CHECK (purpose IN ('confirm', 'login')),
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    address     text NOT NULL,
    code_hash   text NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX email_codes_user_purpose ON email_codes (user_id, purpose) WHERE used_at IS NULL;

-- One row per email to send, keyed by the event it tells of: a retried or repeated event finds
-- its row and sends nothing twice. The worker leases a row (claimed_until) while it sends.
CREATE TABLE email_outbox (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_key       text NOT NULL CONSTRAINT email_outbox_event_key UNIQUE,
    kind            text NOT NULL,
    recipient       text NOT NULL,
    language        text NOT NULL,
    details         jsonb NOT NULL DEFAULT '{}',
    -- The one-time code or link token the email carries; erased once it is sent.
    secret          text,
    -- The "Not you?" link's token, hashed: it ends session_id's login.
    link_token_hash text CONSTRAINT email_outbox_link_token_key UNIQUE,
    session_id      uuid,
    user_id         bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    claimed_until   timestamptz,
    sent_at         timestamptz,
    last_error      text
);
CREATE INDEX email_outbox_unsent ON email_outbox (created_at) WHERE sent_at IS NULL;
-- How many codes an address got lately (a cap that holds for the bot as for the web).
CREATE INDEX email_outbox_recipient ON email_outbox (recipient, created_at);

ALTER TABLE email_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_outbox ENABLE ROW LEVEL SECURITY;

DO $$
DECLARE
    app_table text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dance_of_mind_app') THEN
        RETURN;
    END IF;
    FOREACH app_table IN ARRAY ARRAY['email_codes', 'email_outbox'] LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO dance_of_mind_app', app_table);
        EXECUTE format(
            'CREATE POLICY dance_of_mind_app_rows ON %I TO dance_of_mind_app USING (true) WITH CHECK (true)',
            app_table
        );
    END LOOP;
END
$$;
