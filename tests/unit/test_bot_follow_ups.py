"""What a committed tap still asks of the worker: nothing for a plain approval, whose edit is its notice."""

from __future__ import annotations

import jobs
from botrunner import handlers
from core.decisions import Decision, Refusal


def session(status: str) -> dict:
    return {"id": "s-1", "status": status}


def test_an_approval_whose_prompt_was_closed_needs_nothing_more():
    # The bot then makes no trip to a thread at all for this tap.
    assert handlers.follow_ups_of(Decision(session("approved"), None), closed=True) == []


def test_a_prompt_the_bot_could_not_close_is_left_to_the_worker():
    assert handlers.follow_ups_of(Decision(session("approved"), None), closed=False) == [
        (jobs.enqueue_prompt_update, "s-1")]


def test_the_other_logins_a_tap_rejected_get_their_prompts_closed():
    outcome = Decision(session("rejected"), None, also_rejected=("s-2", "s-3"))
    assert handlers.follow_ups_of(outcome, closed=True) == [
        (jobs.enqueue_prompt_update, "s-2"), (jobs.enqueue_prompt_update, "s-3")]


def test_a_refused_tap_on_a_login_it_did_not_change_needs_nothing():
    assert handlers.follow_ups_of(Decision(None, next(iter(Refusal))), closed=True) == []


def test_the_emails_a_tap_recorded_are_queued_after_it():
    outcome = Decision(session("rejected"), None, emails=("mail-1",))
    assert handlers.follow_ups_of(outcome, closed=True) == [(jobs.enqueue_email, "mail-1")]
