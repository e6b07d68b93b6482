"""Exactly-once prompts through a lease in Postgres, and beat's sweep for the work of a lost worker."""

from __future__ import annotations

import celeryconfig
import jobs
from core import auth_sessions, db, session_recovery
from tasks import recovery
from tests.factories import make_session, make_user

pytest_plugins = ["tests.integration.core_fixtures"]

LEASE = 40


def linked_login(conn) -> str:
    user = make_user(conn)
    return str(make_session(conn, phone_number=user["phone_number"]).row["id"])


def lease(session_pk: str, owner: str, worker: str = "celery@a") -> auth_sessions.PromptLease | None:
    with db.transaction() as conn:
        return auth_sessions.take_prompt_lease(conn, session_pk, owner, worker, LEASE)


def lapse_lease(session_pk: str) -> None:
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("UPDATE auth_sessions SET prompt_lease_until = now() - interval '1 second' WHERE id = %s",
                    (session_pk,))


def stalled() -> list[str]:
    with db.transaction() as conn:
        return [str(row["id"]) for row in session_recovery.stalled_sessions(conn) if row["needs_prompt"]]


def test_one_copy_holds_the_lease_and_its_retry_takes_it_back(core_db):
    with db.transaction() as conn:
        session_pk = linked_login(conn)

    assert lease(session_pk, "task-1")
    assert not lease(session_pk, "task-2")  # a duplicate copy: looks again later
    assert lease(session_pk, "task-1")  # the retry of the holder (retries keep the task id)


def test_a_lease_says_whether_a_sender_held_it_before(core_db):
    with db.transaction() as conn:
        session_pk = linked_login(conn)

    first = lease(session_pk, "task-1")
    assert first is not None and first.leased_before is False  # nobody could have delivered yet
    assert lease(session_pk, "task-1").leased_before is True  # its own retry: it may have delivered
    with db.transaction() as conn:
        auth_sessions.release_prompt_lease(conn, session_pk, "task-1")
    assert lease(session_pk, "task-2").leased_before is True  # a lease given back still had a sender


def test_a_lapsed_lease_goes_to_the_next_copy_and_a_recorded_prompt_is_never_leased(core_db):
    with db.transaction() as conn:
        session_pk = linked_login(conn)
    assert lease(session_pk, "dead-task")
    lapse_lease(session_pk)

    assert lease(session_pk, "task-2")
    with db.transaction() as conn:
        assert auth_sessions.record_prompt(conn, session_pk, 42, 7, "en")
    lapse_lease(session_pk)
    assert not lease(session_pk, "task-3")


def test_a_worker_restarted_after_a_crash_frees_only_its_own_leases(core_db):
    with db.transaction() as conn:
        mine, other = linked_login(conn), linked_login(conn)
    assert lease(mine, "task-1", worker="celery@crashed")
    assert lease(other, "task-2", worker="celery@alive")

    with db.transaction() as conn:
        assert auth_sessions.release_prompt_leases_of(conn, "celery@crashed") == 1

    assert lease(mine, "task-3")
    assert not lease(other, "task-3")


def test_the_sweep_finds_prompts_whose_lease_lapsed_not_those_being_sent(core_db):
    with db.transaction() as conn:
        lost, sending, fresh = linked_login(conn), linked_login(conn), linked_login(conn)
    assert lease(lost, "dead-task") and lease(sending, "live-task")
    lapse_lease(lost)

    # `fresh` was never leased, but its task may still be on its way: not yet stalled.
    assert stalled() == [lost]


def test_the_sweep_finds_a_prompt_no_task_ever_leased(core_db):
    with db.transaction() as conn:
        session_pk = linked_login(conn)
        with conn.cursor() as cur:
            cur.execute("UPDATE auth_sessions SET created_at = now() - interval '1 minute' WHERE id = %s",
                        (session_pk,))

    assert stalled() == [session_pk]


def test_the_beat_sweep_requeues_a_lost_prompt(core_db, fake_queue):
    with db.transaction() as conn:
        lost = linked_login(conn)
    assert lease(lost, "dead-task")
    lapse_lease(lost)

    recovery.requeue_stalled_sessions.apply()

    assert [(task.name, task.args) for task in fake_queue.sent] == [(jobs.SEND_APPROVAL_PROMPT, [lost])]


def test_the_sweep_runs_on_beat_well_within_the_visibility_timeout():
    [entry] = [e for e in celeryconfig.beat_schedule.values() if e["task"] == jobs.REQUEUE_STALLED_SESSIONS]
    assert entry["schedule"] <= 60


def test_recovery_after_a_crash_frees_the_dead_workers_leases_and_requeues_their_prompts(core_db, fake_queue):
    with db.transaction() as conn:
        session_pk = linked_login(conn)
    assert lease(session_pk, "killed-task", worker="celery@host")

    recovery.recover_sessions.apply(args=["previous worker crashed", "celery@host"])

    assert jobs.SEND_APPROVAL_PROMPT in fake_queue.names()
    assert lease(session_pk, "the-new-copy")


def end(session_pk: str) -> None:
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("UPDATE auth_sessions SET status = 'expired', decided_at = now() WHERE id = %s", (session_pk,))


def test_recovery_after_a_crash_asks_about_the_dead_workers_ended_logins_with_no_recorded_prompt(core_db, fake_queue):
    with db.transaction() as conn:
        ended, pending, others = linked_login(conn), linked_login(conn), linked_login(conn)
    assert lease(ended, "killed-task-1", worker="celery@host") and lease(pending, "killed-task-2", worker="celery@host")
    assert lease(others, "live-task", worker="celery@alive")
    end(ended)
    end(others)

    recovery.recover_sessions.apply(args=["previous worker crashed", "celery@host"])

    sent = [task.args[0] for task in fake_queue.sent if task.name == jobs.SEND_APPROVAL_PROMPT]
    assert sorted(sent) == sorted([ended, pending])  # not the live worker's login
    with db.transaction() as conn:
        # The ended login keeps its lease: the copy that closes its prompt looks for it.
        assert auth_sessions.get(conn, ended)["prompt_lease_until"] is not None
        assert auth_sessions.get(conn, pending)["prompt_lease_until"] is None


def test_the_beat_sweep_asks_about_ended_logins_whose_senders_lease_lapsed(core_db, fake_queue):
    with db.transaction() as conn:
        lapsed, live = linked_login(conn), linked_login(conn)
    assert lease(lapsed, "dead-task") and lease(live, "live-task")
    end(lapsed)
    end(live)
    lapse_lease(lapsed)

    recovery.requeue_stalled_sessions.apply()

    assert [task.args[0] for task in fake_queue.sent if task.name == jobs.SEND_APPROVAL_PROMPT] == [lapsed]
