"""The mail catcher (`python -m mail_catcher`) as a stand-in for an SMTP server, like the emulator for Telegram."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from devstack import PROJECT_ROOT
from devstack.services import (
    Service,
    StartupError,
    _open_log,
    _remove_temp_log,
    _stop_process,
    free_port,
    port_is_free,
    tail,
    wait_until,
)

SMTP_PORT = 1025
INBOX_PORT = 8025


class MailCatcherProcess(Service):
    """The catcher in a subprocess: `smtp_url` takes mail, `url` is its inbox page and JSON API."""

    def __init__(self, smtp_port: int | None = None, inbox_port: int | None = None, log_path: Path | None = None,
                 start_timeout: float = 30.0) -> None:
        self.requested = (smtp_port, inbox_port)
        self.log_path = log_path
        self._temp_log = log_path is None
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.smtp_url = ""

    def start(self) -> "MailCatcherProcess":
        """Start the catcher and wait until its inbox API answers."""
        smtp_port = self.requested[0] or free_port()
        inbox_port = self.requested[1] or free_port()
        self.log_path, log = _open_log(self.log_path, "mail-catcher")
        argv = [sys.executable, "-m", "mail_catcher", "--smtp-port", str(smtp_port), "--http-port", str(inbox_port)]
        with log:
            self._proc = subprocess.Popen(argv, cwd=PROJECT_ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                          stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        proc, url = self._proc, f"http://127.0.0.1:{inbox_port}"

        def ready() -> bool:
            if proc.poll() is not None:
                raise StartupError(f"mail catcher exited with code {proc.returncode}\n{tail(self.log_path)}")
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                return json.loads(response.read()).get("smtp") is True

        try:
            wait_until(ready, self.start_timeout, f"mail catcher on port {inbox_port}", log=self.log_path)
        except StartupError:
            self.stop()
            raise
        self.url, self.smtp_url = url, f"smtp://127.0.0.1:{smtp_port}"
        return self

    def stop(self) -> None:
        """Stop the catcher (its mail is kept in memory only)."""
        proc, self._proc = self._proc, None
        _stop_process(proc, timeout=5)
        _remove_temp_log(self.log_path, self._temp_log)


def preferred_ports() -> tuple[int | None, int | None]:
    """Return the catcher's usual ports where they are free (else any port will do)."""
    return (SMTP_PORT if port_is_free(SMTP_PORT) else None, INBOX_PORT if port_is_free(INBOX_PORT) else None)
