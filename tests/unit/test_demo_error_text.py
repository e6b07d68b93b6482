"""errorText.js under Node: durations and errors of the login API as sentences for people.

Skipped, saying so, where `node` is not installed (the page itself is tested in a real browser
by tests/e2e/test_browser_demo_page.py).
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap

import pytest

from devstack import PROJECT_ROOT

NODE = shutil.which("node")
DEMO = PROJECT_ROOT / "webapp" / "static" / "demo"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the demo's scripts are tested in a browser only")


def sentences(script: str) -> str:
    """Run a module that imports errorText.js as `text`; return what it printed."""
    source = f'import * as text from "{(DEMO / "errorText.js").as_uri()}";\n' + textwrap.dedent(script)
    done = subprocess.run([NODE, "--input-type=module", "-e", source], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(0, "0 s"), (1, "1 s"), (45, "45 s"), (59.2, "1 min"), (60, "1 min"), (570, "9 min 30 s"),
     (3599, "59 min 59 s"), (3600, "1 h"), (3601, "1 h 1 min"), (5400, "1 h 30 min"), (7200, "2 h")],
)
def test_durations_read_as_people_say_them(seconds: float, said: str) -> None:
    assert sentences(f"console.log(text.formatDuration({seconds}));").strip() == said


def test_known_errors_read_as_sentences_and_unknown_ones_as_the_servers_message() -> None:
    out = sentences(
        """
        const say = (error) => console.log(text.errorSentence(error));
        say({ status: 429, code: "rate_limited", message: "Too many requests; try again later.", retryAfter: 570 });
        say({ status: 429, code: "slow_down", message: "Poll more slowly.", retryAfter: 2 });
        say({ status: 429, code: "rate_limited", message: "Too many requests; try again later.", retryAfter: null });
        say({ status: 422, code: "invalid_phone_number", message: "This is not a valid phone number." });
        say({ status: 404, code: "session_not_found", message: "Unknown session." });
        say({ status: 0, code: "network_error", message: "The server could not be reached." });
        say({ status: 502, code: "http_error", message: "The server answered 502." });
        say({ status: 503, code: "service_unavailable", message: "The service is temporarily unavailable." });
        say({ status: 418, code: "teapot", message: "I am a teapot." });
        say(new TypeError("Cannot read properties of undefined"));
        """
    )
    assert out.splitlines() == [
        "Too many login attempts. Try again in 9 min 30 s.",
        "The page asked the server too often. Try again in 2 s.",
        "Too many login attempts. Try again in a moment.",
        "This is not a phone number we can use. Write it with the country code, like +7 916 123-45-67.",
        "This login is no longer known. Start again.",
        "The server is not answering; try again in a moment.",
        "The server is not answering; try again in a moment.",
        "The server is not answering; try again in a moment.",
        "I am a teapot.",
        "Something went wrong on this page. Reload it and try again.",
    ]


def test_a_429_of_the_email_calls_speaks_of_codes_not_logins() -> None:
    out = sentences(
        """
        const limited = { status: 429, code: "rate_limited", message: "Too many requests; try again later.", retryAfter: 600 };
        console.log(text.errorSentence(limited, { about: "email" }));
        console.log(text.errorSentence(limited));
        console.log(text.errorSentence({ status: 422, code: "invalid_code",
          message: "The code is wrong or no longer valid; ask for a new one." }, { about: "email" }));
        """
    )
    assert out.splitlines() == [
        "Too many email codes asked for or tried. Try again in 10 min.",
        "Too many login attempts. Try again in 10 min.",
        "The code is wrong or no longer valid; ask for a new one.",  # the API's own sentence
    ]
