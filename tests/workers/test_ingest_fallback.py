"""Kafka down → the api writes straight to Postgres and says so → Kafka back → producing again.

A second embedded broker of its own is stopped and restarted on the same port, so the shared one is
never touched.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from core import health, kafka
from core.settings import get_settings
from devstack import EmbeddedKafka, server
from tests.helpers.recordings import APPEND, clicks, event_count, instructor, start_recording


@pytest.fixture
async def own_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[EmbeddedKafka]:
    """A broker of this test's own, and the api's producer pointed at it with short timeouts."""
    broker = EmbeddedKafka(tmp_path)
    bootstrap = broker.start()
    producer = kafka.ActivityProducer(
        bootstrap, get_settings().kafka_activity_topic, send_timeout=2.0, retry_interval=0.0
    )
    monkeypatch.setattr(kafka, "_producer", producer)
    # What app.py wires up, so /health/ready reports this process's producer.
    health.register_degraded_reason("kafka", kafka.kafka_degraded_reason)
    try:
        yield broker
    finally:
        await producer.close()
        broker.stop()


def fallback_events() -> float:
    return REGISTRY.get_sample_value("studymate_activity_fallback_events_total") or 0.0


async def test_kafka_down_falls_back_to_postgres_then_back_to_kafka(
    gql, api_url, own_broker, monkeypatch
) -> None:
    owner = await instructor()
    recording_id = await start_recording(gql, owner)
    variables = {"id": recording_id}

    # Given Kafka up: batches are produced
    up = await gql.data(APPEND, {**variables, "events": clicks(2)}, token=owner.token)
    assert up["appendRecordingEvents"]["deliveredVia"] == "KAFKA"

    # When Kafka goes down
    port = own_broker.port
    own_broker.stop()
    before = fallback_events()
    down = await gql.data(APPEND, {**variables, "events": clicks(3)}, token=owner.token)

    # Then the batch is written straight to Postgres, counted, and readiness says Kafka is degraded
    assert down["appendRecordingEvents"] == {
        "recordingId": recording_id,
        "accepted": 3,
        "deliveredVia": "DATABASE",
    }
    assert await event_count(recording_id) == 3
    assert fallback_events() - before == 3
    metrics = (await gql.http.get("/metrics")).text
    assert f"studymate_activity_fallback_events_total {fallback_events()}" in metrics
    ready = await gql.http.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["components"]["kafka"]["status"] == "degraded"

    # And once Kafka is back on its address, batches are produced again and readiness recovers
    monkeypatch.setattr(server, "free_port", lambda: port)
    own_broker.start()
    back = await gql.data(APPEND, {**variables, "events": clicks(1)}, token=owner.token)
    assert back["appendRecordingEvents"]["deliveredVia"] == "KAFKA"
    assert kafka.kafka_degraded_reason() is None
    assert (await gql.http.get("/health/ready")).json()["components"]["kafka"]["status"] != "degraded"
