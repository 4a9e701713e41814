"""StudyMate beside PostGraphile, in one sitting: the three read queries of `../shared/bench/peer`.

Runs the peer's own procedure (`run_all.sh`: warm-up, interleaved rounds, wrk checking every response,
CPU of server / Postgres / others per run) first against PostGraphile, then against `studymate api`
on a database of its own in the same PostgreSQL, seeded through the API with the same 50 x 5 x 8 shape
(`studymate_seed.py`), and prints each query's requests/s, server CPU per request, and the ratios.

The peer folder must be a writable copy on which `./setup.sh` has run (its .venv, node_modules, wrk):

    cp -r ../shared/bench/peer /tmp/peer && /tmp/peer/setup.sh
    uv run python -m bench.peer --peer-dir /tmp/peer [--workers 2] [--duration 15] [--runs 1]

StudyMate's Redis and Kafka run embedded (bench.harness); its settings come from the environment, so
e.g. `RESPONSE_CACHE=true` measures with a response cache. `--skip-peer --peer-label L` compares with the
peer run in results/L instead of running it again.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import STUDYMATE, components

QUERIES = ("nested", "single", "trivial")
DATABASE = "studymate_bench"


def _peer_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "PEER_PG_PORT": str(args.pg_port),
        "PEER_PG_DATA": args.pg_data,
        "DURATION": str(args.duration),
        "RUNS": str(args.runs),
        "WARMUP": str(args.warmup),
        "QUIET_MAX": str(args.quiet_max),
        "RETRIES": str(args.retries),
        "WRK_TIMEOUT": "30s",
        "PIDFILE": "/tmp/bench-peer-postgraphile.pid",
        "LOG": "/tmp/bench-peer-postgraphile.log",
    }


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"{' '.join(command)} failed with {result.returncode}")
    return result.stdout


def _results(peer: Path, label: str) -> dict[str, dict[str, float]]:
    """Per query: median rps over the runs, server CPU ms per request, and other processes' cores."""
    figures: dict[str, dict[str, float]] = {}
    for query in QUERIES:
        runs = [json.loads(p.read_text()) for p in sorted((peer / "results" / label).glob(f"{query}.*.json"))]
        if not runs:
            continue
        runs.sort(key=lambda r: r["rps"])
        middle = runs[len(runs) // 2]
        figures[query] = {
            "rps": middle["rps"],
            "p99_ms": middle["p99_ms"],
            "server_ms": 1000 * middle["cpu_s"]["server"] / max(middle["requests"], 1),
            "other_cores": max(r["other_cores"] for r in runs),
        }
    return figures


def _measure_ours(args: argparse.Namespace, peer: Path, env: dict[str, str], label: str, tmp: Path) -> None:
    command = ["api", "--host", "127.0.0.1", "--port", str(args.port), "--workers", str(args.workers)]
    url = f"http://127.0.0.1:{args.port}"
    with (tmp / "api.log").open("wb") as log:
        # A session (and process group) of its own: the CPU columns count the api and its workers only.
        api = subprocess.Popen(
            [str(STUDYMATE), *command], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            for _ in range(120):
                probe = ["curl", "-sf", "-o", "/dev/null", f"{url}/health"]
                if subprocess.run(probe, check=False).returncode == 0:
                    break
                time.sleep(0.5)
            lecture = _run([sys.executable, "studymate_seed.py", url], peer, env).strip().splitlines()[-1]
            queries = tmp / "queries"
            shutil.copytree(peer / "studymate-queries", queries)
            single = queries / "single.graphql"
            text = re.sub(r'lecture\(id: "[^"]*"\)', f'lecture(id: "{lecture}")', single.read_text())
            single.write_text(text)
            ours = {
                **env,
                "EXTERNAL": "1",
                "GQL_PORT": str(args.port),
                "QUERY_DIR": str(queries),
                "SERVER_PGID": str(api.pid),
            }
            _run(["./run_all.sh", label], peer, ours)
        finally:
            os.killpg(api.pid, signal.SIGTERM)
            api.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--peer-dir", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=28080)
    parser.add_argument("--pg-port", type=int, default=25432)
    parser.add_argument("--pg-data", default="/tmp/peer-bench-pgdata")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--quiet-max", type=int, default=30)
    parser.add_argument("--retries", type=int, default=1)
    parser.add_argument("--label", default="bench")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--peer-label", help="compare with this earlier peer run (with --skip-peer)")
    args = parser.parse_args()
    peer: Path = args.peer_dir.resolve()
    env = _peer_env(args)
    python = str(peer / ".venv/bin/python")

    _run([python, "pg.py", "start"], peer, env)
    pg_url = _run([python, "pg.py", "url"], peer, env).strip()
    peer_label = args.peer_label or f"postgraphile-{args.label}"
    ours_label = f"studymate-{args.label}"
    if not args.skip_peer:
        _run([python, "pg.py", "load"], peer, env)
        _run(["./run_all.sh", peer_label], peer, {**env, "KEEP_RUNNING": "1", "GQL_PORT": "25000"})
        _run(["./run_postgraphile.sh", "stop"], peer, env)

    os.environ["DATABASE_URL"] = pg_url.replace("postgres://", "postgresql+asyncpg://", 1)
    os.environ.setdefault("INSTRUCTOR_INVITE_CODE", "dev-instructor")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    with components(database=f"{DATABASE}_{int(time.time())}") as tmp:
        _measure_ours(args, peer, env, ours_label, tmp)

    theirs, ours = _results(peer, peer_label), _results(peer, ours_label)
    print(
        f"{'query':<8} {'peer rps':>9} {'ours rps':>9} {'ratio':>6}   {'peer CPU ms/req':>15} "
        f"{'ours CPU ms/req':>15} {'CPU ratio':>9}   other procs (cores, peer / ours)"
    )
    for query in QUERIES:
        if query not in ours:
            continue
        o = ours[query]
        if query not in theirs:
            print(f"{query:<8} {'-':>9} {o['rps']:>9.1f} {'-':>6}   {'-':>15} {o['server_ms']:>15.2f}")
            continue
        p = theirs[query]
        cpu_ratio = p["server_ms"] / max(o["server_ms"], 1e-9)
        print(
            f"{query:<8} {p['rps']:>9.1f} {o['rps']:>9.1f} {o['rps'] / p['rps']:>5.2f}x   "
            f"{p['server_ms']:>15.2f} {o['server_ms']:>15.2f} {cpu_ratio:>8.2f}x"
            f"   {p['other_cores']:.2f} / {o['other_cores']:.2f}"
        )


if __name__ == "__main__":
    main()
