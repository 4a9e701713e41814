"""The AI-provider layer through the real openai and anthropic SDKs, against a local fake server."""

from collections.abc import AsyncIterator

import pytest

from core import ai
from core.errors import AiUnavailable
from core.settings import get_settings
from tests.helpers.fake_ai_server import FakeAiServer, fake_ai_server, grant, point_providers_at


@pytest.fixture
async def fake() -> AsyncIterator[FakeAiServer]:
    async with fake_ai_server() as server:
        yield server


@pytest.fixture
def providers(monkeypatch: pytest.MonkeyPatch, fake: FakeAiServer) -> pytest.MonkeyPatch:
    return point_providers_at(monkeypatch, fake)


async def test_openai_answers_through_its_sdk(providers, fake) -> None:
    # Given only an OpenAI key
    grant(providers, "openai")
    fake.reply('{"answer": 42}')
    # When a completion is asked for
    completion = await ai.complete("system words", "user words")
    # Then the OpenAI wire format carried it both ways
    assert completion == ai.Completion('{"answer": 42}', "openai", "gpt-4o-mini", 11, 7)
    [(api, body)] = fake.requests
    assert api == "openai"
    assert body["messages"] == [
        {"role": "system", "content": "system words"},
        {"role": "user", "content": "user words"},
    ]
    assert body["response_format"] == {"type": "json_object"}


async def test_anthropic_answers_through_its_sdk(providers, fake) -> None:
    grant(providers, "anthropic")
    fake.reply("plain text")
    completion = await ai.complete("system words", "user words", json_output=False)
    assert completion == ai.Completion("plain text", "anthropic", "claude-haiku-4-5", 13, 5)
    [(api, body)] = fake.requests
    assert (api, body["system"], body["messages"]) == (
        "anthropic",
        "system words",
        [{"role": "user", "content": "user words"}],
    )


async def test_together_goes_through_the_openai_sdk_with_its_model(providers, fake) -> None:
    grant(providers, "together")
    completion = await ai.complete("s", "p")
    assert (completion.provider, completion.model) == ("together", get_settings().together_model)
    assert [api for api, _ in fake.requests] == ["openai"]


async def test_providers_are_tried_in_the_configured_order(providers, fake) -> None:
    # Given all three keys and Anthropic first
    grant(providers, "openai", "anthropic", "together")
    providers.setattr(get_settings(), "ai_provider_order", ["anthropic", "openai", "together"])
    # When a completion is asked for
    completion = await ai.complete("s", "p")
    # Then Anthropic answered and nobody else was asked
    assert completion.provider == "anthropic"
    assert [api for api, _ in fake.requests] == ["anthropic"]


async def test_a_failing_provider_hands_over_to_the_next(providers, fake) -> None:
    grant(providers, "openai", "anthropic")
    fake.fail(500)
    completion = await ai.complete("s", "p")
    assert completion.provider == "anthropic"
    assert [api for api, _ in fake.requests] == ["openai", "anthropic"]


async def test_server_errors_are_retried_with_backoff_by_the_sdk(providers, fake) -> None:
    # Given one retry allowed and a first answer that is a 503
    grant(providers, "openai")
    providers.setattr(get_settings(), "ai_max_retries", 1)
    fake.fail(503)
    # When a completion is asked for
    completion = await ai.complete("s", "p")
    # Then the same provider answered on its retry
    assert completion.provider == "openai"
    assert [api for api, _ in fake.requests] == ["openai", "openai"]


async def test_a_timeout_makes_the_ai_unavailable_when_nobody_else_can_answer(providers, fake) -> None:
    grant(providers, "openai")
    fake.stall(1.0)
    with pytest.raises(AiUnavailable) as raised:
        await ai.complete("s", "p")
    assert raised.value.message == "No AI provider could answer (openai: timed out)"
    assert raised.value.code.value == "AI_UNAVAILABLE"


async def test_without_any_key_the_ai_is_unavailable(providers, fake) -> None:
    with pytest.raises(AiUnavailable) as raised:
        await ai.complete("s", "p")
    assert raised.value.message == "No AI provider is configured"
    assert fake.requests == []
