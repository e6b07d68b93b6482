import collections
import uuid
from datetime import datetime, timezone

import pytest

from core import prompts, texts

CHROME_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


def session(**overrides):
    row = {
        "id": uuid.uuid4(),
        "created_at": datetime(2026, 11, 27, 10, 30, tzinfo=timezone.utc),
        "client_ip": "203.0.113.7",
        "user_agent": CHROME_ON_WINDOWS,
        "approval_mode": "simple",
        "match_code": None,
    }
    row.update(overrides)
    return row


def test_prompt_names_site_ip_browser_and_time():
    message = prompts.approval_prompt(session(), "en", "Dance of Mind")
    assert "Dance of Mind" in message.text
    assert "203.0.113.7" in message.text
    assert "Chrome 120" in message.text and "Windows 10" in message.text
    assert "2026-11-27 10:30 UTC" in message.text


def test_simple_prompt_has_approve_and_reject_in_one_row_then_not_me():
    row = session()
    message = prompts.approval_prompt(row, "ru", "Dance of Mind")
    (approve, reject), (not_me,) = message.buttons
    assert prompts.parse_callback(approve.callback_data) == prompts.Callback(prompts.APPROVE, str(row["id"]))
    assert prompts.parse_callback(reject.callback_data) == prompts.Callback(prompts.REJECT, str(row["id"]))
    assert prompts.parse_callback(not_me.callback_data) == prompts.Callback(prompts.NOT_ME, str(row["id"]))
    assert approve.label == texts.text("button_approve", "ru")
    assert not_me.label == texts.text("button_not_me", "ru")
    assert texts.text("prompt_question", "ru") in message.text


def match_session(code: str = "47"):
    return session(approval_mode="match", match_code=code)


def test_match_prompt_offers_three_distinct_numbers_one_of_them_the_code():
    row = match_session("47")
    message = prompts.approval_prompt(row, "en", "Dance of Mind")
    numbers, (reject,), (not_me,) = message.buttons
    picked = [prompts.parse_callback(b.callback_data) for b in numbers]
    assert [p.action for p in picked] == [prompts.MATCH] * 3
    assert all(p.session_pk == str(row["id"]) for p in picked)
    assert [b.label for b in numbers] == [p.number for p in picked]  # the label is the number it sends
    assert len(set(b.label for b in numbers)) == 3 and "47" in [b.label for b in numbers]
    assert all(prompts.is_match_number(b.label) for b in numbers)
    assert prompts.parse_callback(reject.callback_data) == prompts.Callback(prompts.REJECT, str(row["id"]))
    assert prompts.parse_callback(not_me.callback_data) == prompts.Callback(prompts.NOT_ME, str(row["id"]))
    # No Approve button: only the number approves.
    assert all(prompts.parse_callback(b.callback_data).action != prompts.APPROVE for r in message.buttons for b in r)
    assert texts.text("prompt_match_question", "en") in message.text
    assert "47" not in message.text  # the code is shown by the website, never by the prompt


def test_match_code_lands_in_every_position_and_decoys_vary():
    positions = collections.Counter()
    decoys = set()
    for _ in range(300):
        labels = [b.label for b in prompts.approval_prompt(match_session("10"), "en", "x").buttons[0]]
        assert len(set(labels)) == 3 and all(prompts.is_match_number(label) for label in labels)
        positions[labels.index("10")] += 1
        decoys.update(label for label in labels if label != "10")
    assert set(positions) == {0, 1, 2}  # 3 * (2/3)**300 chance to miss a position: never
    assert len(decoys) > 20


def test_a_match_session_without_a_code_is_refused():
    with pytest.raises(ValueError):
        prompts.approval_prompt(match_session(None), "en", "x")


@pytest.mark.parametrize("mode", ["simple", "match"])
def test_callback_data_fits_telegram_limit(mode):
    message = prompts.approval_prompt(session(approval_mode=mode, match_code="99"), "en", "x")
    for row in message.buttons:
        for button in row:
            assert 1 <= len(button.callback_data.encode()) <= 64


def test_login_notice_names_site_browser_ip_and_approval_time_with_a_button_that_ends_the_login():
    decided = datetime(2026, 11, 27, 10, 31, tzinfo=timezone.utc)
    row = session(decided_at=decided)
    message = prompts.login_notice(row, "en", "Dance of Mind")
    [[end]] = message.buttons
    assert end.callback_data == f"{prompts.END_THIS_LOGIN}:{row['id']}"
    assert message.text.startswith(texts.text("notice_title_telegram", "en", site="Dance of Mind"))
    assert "Chrome 120, Windows 10" in message.text and "203.0.113.7" in message.text
    assert "2026-11-27 10:31 UTC" in message.text
    assert "/logout_all" in message.text
    assert "/logout_all" in prompts.login_notice(session(decided_at=decided), "ru", "x").text


@pytest.mark.parametrize("data", [None, "", "ap", "ap:", "ap:not-a-uuid", "xx:" + str(uuid.uuid4()), "ap:" + str(uuid.uuid4()) + "x"])
def test_foreign_callback_data_is_ignored(data):
    assert prompts.parse_callback(data) is None


@pytest.mark.parametrize("status", ["rejected", "expired", "cancelled"])
def test_closed_prompt_shows_outcome_and_no_buttons(status):
    message = prompts.closed_prompt(session(), status, "en", "Dance of Mind")
    assert message.buttons == ()
    assert message.text.endswith(texts.text(f"outcome_{status}", "en"))
    assert "203.0.113.7" in message.text


@pytest.mark.parametrize("status", ["approved", "consumed"])
@pytest.mark.parametrize("language", ["en", "ru"])
def test_an_approved_prompt_closes_as_the_logged_in_notice(status, language):
    decided = datetime(2026, 11, 27, 10, 31, tzinfo=timezone.utc)
    row = session(decided_at=decided)
    message = prompts.closed_prompt(row, status, language, "Dance of Mind")
    assert message.text.startswith(texts.text("logged_in_title", language, site="Dance of Mind"))
    assert "203.0.113.7" in message.text and "2026-11-27 10:31 UTC" in message.text
    assert message.text.endswith(texts.text("logged_in_hint", language))
    [[button]] = message.buttons
    assert button.label == texts.text("button_end_this_login", language)
    assert button.callback_data == f"{prompts.END_THIS_LOGIN}:{row['id']}"
    assert len(button.callback_data.encode()) <= 64
    assert prompts.parse_callback(button.callback_data) is None  # an account button, not a decision


def test_the_ended_notice_says_so_without_a_button():
    message = prompts.logged_in_notice(session(decided_at=datetime(2026, 11, 27, tzinfo=timezone.utc)), "en", "x",
                                       ended=True)
    assert message.buttons == () and message.text.endswith(texts.text("logged_in_ended", "en"))


def test_only_approvals_made_outside_telegram_need_a_separate_notice():
    assert prompts.needs_separate_notice(approved_in_telegram=True) is False
    assert prompts.needs_separate_notice(approved_in_telegram=False) is True


def test_unknown_client_is_said_so():
    message = prompts.approval_prompt(session(client_ip=None, user_agent=None), "en", "x")
    assert message.text.count(texts.text("unknown_value", "en")) == 2


def test_every_text_exists_in_both_languages():
    for key, variants in texts.TEXTS.items():
        assert set(variants) == set(texts.SUPPORTED_LANGUAGES), key


@pytest.mark.parametrize(
    "default, user_language, expected",
    [
        ("ru", "en", "en"),
        ("ru", "en-US", "en"),
        ("en", "ru", "ru"),
        ("en", "RU_ru", "ru"),
        ("ru", "ru", "ru"),
        ("ru", "de", "ru"),
        ("en", "de", "en"),
        ("ru", None, "ru"),
        ("ru", "", "ru"),
        ("en", None, "en"),
        ("ru", "rus", "ru"),  # not an IETF tag of Russian: the default, which happens to be Russian
        ("en", "english", "en"),
        ("ru-RU", "uk", "ru"),
        ("de", "de", "en"),  # an unsupported default falls back to English
        ("auto", None, "en"),
        ("de", "ru", "ru"),
    ],
)
def test_the_persons_language_wins_over_the_default(default, user_language, expected):
    assert texts.pick_language(default, user_language) == expected


@pytest.mark.parametrize(
    "stored, default, expected",
    [("en", "ru", "en"), ("ru", "en", "ru"), ("de", "ru", "ru"), (None, "ru", "ru"), (None, "en", "en")],
)
def test_the_worker_speaks_the_stored_language_of_the_user(stored, default, expected):
    assert prompts.language_for({"language_code": stored}, default) == expected
    assert prompts.language_for(None, default) == default


@pytest.mark.parametrize("method", ["passkey", "email"])
def test_the_notice_of_a_direct_login_says_how_it_was_made_and_after_ending_loses_its_button(method):
    row = session(decided_at=datetime(2026, 11, 27, 10, 31, tzinfo=timezone.utc), method=method)
    message = prompts.login_notice(row, "en", "Dance of Mind")
    assert message.text.startswith(texts.text(f"notice_title_{method}", "en", site="Dance of Mind"))
    ended = prompts.notice_of_ended_login(row, "en", "Dance of Mind")
    assert ended.buttons == () and ended.text.startswith(texts.text(f"notice_title_{method}", "en", site="Dance of Mind"))
    assert texts.text("logged_in_ended", "en") in ended.text


def test_an_ended_telegram_login_keeps_its_prompt_title():
    row = session(decided_at=datetime(2026, 11, 27, 10, 31, tzinfo=timezone.utc), method="telegram")
    ended = prompts.notice_of_ended_login(row, "en", "Dance of Mind")
    assert ended.text.startswith(texts.text("logged_in_title", "en", site="Dance of Mind")) and ended.buttons == ()
