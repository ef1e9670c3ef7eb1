"""A real `redis-server` for the class-mode tests (the `redis_url` fixture in tests/conftest.py): started on a
free port with no persistence, in a folder of its own, and stopped again. Debian's `redis-server` package."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MISSING = "redis-server is not installed: the class-mode tests need it (apt-get install redis-server)"


def missing() -> str | None:
    """Why no redis-server can start here, or None."""
    return None if shutil.which("redis-server") else MISSING


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(timeout: float = 10) -> Iterator[str]:
    """A redis-server until the block ends; its URL, redis://127.0.0.1:PORT/0. A port taken between picking
    it and the server binding it (another test worker) is retried on another."""
    import redis

    folder = Path(tempfile.mkdtemp(prefix="redis-test-"))
    log = folder / "redis.log"
    try:
        for _ in range(3):
            port = _free_port()
            command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                       "--appendonly", "no", "--dir", str(folder)]  # fmt: skip
            with log.open("wb") as out:
                server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
            try:
                client = redis.Redis(port=port, socket_timeout=1)
                deadline = time.monotonic() + timeout
                while server.poll() is None and time.monotonic() < deadline:
                    try:
                        if client.ping():
                            break
                    except redis.ConnectionError:
                        time.sleep(0.02)
                else:
                    text = log.read_text(errors="replace")
                    if server.poll() is not None and "Address already in use" in text:
                        continue  # finally stops it; try another port
                    raise RuntimeError(f"redis-server on port {port} did not answer PING:\n{text[-2000:]}")
                client.close()
                yield f"redis://127.0.0.1:{port}/0"
                return
            finally:
                server.terminate()
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
        raise RuntimeError("redis-server found no free port in 3 tries")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
