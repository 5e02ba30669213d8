"""The ``continuity`` command: serve, check rules, migrate, run jobs, manage API tokens."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from config.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from continuity.payments.gateway import PaymentGateway
    from rules.report import Output


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _gateway(settings: Settings, *, warn: bool = True) -> PaymentGateway:
    """The configured payment gateway, for every command that moves money; its start-up
    warnings go to stderr (``serve`` logs them instead)."""
    from config.payments import build_gateway, gateway_warnings

    try:
        gateway = build_gateway(settings)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None
    for warning in gateway_warnings(settings, gateway) if warn else ():
        print(f"warning: {warning}", file=sys.stderr)
    return gateway


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
    gateway = _gateway(settings, warn=False)  # create_app logs the warnings
    print(f"Continuity on http://{args.host}:{args.port}/graphql ({settings.database_url})")
    print(f"Payments: the {gateway.name} gateway")
    print(
        "Every request needs a token (Authorization: Bearer ct_…); create one with "
        "`continuity token create --role admin --name me`."
    )
    app = create_app(settings, gateway=gateway)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def _print(output: Output) -> int:
    if output.stdout:
        print(output.stdout)
    if output.stderr:
        print(output.stderr, file=sys.stderr)
    return output.exit_code


def cmd_rules_check(args: argparse.Namespace) -> int:
    from rules.loader import check_rules
    from rules.report import check_output

    rules_dir = Path(args.dir) if args.dir else _settings().rules_dir
    return _print(check_output(check_rules(rules_dir), rules_dir, args.format))


def cmd_rules_diff(args: argparse.Namespace) -> int:
    from continuity.db import migrate, open_database
    from rules.diff import RulesDiff, diff_rules
    from rules.errors import RuleValidationFailed
    from rules.loader import load_rules
    from rules.report import check_output, diff_output

    settings = _settings()
    rules_dir = Path(args.dir) if args.dir else settings.rules_dir
    try:
        rule_set = load_rules(rules_dir)
    except RuleValidationFailed as failure:
        return _print(check_output(list(failure.errors), rules_dir, "text"))

    async def run() -> RulesDiff:
        await migrate(settings.database_url)
        async with open_database(settings.database_url):
            return await diff_rules(rule_set)

    return _print(diff_output(asyncio.run(run()), args.format))


def cmd_rules_schema(args: argparse.Namespace) -> int:
    from rules.jsonschema import render_all, write_schemas

    if args.write:
        for path in write_schemas(Path(args.write), args.kind):
            print(f"wrote {path}")
        return 0
    print(render_all(args.kind), end="")
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
    from continuity.jobs import JobEnv, JobFilters, run_job
    from continuity.notifications.policy import set_policy
    from continuity.parameters import save_call_center_parameters
    from scheduler import business_today

    settings = _settings()
    gateway = _gateway(settings)
    as_of = date.fromisoformat(args.as_of) if args.as_of else business_today(settings)
    filters = JobFilters(program=args.program, order=args.order)

    async def run() -> int:
        await migrate(settings.database_url)
        async with open_database(settings.database_url):
            await save_call_center_parameters(settings.call_center.model_dump())
            set_policy(settings.notifications.policy())
            try:
                runs = await run_job(
                    args.job,
                    as_of,
                    env=JobEnv(gateway=gateway),
                    filters=filters,
                    triggered_by="cli",
                )
            finally:
                await gateway.aclose()
        failed = 0
        for result in runs:
            print(f"{result.job} {as_of}: {result.status} {result.counts}")
            for failure in result.failures:
                print(f"  failed {failure['item']}: {failure['error']}")
            failed += len(result.failures)
        return 1 if failed else 0

    return asyncio.run(run())


def cmd_notifications_deliver(_args: argparse.Namespace) -> int:
    from continuity.db import migrate, open_database
    from scheduler.delivery import deliver_notifications

    settings = _settings()

    async def run() -> int:
        await migrate(settings.database_url)
        async with open_database(settings.database_url):
            report = await deliver_notifications(settings)
        print(
            f"notifications: {report.claimed} claimed, {report.sent} sent, "
            f"{report.failed} to retry, {report.dead} dead"
        )
        return 0

    return asyncio.run(run())


def cmd_demo(args: argparse.Namespace) -> int:
    from continuity.db import migrate, open_database
    from continuity.parameters import save_call_center_parameters
    from rules.reload import reload_rules
    from scheduler import business_today
    from server.demo import SAMPLE_QUERY, seed_demo

    settings = _settings()
    gateway = _gateway(settings)
    if getattr(gateway, "test_mode", True) is False:
        print(
            "the demo invents customers and charges them: it runs on the test gateway or "
            "with a Stripe test-mode key (sk_test_…), never a live key",
            file=sys.stderr,
        )
        return 2
    today = date.fromisoformat(args.today) if args.today else business_today(settings)

    async def run() -> int:
        await migrate(settings.database_url)
        async with open_database(settings.database_url):
            loaded = await reload_rules(settings.rules_dir)
            if not loaded.ok:
                for error in loaded.errors:
                    print(error)
                print(f"{len(loaded.errors)} error(s) in {settings.rules_dir}", file=sys.stderr)
                return 1
            await save_call_center_parameters(settings.call_center.model_dump())
            try:
                summary = await seed_demo(today, gateway=gateway)
            finally:
                await gateway.aclose()
        print(f"Demo data as of {today} in {settings.database_url} ({gateway.name} gateway)")
        created = ", ".join(summary.customers_created) or "none"
        print(f"customers created: {created}")
        if summary.customers_found:
            print(f"customers already there: {', '.join(summary.customers_found)}")
        print(f"orders placed: {len(summary.orders_created)} of {len(summary.orders)}")
        for order in summary.orders:
            state = "placed" if order.created else "already there"
            print(
                f"  {order.account_number} {order.program}: {order.continuity_order}"
                f" (sales order {order.sales_order}), {order.billing_mode},"
                f" starts {order.start_date}, {state}"
            )
        for problem in summary.not_placed:
            print(f"  not placed: {problem}")
        print(f"missed occurrence lines (sent at the next child-order run): {summary.missed_lines}")
        print(f"declined payments (retried by the payments job): {summary.declined_payments}")
        print(
            "Next: run `continuity token create --role admin`, then `continuity serve --dev`,"
            " open http://127.0.0.1:8000/graphql, add the header"
            ' {"Authorization": "Bearer <token>"} and try:'
        )
        print(SAMPLE_QUERY)
        return 0

    return asyncio.run(run())


def cmd_simulate(args: argparse.Namespace) -> int:
    from rules.errors import RuleValidationFailed
    from server.simulate import simulate

    settings = _settings()
    try:
        result = asyncio.run(
            simulate(
                settings,
                date.fromisoformat(args.start),
                args.days,
                program=args.program,
                customers=args.customers,
            )
        )
    except RuleValidationFailed as failure:
        for error in failure.errors:
            print(error)
        return 1
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    placed = ", ".join(f"{code} ×{count}" for code, count in sorted(result.orders.items()))
    print(
        f"Simulated {args.days} days from {args.start} on a throwaway database; "
        f"orders placed on day 1: {placed}"
    )
    print(result.table())
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from continuity.access import create_token
    from continuity.db import migrate, open_database
    from continuity.enums import Role
    from continuity.errors import ContinuityError

    settings = _settings()

    async def run() -> int:
        await migrate(settings.database_url)
        async with open_database(settings.database_url):
            try:
                issued = await create_token(
                    Role(args.role),
                    name=args.name or args.role,
                    customer_account=args.customer,
                    expires_days=args.expires,
                )
            except ContinuityError as error:
                print(f"token not created: {error.message}", file=sys.stderr)
                return 2
        row = issued.row
        expires = f", expires {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else ""
        print(f"token {row.key} ({row.role.value} {row.name!r}{expires}); shown only once:")
        print(issued.token)
        return 0

    return asyncio.run(run())


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from continuity.access import revoke_token
    from continuity.db import migrate, open_database
    from continuity.errors import ContinuityError

    settings = _settings()

    async def run() -> int:
        await migrate(settings.database_url)
        async with open_database(settings.database_url):
            try:
                row = await revoke_token(args.key)
            except ContinuityError as error:
                print(error.message, file=sys.stderr)
                return 1
        print(f"token {row.key} ({row.role.value} {row.name!r}) revoked at {row.revoked_at}")
        return 0

    return asyncio.run(run())


def cmd_token_list(_args: argparse.Namespace) -> int:
    from continuity.access import list_tokens
    from continuity.db import migrate, open_database

    settings = _settings()

    async def run() -> int:
        await migrate(settings.database_url)
        async with open_database(settings.database_url):
            rows = await list_tokens()
        print("key           role          name                 customer     state")
        for row in rows:
            account = row.customer.account_number if row.customer else "-"
            if row.revoked_at:
                state = f"revoked {row.revoked_at:%Y-%m-%d}"
            elif row.expires_at:
                state = f"expires {row.expires_at:%Y-%m-%d}"
            else:
                state = "active"
            used = f", last used {row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else ""
            print(f"{row.key:<13} {row.role.value:<13} {row.name:<20} {account:<12} {state}{used}")
        return 0

    return asyncio.run(run())


def build_parser() -> argparse.ArgumentParser:
    from continuity.enums import Role
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
    check.add_argument(
        "--format",
        choices=["text", "json", "github"],
        default="text",
        help="json: a machine-readable list; github: GitHub Actions annotations",
    )
    check.set_defaults(func=cmd_rules_check)
    diff = rules.add_parser(
        "diff", help="what loading the rule files would change in the database, field by field"
    )
    diff.add_argument("dir", nargs="?", help="rules directory (default: the configured one)")
    diff.add_argument("--format", choices=["text", "json"], default="text")
    diff.set_defaults(func=cmd_rules_diff)
    schema = rules.add_parser(
        "schema", help="the JSON Schemas of the rule files, for editors (all kinds by default)"
    )
    schema.add_argument("kind", nargs="?", choices=["catalog", "payment-schedules", "program"])
    schema.add_argument("--write", metavar="DIR", help="write <kind>.schema.json files into DIR")
    schema.set_defaults(func=cmd_rules_schema)

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
    run.add_argument("--order", type=int, help="only this continuity order id")
    run.set_defaults(func=cmd_jobs_run)

    notifications = commands.add_parser("notifications", help="the outbox").add_subparsers(
        dest="notifications_command", required=True
    )
    notifications.add_parser(
        "deliver", help="send the notifications due now (one pass; safe beside the servers)"
    ).set_defaults(func=cmd_notifications_deliver)

    demo = commands.add_parser("demo", help="load the rules and create demo customers and orders")
    demo.add_argument("--today", help="YYYY-MM-DD (default: today in the business time zone)")
    demo.set_defaults(func=cmd_demo)

    token = commands.add_parser("token", help="API tokens").add_subparsers(
        dest="token_command", required=True
    )
    create = token.add_parser("create", help="create a token and print it (once)")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--customer", help="customer account number (role customer only)")
    create.add_argument("--expires", type=int, metavar="DAYS", help="days until it expires")
    create.add_argument("--name", help="who holds it; the order history's actor (default: role)")
    create.set_defaults(func=cmd_token_create)
    revoke = token.add_parser("revoke", help="revoke a token by its key (see token list)")
    revoke.add_argument("key")
    revoke.set_defaults(func=cmd_token_revoke)
    token.add_parser("list", help="list tokens (never their secrets)").set_defaults(
        func=cmd_token_list
    )

    simulate = commands.add_parser(
        "simulate", help="run the daily chain over a virtual calendar on a throwaway database"
    )
    simulate.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    simulate.add_argument("--days", type=int, default=365)
    simulate.add_argument("--program", help="only this program id")
    simulate.add_argument("--customers", type=int, default=1, help="orders per program")
    simulate.set_defaults(func=cmd_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    raise SystemExit(args.func(args))


if __name__ == "__main__":
    main()
