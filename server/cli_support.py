"""What every ``continuity`` command shares: one-line errors with the right exit code, dates
checked at the door, and a stop on SIGTERM that lets the batch in hand finish.

Exit codes: 0 done; 1 the command ran and failed (an unreachable database, a run with failures,
an interrupted run); 2 the command line or the configuration is wrong (argparse's own code);
130 stopped with Ctrl-C. An error is one line on stderr saying what is wrong and what to do;
``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sqlite3
import sys
from collections.abc import Coroutine
from datetime import date
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from tortoise.exceptions import DBConnectionError, OperationalError

from config.settings import ConfigError
from continuity.errors import ContinuityError
from continuity.jobs.runs import request_stop
from continuity.sqlite import is_locked

T = TypeVar("T")

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure the command explains itself: ``message`` is the whole line."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class ArgumentParser(argparse.ArgumentParser):
    """Usage errors in one line (what is wrong, where to read more), exit code 2.

    ``add_subparsers`` builds its sub-parsers with the parent's class, so every subcommand,
    whoever adds it, answers the same way.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def iso_date(text: str) -> date:
    """An argparse type: a real calendar date as YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        reason = str(exc).removeprefix("Invalid isoformat string: ")
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date ({reason}): use YYYY-MM-DD, e.g. 2027-01-31"
        ) from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def redact(url: str) -> str:
    """A database URL without its password, fit for a message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _database_problem(exc: BaseException, url: str) -> str | None:
    """The one line for a database that cannot be reached, or ``None``."""
    where = redact(url) if url else "the database"
    fix = "check CONTINUITY_DATABASE_URL"
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, asyncpg.InvalidCatalogNameError) or isinstance(
        cause, asyncpg.InvalidCatalogNameError
    ):
        name = urlsplit(url).path.lstrip("/") or "?"
        return f"database {name!r} does not exist ({where}): create it (createdb {name}) or {fix}"
    if isinstance(exc, socket.gaierror):
        return f"cannot find the database host of {where} ({exc.strerror}): {fix}"
    if isinstance(exc, ConnectionRefusedError | TimeoutError):
        return (
            f"cannot connect to {where} ({type(exc).__name__}): is the database server "
            f"running? then {fix}"
        )
    if isinstance(
        exc, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError
    ):
        return f"the database refused the login ({exc}): {fix}"
    if isinstance(exc, asyncpg.PostgresConnectionError | DBConnectionError):
        return f"cannot connect to {where} ({exc}): {fix}"
    if isinstance(exc, OperationalError | sqlite3.OperationalError) and "unable to open" in str(
        exc
    ):
        return f"cannot open the SQLite database {where} ({exc}): check the path and permissions"
    if is_locked(exc):
        return (
            f"the SQLite database {where} stayed locked by another process (a server or "
            "another continuity command) for longer than its busy timeout: run the command "
            "again when that one has finished, or raise the timeout (?busy_timeout=MS in the URL)"
        )
    if isinstance(exc, ConnectionError) and not isinstance(exc, BrokenPipeError):
        return f"lost the connection to {where} ({exc}): {fix}"
    return None


def describe_failure(exc: BaseException, database_url: str = "") -> tuple[str, int]:
    """(the line to print, the exit code) for an exception that ended a command."""
    if isinstance(exc, CliError):
        return exc.message, exc.exit_code
    if isinstance(exc, ConfigError):
        return f"configuration error: {exc}", EXIT_USAGE
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):  # the reader went away (`| head`): nothing to say
        return "", EXIT_FAILURE
    problem = _database_problem(exc, database_url)
    if problem is not None:
        return problem, EXIT_FAILURE
    if isinstance(exc, ContinuityError):
        return exc.message, EXIT_FAILURE
    return (
        f"unexpected error: {type(exc).__name__}: {exc} (run again with --debug for the "
        "traceback, and report it)",
        EXIT_FAILURE,
    )


def run_until_stopped(work: Coroutine[Any, Any, T], *, grace: float, label: str) -> T:
    """Run ``work``; on the first SIGTERM or Ctrl-C, ask its job runs to stop after the batch in
    hand (they end ``INTERRUPTED``) and cancel it if it is not done ``grace`` seconds later; a
    second Ctrl-C cancels at once."""

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        asked: list[int] = []

        def stop(signum: int) -> None:
            asked.append(signum)
            if len(asked) == 1:
                request_stop()
                print(
                    f"{label}: stopping after the current batch (at most {grace:g} s); "
                    "run the same command again to complete it",
                    file=sys.stderr,
                )
                loop.call_later(grace, task.cancel)
            elif signum == signal.SIGINT:
                task.cancel()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop, signum)
        try:
            return await work
        except asyncio.CancelledError:
            if asked:
                raise CliError(
                    f"{label}: stopped before the end of the batch in hand; its run is recorded "
                    "as interrupted: run the same command again to complete it",
                    EXIT_INTERRUPTED if signal.SIGINT in asked else EXIT_FAILURE,
                ) from None
            raise
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

    return asyncio.run(main())
