-- Users, auth sessions and token families: the whole state of a login.

-- A person: one phone number linked to one Telegram account (both proven by a shared contact).
CREATE TABLE users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone_number    text NOT NULL CONSTRAINT users_phone_number_key UNIQUE
                    CONSTRAINT users_phone_number_e164 CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
    telegram_id     bigint NOT NULL CONSTRAINT users_telegram_id_key UNIQUE,
    first_name      text,
    last_name       text,
    username        text,
    language_code   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One login attempt. The browser holds `session_id`; only its SHA-256 is stored, so a copy of
-- the database can't be used to poll for tokens. `id` is the internal handle used by the
-- worker and in Telegram callback data, where the browser's secret must never go.
CREATE TABLE auth_sessions (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    secret_hash         bytea NOT NULL CONSTRAINT auth_sessions_secret_hash_key UNIQUE,
    start_token         text NOT NULL CONSTRAINT auth_sessions_start_token_key UNIQUE
                        CHECK (start_token ~ '^[A-Za-z0-9_-]{1,64}$'),
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'cancelled', 'consumed')),
    phone_number        text NOT NULL,
    user_id             bigint REFERENCES users (id) ON DELETE SET NULL,
    approval_mode       text NOT NULL DEFAULT 'simple' CHECK (approval_mode IN ('simple', 'match')),
    match_code          text,
    client_ip           text,
    user_agent          text,
    prompt_chat_id      bigint,
    prompt_message_id   bigint,
    prompt_language     text,
    prompt_error        text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    decided_at          timestamptz,
    consumed_at         timestamptz,
    CHECK ((prompt_chat_id IS NULL) = (prompt_message_id IS NULL))
);
-- Deep-link and contact flows look up a phone's open sessions.
CREATE INDEX auth_sessions_phone_pending_idx ON auth_sessions (phone_number, created_at)
    WHERE status = 'pending';
-- A sweep of overdue sessions (expiry without a worker) scans only pending ones.
CREATE INDEX auth_sessions_pending_expiry_idx ON auth_sessions (expires_at) WHERE status = 'pending';
CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id);

-- One successful login. Every access and refresh token carries the family id; revoking the
-- family revokes them all. `current_refresh_jti` is the only refresh token that may be spent.
CREATE TABLE token_families (
    id                  uuid PRIMARY KEY,
    user_id             bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_session_id     uuid CONSTRAINT token_families_auth_session_key UNIQUE
                        REFERENCES auth_sessions (id) ON DELETE SET NULL,
    current_refresh_jti text NOT NULL,
    client_ip           text,
    user_agent          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_refreshed_at   timestamptz,
    revoked_at          timestamptz,
    revoked_reason      text
);
CREATE INDEX token_families_active_user_idx ON token_families (user_id) WHERE revoked_at IS NULL;
