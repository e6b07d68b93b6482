-- Number matching and "It wasn't me": holds on approval prompts, and the post-login notice.

-- A person's holds on new prompts. Kept on the user (one phone, one Telegram account) so the
-- worker checks them in the same query that finds whom to prompt, by the database clock.
ALTER TABLE users
    -- "It wasn't me" was tapped: no prompts to this phone until then (the person may resume earlier).
    ADD COLUMN prompts_paused_until timestamptz,
    -- A wrong number was picked: no prompts to this account until then.
    ADD COLUMN match_cooldown_until timestamptz;

ALTER TABLE auth_sessions
    -- Why the prompt of this session was held back on purpose (never sent, and never sent later).
    ADD COLUMN prompt_withheld text CHECK (prompt_withheld IN ('paused', 'cooldown')),
    -- The "New login" message sent after approval; set once, so the notice is sent once.
    ADD COLUMN login_notice_message_id bigint;
