"""Helpers for the adversarial tests: a container whose requests say what to do, hostile
clients, and memory readings from /proc. Loopback only; every test is bounded in time."""

from __future__ import annotations

import os
import socket
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.pipeline.conftest import endpoints, serving_home  # noqa: F401  (real endpoints, a private SERVING_HOME)

KNOBS = textwrap.dedent("""
    import os
    import time

    def model_fn(model_dir):
        return None

    def transform_fn(model, body, content_type, accept):
        text = body if isinstance(body, str) else body.decode()
        kind, _, arg = text.partition(":")
        if kind == "sleep":
            time.sleep(float(arg))
            return "slept", "text/plain"
        if kind == "burn":  # busy, holding the GIL in Python code
            end = time.monotonic() + float(arg)
            while time.monotonic() < end:
                pass
            return "burned", "text/plain"
        if kind == "big":
            return b"x" * int(arg), "application/octet-stream"
        if kind == "pid":
            return str(os.getpid()), "text/plain"
        return text.upper(), "text/plain"
""")


@pytest.fixture(scope="session")
def knobs_dir(tmp_path_factory) -> Path:
    """A model directory whose script does what each request says (``sleep:2``, ``big:6000000``, ...)."""
    model = tmp_path_factory.mktemp("knobs")
    (model / "code").mkdir()
    (model / "code" / "inference.py").write_text(KNOBS)
    return model


def rss_mb(pid: int, children: bool = True) -> float:
    """Resident memory of ``pid`` (and its children), in MB, from /proc."""
    pids = [pid, *(pids_of(pid) if children else ())]
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def request_head(body: bytes, length: int | None = None, path: str = "/invocations") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\n\r\n").encode()


class Hostile:
    """Connections that try to hold a server: bodies that never come, bodies that trickle,
    answers never read. ``closed()`` counts those the server has dropped."""

    def __init__(self, host: str, port: int, count: int = 50, answer_bytes: int = 6_000_000):
        self.sockets: dict[str, list[socket.socket]] = {"no body": [], "slow body": [], "non-reader": []}
        for _ in range(count):
            s = socket.create_connection((host, port))
            s.sendall(request_head(b"", length=100))  # says 100 bytes, sends none
            self.sockets["no body"].append(s)
            s = socket.create_connection((host, port))
            s.sendall(request_head(b"", length=10_000))  # a byte a second, below
            self.sockets["slow body"].append(s)
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a tiny window: the server's writes block
            s.connect((host, port))
            big = f"big:{answer_bytes}".encode()
            s.sendall(request_head(big) + big)
            self.sockets["non-reader"].append(s)
        self.stop = threading.Event()
        self.trickler = threading.Thread(target=self._trickle, daemon=True)
        self.trickler.start()

    def _trickle(self) -> None:
        while not self.stop.wait(1.0):
            for s in self.sockets["slow body"]:
                try:
                    s.send(b"x")
                except OSError:
                    pass

    def closed(self) -> dict[str, int]:
        """How many of each kind the server has closed (EOF or reset; unread answer bytes are skipped)."""
        out = {}
        for kind, sockets in self.sockets.items():
            n = 0
            for s in sockets:
                s.setblocking(False)
                try:
                    while True:
                        data = s.recv(1 << 20)
                        if not data:
                            n += 1
                            break
                except BlockingIOError:
                    pass
                except OSError:
                    n += 1
            out[kind] = n
        return out

    def close(self) -> None:
        self.stop.set()
        for sockets in self.sockets.values():
            for s in sockets:
                s.close()


class Traffic:
    """Normal clients and a pinger, run for ``seconds``: what they saw."""

    def __init__(self, url: str, invoke_path: str = "/invocations", clients: int = 4):
        import requests

        self.url, self.path, self.clients = url, invoke_path, clients
        self.requests = requests
        self.failures: list[str] = []
        self.answered = 0
        self.ping_latencies: list[float] = []

    def client(self, deadline: float) -> None:
        session = self.requests.Session()
        while time.monotonic() < deadline:
            try:
                r = session.post(self.url + self.path, data=b"hello", headers={"Content-Type": "text/plain"}, timeout=10)
                if (r.status_code, r.text) != (200, "HELLO"):
                    self.failures.append(f"{r.status_code} {r.text[:200]}")
                else:
                    self.answered += 1
            except self.requests.RequestException as exc:
                self.failures.append(repr(exc))

    def pinger(self, deadline: float) -> None:
        session = self.requests.Session()
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                r = session.get(self.url + "/ping", timeout=5)
                if r.status_code != 200:
                    self.failures.append(f"/ping {r.status_code} {r.text[:200]}")
            except self.requests.RequestException as exc:
                self.failures.append(f"/ping {exc!r}")
            self.ping_latencies.append(time.monotonic() - started)
            time.sleep(0.2)

    def sampler(self, deadline: float, pid: int, children: bool) -> None:
        while time.monotonic() < deadline:
            self.rss.append(rss_mb(pid, children))
            time.sleep(0.5)

    def run(self, seconds: float, pid: int | None = None, children: bool = True) -> "Traffic":
        """Clients and the pinger for ``seconds``; with ``pid``, its memory sampled meanwhile (``peak_mb``)."""
        deadline = time.monotonic() + seconds
        self.rss: list[float] = []
        threads = [threading.Thread(target=self.client, args=(deadline,)) for _ in range(self.clients)]
        threads.append(threading.Thread(target=self.pinger, args=(deadline,)))
        if pid is not None:
            threads.append(threading.Thread(target=self.sampler, args=(deadline, pid, children)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return self

    @property
    def peak_mb(self) -> float:
        return max(self.rss)


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return condition()


def pids_of(pid: int) -> set[int]:
    """The children of ``pid`` (a gunicorn master's workers)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.add(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
