"""All of a container worker's connections on one event loop, the app run on the loop's thread.

Why not a thread per connection (what :meth:`Connection.serve` does, and the router still
does: its app waits on the containers, not on the interpreter): a container's app is
CPU-bound Python. With a thread per connection, 16 clients are 16 threads taking the
interpreter lock from each other at every socket call, and a worker answered fewer requests
the more clients it had (1.1-1.2k req/s from one client, 0.8-0.9k from 16). Here one thread
polls every connection (epoll), parses, runs the app and writes, one request after the
other, with no hand-off between threads on the way: more clients only fill its poll with
more work.

A request that holds the loop too long does not stall the others: a watcher notices when
the polling thread has been inside one answer for longer than ``TAKEOVER`` seconds and
gives the poll to another thread (started the first time it is needed), which goes on
serving, ``/ping`` included; the first one, once its answer is out, waits as a spare. At
most ``slots`` requests run at once (``SERVING_WORKER_THREADS``); a request that finds them
all taken waits, parked, for the next one given back, while the poll goes on.

Every socket is non-blocking and registered one-shot, so a connection is only ever in one
thread's hands: the one that took its event, until it is armed again. Answers are written
as far as the socket takes them; the rest waits for the socket to be writable (a client
that does not read for ``write_timeout`` seconds is dropped). Deadlines (keep-alive, body
timeouts, write timeouts, the linger at a stop, the drain of a closing connection) are
checked every ``SWEEP`` seconds by the polling thread. What the protocol means (pipelining,
100-continue, limits, the errors and their wording) is :class:`Connection`'s, shared with
the threaded server.
"""

from __future__ import annotations

import logging
import os
import select
import selectors
import socket
import threading
import time
from collections import deque
from contextlib import nullcontext
from typing import Callable

from ..errors import RequestTimeout, Response, ServingError
from . import wsgi
from .protocol import IDLE_CHECK, RECV, Connection, Options, trim_memory
from .server import Connections

log = logging.getLogger("serving.http")

READ = select.EPOLLIN | select.EPOLLONESHOT
WRITE = select.EPOLLOUT | select.EPOLLONESHOT
RESUME = 0  # not an epoll event: a parked connection given a slot
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
DRAIN = 2.0  # seconds a closing connection with unread input is read and dropped before it closes


class LoopConnection(Connection):
    """A connection as the loop holds it: its output waiting for the socket, its deadline."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.resting_timeout = 0.0
        self.outbox: deque[memoryview] = deque()
        self.close_after = False  # close once the outbox is written
        self.large = False  # give memory back once the outbox is written
        self.deadline: float | None = None
        self.expiry = "idle"  # what the deadline is for: idle, body, write, drain
        self.last_data = time.monotonic()
        self.draining = False
        self.closed = False
        self.active = False  # in a thread's hands (not armed)

    def receive_body(self, request: wsgi.Request, deadline: float | None = None) -> None:
        """More body while the app runs (only a body over the limit is not read whole before
        it): waited for on this thread, as the threaded server does."""
        if self.selector is None:
            self.selector = selectors.DefaultSelector()
            self.selector.register(self.sock, selectors.EVENT_READ)
        super().receive_body(request, deadline)


class Loop:
    TAKEOVER = 0.02  # seconds one answer may hold the poll before another thread takes it
    SWEEP = 0.1  # seconds between deadline checks

    def __init__(self, app: Callable, options: Options, errors: Callable[[BaseException], Response], slots: int,
                 stopping: Callable[[], bool], name: str = "loop"):
        self.app, self.options, self.errors, self.stopping, self.name = app, options, errors, stopping, name
        self.connections = Connections()
        self.epoll = select.epoll()
        self.by_fd: dict[int, LoopConnection] = {}
        self.pending: deque[tuple[LoopConnection, int]] = deque()  # polled, not handled yet
        self.parked: deque[LoopConnection] = deque()  # a complete request waiting for a slot
        self.resumed: deque[LoopConnection] = deque()  # given a slot, for the poller to run
        self.free = slots
        self.max_threads = slots + 1  # every slot busy in a long answer, and one thread still polling
        self.lock = threading.Lock()
        self.role = threading.Condition(self.lock)
        self.poller: int | None = None  # the thread that polls
        self.busy_since: float | None = None  # when the poller began the answer it is in
        self.threads = self.waiting = 0
        self.closed = False
        self.next_sweep = 0.0
        self.stop_seen: float | None = None
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        self.epoll.register(self.wake_r, select.EPOLLIN)
        with self.lock:
            self._spawn()
        threading.Thread(target=self._watch, name=f"{name}-watch", daemon=True).start()

    # -- threads --------------------------------------------------------------------------

    def _spawn(self) -> None:
        self.threads += 1
        threading.Thread(target=self._run, name=f"{self.name}-{self.threads}", daemon=True).start()

    def _run(self) -> None:
        me = threading.get_ident()
        while True:
            with self.lock:
                while self.poller not in (None, me) and not self.closed:
                    self.waiting += 1
                    self.role.wait(IDLE_CHECK)
                    self.waiting -= 1
                if self.closed:
                    self.threads -= 1
                    return
                self.poller = me
            try:
                self._round(me)
            except Exception:  # noqa: BLE001 - the loop must outlive any one connection's fault
                log.exception("error in the connection loop")

    def _watch(self) -> None:
        """Give the poll to another thread when its poller is stuck in one answer."""
        while not self.closed:
            time.sleep(self.TAKEOVER)
            with self.lock:
                since = self.busy_since
                if since is None or time.monotonic() - since < self.TAKEOVER:
                    continue
                self.busy_since = None
                self.poller = None
                if self.waiting == 0 and self.threads < self.max_threads:
                    self._spawn()
                self.role.notify()

    def close(self) -> None:
        self.closed = True
        with self.lock:
            self.role.notify_all()
        self._wake()
        for connection in list(self.by_fd.values()):
            self._drop(connection)

    def _wake(self) -> None:
        try:
            os.write(self.wake_w, b"x")
        except OSError:
            pass

    # -- the poll -------------------------------------------------------------------------

    def add(self, sock: socket.socket, client, server: tuple) -> None:
        """Serve an accepted connection (any thread may call this)."""
        sock.setblocking(False)
        if sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = LoopConnection(sock, client, server, self.app, self.options, self.stopping, self.errors)
        self._idle(connection)
        self.connections.add(connection)
        self.by_fd[sock.fileno()] = connection
        self.epoll.register(sock.fileno(), READ)

    def _round(self, me: int) -> None:
        if not self.pending and not self.resumed:
            now = time.monotonic()
            for fd, events in self.epoll.poll(max(0.0, min(self.next_sweep - now, IDLE_CHECK))):
                if fd == self.wake_r:
                    try:
                        os.read(self.wake_r, 4096)
                    except BlockingIOError:
                        pass
                elif (connection := self.by_fd.get(fd)) is not None:
                    self.pending.append((connection, events))
        now = time.monotonic()
        if now >= self.next_sweep:
            self.next_sweep = now + self.SWEEP
            self._sweep(now)
        while self.resumed:
            self.pending.append((self.resumed.popleft(), RESUME))
        while self.poller == me:
            try:
                connection, events = self.pending.popleft()
            except IndexError:
                return
            if not connection.closed:
                self._handle(connection, events)
            elif events == RESUME:  # the slot it was given goes to the next
                self._give_back()

    def _handle(self, connection: LoopConnection, events: int) -> None:
        connection.active = True
        connection.idle = False
        try:
            if events == RESUME:
                self._advance(connection, slot=True)
            elif events & select.EPOLLOUT and not events & (select.EPOLLERR | select.EPOLLHUP):
                if self._flush(connection):
                    self._advance(connection)
            else:
                self._readable(connection)
        except Exception:  # noqa: BLE001 - one broken connection must not take the loop down
            log.exception("error serving a connection")
            self._drop(connection)

    def _arm(self, connection: LoopConnection, mask: int = READ) -> None:
        """Hand the connection back to the poll: the last thing a thread does with it."""
        connection.active = False
        try:
            self.epoll.modify(connection.sock.fileno(), mask)
        except (OSError, ValueError):
            self._drop(connection)

    # -- reading and answering ------------------------------------------------------------

    def _readable(self, connection: LoopConnection) -> None:
        try:
            data = connection.sock.recv(RECV)
        except (BlockingIOError, InterruptedError):
            return self._arm(connection)
        except OSError:
            return self._drop(connection)
        if connection.draining:
            return self._arm(connection) if data else self._drop(connection)
        if not data:
            return self._drop(connection)
        connection.last_data = time.monotonic()
        try:
            connection.feed(data)
        except ServingError as exc:
            return self._fail(connection, exc)
        self._advance(connection)

    def _advance(self, connection: LoopConnection, slot: bool = False) -> None:
        """Answer what the connection has complete, in order, until it must wait for something."""
        options = self.options
        while True:
            if connection.outbox:
                return self._arm(connection, WRITE)
            if not connection.ready:
                if connection.deferred is not None:
                    return self._fail(connection, connection.deferred)
                self._idle(connection)
                return self._arm(connection)
            request = connection.ready[0]
            limit = options.max_body_bytes
            over = limit is not None and ((request.length or 0) > limit or request.buffered > limit)
            if not request.complete and not over:  # the body first, before any slot is taken
                if request.expect_continue and not request.continued:
                    request.continued = True
                    if not self._send(connection, [CONTINUE]):
                        return
                    continue  # written whole, or waiting for the socket first
                connection.expiry = "body"
                connection.deadline = min(connection.last_data + options.body_timeout,
                                          request.began + options.body_deadline)
                return self._arm(connection)
            if not slot and not connection.unslotted(request):
                with self.lock:
                    if self.free > 0:
                        self.free -= 1
                        slot = True
                    else:
                        connection.deadline = None
                        self.parked.append(connection)
                        connection.active = False
                        return
            if not self._answer(connection, request, slot):
                return
            slot = False

    def _answer(self, connection: LoopConnection, request: wsgi.Request, slot: bool) -> bool:
        """Run the app and queue its answer; whether the connection is still open."""
        me = threading.get_ident()
        with self.lock:
            if self.poller == me:
                self.busy_since = time.monotonic()
        try:
            try:
                answer = connection.answer(request, nullcontext())
            finally:
                with self.lock:
                    if self.poller == me:
                        self.busy_since = None
                if slot:
                    self._give_back()
        except ServingError as exc:
            self._fail(connection, exc)
            return False
        except OSError:
            self._drop(connection)
            return False
        if answer is None:  # answered already (a 500, or a timeout's 504 from another thread)
            self._close(connection)
            return False
        parts, keep, large = answer
        connection.ready.popleft()
        connection.large = large
        return self._send(connection, parts, close_after=not keep)

    def _give_back(self) -> None:
        """A slot is free: to the first parked request, or to the pool."""
        with self.lock:
            if not self.parked:
                self.free += 1
                return
            self.resumed.append(self.parked.popleft())
        self._wake()

    def _idle(self, connection: LoopConnection) -> None:
        connection.idle = True
        connection.expiry = "idle"
        keepalive = self.options.keepalive if self.options.keepalive > 0 else 5.0
        connection.deadline = time.monotonic() + keepalive

    # -- writing and closing --------------------------------------------------------------

    def _send(self, connection: LoopConnection, parts: list[bytes], close_after: bool = False) -> bool:
        connection.outbox.extend(memoryview(part) for part in parts if part)
        connection.close_after = connection.close_after or close_after
        return self._flush(connection)

    def _flush(self, connection: LoopConnection) -> bool:
        """Write what the socket takes; whether the connection is still open."""
        outbox = connection.outbox
        while outbox:
            try:
                sent = connection.sock.send(outbox[0])
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop(connection)
                return False
            if sent == len(outbox[0]):
                outbox.popleft()
            else:
                outbox[0] = outbox[0][sent:]
        if outbox:
            connection.expiry = "write"
            connection.deadline = time.monotonic() + self.options.write_timeout
            return True
        if connection.large:
            connection.large = False
            trim_memory()
        if connection.close_after:
            self._close(connection)
            return False
        return True

    def _fail(self, connection: LoopConnection, exc: BaseException) -> None:
        """Answer ``exc`` and close once it is written."""
        if self._send(connection, [connection.error_answer(exc)], close_after=True):
            self._arm(connection, WRITE)

    def _close(self, connection: LoopConnection) -> None:
        """Close; a connection with unread input first stops writing and drops what the client
        still sends (for ``DRAIN`` seconds at most), so that the kernel does not reset it
        before the client reads its answer."""
        if connection.current is None or connection.current.complete or connection.draining:
            return self._drop(connection)
        try:
            connection.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return self._drop(connection)
        connection.draining = True
        connection.expiry = "drain"
        connection.deadline = time.monotonic() + DRAIN
        self._arm(connection)

    def _drop(self, connection: LoopConnection) -> None:
        if connection.closed:
            return
        connection.closed = True
        fd = connection.sock.fileno()
        if fd >= 0 and self.by_fd.get(fd) is connection:
            del self.by_fd[fd]
            try:
                self.epoll.unregister(fd)
            except (OSError, ValueError):
                pass
        if connection.selector is not None:
            connection.selector.close()
        connection.sock.close()
        self.connections.discard(connection)
        if connection.large:  # a large answer never written whole (a client that did not read it)
            connection.outbox.clear()
            connection.ready.clear()
            trim_memory()

    # -- deadlines ------------------------------------------------------------------------

    def _sweep(self, now: float) -> None:
        stopping = self.stopping()
        if stopping and self.stop_seen is None:
            self.stop_seen = now
        for connection in list(self.by_fd.values()):
            if connection.active or connection.closed or connection.deadline is None:
                continue
            deadline = connection.deadline
            if stopping and connection.expiry == "idle":
                deadline = min(deadline, self.stop_seen + self.options.stop_linger)
            if now >= deadline:
                self._expire(connection, now)

    def _expire(self, connection: LoopConnection, now: float) -> None:
        if connection.expiry != "body" or not connection.ready:  # idle, a client that does not read, a drain over
            if connection.expiry == "write":
                log.debug("connection from %s:%s closed: the client did not read the answer within %g s",
                          *connection.client[:2], self.options.write_timeout)
            return self._drop(connection)
        request = connection.ready[0]
        if now >= request.began + self.options.body_deadline:
            error = RequestTimeout(f"the request body did not arrive whole within {self.options.body_deadline:g} s")
        else:
            error = RequestTimeout(f"the request body stopped arriving for {self.options.body_timeout:g} s")
        connection.active = True
        self._fail(connection, error)
