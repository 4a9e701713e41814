"""Liveness, readiness with a component down or degraded, Prometheus metrics and Android App Links."""

import asyncio
import math
import re
import time

import httpx
import pytest

from app import create_app
from core import health, metrics
from core.redis import redis
from core.settings import get_settings
from devstack import free_port
from tests.client import GraphQLClient

COMPONENTS = {"postgres", "redis", "kafka"}


def _closed_port_settings(component: str) -> dict[str, str]:
    """Settings that point one component at a local port nothing listens on."""
    port = free_port()
    settings = get_settings()
    if component == "postgres":
        return {"database_url": re.sub(r"@[^/]+/", f"@127.0.0.1:{port}/", settings.database_url)}
    if component == "redis":
        return {"redis_url": f"redis://127.0.0.1:{port}/0"}
    return {"kafka_bootstrap_servers": f"127.0.0.1:{port}"}


async def _ready(**overrides: str) -> httpx.Response:
    app = create_app(get_settings().model_copy(update=overrides))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        return await http.get("/health/ready")


async def test_liveness_answers_ok(gql: GraphQLClient) -> None:
    response = await gql.http.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readiness_reports_each_component_up_with_its_latency(gql: GraphQLClient) -> None:
    response = await gql.http.get("/health/ready")
    body = response.json()
    assert (response.status_code, body["status"]) == (200, "ready")
    assert set(body["components"]) == COMPONENTS
    for name, component in body["components"].items():
        assert component["status"] == "up", name
        assert 0 <= component["latencyMs"] < health.CHECK_TIMEOUT_SECONDS * 1000, name


@pytest.mark.parametrize("down", sorted(COMPONENTS))
async def test_readiness_is_503_when_a_component_is_down(down: str) -> None:
    # Given an api process whose settings point one component at a closed port
    response = await _ready(**_closed_port_settings(down))
    # Then it is unready, names the component that is down, and still reports the others up
    body = response.json()
    assert (response.status_code, body["status"]) == (503, "unready")
    assert body["components"][down]["status"] == "down"
    assert body["components"][down]["detail"]
    assert {name for name, c in body["components"].items() if c["status"] == "up"} == COMPONENTS - {down}


async def test_a_component_with_an_active_fallback_is_degraded_but_ready() -> None:
    # Given Kafka unreachable while its owner reports that activity goes straight to Postgres
    unregister = health.register_degraded_reason("kafka", lambda: "writing activity straight to Postgres")
    try:
        response = await _ready(**_closed_port_settings("kafka"))
    finally:
        unregister()
    body = response.json()
    assert (response.status_code, body["status"]) == (200, "ready")
    assert body["components"]["kafka"]["status"] == "degraded"
    assert body["components"]["kafka"]["detail"] == "writing activity straight to Postgres"


async def test_a_fallback_that_gives_no_reason_leaves_the_component_up(gql: GraphQLClient) -> None:
    unregister = health.register_degraded_reason("kafka", lambda: None)
    try:
        body = (await gql.http.get("/health/ready")).json()
    finally:
        unregister()
    assert body["components"]["kafka"]["status"] == "up"


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    prefix = f"{name}{{{wanted}}} " if labels else f"{name} "
    line = next((line for line in text.splitlines() if line.startswith(prefix)), None)
    return float(line.rsplit(" ", 1)[1]) if line else 0.0


async def test_metrics_count_requests_and_time_operations_by_name(gql: GraphQLClient) -> None:
    # Given the metrics before, when a named query runs
    before = (await gql.http.get("/metrics")).text
    await gql.data("query Me { me { id } }")
    response = await gql.http.get("/metrics")
    # Then the operation and its HTTP request are counted, and its latency observed
    after = response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    operation = {"operation": "Me", "type": "query"}
    assert _sample(after, "studymate_graphql_operations_total", **operation, outcome="ok") == (
        _sample(before, "studymate_graphql_operations_total", **operation, outcome="ok") + 1
    )
    assert _sample(after, "studymate_graphql_operation_duration_seconds_count", **operation) == (
        _sample(before, "studymate_graphql_operation_duration_seconds_count", **operation) + 1
    )
    request = {"method": "POST", "route": "/graphql", "status": "200"}
    assert _sample(after, "studymate_http_requests_total", **request) >= (
        _sample(before, "studymate_http_requests_total", **request) + 1
    )
    assert "studymate_graphql_subscriptions " in after


async def test_metrics_await_registered_scrape_hooks(gql: GraphQLClient) -> None:
    # Given a gauge that another part of the system refreshes only when scraped
    scrapes: list[int] = []

    async def hook() -> None:
        scrapes.append(1)

    unregister = metrics.register_scrape_hook(hook)
    try:
        await gql.http.get("/metrics")
        await gql.http.get("/metrics")
    finally:
        unregister()
    await gql.http.get("/metrics")
    assert scrapes == [1, 1]


async def test_a_failing_scrape_hook_does_not_break_metrics(gql: GraphQLClient) -> None:
    async def broken() -> None:
        raise ConnectionError("lag source unreachable")

    unregister = metrics.register_scrape_hook(broken)
    try:
        response = await gql.http.get("/metrics")
    finally:
        unregister()
    assert response.status_code == 200
    assert "studymate_http_requests_total" in response.text


async def test_assetlinks_declares_the_android_app_from_settings() -> None:
    settings = get_settings().model_copy(
        update={"android_package_name": "kr.studymate.app", "android_cert_fingerprints": ["AB:CD:EF"]}
    )
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        response = await http.get("/.well-known/assetlinks.json")
    assert response.status_code == 200
    assert response.json() == [
        {
            "relation": ["delegate_permission/common.handle_all_urls"],
            "target": {
                "namespace": "android_app",
                "package_name": "kr.studymate.app",
                "sha256_cert_fingerprints": ["AB:CD:EF"],
            },
        }
    ]


async def _database_connections() -> int:
    from sqlalchemy import text

    from core.db import read_session

    async with read_session() as db:
        query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return int((await db.execute(query)).scalar_one())


async def test_260_concurrent_readiness_calls_agree_and_open_no_connections(api_url: str) -> None:
    # Given a warmed-up api (its pools hold their connections)
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        assert (await http.get("/health/ready")).status_code == 200
        await asyncio.sleep(health.CACHE_SECONDS)
        connections_before = await _database_connections()
        clients_before = int((await redis().info("clients"))["connected_clients"])
        # When 260 readiness probes arrive at once
        started = time.monotonic()
        responses = await asyncio.gather(*(http.get("/health/ready") for _ in range(260)))
        elapsed = time.monotonic() - started
        connections_after = await _database_connections()
        clients_after = int((await redis().info("clients"))["connected_clients"])
    # Then every one says ready, from one round of checks per second at most
    assert {response.status_code for response in responses} == {200}
    assert {response.json()["status"] for response in responses} == {"ready"}
    rounds = {response.text for response in responses}
    assert len(rounds) <= math.ceil(elapsed / health.CACHE_SECONDS) + 1, (len(rounds), elapsed)
    # And no connection was opened for them
    assert connections_after <= connections_before
    assert clients_after <= clients_before


async def test_a_readiness_result_is_reused_for_a_second_then_checked_again() -> None:
    probe = health.ReadinessProbe(get_settings())
    try:
        first = await probe.readiness()
        again = await probe.readiness()
        await asyncio.sleep(health.CACHE_SECONDS)
        later = await probe.readiness()
    finally:
        await probe.close()
    assert again.as_json() == first.as_json()
    assert later.as_json() != first.as_json()  # fresh latencies
