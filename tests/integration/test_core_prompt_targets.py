"""Which logins get a prompt (core.prompt_targets) and what a tap decides (core.decisions), on real Postgres."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from core import auth_sessions, db, decisions, prompt_holds, prompt_targets, prompts, session_recovery, users
from core.prompt_targets import Blocker, DeepLink
from tests.factories import make_session, make_user

pytest_plugins = ["tests.integration.core_fixtures"]

VICTIM_PHONE = "+79160000011"
VICTIM_TELEGRAM_ID = 700_000_011
COOLDOWN_SECONDS = 300
PAUSE_SECONDS = 3600


def blocker(session_pk) -> Blocker | None:
    with db.transaction() as conn:
        return prompt_targets.prompt_target(conn, str(session_pk)).blocker


def needs_prompt_in_recovery() -> dict[str, bool]:
    with db.transaction() as conn:
        return {str(row["id"]): row["needs_prompt"] for row in session_recovery.pending_sessions(conn)}


def link_victim(conn) -> users.LinkResult:
    return users.link(conn, phone_number=VICTIM_PHONE, telegram_id=VICTIM_TELEGRAM_ID, first_name="Vera")


def test_a_login_of_a_phone_linked_when_it_started_is_prompted(core_db):
    with db.transaction() as conn:
        user = make_user(conn)
        new = make_session(conn, phone_number=user["phone_number"])
    assert blocker(new.row["id"]) is None
    assert needs_prompt_in_recovery() == {str(new.row["id"]): True}


def test_linking_prompts_only_the_login_whose_deep_link_brought_the_person_in(core_db):
    with db.transaction() as conn:
        attacker = make_session(conn, phone_number=VICTIM_PHONE, client_ip="198.51.100.66")
        victim = make_session(conn, phone_number=VICTIM_PHONE, client_ip="203.0.113.7")
        opened = prompt_targets.open_deep_link(conn, victim.row["start_token"], VICTIM_TELEGRAM_ID)
        assert opened.kind is DeepLink.NEED_CONTACT
        assert link_victim(conn).outcome is users.LinkOutcome.LINKED
        to_prompt = prompt_targets.prompt_after_link(conn, VICTIM_TELEGRAM_ID, VICTIM_PHONE)

    assert to_prompt == [str(victim.row["id"])]
    assert blocker(victim.row["id"]) is None
    # The attacker's older login waits for its own bot_url, which only the attacker's browser has:
    # neither the worker nor a recovery sweep prompts it.
    assert blocker(attacker.row["id"]) is Blocker.NOT_OPENED
    assert needs_prompt_in_recovery() == {str(attacker.row["id"]): False, str(victim.row["id"]): True}


def test_a_login_started_before_linking_is_prompted_when_its_own_bot_url_is_opened(core_db):
    with db.transaction() as conn:
        earlier = make_session(conn, phone_number=VICTIM_PHONE)
        link_victim(conn)
        assert prompt_targets.prompt_after_link(conn, VICTIM_TELEGRAM_ID, VICTIM_PHONE) == []
    assert blocker(earlier.row["id"]) is Blocker.NOT_OPENED

    with db.transaction() as conn:
        opened = prompt_targets.open_deep_link(conn, earlier.row["start_token"], VICTIM_TELEGRAM_ID)
    assert opened.kind is DeepLink.SEND_PROMPT
    assert blocker(earlier.row["id"]) is None


def test_someone_elses_account_opening_the_bot_url_changes_nothing(core_db):
    with db.transaction() as conn:
        link_victim(conn)
        other = make_user(conn)
        login = make_session(conn, phone_number=VICTIM_PHONE, user_id=None)
        assert prompt_targets.open_deep_link(conn, login.row["start_token"], other["telegram_id"]).kind is (
            DeepLink.WRONG_PHONE
        )
    assert blocker(login.row["id"]) is Blocker.NOT_OPENED


def start_login(conn, phone_number: str, client_ip: str = "203.0.113.7") -> auth_sessions.NewSession:
    """Start a login as /init does, against a budget of 3 prompts per phone in 10 minutes."""
    return prompt_targets.start_login(
        conn,
        phone_number=phone_number,
        ttl_seconds=300,
        approval_mode="simple",
        client_ip=client_ip,
        user_agent=None,
        budget="3/10 minutes",
    )


def over_budget(login: auth_sessions.NewSession) -> bool:
    return login.row["prompt_withheld"] == prompt_targets.BUDGET


def test_prompts_over_the_phones_budget_are_withheld_until_their_bot_url_is_opened(core_db):
    with db.transaction() as conn:
        link_victim(conn)
        logins = [start_login(conn, VICTIM_PHONE) for _ in range(4)]
    assert [over_budget(login) for login in logins] == [False, False, False, True]
    assert [login.row["user_id"] is not None for login in logins] == [True] * 4
    assert [blocker(login.row["id"]) for login in logins] == [None, None, None, Blocker.OVER_BUDGET]
    assert needs_prompt_in_recovery()[str(logins[3].row["id"])] is False

    with db.transaction() as conn:
        opened = prompt_targets.open_deep_link(conn, logins[3].row["start_token"], VICTIM_TELEGRAM_ID)
    assert opened.kind is DeepLink.SEND_PROMPT
    assert blocker(logins[3].row["id"]) is None


def test_the_budget_counts_every_client_of_the_phone_and_no_other_phone(core_db):
    with db.transaction() as conn:
        for number in range(3):
            assert not over_budget(start_login(conn, VICTIM_PHONE, client_ip=f"198.51.100.{number}"))
        assert over_budget(start_login(conn, VICTIM_PHONE, client_ip="203.0.113.7"))
        assert not over_budget(start_login(conn, "+79160000012"))


def test_logins_started_at_once_spend_the_budget_once(core_db):
    barrier = threading.Barrier(8)

    def start(number: int) -> bool:
        barrier.wait()
        # As /init does: the lock and the insert in one round trip, committed as it ends.
        with db.transaction(one_statement=True) as conn:
            return over_budget(start_login(conn, VICTIM_PHONE, client_ip=f"198.51.100.{number}"))

    with ThreadPoolExecutor(8) as pool:
        withheld = list(pool.map(start, range(8)))
    assert sorted(withheld) == [False] * 3 + [True] * 5


def test_a_login_belongs_to_the_user_its_phone_is_linked_to_as_it_starts(core_db):
    with db.transaction(one_statement=True) as conn:
        unlinked = start_login(conn, VICTIM_PHONE)
    with db.transaction() as conn:
        user = link_victim(conn).user
    with db.transaction(one_statement=True) as conn:
        linked = start_login(conn, VICTIM_PHONE)
    assert (unlinked.row["user_id"], linked.row["user_id"]) == (None, user["id"])


def test_a_hold_withholds_the_workers_prompt_for_good_but_a_deep_link_only_says_so(core_db):
    with db.transaction() as conn:
        user = make_user(conn)
        prompt_holds.pause(conn, user["id"], PAUSE_SECONDS)
        first = make_session(conn, phone_number=user["phone_number"])
        second = make_session(conn, phone_number=user["phone_number"])
        assert prompt_targets.open_deep_link(conn, second.row["start_token"], user["telegram_id"]).kind is DeepLink.HELD
        target = prompt_targets.prompt_to_send(conn, str(first.row["id"]))
    assert (target.blocker, target.withheld_now) == (Blocker.PAUSED, True)
    assert blocker(first.row["id"]) is Blocker.WITHHELD
    assert blocker(second.row["id"]) is Blocker.PAUSED


def match_tap(session, number: str) -> prompts.Callback:
    return prompts.Callback(prompts.MATCH, str(session.row["id"]), number)


def decide(tap: prompts.Callback, telegram_id: int) -> decisions.Decision:
    with db.transaction() as conn:
        return decisions.decide(
            conn, tap, telegram_id, match_cooldown_seconds=COOLDOWN_SECONDS, prompt_pause_seconds=PAUSE_SECONDS
        )


def wrong_number(session) -> str:
    return "10" if session.row["match_code"] != "10" else "11"


def test_a_wrong_number_rejects_every_pending_login_of_the_phone(core_db):
    with db.transaction() as conn:
        user = make_user(conn)
        logins = [make_session(conn, phone_number=user["phone_number"], approval_mode="match") for _ in range(3)]

    decision = decide(match_tap(logins[0], wrong_number(logins[0])), user["telegram_id"])

    assert decision.cooldown and decision.session["status"] == auth_sessions.REJECTED
    assert set(decision.also_rejected) == {str(logins[1].row["id"]), str(logins[2].row["id"])}
    with db.transaction() as conn:
        statuses = [auth_sessions.get(conn, login.row["id"])["status"] for login in logins]
    assert statuses == [auth_sessions.REJECTED] * 3


def test_nothing_of_the_phone_is_approved_during_its_cooldown(core_db):
    with db.transaction() as conn:
        user = make_user(conn)
        guessed = make_session(conn, phone_number=user["phone_number"], approval_mode="match")
    decide(match_tap(guessed, wrong_number(guessed)), user["telegram_id"])
    with db.transaction() as conn:
        later = make_session(conn, phone_number=user["phone_number"], approval_mode="match")
        simple = make_session(conn, phone_number=user["phone_number"], approval_mode="simple")

    right = decide(match_tap(later, later.row["match_code"]), user["telegram_id"])
    approve = decide(prompts.Callback(prompts.APPROVE, str(simple.row["id"])), user["telegram_id"])

    assert (right.session, right.refusal) == (None, auth_sessions.Refusal.COOLDOWN)
    assert (approve.session, approve.refusal) == (None, auth_sessions.Refusal.COOLDOWN)
    with db.transaction() as conn:
        assert auth_sessions.get(conn, later.row["id"])["status"] == auth_sessions.PENDING
        # Rejecting still works: the owner can always say no.
        assert auth_sessions.reject(conn, str(later.row["id"]), user["telegram_id"])["status"] == "rejected"


def test_a_tap_on_an_overdue_prompt_expires_it(core_db):
    with db.transaction() as conn:
        user = make_user(conn)
        login = make_session(conn, phone_number=user["phone_number"])
        with conn.cursor() as cur:
            cur.execute("UPDATE auth_sessions SET expires_at = now() - interval '1 second' WHERE id = %s",
                        (str(login.row["id"]),))
    decision = decide(prompts.Callback(prompts.APPROVE, str(login.row["id"])), user["telegram_id"])
    assert decision.refusal is auth_sessions.Refusal.EXPIRED
    assert decision.session["status"] == auth_sessions.EXPIRED


def test_unlink_ends_logins_rejects_pending_ones_and_forgets_the_phone(core_db):
    with db.transaction() as conn:
        user = make_user(conn)
        pending = make_session(conn, phone_number=user["phone_number"])
        unlinked = users.unlink(conn, user)
        assert users.get(conn, user["id"]) is None
    assert [row["id"] for row in unlinked.rejected] == [pending.row["id"]]
