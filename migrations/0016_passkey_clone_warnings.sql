-- When the owner was last warned in Telegram that a copy of this passkey was refused. A clone can
-- be tried again and again; the warning is claimed with one UPDATE on this column
-- (core/passkeys.claim_clone_warning), so it goes out at most once per CLONE_WARNING_INTERVAL.
ALTER TABLE passkeys ADD COLUMN clone_warned_at timestamptz;
