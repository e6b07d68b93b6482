-- Passkeys (WebAuthn discoverable credentials): a second way in, added only after a login approved
-- in Telegram (core/passkeys.py). A passkey belongs to one user; removing the user removes them.
CREATE TABLE passkeys (
    id                  uuid PRIMARY KEY,
    user_id             bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The authenticator's credential id (rawId): how a sign-in finds its passkey.
    credential_id       bytea NOT NULL CONSTRAINT passkeys_credential_id_key UNIQUE,
    -- The COSE public key the signatures are checked with.
    public_key          bytea NOT NULL,
    -- The authenticator's signature counter as last seen: a clone shows up as one that does not grow.
    sign_count          bigint NOT NULL DEFAULT 0 CHECK (sign_count >= 0),
    -- The random user handle given to the authenticator (the same for all of a user's passkeys).
    user_handle         bytea NOT NULL,
    -- What the person sees in lists: the browser and OS it was added from ("Chrome on Windows").
    name                text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_used_at        timestamptz,
    -- The "New passkey" message in Telegram; set once, so it is sent once.
    added_notice_message_id bigint
);
CREATE INDEX passkeys_user_idx ON passkeys (user_id);

ALTER TABLE passkeys ENABLE ROW LEVEL SECURITY;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dance_of_mind_app') THEN
        RETURN;
    END IF;
    GRANT SELECT, INSERT, UPDATE, DELETE ON passkeys TO dance_of_mind_app;
    CREATE POLICY dance_of_mind_app_rows ON passkeys TO dance_of_mind_app USING (true) WITH CHECK (true);
END
$$;
