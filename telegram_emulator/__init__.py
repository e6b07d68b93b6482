"""A fake Telegram Bot API server that real python-telegram-bot talks to, plus a control API.

Start it with `python -m telegram_emulator`, or in-process with `serve_in_thread()`;
drive it from tests with `EmulatorClient`.
"""

from telegram_emulator.server import create_app, serve_in_thread, start_in_thread

__all__ = ["create_app", "serve_in_thread", "start_in_thread"]
