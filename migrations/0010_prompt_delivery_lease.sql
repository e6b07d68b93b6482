-- Exactly-once prompts through Postgres: a copy of the send task leases the login's prompt in one
-- UPDATE before it talks to Telegram, so two copies never both send; a lease that lapses without a
-- message id (its worker died) is taken over by the next copy, or re-queued by beat's sweep.
ALTER TABLE auth_sessions
    -- Until when the copy below may send this login's prompt; NULL: nobody is sending it.
    ADD COLUMN prompt_lease_until timestamptz,
    -- The Celery task id holding the lease (its retries keep the id, so they take it back).
    ADD COLUMN prompt_lease_owner text,
    -- The worker (Celery node name) running that task: a worker restarted after a crash frees them.
    ADD COLUMN prompt_lease_worker text,
    -- The task that edits the prompt to its outcome, once overall (Telegram refuses a second
    -- edit that changes nothing with a 400).
    ADD COLUMN prompt_closed_by text;

-- The beat sweep looks for lapsed leases among pending logins only.
CREATE INDEX auth_sessions_pending_prompt_lease_idx ON auth_sessions (prompt_lease_until)
    WHERE status = 'pending' AND prompt_message_id IS NULL;
