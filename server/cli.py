"""The ``continuity`` command: serve, check rules, migrate, run jobs."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from config.settings import ConfigError, Settings, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app

    settings = _settings()
    service = settings.service.model_copy(
        update={
            "development": settings.service.development or args.dev,
            "scheduler_enabled": settings.service.scheduler_enabled and not args.no_scheduler,
        }
    )
    settings = settings.model_copy(update={"service": service})
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(f"Continuity on http://{args.host}:{args.port}/graphql ({settings.database_url})")
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0


def cmd_rules_check(args: argparse.Namespace) -> int:
    from rules.loader import check_rules

    rules_dir = Path(args.dir) if args.dir else _settings().rules_dir
    errors = check_rules(rules_dir)
    for error in errors:
        print(error)
    if errors:
        print(f"{len(errors)} error(s) in {rules_dir}", file=sys.stderr)
        return 1
    print(f"{rules_dir}: all rule files are valid")
    return 0


def cmd_db_migrate(_args: argparse.Namespace) -> int:
    from continuity.db import migrate

    settings = _settings()
    applied = asyncio.run(migrate(settings.database_url))
    for name in applied:
        print(f"applied {name}")
    print("database is up to date" if not applied else f"{len(applied)} migration(s) applied")
    return 0


def cmd_db_check(_args: argparse.Namespace) -> int:
    from continuity.db import unmigrated_model_changes

    pending = asyncio.run(unmigrated_model_changes())
    if pending:
        print("models changed without a migration: run `tortoise makemigrations`", file=sys.stderr)
        return 1
    print("models and migrations agree")
    return 0


def cmd_jobs_run(args: argparse.Namespace) -> int:
    from continuity.db import migrate, open_database
    from continuity.jobs import DAILY_CHAIN, JOBS
    from scheduler import business_today

    settings = _settings()
    as_of = date.fromisoformat(args.as_of) if args.as_of else business_today(settings)
    names = [name for name, _job in DAILY_CHAIN] if args.job == "all" else [args.job]

    async def run() -> int:
        await migrate(settings.database_url)
        failed = 0
        async with open_database(settings.database_url):
            for name in names:
                filters = {"program": args.program} if args.program else {}
                result = await JOBS[name](as_of, triggered_by="cli", **filters)
                print(f"{name} {as_of}: {result.status} {result.counts}")
                for failure in result.failures:
                    print(f"  failed {failure['item']}: {failure['error']}")
                failed += len(result.failures)
        return 1 if failed else 0

    return asyncio.run(run())


def build_parser() -> argparse.ArgumentParser:
    from continuity.jobs import DAILY_CHAIN

    parser = argparse.ArgumentParser(prog="continuity", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, load the rules and serve GraphQL")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--dev", action="store_true", help="development mode: GraphiQL at /graphql")
    serve.add_argument("--no-scheduler", action="store_true", help="do not run the daily jobs")
    serve.set_defaults(func=cmd_serve)

    rules = commands.add_parser("rules", help="rule files").add_subparsers(
        dest="rules_command", required=True
    )
    check = rules.add_parser("check", help="validate the rule files; touches no database")
    check.add_argument("dir", nargs="?", help="rules directory (default: the configured one)")
    check.set_defaults(func=cmd_rules_check)

    db = commands.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_db_migrate)
    db.add_parser("check", help="fail if the models changed without a migration").set_defaults(
        func=cmd_db_check
    )

    jobs = commands.add_parser("jobs", help="maintenance jobs").add_subparsers(
        dest="jobs_command", required=True
    )
    run = jobs.add_parser("run", help="run one job, or the daily chain with 'all'")
    run.add_argument("job", choices=[*(name for name, _job in DAILY_CHAIN), "all"])
    run.add_argument("--as-of", help="YYYY-MM-DD (default: today in the business time zone)")
    run.add_argument("--program", help="only this program id")
    run.set_defaults(func=cmd_jobs_run)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    raise SystemExit(args.func(args))


if __name__ == "__main__":
    main()
