"""The `studymate` command: the development stack, the api and worker processes, migrations, schema.

Heavy modules are imported inside each subcommand so that `studymate --help` answers at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

CHILD_STOP_TIMEOUT_SECONDS = 15.0
DEV_INSTRUCTOR_INVITE_CODE = "dev-instructor"
DEV_DATABASE = "studymate"


def _say(message: str) -> None:
    print(f"studymate: {message}", flush=True)


class _Stop(Exception):
    """SIGTERM or SIGHUP, turned into an exception so that cleanup runs as it does for Ctrl-C."""


def _raise_stop(_signum: int, _frame: FrameType | None) -> None:
    raise _Stop


def _ignore_further_signals() -> None:
    # A second Ctrl-C must not cut the orderly shutdown short; every wait in it has a timeout.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


def _spawn(arguments: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # The same interpreter, so the child runs in this environment whatever PATH says.
    return subprocess.Popen([sys.executable, "-m", "cli", *arguments], env=env)


def _stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in children.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + CHILD_STOP_TIMEOUT_SECONDS
    for name, process in children.items():
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _say(f"{name} did not stop within {CHILD_STOP_TIMEOUT_SECONDS:.0f}s; killing it")
            process.kill()
            process.wait()


def _dev(args: argparse.Namespace) -> int:
    import asyncio

    from core.migrations import ensure_database, upgrade_head
    from devstack import EmbeddedStack

    os.environ.setdefault("INSTRUCTOR_INVITE_CODE", DEV_INSTRUCTOR_INVITE_CODE)
    database_given = bool(os.environ.get("DATABASE_URL"))
    data_dir = Path(args.data_dir).resolve()
    _say(f"data directory {data_dir}")
    if not os.environ.get("SMTP_URL"):
        # So a newcomer sees each email that would be sent: one .eml file each, its subject in the log.
        os.environ.setdefault("MAIL_DIR", str(data_dir / "mail"))
    if not os.environ.get("TWILIO_ACCOUNT_SID"):
        os.environ.setdefault("SMS_DIR", str(data_dir / "sms"))
    stack = EmbeddedStack(data_dir, persistent=True, log=_say)
    children: dict[str, subprocess.Popen[bytes]] = {}
    # A launcher may start us with SIGINT ignored (as shells do for background jobs); Ctrl-C must still work.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_stop)
    # A closed terminal must not leave the embedded servers, in their own sessions, running.
    signal.signal(signal.SIGHUP, _raise_stop)
    try:
        urls = stack.start()
        if not database_given:
            from sqlalchemy.engine import make_url

            server_url = make_url(urls["DATABASE_URL"])
            urls["DATABASE_URL"] = server_url.set(database=DEV_DATABASE).render_as_string(hide_password=False)
        os.environ.update(urls)
        from core.settings import get_settings

        get_settings.cache_clear()
        database_url = urls["DATABASE_URL"]
        _say("creating the database if missing and applying migrations")
        asyncio.run(ensure_database(database_url))
        upgrade_head(database_url)
        _say("loading sample data")
        import sample_data

        accounts = asyncio.run(sample_data.ensure_sample_data())
        env = dict(os.environ)
        children["api"] = _spawn(["api", "--host", args.host, "--port", str(args.port)], env)
        children["worker"] = _spawn(["worker"], env)
        _say("demo accounts:")
        for account in accounts:
            _say(f"  {account.role:<10} {account.email:<32} password: {account.password}")
        _say(f"instructor invite code: {os.environ['INSTRUCTOR_INVITE_CODE']}")
        _say(f"GraphiQL: http://{args.host}:{args.port}/graphql")
        _say("press Ctrl-C to stop")
        return _supervise(children, stack.dead)
    except (KeyboardInterrupt, _Stop):
        _ignore_further_signals()
        _say("stopping")
        return 0
    finally:
        _ignore_further_signals()
        _stop_children(children)
        stack.stop()
        _say("stopped")


def _supervise(children: dict[str, subprocess.Popen[bytes]], dead_servers: Callable[[], list[str]]) -> int:
    """Wait until a child or an embedded server dies; the stack is only useful whole."""
    while True:
        for name, process in children.items():
            code = process.poll()
            if code is not None:
                _say(f"{name} exited with code {code}; stopping everything")
                return code or 1
        dead = dead_servers()
        if dead:
            _say(
                f"embedded {', '.join(dead)} exited; stopping everything (see the logs in the data directory)"
            )
            return 1
        time.sleep(0.25)


def _api(args: argparse.Namespace) -> int:
    import uvicorn

    from core.settings import get_settings

    settings = get_settings()
    uvicorn.run(
        "app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        # The app sets up JSON logging for every logger, uvicorn's too; uvicorn's own config is plain text.
        log_config=None,
        # The app believes X-Forwarded-* only from TRUSTED_PROXIES (core/asgi.py); uvicorn's own handling
        # would believe 127.0.0.1, which lets anyone on the machine choose their rate-limit address.
        proxy_headers=False,
        # Protocol pings find dead websockets (phones drop off networks without closing them).
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        ws_max_size=1024 * 1024,
        # Step frames are a few hundred bytes: compressing each costs CPU per subscriber and saves little.
        ws_per_message_deflate=settings.websocket_per_message_deflate,
        # Open websockets would otherwise hold a shutdown or a deploy forever.
        timeout_graceful_shutdown=10,
        server_header=False,
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from arq.worker import check_health, run_worker

    from workers.settings import worker_settings

    settings = worker_settings()
    if args.check:
        return check_health(settings)
    run_worker(settings)
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    import asyncio

    from core.migrations import ensure_database, upgrade_head
    from core.settings import get_settings

    url = get_settings().database_url
    asyncio.run(ensure_database(url))
    upgrade_head(url)
    _say("database is at the newest migration")
    return 0


def _export_schema(args: argparse.Namespace) -> int:
    import difflib

    from schema import build_schema

    text = str(build_schema()).rstrip("\n") + "\n"
    path = Path(args.path)
    if not args.check:
        path.write_text(text, encoding="utf-8")
        _say(f"wrote {path}")
        return 0
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current == text:
        return 0
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        text.splitlines(keepends=True),
        fromfile=f"{path} (committed)",
        tofile=f"{path} (from the code)",
    )
    sys.stdout.writelines(diff)
    _say(f"{path} is out of date; run `studymate export-schema` (or `make schema`) and commit it")
    return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studymate", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = commands.add_parser(
        "dev", help="run the whole stack locally: embedded Postgres/Redis/Kafka, migrations, sample data"
    )
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--data-dir", default=".data", help="where embedded servers keep data and logs")
    dev.set_defaults(handler=_dev)

    api = commands.add_parser("api", help="serve the GraphQL API with uvicorn")
    api.add_argument("--host", default="0.0.0.0")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1)
    api.set_defaults(handler=_api)

    worker = commands.add_parser("worker", help="run the arq worker (jobs and the Kafka drain)")
    worker.add_argument("--check", action="store_true", help="exit 0 if a worker reported healthy recently")
    worker.set_defaults(handler=_worker)

    migrate = commands.add_parser("migrate", help="create the database if missing and apply migrations")
    migrate.set_defaults(handler=_migrate)

    export = commands.add_parser("export-schema", help="write the GraphQL schema (SDL) to a file")
    export.add_argument("--path", default="schema.graphql")
    export.add_argument("--check", action="store_true", help="exit 1 with a diff if the file is stale")
    export.set_defaults(handler=_export_schema)
    return parser


def main() -> None:
    args = _parser().parse_args()
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        code = handler(args)
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
