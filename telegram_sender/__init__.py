"""Everything the bot and the worker send to Telegram goes through here: one transport that takes a
turn from the shared send budget before each send (`request`), the keyboards (`keyboards`), and
the worker's per-process Bot with its send, edit and delete calls (`sender`).

It depends on python-telegram-bot and `core` only, so `tasks` and `botrunner` both use it without
importing each other.
"""
