"""Command line: `python -m telegram_emulator --host 127.0.0.1 --port 8081`.

Served by gevent's WSGI server, as Telegram serves the Bot API: HTTP/1.1 keep-alive (werkzeug's
server closes every connection, so each Bot API call of our worker and bot paid a new TCP
connection), and a waiting read (getUpdates, a chat's ?wait=) is a parked greenlet, not a thread.
Its connections send without Nagle's delay (TCP_NODELAY, as gunicorn's and Telegram's do): gevent
writes an answer's head and body separately, and the body then waited for the client's delayed
ACK, ~40 ms on every Bot API call.
The in-process emulator of the tests (`server.start_in_thread`) stays on werkzeug's threads.
"""

from __future__ import annotations

if __name__ == "__main__":
    # Before anything imports threading: the emulator's waits (threading.Condition) become greenlet waits.
    from gevent import monkey

    monkey.patch_all()

import argparse
import logging
import signal
import socket
import sys
from typing import Any

import gevent
from gevent.pywsgi import WSGIServer

from telegram_emulator.server import DEFAULT_BOT_NAME, DEFAULT_BOT_USERNAME, create_app
from telegram_emulator.spec import BotApiSpec, default_spec_path


class NoDelayWSGIServer(WSGIServer):
    """gevent's WSGI server, its connections with TCP_NODELAY (see the module's docstring)."""

    def handle(self, sock: Any, address: Any) -> None:
        """Serve one connection, small writes going out at once."""
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m telegram_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--bot-username", default=DEFAULT_BOT_USERNAME)
    parser.add_argument("--bot-name", default=DEFAULT_BOT_NAME)
    parser.add_argument("--spec", default=None, help=f"api.json path (default: {default_spec_path()})")
    parser.add_argument("--telegram-limits", action="store_true",
                        help="answer 429 with retry_after beyond Telegram's flood limits (about 30 new messages/s per "
                             "bot, 5 messages or edits per 5 s per chat)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG shows more of what the emulator does")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve the emulator until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = BotApiSpec.load(args.spec) if args.spec else None
    app = create_app(bot_username=args.bot_username, bot_name=args.bot_name, spec=spec,
                     telegram_limits=args.telegram_limits)
    server = NoDelayWSGIServer((args.host, args.port), app, log=None)  # no access line per call
    server.start()
    gevent.signal_handler(signal.SIGTERM, server.stop)
    print(f"telegram emulator listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.extensions["telegram_emulator"].state.close()  # releases waiting reads before the server stops
        server.stop(timeout=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
