"""The embedded stand-ins start, answer, and fail with a useful message."""

from __future__ import annotations

import socket
import textwrap
import time
from pathlib import Path

import pytest

from devstack.services import (
    EmbeddedPostgres,
    EmbeddedRedis,
    EmulatorProcess,
    StartupError,
    free_port,
    mask_url,
    port_is_free,
    wait_until,
    with_database,
)


def test_embedded_postgres_creates_a_database_psycopg2_can_use(tmp_path_factory: pytest.TempPathFactory) -> None:
    import psycopg2

    data = Path(tmp_path_factory.mktemp("pg")) / "data"
    with EmbeddedPostgres(data) as server:
        url = server.create_database("devstack_check")
        assert server.database_exists("devstack_check")
        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1, current_database()")
                assert cur.fetchone() == (1, "devstack_check")
        finally:
            conn.close()
        server.drop_database("devstack_check")
        assert not server.database_exists("devstack_check")
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(url, connect_timeout=2)
    # A second start in the same process must start the server again, not reuse a stale handle.
    with EmbeddedPostgres(data) as again:
        assert again.url_for("postgres") == again.url


def test_database_names_that_need_quoting_are_refused(postgres_server_url: str) -> None:
    from devstack.services import create_database

    with pytest.raises(ValueError):
        create_database(postgres_server_url, 'x"; DROP DATABASE postgres; --')


def test_embedded_redis_answers_ping() -> None:
    import redis

    with EmbeddedRedis() as server:
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        client.close()
        port = server.port
    assert port_is_free(port)


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_wait_until_times_out_with_the_last_error_and_log(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("line one\nline two\n")

    def never() -> bool:
        raise ConnectionRefusedError("nobody home")

    started = time.monotonic()
    with pytest.raises(StartupError) as info:
        wait_until(never, 0.3, "thing", log=log)
    assert time.monotonic() - started < 2
    assert "thing was not ready after 0.3 s" in str(info.value)
    assert "nobody home" in str(info.value) and "line two" in str(info.value)


def test_urls_are_masked_and_rewritten() -> None:
    assert mask_url("postgresql://u:secret@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert mask_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert with_database("postgresql://postgres@:5432/postgres?host=/s", "t") == "postgresql://postgres@:5432/t?host=/s"


FAKE_EMULATOR = textwrap.dedent(
    """
    import argparse, http.server, json, sys
    p = argparse.ArgumentParser()
    p.add_argument("--host"); p.add_argument("--port", type=int); p.add_argument("--bot-username")
    a = p.parse_args()
    if a.bot_username == "crash":
        print("boom: cannot start"); sys.exit(3)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"ok": self.path == "/control/health"}).encode()
            self.send_response(200); self.end_headers(); self.wfile.write(body)
    print(f"telegram emulator listening on http://{a.host}:{a.port}", flush=True)
    http.server.HTTPServer((a.host, a.port), H).serve_forever()
    """
)


@pytest.fixture()
def fake_emulator_dir(tmp_path: Path) -> Path:
    package = tmp_path / "telegram_emulator"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(FAKE_EMULATOR)
    return tmp_path


def test_emulator_process_waits_for_health(fake_emulator_dir: Path) -> None:
    with EmulatorProcess(cwd=fake_emulator_dir) as emulator:
        assert emulator.url == f"http://127.0.0.1:{emulator.port}"
    assert port_is_free(emulator.port)


def test_emulator_that_dies_reports_its_last_log_lines(fake_emulator_dir: Path) -> None:
    started = time.monotonic()
    with pytest.raises(StartupError, match="(?s)exited with code 3.*boom: cannot start"):
        EmulatorProcess(cwd=fake_emulator_dir, bot_username="crash").start()
    assert time.monotonic() - started < 10


@pytest.mark.skipif(not (Path(__file__).resolve().parents[2] / "telegram_emulator" / "__main__.py").exists(),
                    reason="telegram_emulator is not written yet")
def test_real_emulator_starts() -> None:
    with EmulatorProcess() as emulator:
        assert emulator.url.startswith("http://127.0.0.1:")
