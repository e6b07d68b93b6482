"""Command line: `python -m telegram_emulator --host 127.0.0.1 --port 8081`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from telegram_emulator.server import DEFAULT_BOT_NAME, DEFAULT_BOT_USERNAME, build_server, create_app
from telegram_emulator.spec import BotApiSpec, default_spec_path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m telegram_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--bot-username", default=DEFAULT_BOT_USERNAME)
    parser.add_argument("--bot-name", default=DEFAULT_BOT_NAME)
    parser.add_argument("--spec", default=None, help=f"api.json path (default: {default_spec_path()})")
    parser.add_argument("--telegram-limits", action="store_true",
                        help="answer 429 with retry_after beyond Telegram's flood limits (30 messages/s per bot, "
                             "5 per 5 s per chat)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG shows every request")
    return parser.parse_args(argv)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into the same clean exit as Ctrl-C.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Serve the emulator until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = BotApiSpec.load(args.spec) if args.spec else None
    app = create_app(bot_username=args.bot_username, bot_name=args.bot_name, spec=spec,
                     telegram_limits=args.telegram_limits)
    server = build_server(args.host, args.port, app)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    print(f"telegram emulator listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.extensions["telegram_emulator"].state.close()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
