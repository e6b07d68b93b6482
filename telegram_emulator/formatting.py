"""Parse formatted message text the way Telegram does, enough to refuse what it refuses.

Each parser returns the visible text (markup removed) or raises Telegram's
"Bad Request: can't parse entities: ..." error. Only clear-cut mistakes are refused:
an emulator that is stricter than Telegram would send people chasing phantom bugs.
"""

from __future__ import annotations

import html
import re

from telegram_emulator.errors import BotApiError, bad_request

PARSE_MODES = ("HTML", "Markdown", "MarkdownV2")

_HTML_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
    "a", "code", "pre", "blockquote", "tg-emoji", "tg-time",
}
_HTML_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)?([^<>]*)>")
_MARKDOWN_V2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MARKDOWN_V2_TOGGLES = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler"}


def visible_text(text: str, parse_mode: str | None) -> str:
    """Return the text a user would see, or raise if Telegram cannot parse the markup."""
    if parse_mode is None:
        return text
    if parse_mode not in PARSE_MODES:
        raise bad_request("unsupported parse_mode")
    if parse_mode == "HTML":
        return _parse_html(text)
    if parse_mode == "MarkdownV2":
        return _parse_markdown_v2(text)
    return _parse_markdown(text)


def _entity_error(reason: str) -> BotApiError:
    return bad_request(f"can't parse entities: {reason}")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _parse_html(text: str) -> str:
    open_tags: list[tuple[str, int]] = []
    pieces: list[str] = []
    position = 0
    while True:
        start = text.find("<", position)
        if start < 0:
            pieces.append(html.unescape(text[position:]))
            break
        pieces.append(html.unescape(text[position:start]))
        match = _HTML_TAG.match(text, start)
        offset = _byte_offset(text, start)
        if match is None or match.group(2) is None:
            raise _entity_error(f"Unsupported start tag at byte offset {offset}")
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise _entity_error(f'Unsupported {kind} tag "{name}" at byte offset {offset}')
        if closing:
            if not open_tags or open_tags[-1][0] != name:
                expected = f'"</{open_tags[-1][0]}>"' if open_tags else "nothing"
                raise _entity_error(
                    f'Unmatched end tag at byte offset {offset}, expected {expected}, found "</{name}>"'
                )
            open_tags.pop()
        else:
            open_tags.append((name, offset))
        position = match.end()
    if open_tags:
        name, _ = open_tags[-1]
        raise _entity_error(f'Can\'t find end tag corresponding to start tag "{name}"')
    return "".join(pieces)


def _parse_markdown_v2(text: str) -> str:
    pieces: list[str] = []
    open_toggles: dict[str, int] = {}
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char == "\\":
            if index + 1 < length:
                pieces.append(text[index + 1])
            index += 2
            continue
        if text.startswith("```", index):
            end = text.find("```", index + 3)
            if end < 0:
                raise _entity_error(f"Can't find end of Pre entity at byte offset {_byte_offset(text, index)}")
            pieces.append(text[index + 3:end])
            index = end + 3
            continue
        if char == "`":
            end = text.find("`", index + 1)
            if end < 0:
                raise _entity_error(f"Can't find end of Code entity at byte offset {_byte_offset(text, index)}")
            pieces.append(text[index + 1:end])
            index = end + 1
            continue
        if char == "]" and text.startswith("](", index):
            # A link target may contain reserved characters; only ")" and "\" need escaping there.
            end = _find_unescaped(text, ")", index + 2)
            if end < 0:
                raise _entity_error(f"Can't find end of a URL at byte offset {_byte_offset(text, index)}")
            index = end + 1
            continue
        toggle = text[index:index + 2] if text[index:index + 2] in ("__", "||") else char
        if toggle in _MARKDOWN_V2_TOGGLES:
            if toggle in open_toggles:
                del open_toggles[toggle]
            else:
                open_toggles[toggle] = index
            index += len(toggle)
            continue
        if char == ">" and (index == 0 or text[index - 1] == "\n"):
            index += 1  # A blockquote marker at the start of a line.
            continue
        if char in _MARKDOWN_V2_RESERVED - {"[", "]"}:
            raise _entity_error(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
        if char not in "[]":
            pieces.append(char)
        index += 1
    if open_toggles:
        toggle, start = min(open_toggles.items(), key=lambda item: item[1])
        entity = _MARKDOWN_V2_TOGGLES[toggle]
        raise _entity_error(f"Can't find end of {entity} entity at byte offset {_byte_offset(text, start)}")
    return "".join(pieces)


def _find_unescaped(text: str, target: str, start: int) -> int:
    index = start
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == target:
            return index
        index += 1
    return -1


def _parse_markdown(text: str) -> str:
    """Legacy Markdown: only unterminated *bold*, _italic_, `code` and [links] are errors."""
    pieces: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in "_*`[":
            pieces.append(text[index + 1])
            index += 2
            continue
        delimiter = "```" if text.startswith("```", index) else char
        if delimiter in ("```", "`", "*", "_"):
            end = text.find(delimiter, index + len(delimiter))
            if end < 0:
                offset = _byte_offset(text, index)
                raise _entity_error(f"Can't find end of the entity starting at byte offset {offset}")
            pieces.append(text[index + len(delimiter):end])
            index = end + len(delimiter)
            continue
        if char == "[":
            match = re.compile(r"\[([^\]]*)\]\(([^)]*)\)").match(text, index)
            if match is None:
                offset = _byte_offset(text, index)
                raise _entity_error(f"Can't find end of the entity starting at byte offset {offset}")
            pieces.append(match.group(1))
            index = match.end()
            continue
        pieces.append(char)
        index += 1
    return "".join(pieces)
