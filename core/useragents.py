"""Describe a browser from its User-Agent header, for the approval prompt."""

from __future__ import annotations

import functools

from ua_parser import parse

MAX_USER_AGENT_LENGTH = 512
# Any real User-Agent: parsing one loads and compiles the parser's hundreds of regular expressions.
WARM_UP_USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def warm_up() -> None:
    """Load the parser now (~0.1 s of CPU), at a process's start, not in its first login's prompt.

    The worker calls it before forking its children, so they inherit the compiled expressions.
    """
    parse(WARM_UP_USER_AGENT)


@functools.lru_cache(maxsize=1024)
def describe(user_agent: str | None) -> str:
    """Return "Chrome 120, Windows 10"-style text, or an empty string when nothing is known."""
    if not user_agent:
        return ""
    result = parse(user_agent[:MAX_USER_AGENT_LENGTH])
    browser = ""
    if result.user_agent and result.user_agent.family and result.user_agent.family != "Other":
        browser = " ".join(p for p in (result.user_agent.family, result.user_agent.major) if p)
    system = ""
    if result.os and result.os.family and result.os.family != "Other":
        system = " ".join(p for p in (result.os.family, result.os.major) if p)
    if browser and system:
        return f"{browser}, {system}"
    return browser or system


@functools.lru_cache(maxsize=1024)
def browser_on_system(user_agent: str | None) -> str:
    """Return "Chrome on Windows"-style text (families only, no versions), or an empty string."""
    if not user_agent:
        return ""
    result = parse(user_agent[:MAX_USER_AGENT_LENGTH])
    families = [
        part.family
        for part in (result.user_agent, result.os)
        if part and part.family and part.family != "Other"
    ]
    return " on ".join(families)
