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
  the server's death), after answering the placements in hand; if the worker dies, those
  fail with ``PlacementWorkerLost`` (each may or may not have been committed: an
  ``OutcomeUnknown``, so its idempotency key stays claimed and a retry never places it
  twice) and the next placement starts a new worker.

Off (``service.placement_worker: false``, or an in-memory SQLite database, which another
process cannot open) placements run in the server's own loop, as they did before.

Messages are pickles, each framed by its length, over a Unix socket pair the server made for
its child (no other process holds either end, so no pickle comes from anyone else); each
side is an asyncio protocol, whose transport writes the frames whole and in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib.util
import itertools
import logging
import pickle
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from config.settings import Settings
from continuity.errors import ContinuityError
from continuity.idempotency import OutcomeUnknown
from continuity.orders import placement
from server import heap

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


class _Channel(asyncio.Protocol):
    """Length-framed pickles over a socket, as an asyncio protocol: each message received is
    handed to ``received`` as it completes; ``ended`` is called once the other end has
    closed (after every message before it). Writes are the transport's (buffered in order,
    never interleaved)."""

    def __init__(self, received: Callable[[Any], None], ended: Callable[[], None]) -> None:
        self._received = received
        self._ended = ended
        self._buffer = bytearray()
        self._transport: asyncio.WriteTransport | None = None
        self._open = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.WriteTransport, transport)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        while len(buffer) - start >= _FRAME.size:
            (size,) = _FRAME.unpack_from(buffer, start)
            end = start + _FRAME.size + size
            if end > len(buffer):
                break
            message = pickle.loads(memoryview(buffer)[start + _FRAME.size : end])
            start = end
            self._received(message)
        del buffer[:start]

    def eof_received(self) -> bool:
        self._end()
        return True  # half-closed: this end may still answer

    def connection_lost(self, exc: Exception | None) -> None:
        self._end()

    def _end(self) -> None:
        if self._open:
            self._open = False
            self._ended()

    def send(self, message: Any) -> None:
        """Queue ``message`` (the transport writes it as the socket takes it); raises
        ``ConnectionError`` once the connection is closing."""
        transport = self._transport
        if transport is None or transport.is_closing():
            raise ConnectionError("the placement worker's socket is closed")
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        transport.write(_FRAME.pack(len(data)) + data)

    def close_writing(self) -> None:
        """The other end reads the end of the messages; this end still reads its answers."""
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write_eof()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def _channel(
    sock: socket.socket, received: Callable[[Any], None], ended: Callable[[], None]
) -> _Channel:
    _transport, channel = await asyncio.get_running_loop().create_unix_connection(
        lambda: _Channel(received, ended), sock=sock
    )
    return channel


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
                running.channel.send((number, request))
            except ConnectionError as exc:  # not sent: the worker never read it
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
        if not started.done():  # still starting: that start is abandoned (``_start``)
            started.cancel()
            await asyncio.wait([started])
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
        ours, theirs = socket.socketpair()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _BOOT.format(path=sys.path),
            str(theirs.fileno()),
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        running = _Running(process)
        ready: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def received(message: Any) -> None:
            if not ready.done():
                ready.set_result(message)
                return
            number, kind, value = message
            answer = self._pending.get(number)
            if answer is not None and not answer.done():
                answer.set_result((kind, value))

        def ended() -> None:
            if not ready.done():
                ready.set_result(None)
            self._lost(running)

        try:
            running.channel = await _channel(ours, received, ended)
            running.channel.send(self._settings)
            try:
                first = await asyncio.wait_for(asyncio.shield(ready), START_SECONDS)
            except TimeoutError:
                first = f"no answer in {START_SECONDS:.0f} s"
            if first != _READY:
                raise PlacementFailed(f"the placement worker did not start: {first}")
        except BaseException:  # that error, or the server stopping meanwhile: no orphan
            running.stopping = True
            channel: _Channel | None = getattr(running, "channel", None)
            if channel is not None:
                channel.close()  # its transport, and the socket with it
            else:
                ours.close()
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        log.info("placement worker %s started", process.pid)
        return running

    def _lost(self, running: _Running) -> None:
        """The worker's end closed: the placements in hand are lost with it."""
        running.alive = False  # the next placement starts another worker
        lost = [answer for answer in self._pending.values() if not answer.done()]
        for answer in lost:
            answer.set_exception(
                PlacementWorkerLost("the placement worker ended: the order may not be placed")
            )
        running.ended.set_result(None)
        if not running.stopping:
            running.reaper = asyncio.ensure_future(running.reap(len(lost)))


class _Running:
    """A started worker."""

    channel: _Channel

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.alive = True
        self.stopping = False
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.reaper: asyncio.Future[None] | None = None

    async def reap(self, lost: int) -> None:
        """A worker that ended by itself: its exit is waited for and logged."""
        self.channel.close()
        await self.process.wait()
        log.error(
            "the placement worker %s ended (exit code %s) with %d placement(s) in hand",
            self.process.pid,
            self.process.returncode,
            lost,
        )

    async def stop(self, grace: float) -> None:
        self.stopping = True
        self.channel.close_writing()
        try:
            await asyncio.wait_for(asyncio.shield(self.ended), grace)
        except TimeoutError:
            log.error("the placement worker %s did not stop: killed", self.process.pid)
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        self.channel.close()
        await self.process.wait()


# --- the worker process ------------------------------------------------------------------


#: The worker's command (``python -c``): the server's import path, then ``main``. Not
#: ``multiprocessing``'s spawn, which runs the server's main module again in the child (a
#: script without a ``__main__`` guard would start a second server there).
_BOOT = "import sys; sys.path[:] = {path!r}; from server.placement_worker import main; main()"


def main() -> None:
    """The worker process: its socket's descriptor is its argument; the settings are the
    first message; then placements until the server closes its end."""
    sock = socket.socket(fileno=int(sys.argv[-1]))
    # the server's signals are the server's: the worker ends when its socket closes, after
    # the placements in hand (Ctrl-C in a terminal reaches the whole process group)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if importlib.util.find_spec("uvloop"):
        import uvloop

        uvloop.run(_serve(sock))
    else:
        asyncio.run(_serve(sock))


async def _serve(sock: socket.socket) -> None:
    from tortoise import Tortoise

    from continuity.db import tortoise_config
    from continuity.notifications.policy import set_policy
    from server.logs import configure_logging

    loop = asyncio.get_running_loop()
    settings_given: asyncio.Future[Any] = loop.create_future()
    ended: asyncio.Future[None] = loop.create_future()
    tasks: set[asyncio.Task[None]] = set()
    #: This coroutine's context once the ORM is open: each placement runs in a copy of it (a
    #: callback's own context is the transport's, from before ``Tortoise.init``)
    opened: list[contextvars.Context] = []

    def received(message: Any) -> None:
        if not settings_given.done():
            settings_given.set_result(message)
            return
        number, request = message
        task = loop.create_task(_place(channel, number, request), context=opened[0].copy())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def end() -> None:
        if not settings_given.done():
            settings_given.set_result(None)
        if not ended.done():
            ended.set_result(None)

    channel = await _channel(sock, received, end)
    settings = await settings_given
    if not isinstance(settings, Settings):
        return  # the server went away before it said anything
    configure_logging(settings.service.log_level or "INFO", settings.service.log_format)
    set_policy(settings.notifications.policy())  # the outbox rows a placement writes
    try:
        await Tortoise.init(config=tortoise_config(settings.database_url))
    except Exception as exc:
        channel.send(f"{type(exc).__name__}: {exc}")
        raise
    try:
        heap.settle()  # as the server does after start-up: a placement's garbage is its own
        opened.append(contextvars.copy_context())
        channel.send(_READY)
        await ended  # the server closed its end: answer the placements in hand, then exit
        while tasks:
            await asyncio.wait(set(tasks))
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
    with contextlib.suppress(ConnectionError):
        channel.send(answer)


__all__ = [
    "PlacementFailed",
    "PlacementWorker",
    "PlacementWorkerLost",
    "WriteRequest",
    "enabled",
    "main",
]
