"""The start-up every benchmark shares: servers and a migrated database, `studymate` processes, readiness.

Everything here is synchronous except the health wait: the migrations run their own event loop, so the
set-up happens before a benchmark's `asyncio.run`, and no process is spawned from inside a running loop.
"""

import asyncio
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
from sqlalchemy.engine import make_url

from core.migrations import ensure_database, upgrade_head
from devstack import EmbeddedStack, free_port

# Generous: on a shared, loaded machine importing the app alone has taken over 30 s.
STARTUP_TIMEOUT_SECONDS = 180.0
# The worker finishes its Kafka batch before it exits; give it that long before killing it.
STOP_TIMEOUT_SECONDS = 60.0
HEALTH_POLL_SECONDS = 0.1
LOG_TAIL_LINES = 20
SECRET_KEY = "bench-secret-key-that-is-long-enough-for-hs256"
# The script that `uv sync` installed beside this interpreter: the children run the benchmark's own
# environment, and no `uv run` in between re-resolves it or adds its start-up to each spawn.
STUDYMATE = Path(sys.executable).with_name("studymate")


@contextmanager
def components(*, database: str | None = None) -> Iterator[Path]:
    """Postgres, Redis and Kafka with the schema at head, for the duration of the block.

    Servers whose URL (DATABASE_URL, REDIS_URL, KAFKA_BOOTSTRAP_SERVERS) is set are used as they are;
    the others run embedded in a temporary directory, which is yielded for the processes' logs.
    `database` names a database to create on the server instead of the URL's own.
    """
    with (
        tempfile.TemporaryDirectory(prefix="studymate-bench-") as tmp,
        EmbeddedStack(Path(tmp), persistent=False) as urls,
    ):
        # The children read their configuration from the environment they inherit.
        os.environ.update(urls)
        if database is not None:
            url = make_url(os.environ["DATABASE_URL"]).set(database=database)
            os.environ["DATABASE_URL"] = url.render_as_string(hide_password=False)
        os.environ.setdefault("SECRET_KEY", SECRET_KEY)
        asyncio.run(ensure_database(os.environ["DATABASE_URL"]))
        upgrade_head(os.environ["DATABASE_URL"])
        yield Path(tmp)


@contextmanager
def studymate(arguments: Sequence[str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`studymate <arguments>` as a child process writing to `log_path`, stopped when the block ends."""
    with log_path.open("wb") as log:
        child = subprocess.Popen([str(STUDYMATE), *arguments], stdout=log, stderr=subprocess.STDOUT)
        try:
            yield child
        except Exception:
            # The log lives in the temporary directory that is about to go; show why the run failed.
            _print_tail(log_path)
            raise
        finally:
            child.terminate()
            try:
                child.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


@contextmanager
def one_api() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The components and one `studymate api` on a free port: its URL and its process."""
    port = free_port()
    with (
        components() as tmp,
        studymate(["api", "--host", "127.0.0.1", "--port", str(port)], tmp / "api.log") as api,
    ):
        yield f"http://127.0.0.1:{port}", api


def _print_tail(log_path: Path) -> None:
    lines = log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    print(f"--- last lines of {log_path.name} ---", *lines, sep="\n", file=sys.stderr)


async def wait_until_healthy(url: str) -> None:
    """Return once `url`/health answers 200; raise TimeoutError after STARTUP_TIMEOUT_SECONDS."""
    async with httpx.AsyncClient(base_url=url) as http, asyncio.timeout(STARTUP_TIMEOUT_SECONDS):
        while True:
            try:
                if (await http.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                # Not listening yet.
                pass
            await asyncio.sleep(HEALTH_POLL_SECONDS)


def cpu_seconds(process: psutil.Process) -> float:
    """The CPU time `process` has used so far (user and system)."""
    times = process.cpu_times()
    return times.user + times.system


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile, interpolated linearly between the closest ranks.

    The method of numpy's default and of `statistics.median` at 0.5, so the figures compare with both.
    """
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)
