"""The ``continuity`` command: serve, check rules, migrate, run jobs, manage API tokens.

Errors are handled once, in ``main()`` (``server.cli_support``): one line saying what is wrong
and what to do, exit code 2 for a wrong command line or configuration, 1 for a failure; a
traceback only with ``--debug``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.settings import Settings, load_settings, unknown_variables
from server.cli_support import (
    EXIT_USAGE,
    ArgumentParser,
    CliError,
    describe_failure,
    iso_date,
    positive_int,
    redact,
    run_until_stopped,
)
from server.logs import configure_logging

#: The settings the command loaded (for the database URL in error messages).
_loaded: list[Settings] = []

if TYPE_CHECKING:
    from continuity.payments.gateway import PaymentGateway
    from rules.report import Output


def _settings() -> Settings:
    """The settings (``ConfigError`` is reported by ``main``); logs go to stderr, warnings and
    up unless ``CONTINUITY_LOG_LEVEL`` asks for more."""
    settings = load_settings()
    _loaded[:] = [settings]
    configure_logging(settings.service.log_level or "WARNING", settings.service.log_format)
    return settings


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _gateway(settings: Settings, *, warn: bool = True) -> PaymentGateway:
    """The configured payment gateway, for every command that moves money; its start-up
    warnings go to stderr (``serve`` logs them instead)."""
    from config.payments import build_gateway, gateway_warnings

    gateway = build_gateway(settings)  # a ConfigError is reported by main (exit 2)
    for warning in gateway_warnings(settings, gateway) if warn else ():
        print(f"warning: {warning}", file=sys.stderr)
    return gateway


def cmd_serve(args: argparse.Namespace) -> int:
    from server.serve import serve

    settings = _settings()
    service = settings.service.model_copy(
        update={
            "development": settings.service.development or args.dev,
            "scheduler_enabled": settings.service.scheduler_enabled and not args.no_scheduler,
        }
    )
    if service.log_level is None:
        service = service.model_copy(update={"log_level": "INFO"})
    settings = settings.model_copy(update={"service": service})
    gateway = _gateway(settings, warn=False)  # create_app logs the warnings
    print(f"Continuity on http://{args.host}:{args.port}/graphql ({redact(settings.database_url)})")
    print(f"Payments: the {gateway.name} gateway")
    print(
        "Every request needs a token (Authorization: Bearer ct_…); create one with "
        "`continuity token create --role admin --name me`."
    )
    sys.stdout.flush()
    serve(settings, args.host, args.port, gateway=gateway)
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
    from continuity.enums import JobRunStatus
    from continuity.faults import install as install_faults
    from continuity.jobs import DAILY_CHAIN, JobEnv, JobFilters, run_job
    from continuity.jobs.claims import collected_by
    from continuity.notifications.policy import set_policy
    from continuity.parameters import save_call_center_parameters
    from scheduler import business_today
    from server.progress import (
        RunProgress,
        money_json,
        money_text,
        run_json,
        run_table,
        stdout_console,
    )

    settings = _settings()
    gateway = _gateway(settings)
    as_of = args.as_of or business_today(settings)
    filters = JobFilters(program=args.program, order=args.order)
    jobs = len(DAILY_CHAIN) if args.job == "all" else 1
    env = JobEnv(gateway=gateway)
    install_faults()
    if args.batch_size:
        env = JobEnv(gateway=env.gateway, batch_size=args.batch_size)

    async def run() -> tuple[list[Any], list[Any]]:
        await migrate(settings.database_url)
        async with open_database(settings.database_url):
            await save_call_center_parameters(settings.call_center.model_dump())
            set_policy(settings.notifications.policy())
            try:
                async with RunProgress(jobs).shown():
                    runs = await run_job(
                        args.job, as_of, env=env, filters=filters, triggered_by="cli"
                    )
            finally:
                await gateway.aclose()
            return runs, await collected_by([r.id for r in runs])

    runs, money = run_until_stopped(
        run(), grace=settings.service.shutdown_grace_seconds, label=f"jobs run {args.job}"
    )
    interrupted = any(r.status is JobRunStatus.INTERRUPTED for r in runs) or len(runs) < jobs
    ok = not interrupted and all(r.status is JobRunStatus.SUCCEEDED for r in runs)
    if args.json:
        _print_json(
            {
                "as_of": as_of.isoformat(),
                "ok": ok,
                "interrupted": interrupted,
                "runs": [run_json(r) for r in runs],
                "money": money_json(money),
            }
        )
        return 0 if ok else 1
    console = stdout_console()
    console.print(run_table(runs))
    console.print(f"money: {money_text(money)}")
    for result in runs:
        for failure in result.failures:
            console.print(f"  {result.job}: failed {failure['item']}: {failure['error']}")
    if interrupted:
        console.print("interrupted: run the same command again to complete it")
    return 0 if ok else 1


def cmd_notifications_deliver(args: argparse.Namespace) -> int:
    from continuity.db import migrate, open_database
    from scheduler.delivery import deliver_notifications

    settings = _settings()

    async def run() -> int:
        await migrate(settings.database_url)
        async with open_database(settings.database_url):
            report = await deliver_notifications(settings)
        if args.json:
            _print_json(vars(report))
            return 0
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
        raise CliError(
            "the demo invents customers and charges them: it runs on the test gateway or "
            "with a Stripe test-mode key (sk_test_…), never a live key",
            EXIT_USAGE,
        )
    today = args.today or business_today(settings)

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
        if args.json:
            _print_json(
                {"today": today.isoformat(), "gateway": gateway.name, **dataclasses.asdict(summary)}
            )
            return 0
        print(
            f"Demo data as of {today} in {redact(settings.database_url)} ({gateway.name} gateway)"
        )
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
    from server.progress import LiveStatus
    from server.simulate import simulate

    settings = _settings()
    done: list[Any] = []
    status = LiveStatus(
        args.days,
        lambda: f"simulating {done[-1] if done else args.start}",
        lambda: len(done),
    )

    async def run() -> Any:
        async with status.shown():
            return await simulate(
                settings,
                args.start,
                args.days,
                program=args.program,
                customers=args.customers,
                on_day=done.append,
            )

    try:
        result = asyncio.run(run())
    except RuleValidationFailed as failure:
        for error in failure.errors:
            print(error)
        return 1
    except ValueError as exc:
        raise CliError(f"{exc}: see `continuity rules check`", 2) from None
    if args.json:
        _print_json(result.as_json())
        return 0
    print(result.heading())
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


def cmd_fulfilment_export(args: argparse.Namespace) -> int:
    from continuity.db import migrate, open_database
    from continuity.picklist import pick_list, pick_list_csv
    from scheduler import business_today

    settings = _settings()
    day = args.date or business_today(settings)

    async def run() -> list[dict[str, Any]]:
        await migrate(settings.database_url)
        async with open_database(settings.database_url):
            return await pick_list(day)

    rows = asyncio.run(run())
    text = pick_list_csv(rows) if args.format == "csv" else json.dumps(rows, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        orders = len({row["child_order"] for row in rows})
        print(f"{len(rows)} item(s) of {orders} child order(s) planned for {day} -> {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_fulfilment_import(args: argparse.Namespace) -> int:
    from continuity.db import migrate, open_database
    from continuity.errors import ContinuityError
    from continuity.picklist import import_shipments, read_import_csv
    from scheduler import business_today

    settings = _settings()
    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise CliError(f"cannot read {args.file}: {error.strerror}", EXIT_USAGE) from None
    try:
        rows = read_import_csv(text)
    except ContinuityError as error:
        raise CliError(f"{args.file}: {error.message}", EXIT_USAGE) from None

    async def run() -> Any:
        await migrate(settings.database_url)
        async with open_database(settings.database_url):
            return await import_shipments(
                rows, actor=f"fulfilment:{args.name}", today=business_today(settings)
            )

    report = asyncio.run(run())
    if args.json:
        _print_json(
            {
                "ok": report.ok,
                "shipped": report.shipped,
                "unchanged": report.unchanged,
                "errors": [dataclasses.asdict(e) for e in report.errors],
            }
        )
        return 0 if report.ok else 1
    if not report.ok:
        for failed in report.errors:
            print(
                f"{args.file}:{failed.line}: {failed.child_order or '-'}: {failed.code}: "
                f"{failed.message}",
                file=sys.stderr,
            )
        print(
            f"nothing imported: {len(report.errors)} of {len(rows)} row(s) failed; fix them "
            "and import the whole file again",
            file=sys.stderr,
        )
        return 1
    print(
        f"{len(report.shipped)} child order(s) marked shipped, "
        f"{len(report.unchanged)} already shipped with these values"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from continuity.enums import Role
    from continuity.jobs import DAILY_CHAIN

    parser = ArgumentParser(prog="continuity", description=__doc__)
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (anywhere on the line)"
    )
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
    run.add_argument(
        "--as-of", type=iso_date, help="YYYY-MM-DD (default: today in the business time zone)"
    )
    run.add_argument("--program", help="only this program id")
    run.add_argument("--order", type=positive_int, help="only this continuity order id")
    run.add_argument(
        "--batch-size", type=positive_int, help="orders or payments per transaction (default 2000)"
    )
    run.add_argument("--json", action="store_true", help="print the runs as JSON")
    run.set_defaults(func=cmd_jobs_run)

    notifications = commands.add_parser("notifications", help="the outbox").add_subparsers(
        dest="notifications_command", required=True
    )
    deliver = notifications.add_parser(
        "deliver", help="send the notifications due now (one pass; safe beside the servers)"
    )
    deliver.add_argument("--json", action="store_true", help="print the report as JSON")
    deliver.set_defaults(func=cmd_notifications_deliver)

    demo = commands.add_parser("demo", help="load the rules and create demo customers and orders")
    demo.add_argument(
        "--today", type=iso_date, help="YYYY-MM-DD (default: today in the business time zone)"
    )
    demo.add_argument("--json", action="store_true", help="print what was created as JSON")
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

    fulfilment = commands.add_parser(
        "fulfilment", help="the warehouse's files: the pick list out, shipments in"
    ).add_subparsers(dest="fulfilment_command", required=True)
    export = fulfilment.add_parser(
        "export", help="the pick list: one row per item of the paid child orders planned for a day"
    )
    export.add_argument(
        "--date", type=iso_date, help="YYYY-MM-DD (default: today in the business time zone)"
    )
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--output", metavar="FILE", help="write to FILE (default: stdout)")
    export.set_defaults(func=cmd_fulfilment_export)
    shipments = fulfilment.add_parser(
        "import",
        help="mark child orders shipped from a CSV (child_order,carrier,tracking_number"
        "[,shipped_at]): all rows or none",
    )
    shipments.add_argument("file")
    shipments.add_argument(
        "--name", default="import", help="the history's actor: fulfilment:NAME (default: import)"
    )
    shipments.add_argument("--json", action="store_true", help="print the report as JSON")
    shipments.set_defaults(func=cmd_fulfilment_import)

    simulate = commands.add_parser(
        "simulate", help="run the daily chain over a virtual calendar on a throwaway database"
    )
    simulate.add_argument(
        "--from", dest="start", type=iso_date, required=True, help="first day, YYYY-MM-DD"
    )
    simulate.add_argument("--days", type=positive_int, default=365)
    simulate.add_argument("--program", help="only this program id")
    simulate.add_argument("--customers", type=positive_int, default=1, help="orders per program")
    simulate.add_argument("--json", action="store_true", help="print the days as JSON")
    simulate.set_defaults(func=cmd_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Parse, warn about misspelled ``CONTINUITY_*`` variables, run, and turn any error into
    one line and an exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments
    args = build_parser().parse_args([a for a in arguments if a != "--debug"])
    for warning in unknown_variables():
        print(f"continuity: warning: {warning}", file=sys.stderr)
    try:
        code = args.func(args)
    except SystemExit:
        raise
    except BaseException as exc:
        if debug:
            traceback.print_exc()
        url = _loaded[0].database_url if _loaded else ""
        message, code = describe_failure(exc, url)
        if message:
            print(f"{_command_name(args)}: {message}", file=sys.stderr)
        else:  # stdout is gone: do not let the interpreter complain about it at exit
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    raise SystemExit(code)


def _command_name(args: argparse.Namespace) -> str:
    """``continuity jobs run``: the words of the command line that chose ``args.func``."""
    words = [args.command]
    words += [value for key, value in vars(args).items() if key.endswith("_command") and value]
    return " ".join(["continuity", *words])


if __name__ == "__main__":
    main()
