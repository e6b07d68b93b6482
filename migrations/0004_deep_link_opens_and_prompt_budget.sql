-- Who opened a login's deep link, and prompts held back by the per-phone prompt budget.

ALTER TABLE auth_sessions
    -- The Telegram account that opened this login's own bot_url (the person is at that browser).
    -- A login started before its phone was linked is prompted only for that account, and linking
    -- a phone prompts only the login whose deep link brought the person in.
    ADD COLUMN deep_link_opened_by bigint,
    ADD COLUMN deep_link_opened_at timestamptz;

-- 'budget': the phone had its PROMPT_BUDGET_PER_PHONE of prompts; unlike a pause or a cooldown,
-- opening the login's own bot_url still has it sent.
ALTER TABLE auth_sessions DROP CONSTRAINT IF EXISTS auth_sessions_prompt_withheld_check;
ALTER TABLE auth_sessions ADD CONSTRAINT auth_sessions_prompt_withheld_check
    CHECK (prompt_withheld IN ('paused', 'cooldown', 'budget'));
