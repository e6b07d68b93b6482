"""Users linking and token families on real Postgres."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from core import db, token_families, users
from core.users import LinkOutcome
from tests.factories import make_user

pytest_plugins = ["tests.integration.core_fixtures"]


def test_link_new_phone_then_again(core_db):
    with db.transaction() as conn:
        first = users.link(conn, phone_number="+79161234567", telegram_id=42, first_name="A")
        again = users.link(conn, phone_number="+79161234567", telegram_id=42, first_name="B")
    assert first.outcome is LinkOutcome.LINKED
    assert again.outcome is LinkOutcome.ALREADY_LINKED and again.user["first_name"] == "B"


def test_phone_of_another_account_is_never_relinked(core_db):
    with db.transaction() as conn:
        users.link(conn, phone_number="+79161234567", telegram_id=42)
        taken = users.link(conn, phone_number="+79161234567", telegram_id=43)
        assert taken.outcome is LinkOutcome.PHONE_TAKEN
        assert users.get_by_phone(conn, "+79161234567")["telegram_id"] == 42


def test_account_with_a_new_number_moves_to_it(core_db):
    with db.transaction() as conn:
        users.link(conn, phone_number="+79161234567", telegram_id=42)
        moved = users.link(conn, phone_number="+79169999999", telegram_id=42)
        assert moved.outcome is LinkOutcome.PHONE_CHANGED
        assert users.get_by_phone(conn, "+79161234567") is None


def test_simultaneous_links_of_one_phone_by_two_accounts(core_db):
    barrier = threading.Barrier(2)

    def link(telegram_id: int):
        barrier.wait()
        with db.transaction() as conn:
            return users.link(conn, phone_number="+79161234567", telegram_id=telegram_id).outcome

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(o.value for o in pool.map(link, (1, 2)))
    assert outcomes == ["linked", "phone_taken"]


def row_version(telegram_id: int) -> tuple[str, str | None]:
    """Return the row's xmin (it moves with every write to the row) and its language."""
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT xmin::text AS version, language_code FROM users WHERE telegram_id = %s", (telegram_id,))
        row = cur.fetchone()
    return row["version"], row["language_code"]


def test_note_language_writes_only_a_change(core_db):
    with db.transaction() as conn:
        make_user(conn, telegram_id=42, language_code="ru")
    version, _ = row_version(42)

    with db.transaction() as conn:
        assert users.note_language(conn, 42, "ru") is False
        assert users.note_language(conn, 43, "en") is False  # nobody linked: nothing to note
    assert row_version(42) == (version, "ru")

    # None too: Telegram leaves language_code out when the person's app doesn't say.
    for language, writes in (("en-GB", True), (None, True), (None, False), ("ru", True), ("ru", False)):
        with db.transaction() as conn:
            changed = users.note_language(conn, 42, language)
        new_version, stored = row_version(42)
        assert (changed, new_version != version, stored) == (writes, writes, language)
        version = new_version


THIRTY_DAYS = 30 * 24 * 3600


def start_family(conn, user_id: int) -> dict:
    return token_families.start(conn, user_id=user_id, auth_session_pk=None, client_ip=None, user_agent=None)


def age_family(conn, family_id: str, seconds: int) -> None:
    """Move a family's start `seconds` into the past."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE token_families SET created_at = now() - make_interval(secs => %s) WHERE id = %s",
            (seconds, family_id),
        )


def test_refresh_rotation_and_reuse_revokes_the_family(core_db):
    with db.transaction() as conn:
        user = make_user(conn)
        family = start_family(conn, user["id"])
        fam, first = str(family["id"]), family["current_refresh_jti"]
        rotated = token_families.rotate(conn, fam, first, max_age_seconds=THIRTY_DAYS)
        assert rotated.outcome is token_families.RotationOutcome.ROTATED
        second = rotated.family["current_refresh_jti"]
        assert second != first
        reused = token_families.rotate(conn, fam, first, max_age_seconds=THIRTY_DAYS)
        assert reused.outcome is token_families.RotationOutcome.REUSED
        assert reused.family["revoked_reason"] == "refresh_token_reused"
        assert not token_families.is_live_for(conn, fam, user["id"])
        assert token_families.rotate(conn, fam, second, max_age_seconds=THIRTY_DAYS).outcome is token_families.RotationOutcome.REVOKED


def test_unknown_and_malformed_families(core_db):
    with db.transaction() as conn:
        for family_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
            rotation = token_families.rotate(conn, family_id, "x", max_age_seconds=THIRTY_DAYS)
            assert rotation.outcome is token_families.RotationOutcome.UNKNOWN
        assert token_families.is_live_for(conn, "garbage", 1) is False


def test_a_family_is_live_only_for_its_own_user(core_db):
    with db.transaction() as conn:
        owner, other = make_user(conn), make_user(conn)
        family_id = str(start_family(conn, owner["id"])["id"])
        assert token_families.is_live_for(conn, family_id, owner["id"])
        assert not token_families.is_live_for(conn, family_id, other["id"])
        token_families.revoke(conn, family_id, "logout")
        assert not token_families.is_live_for(conn, family_id, owner["id"])


def test_a_login_past_its_max_age_is_ended_instead_of_rotated(core_db):
    with db.transaction() as conn:
        user = make_user(conn)
        family = start_family(conn, user["id"])
        family_id, jti = str(family["id"]), family["current_refresh_jti"]
        age_family(conn, family_id, THIRTY_DAYS - 60)
        rotated = token_families.rotate(conn, family_id, jti, max_age_seconds=THIRTY_DAYS)
        assert rotated.outcome is token_families.RotationOutcome.ROTATED
        jti = rotated.family["current_refresh_jti"]
        age_family(conn, family_id, THIRTY_DAYS + 1)

        expired = token_families.rotate(conn, family_id, jti, max_age_seconds=THIRTY_DAYS)
        assert expired.outcome is token_families.RotationOutcome.EXPIRED
        assert expired.family["revoked_at"] is not None
        assert expired.family["revoked_reason"] == token_families.LOGIN_EXPIRED
        assert expired.family["current_refresh_jti"] == jti  # nothing new was issued
        assert not token_families.is_live_for(conn, family_id, user["id"])
        # Every later try of that login says the same, an older token included.
        again = token_families.rotate(conn, family_id, jti, max_age_seconds=THIRTY_DAYS)
        assert again.outcome is token_families.RotationOutcome.EXPIRED
        stale = token_families.rotate(conn, family_id, family["current_refresh_jti"], max_age_seconds=THIRTY_DAYS)
        assert stale.outcome is token_families.RotationOutcome.EXPIRED


def test_a_login_ends_at_its_start_plus_the_max_age(core_db):
    with db.transaction() as conn:
        family = start_family(conn, make_user(conn)["id"])
    ends_at = token_families.login_ends_at(family, THIRTY_DAYS)
    assert (ends_at - family["created_at"]).total_seconds() == THIRTY_DAYS


def test_logout_revokes_and_keeps_the_first_reason(core_db):
    with db.transaction() as conn:
        user = make_user(conn)
        family = token_families.start(conn, user_id=user["id"], auth_session_pk=None, client_ip=None, user_agent=None)
        token_families.revoke(conn, str(family["id"]), "logout")
        again = token_families.revoke(conn, str(family["id"]), "other")
    assert again["revoked_reason"] == "logout"


def test_revoke_all_for_user(core_db):
    with db.transaction() as conn:
        user = make_user(conn)
        for _ in range(3):
            token_families.start(conn, user_id=user["id"], auth_session_pk=None, client_ip=None, user_agent=None)
        assert len(token_families.active_for_user(conn, user["id"])) == 3
        assert token_families.revoke_all_for_user(conn, user["id"], "logout_all") == 3
        assert token_families.active_for_user(conn, user["id"]) == []
