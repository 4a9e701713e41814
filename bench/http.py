"""HTTP throughput of `studymate api`: requests/s and p50/p99 latency for a trivial query and for `me`.

Starts embedded Postgres, Redis and Kafka in a temporary directory (or uses DATABASE_URL, REDIS_URL and
KAFKA_BOOTSTRAP_SERVERS when set), migrates, runs `studymate api` on a free port, registers one
user, then sends each scenario's requests from a bounded number of concurrent clients until the request
count or the time limit is reached.

    uv run python -m bench.http --requests 5000 --concurrency 32
"""

import argparse
import asyncio
import time
from dataclasses import dataclass

import httpx

from bench.harness import components, percentile, studymate, wait_until_healthy
from devstack import free_port

TRIVIAL = "query Trivial { __typename }"
ME = "query Me { me { id email name } }"
REGISTER = """mutation Register($input: RegisterInput!) { register(input: $input) { accessToken } }"""
WARMUP_REQUESTS = 200


@dataclass(frozen=True)
class Result:
    name: str
    latencies: list[float]
    failures: int
    seconds: float

    def line(self) -> str:
        p50 = percentile(self.latencies, 0.5) * 1000
        p99 = percentile(self.latencies, 0.99) * 1000
        rate = len(self.latencies) / self.seconds
        return (
            f"{self.name:<8} {len(self.latencies):>7} requests  {rate:>8.0f} req/s  "
            f"p50 {p50:>6.2f} ms  p99 {p99:>6.2f} ms  failures {self.failures}"
        )


async def _token(http: httpx.AsyncClient) -> str:
    variables = {"input": {"email": "bench@example.com", "password": "bench-password-1", "name": "Bench"}}
    body = (await http.post("/graphql", json={"query": REGISTER, "variables": variables})).json()
    token: str = body["data"]["register"]["accessToken"]
    return token


async def _drive(
    http: httpx.AsyncClient, name: str, query: str, headers: dict[str, str], args: argparse.Namespace
) -> Result:
    payload = {"query": query}
    latencies: list[float] = []
    failures = 0
    remaining = args.requests
    deadline = time.perf_counter() + args.seconds

    async def client() -> None:
        nonlocal remaining, failures
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            started = time.perf_counter()
            response = await http.post("/graphql", json=payload, headers=headers)
            elapsed = time.perf_counter() - started
            if response.status_code == 200 and "errors" not in response.json():
                latencies.append(elapsed)
            else:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(args.concurrency)))
    return Result(name, latencies, failures, time.perf_counter() - started)


async def _run(api_url: str, args: argparse.Namespace) -> list[Result]:
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    await wait_until_healthy(api_url)
    async with httpx.AsyncClient(base_url=api_url, limits=limits, timeout=30) as http:
        auth = {"Authorization": f"Bearer {await _token(http)}"}
        scenarios = [("trivial", TRIVIAL, {}), ("me", ME, auth)]
        results = []
        for name, query, headers in scenarios:
            warmup = argparse.Namespace(**{**vars(args), "requests": WARMUP_REQUESTS})
            await _drive(http, name, query, headers, warmup)
            results.append(await _drive(http, name, query, headers, args))
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="per scenario")
    parser.add_argument("--concurrency", type=int, default=32, help="clients sending at once")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per scenario")
    parser.add_argument("--workers", type=int, default=1, help="api worker processes")
    args = parser.parse_args()
    port = free_port()
    api = ["api", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)]
    with components() as tmp, studymate(api, tmp / "api.log"):
        results = asyncio.run(_run(f"http://127.0.0.1:{port}", args))
    print(f"studymate api, {args.workers} worker(s), {args.concurrency} concurrent clients, over HTTP/1.1")
    for result in results:
        print(result.line())


if __name__ == "__main__":
    main()
