"""Placements on the second core: a worker process the server starts and supervises.

The server answers every request on one event loop, one thread: under a load of placements
that thread was the bound (95 % busy) while the machine's other core sat mostly idle, and a
placement's own work (its checks, its rows, their write: ~1.2 ms of ~2 ms) held the loop
that every other request waits for. So the part of a placement that needs only the database,
``placement.write_sales_order``, runs in a worker process with its own event loop and its
own connections; the server keeps the request, the GraphQL, the idempotency key and the
charges (its gateway), and sends the worker the checked input (``WriteRequest``).

What the hop keeps:

- **all or nothing**: the worker writes a placement in one transaction, exactly as the server
  did (on SQLite its group commit batches the worker's placements; the server's own writes
  wait for the file's one write lock as another process's would);
- **errors**: a ``ContinuityError`` (a user error: its code and field) comes back as itself;
  anything else comes back as ``PlacementFailed`` with the worker's traceback logged;
- **supervision**: the worker exits when the server's end of the socket closes (shutdown, or
  the server's death); if the worker dies, the placements in hand fail with
  ``PlacementWorkerLost`` (each may or may not have been committed, as with a server that
  dies mid-request: the response is the client's to retry with its idempotency key) and
  the next placement starts a new worker.

Off (``service.placement_worker: false``, or an in-memory SQLite database, which another
process cannot open) placements run in the server's own loop, as they did before.

Messages are pickles, each framed by its length, over a Unix socket pair; each side reads in
one task and writes under one lock, so frames never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection
from typing import Any

from config.settings import Settings
from continuity.errors import ContinuityError
from continuity.idempotency import OutcomeUnknown
from continuity.orders import placement

log = logging.getLogger("continuity.placement_worker")

#: A frame's header: the pickle's length.
_FRAME = struct.Struct("!I")
#: How long a new worker has to open its database before the server gives up on it.
START_SECONDS = 60.0
#: How long a stopping worker has to finish the placements in hand.
STOP_SECONDS = 30.0
#: What a worker answers: the placement, a user error, or a failure.
_PLACED, _USER_ERROR, _FAILED = "placed", "user_error", "failed"
_READY = "ready"


@dataclass(frozen=True)
class WriteRequest:
    """``placement.write_sales_order``'s arguments."""

    order: placement.SalesOrderInput
    order_date: date
    actor: str
    rules: placement.BillingRules
    today: date


class PlacementFailed(RuntimeError):
    """The worker raised something other than a user error (its traceback is logged)."""


class PlacementWorkerLost(PlacementFailed, OutcomeUnknown):
    """The worker ended with the placement in hand: it may or may not have been written (its
    idempotency key, if any, stays claimed: a retry never places it twice)."""


def enabled(settings: Settings) -> bool:
    """Whether this server places orders in a worker: configured so, and a database another
    process can open."""
    url = settings.service.database_url
    return settings.service.placement_worker and not url.endswith("://:memory:")


class _Channel:
    """Length-framed pickles over a non-blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._writing = asyncio.Lock()

    async def send(self, message: Any) -> None:
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        async with self._writing:
            await asyncio.get_running_loop().sock_sendall(self._sock, _FRAME.pack(len(data)) + data)

    async def messages(self) -> AsyncIterator[Any]:
        """The messages received, until the other end closes."""
        loop = asyncio.get_running_loop()
        buffer = bytearray()
        while True:
            try:
                chunk = await loop.sock_recv(self._sock, 1 << 18)
            except (ConnectionError, OSError):
                return
            if not chunk:
                return
            buffer += chunk
            start = 0
            while len(buffer) - start >= _FRAME.size:
                (size,) = _FRAME.unpack_from(buffer, start)
                end = start + _FRAME.size + size
                if end > len(buffer):
                    break
                yield pickle.loads(memoryview(buffer)[start + _FRAME.size : end])
                start = end
            del buffer[:start]

    def close_writing(self) -> None:
        """The other end reads the end of the messages; this end still reads its answers."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


def _socket_of(conn: Connection) -> socket.socket:
    """The socket under a ``multiprocessing`` pipe end (a duplex pipe is a socket pair)."""
    sock = socket.socket(fileno=os.dup(conn.fileno()))
    conn.close()
    return sock


def _user_error(
    error: ContinuityError,
) -> tuple[type[ContinuityError], tuple[Any, ...], dict[str, Any]]:
    return type(error), error.args, dict(vars(error))


def _rebuilt(
    kind: type[ContinuityError], args: tuple[Any, ...], state: dict[str, Any]
) -> ContinuityError:
    """The worker's user error, with its message, field and code (its class may take other
    arguments than ``ContinuityError``'s: it is rebuilt from its state, not called)."""
    error = kind.__new__(kind)
    error.args = args
    vars(error).update(state)
    return error


class PlacementWorker:
    """The server's side: starts the worker, sends it placements, restarts it when it dies."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[tuple[str, Any]]] = {}
        self._started: asyncio.Future[_Running] | None = None

    @property
    def pid(self) -> int | None:
        """The running worker's process id (``None`` before it started or after it ended)."""
        started = self._started
        if started is None or not started.done() or started.cancelled() or started.exception():
            return None
        running = started.result()
        return running.process.pid if running.alive else None

    async def start(self) -> None:
        """Start the worker now (else the first placement does) and wait until it is ready."""
        await self._running()

    async def write(
        self,
        order: placement.SalesOrderInput,
        *,
        order_date: date,
        actor: str,
        rules: placement.BillingRules,
        today: date | None = None,
    ) -> placement.PlacedOrder:
        """``placement.write_sales_order``, in the worker (a ``placement.Writer``)."""
        request = WriteRequest(order, order_date, actor, rules, today or order_date)
        running = await self._running()
        number = next(self._ids)
        answer = asyncio.get_running_loop().create_future()
        self._pending[number] = answer
        try:
            try:
                await running.channel.send((number, request))
            except OSError as exc:  # not sent whole: the worker never read it
                raise PlacementFailed(f"the placement worker is gone: {exc}") from exc
            try:
                kind, value = await asyncio.shield(answer)
            except asyncio.CancelledError:
                # as a placement in this process would, the caller's cancellation waits for
                # the worker's answer: the order is placed or not when it returns
                await asyncio.wait([answer])
                raise
        finally:
            self._pending.pop(number, None)
        if kind == _PLACED:
            placed: placement.PlacedOrder = value
            return placed
        if kind == _USER_ERROR:
            raise _rebuilt(*value)
        raise PlacementFailed(value)

    async def stop(self, grace: float = STOP_SECONDS) -> None:
        """Close the worker's side of the socket (it finishes the placements in hand, answers
        them, then exits) and wait for it; a worker that has not ended in ``grace`` seconds
        is killed."""
        started, self._started = self._started, None
        if started is None:
            return
        if not started.done():
            started.cancel()
        if started.cancelled() or started.exception() is not None:
            return
        await started.result().stop(grace)

    async def _running(self) -> _Running:
        started = self._started
        if started is None or (
            started.done() and started.exception() is None and not started.result().alive
        ):
            started = self._started = asyncio.ensure_future(self._start())
        try:
            return await asyncio.shield(started)
        except BaseException:
            if self._started is started and started.done():
                self._started = None  # the next placement tries again
            raise

    async def _start(self) -> _Running:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=serve, args=(theirs, self._settings), name="continuity-placements", daemon=True
        )
        process.start()
        theirs.close()
        channel = _Channel(_socket_of(ours))
        messages = channel.messages()
        try:
            first = await asyncio.wait_for(anext(messages, None), START_SECONDS)
        except TimeoutError:
            first = None
        if first != _READY:
            channel.close()
            process.kill()
            process.join()
            raise PlacementFailed(f"the placement worker did not start: {first!r}")
        running = _Running(process, channel)
        running.reader = asyncio.ensure_future(self._read(running, messages))
        log.info("placement worker %s started", process.pid)
        return running

    async def _read(self, running: _Running, messages: AsyncIterator[Any]) -> None:
        async for number, kind, value in messages:
            answer = self._pending.get(number)
            if answer is not None and not answer.done():
                answer.set_result((kind, value))
        running.alive = False  # the next placement starts another worker
        lost = [answer for answer in self._pending.values() if not answer.done()]
        for answer in lost:
            answer.set_exception(
                PlacementWorkerLost("the placement worker ended: the order may not be placed")
            )
        if running.stopping:
            return
        running.channel.close()
        await asyncio.get_running_loop().run_in_executor(None, running.process.join, 10)
        log.error(
            "the placement worker %s ended (exit code %s) with %d placement(s) in hand",
            running.process.pid,
            running.process.exitcode,
            len(lost),
        )


class _Running:
    """A started worker."""

    def __init__(self, process: Any, channel: _Channel) -> None:
        self.process = process
        self.channel = channel
        self.alive = True
        self.stopping = False
        self.reader: asyncio.Future[None] | None = None

    async def stop(self, grace: float) -> None:
        self.stopping = True
        self.channel.close_writing()
        assert self.reader is not None
        try:
            await asyncio.wait_for(asyncio.shield(self.reader), grace)
        except TimeoutError:
            log.error("the placement worker %s did not stop: killed", self.process.pid)
            self.process.kill()
            await self.reader
        await asyncio.get_running_loop().run_in_executor(None, self.process.join)
        self.channel.close()


# --- the worker process ------------------------------------------------------------------


def serve(conn: Connection, settings: Settings) -> None:
    """The worker process's main: placements until the server closes the socket."""
    # the server's signals are the server's: the worker ends when its socket closes, after
    # the placements in hand (Ctrl-C in a terminal reaches the whole process group)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from server.logs import configure_logging

    configure_logging(settings.service.log_level or "INFO", settings.service.log_format)
    if importlib.util.find_spec("uvloop"):
        import uvloop

        uvloop.run(_serve(_socket_of(conn), settings))
    else:
        asyncio.run(_serve(_socket_of(conn), settings))


async def _serve(sock: socket.socket, settings: Settings) -> None:
    from tortoise import Tortoise

    from continuity.db import tortoise_config
    from continuity.notifications.policy import set_policy

    channel = _Channel(sock)
    set_policy(settings.notifications.policy())  # the outbox rows a placement writes
    try:
        await Tortoise.init(config=tortoise_config(settings.database_url))
    except Exception as exc:
        await channel.send(f"{type(exc).__name__}: {exc}")
        raise
    # as the server does after start-up (server/app.py): a placement's garbage is its own
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, *gc.get_threshold()[1:])
    await channel.send(_READY)
    tasks: set[asyncio.Task[None]] = set()
    try:
        async for number, request in channel.messages():
            task = asyncio.ensure_future(_place(channel, number, request))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks)
    finally:
        channel.close()
        await Tortoise.close_connections()


async def _place(channel: _Channel, number: int, request: WriteRequest) -> None:
    try:
        placed = await placement.write_sales_order(
            request.order,
            order_date=request.order_date,
            actor=request.actor,
            rules=request.rules,
            today=request.today,
        )
        answer: tuple[int, str, Any] = (number, _PLACED, placed)
    except ContinuityError as error:
        answer = (number, _USER_ERROR, _user_error(error))
    except Exception as exc:
        log.exception("a placement failed in the worker")
        answer = (number, _FAILED, f"{type(exc).__name__}: {exc}")
        del exc
    with contextlib.suppress(ConnectionError, OSError):
        await channel.send(answer)


__all__ = [
    "PlacementFailed",
    "PlacementWorker",
    "PlacementWorkerLost",
    "WriteRequest",
    "enabled",
    "serve",
]
