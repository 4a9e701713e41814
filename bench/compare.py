"""Every performance target of issue 9 beside its reference, measured in one sitting (`make bench`).

Runs, one after the other, each benchmark with the reference it is judged against:
- reads: `bench.peer` (PostGraphile, then StudyMate with 2 api processes), with the response cache off
  and then warm;
- a step change reaching 1,000 and 3,000 subscribers (`bench.classroom`), beside the bare websocket
  ceiling of `../shared/bench/limits/ws_fanout.py --fanout queue` at the same sizes;
- memory per idle subscription with 10,000 held, beside the bare socket's;
- recording ingest end to end (`bench.ingest`), beside `pg_ingest.py`'s `unnest` on the same Postgres.

Each figure comes from the script that measures it (their own output, read here), and the table at the
end says which target is met. About 15 minutes on a quiet 2-core machine; the figures mean little on a
busy one (each script notes other processes' load where it can).

    uv run python -m bench.compare --peer-dir /tmp/peer [--skip reads fanout memory ingest]
"""

import argparse
import asyncio
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, NamedTuple

LIMITS_DIR = Path(__file__).resolve().parents[2] / "shared" / "bench" / "limits"
PEER_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "bench" / "peer"
FANOUT_STEPS = 20
CEILING_MESSAGES = 50


class Figure(NamedTuple):
    measure: str
    ours: str
    reference: str
    ratio: str
    target: str
    met: bool


def _run(module: str, *arguments: str, env: dict[str, str] | None = None) -> str:
    """`python -m module arguments`, echoed as it runs; its whole output is returned."""
    command = [sys.executable, "-m", module, *arguments]
    print(f"\n$ {' '.join(command[1:])}", flush=True)
    process = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    print(process.stdout, end="", flush=True)
    if process.returncode != 0:
        print(process.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{module} failed with {process.returncode}")
    return process.stdout


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    if found is None:
        raise SystemExit(f"no {pattern!r} in the output above")
    return float(found.group(1))


def _peer_ready(peer_dir: Path) -> None:
    if (peer_dir / "node_modules").exists():
        return
    subprocess.run(["cp", "-r", str(PEER_SOURCE), str(peer_dir)], check=True)
    subprocess.run(["./setup.sh"], cwd=peer_dir, check=True)


def reads(peer_dir: Path) -> list[Figure]:
    _peer_ready(peer_dir)
    cold = _run("bench.peer", "--peer-dir", str(peer_dir), "--label", "compare")
    warm = _run(
        "bench.peer",
        *("--peer-dir", str(peer_dir), "--label", "compare-cached", "--skip-peer"),
        *("--peer-label", "postgraphile-compare"),
        env={**os.environ, "RESPONSE_CACHE": "true"},
    )
    figures = []
    for query, cold_target, warm_target in (
        ("nested", 0.5, 2.0),
        ("single", 0.5, 2.0),
        ("trivial", 0.3, None),
    ):
        figures.append(_ratio_figure(f"{query}, cache off (rps)", cold, query, cold_target))
        if warm_target is not None:
            figures.append(_ratio_figure(f"{query}, cache warm (rps)", warm, query, warm_target))
    return figures


def _ratio_figure(measure: str, output: str, query: str, target: float) -> Figure:
    """A row of `bench.peer`'s table: the peer's requests/s, ours, and the ratio."""
    found = re.search(rf"{query}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x", output)
    if found is None:
        raise SystemExit(f"no {query} row in the output above")
    reference, ours, ratio = (float(value) for value in found.groups())
    return Figure(
        measure, f"{ours:.1f}", f"{reference:.1f}", f"{ratio:.2f}x", f">= {target}x", ratio >= target
    )


def _limits_module(name: str) -> ModuleType:
    sys.path.insert(0, str(LIMITS_DIR))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(LIMITS_DIR))


def ceiling(sizes: list[int]) -> dict[int, dict[str, Any]]:
    """ws_fanout's queue-per-connection server at each size: p99 ms and KiB per connection."""
    ws_fanout = _limits_module("ws_fanout")
    common = _limits_module("_common")
    common.raise_nofile()
    options = SimpleNamespace(
        ws="websockets", fanout="queue", count=CEILING_MESSAGES, rate=10.0, payload_bytes=200, warmup=5
    )

    async def measure() -> dict[int, dict[str, Any]]:
        with common.RedisServer() as server:
            return {n: await ws_fanout.bench_one(n, options, server) for n in sizes}

    print(f"\n$ ws_fanout --fanout queue --n {' '.join(map(str, sizes))}", flush=True)
    results = asyncio.run(measure())
    for result in results.values():
        print(f"N={result['n']}: p99 {result['p99_ms']:.1f} ms, {result['kib_per_conn']:.1f} KiB/conn")
    return results


def fanout(ceilings: dict[int, dict[str, Any]]) -> list[Figure]:
    figures = []
    for n, result in ceilings.items():
        output = _run("bench.classroom", "--participants", str(n), "--steps", str(FANOUT_STEPS))
        p99 = _number(r"p99 ([\d.]+)", output)
        opened = _number(r"subscriptions opened in ([\d.]+) s", output)
        reference = float(result["p99_ms"])
        if n == 1000:
            met = p99 <= 2 * reference
            target = "p99 <= 2x ceiling"
        else:
            met = p99 <= 250 and opened <= 5
            target = "p99 <= 250 ms, subscribed <= 5 s"
        figures.append(
            Figure(
                f"step -> {n} subscribers, p99 ms (subscribed in {opened:.1f} s)",
                f"{p99:.1f}",
                f"{reference:.1f}",
                f"{p99 / reference:.2f}x",
                target,
                met,
            )
        )
    return figures


def memory(bare_kib: float) -> list[Figure]:
    output = _run("bench.classroom", "--participants", "10000", "--idle")
    kib = _number(r"per idle subscription ([\d.]+) KiB", output)
    return [
        Figure(
            "memory per idle subscription, KiB", f"{kib:.1f}", f"{bare_kib:.1f}", "-", "<= 45 KiB", kib <= 45
        )
    ]


def ingest() -> list[Figure]:
    # The median of three runs, as the reference is the median of its three: the first run of a fresh
    # api, worker and broker is the slowest (0.46x against 0.55x and 0.56x in one sitting).
    output = _run("bench.ingest", "--events", "100000", "--runs", "3")
    events = _number(r"(?m)^end to end\s+([\d.]+) events/s", output)
    reference = _number(r"reference\s+([\d.]+) rows/s", output)
    ratio = events / reference
    return [
        Figure(
            "ingest end to end, events/s",
            f"{events:.0f}",
            f"{reference:.0f}",
            f"{ratio:.2f}x",
            ">= 0.4x",
            ratio >= 0.4,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--peer-dir", type=Path, default=Path("/tmp/peer"))
    parser.add_argument("--skip", nargs="*", default=[], choices=["reads", "fanout", "memory", "ingest"])
    args = parser.parse_args()
    figures: list[Figure] = []
    if "reads" not in args.skip:
        figures += reads(args.peer_dir.resolve())
    if "fanout" not in args.skip or "memory" not in args.skip:
        ceilings = ceiling([1000, 3000])
        if "fanout" not in args.skip:
            figures += fanout(ceilings)
        if "memory" not in args.skip:
            figures += memory(float(ceilings[1000]["kib_per_conn"]))
    if "ingest" not in args.skip:
        figures += ingest()
    print("\n| measure | ours | reference | ratio | target | met |\n|---|---|---|---|---|---|")
    for figure in figures:
        met = "yes" if figure.met else "NO"
        print(
            f"| {figure.measure} | {figure.ours} | {figure.reference} | {figure.ratio} "
            f"| {figure.target} | {met} |"
        )


if __name__ == "__main__":
    main()
