"""`python -m mail_catcher --smtp-port 1025 --http-port 8025`: run the catcher until interrupted."""

from __future__ import annotations

import argparse
import signal
import threading

from mail_catcher.inbox import Inbox
from mail_catcher.smtp_server import SmtpServer
from mail_catcher.web import WebServer


def main() -> None:
    """Start the SMTP server and the inbox page; stop on SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m mail_catcher", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    args = parser.parse_args()
    inbox = Inbox()
    smtp = SmtpServer(inbox, args.host, args.smtp_port)
    web = WebServer(inbox, smtp, args.host, args.http_port)
    smtp.start()
    web.start()
    print(f"mail catcher: smtp://{args.host}:{args.smtp_port}, inbox http://{args.host}:{args.http_port}/",
          flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    web.stop()
    smtp.stop()


if __name__ == "__main__":
    main()
