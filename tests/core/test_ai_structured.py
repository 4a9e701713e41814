"""Structured AI answers (`ai.structured`) through the real openai and anthropic SDKs, against the fake."""

import json
import time
from collections.abc import AsyncIterator
from enum import StrEnum

import pytest
from pydantic import BaseModel, Field

from core import ai, ai_providers
from core.errors import AiUnavailable
from core.json_schema import strict_json_schema
from core.settings import get_settings
from tests.helpers.fake_ai_server import FakeAiServer, fake_ai_server, grant, point_providers_at


class Level(StrEnum):
    EASY = "EASY"
    HARD = "HARD"


class Choice(BaseModel):
    text: str = Field(min_length=1, description="What the student reads")
    correct: bool


class Question(BaseModel):
    """A quiz question."""

    prompt: str = Field(max_length=500)
    level: Level
    choices: list[Choice] = Field(min_length=2)
    hint: str | None = None
    source: Choice | None = Field(default=None, description="Where the question comes from")
    answer: Choice = Field(description="The right choice")
    points: int = 1


CHOICE = {"text": "Paris", "correct": True}
QUESTION = {
    "prompt": "The capital of France?",
    "level": "EASY",
    "choices": [CHOICE, {"text": "Lyon", "correct": False}],
    "hint": None,
    "source": None,
    "answer": CHOICE,
    "points": 1,
}
VALID = json.dumps(QUESTION)
INVALID = json.dumps({**QUESTION, "choices": [CHOICE]})  # fewer than two choices


@pytest.fixture
async def fake() -> AsyncIterator[FakeAiServer]:
    async with fake_ai_server(lambda prompt: VALID) as server:
        yield server
    await ai_providers.close_clients()


@pytest.fixture
def providers(monkeypatch: pytest.MonkeyPatch, fake: FakeAiServer) -> pytest.MonkeyPatch:
    return point_providers_at(monkeypatch, fake)


async def ask() -> ai.Structured[Question]:
    return await ai.structured(Question, system="system words", prompt="user words")


def test_the_strict_schema_closes_every_object_and_requires_every_property() -> None:
    # Given a model with a nested model used three ways, an enum, a list, an Optional and defaults
    # When its strict schema is built
    schema = strict_json_schema(Question)
    # Then every object is closed and requires all its properties; Optionals stay nullable; the
    # constraints and defaults strict mode refuses are gone; a $ref with a description is inlined
    choice = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "description": "What the student reads"},
            "correct": {"type": "boolean"},
        },
        "required": ["text", "correct"],
        "additionalProperties": False,
    }
    assert schema == {
        "type": "object",
        "description": "A quiz question.",
        "properties": {
            "prompt": {"type": "string"},
            "level": {"$ref": "#/$defs/Level"},
            "choices": {"type": "array", "items": {"$ref": "#/$defs/Choice"}},
            "hint": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "source": {
                "anyOf": [{"$ref": "#/$defs/Choice"}, {"type": "null"}],
                "description": "Where the question comes from",
            },
            "answer": {**choice, "description": "The right choice"},
            "points": {"type": "integer"},
        },
        "required": ["prompt", "level", "choices", "hint", "source", "answer", "points"],
        "additionalProperties": False,
        "$defs": {"Choice": choice, "Level": {"type": "string", "enum": ["EASY", "HARD"]}},
    }


def test_a_free_form_mapping_has_no_strict_schema() -> None:
    class Tally(BaseModel):
        counts: dict[str, int]

    with pytest.raises(TypeError, match=r"Tally\.counts: strict structured outputs cannot express"):
        strict_json_schema(Tally)


async def test_openai_is_asked_for_strict_json_schema_output(providers, fake) -> None:
    # Given only an OpenAI key
    grant(providers, "openai")
    # When a question is asked for
    answer = await ask()
    # Then the request carried the model's strict schema, and the answer is a validated instance
    [(api, body)] = fake.requests
    assert api == "openai"
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Question", "schema": strict_json_schema(Question), "strict": True},
    }
    assert body["messages"] == [
        {"role": "system", "content": "system words"},
        {"role": "user", "content": "user words"},
    ]
    assert answer == ai.Structured(Question.model_validate(QUESTION), "openai", "gpt-4o-mini", 11, 7)


async def test_anthropic_is_forced_to_call_a_tool_shaped_by_the_model(providers, fake) -> None:
    # Given only an Anthropic key
    grant(providers, "anthropic")
    # When a question is asked for
    answer = await ask()
    # Then one tool with the model's JSON schema was offered and its call forced; its input is the answer
    [(api, body)] = fake.requests
    assert api == "anthropic"
    assert [(tool["name"], tool["input_schema"]) for tool in body["tools"]] == [
        ("Question", Question.model_json_schema())
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "Question"}
    assert (body["system"], body["messages"]) == ("system words", [{"role": "user", "content": "user words"}])
    assert answer == ai.Structured(Question.model_validate(QUESTION), "anthropic", "claude-haiku-4-5", 13, 5)


async def test_an_invalid_answer_is_asked_again_once_with_the_reason(providers, fake) -> None:
    # Given an OpenAI that first answers with one choice only
    grant(providers, "openai", "anthropic")
    fake.reply(INVALID)
    # When a question is asked for
    answer = await ask()
    # Then OpenAI was asked twice, the second time told why, and both calls' tokens are counted
    assert [api for api, _ in fake.requests] == ["openai", "openai"]
    retry = fake.requests[1][1]["messages"][1]["content"]
    assert retry.startswith("user words\n\nYour previous answer was invalid: the answer does not match")
    assert "choices: List should have at least 2 items after validation, not 1" in retry
    assert (answer.provider, answer.input_tokens, answer.output_tokens) == ("openai", 22, 14)
    assert answer.value == Question.model_validate(QUESTION)


async def test_an_answer_the_check_rejects_is_asked_again(providers, fake) -> None:
    # Given a caller that accepts only hard questions
    grant(providers, "openai")
    fake.reply(VALID)
    fake.reply(json.dumps({**QUESTION, "level": "HARD"}))

    def hard_only(question: Question) -> None:
        if question.level is not Level.HARD:
            raise ai.InvalidAnswer("the question must be HARD")

    # When a question is asked for
    answer = await ai.structured(Question, system="s", prompt="p", check=hard_only)
    # Then the easy one was refused with the caller's reason and the hard one kept
    assert answer.value.level is Level.HARD
    assert "Your previous answer was invalid: the question must be HARD." in fake.prompts()[1]


async def test_two_invalid_answers_hand_over_to_the_next_provider(providers, fake) -> None:
    # Given OpenAI answering invalidly twice, then Anthropic
    grant(providers, "openai", "anthropic")
    fake.reply(INVALID)
    fake.reply("Sure! Here is your question: what is the capital of France?")
    # When a question is asked for
    answer = await ask()
    # Then Anthropic gave it, and every call's tokens are counted
    assert [api for api, _ in fake.requests] == ["openai", "openai", "anthropic"]
    assert (answer.provider, answer.model) == ("anthropic", "claude-haiku-4-5")
    assert (answer.input_tokens, answer.output_tokens) == (11 + 11 + 13, 7 + 7 + 5)


async def test_when_every_provider_fails_the_ai_is_unavailable(providers, fake) -> None:
    # Given OpenAI failing with a 500, Anthropic not calling its tool twice
    grant(providers, "openai", "anthropic")
    fake.fail(500)
    fake.reply("no tool for me")
    fake.reply("nor for me")
    # When a question is asked for
    with pytest.raises(AiUnavailable) as raised:
        await ask()
    # Then each provider's failure is told
    assert raised.value.message == (
        "No AI provider could answer (openai: HTTP 500; "
        "anthropic: answered invalidly twice (the answer did not call the tool))"
    )
    assert [api for api, _ in fake.requests] == ["openai", "anthropic", "anthropic"]


async def test_the_deadline_holds_when_every_provider_hangs(providers, fake) -> None:
    # Given two providers that hang, a long timeout per attempt, SDK retries, and a deadline of 0.6s
    grant(providers, "openai", "anthropic")
    settings = get_settings()
    providers.setattr(settings, "ai_timeout_seconds", 10.0)
    providers.setattr(settings, "ai_max_retries", 3)
    providers.setattr(settings, "ai_deadline_seconds", 0.6)
    for _ in range(8):
        fake.stall(1.5)
    # When a question is asked for
    started = time.monotonic()
    with pytest.raises(AiUnavailable) as raised:
        await ask()
    elapsed = time.monotonic() - started
    # Then the caller hears at the deadline, not after retries x timeouts
    assert 0.6 <= elapsed < 1.0
    assert raised.value.message.startswith("No AI provider answered within 0.6s (")
    assert raised.value.code.value == "AI_UNAVAILABLE"


async def test_a_hanging_provider_hands_over_to_the_next_within_the_deadline(providers, fake) -> None:
    # Given OpenAI hanging past its attempt's timeout, and time left for Anthropic
    grant(providers, "openai", "anthropic")
    providers.setattr(get_settings(), "ai_deadline_seconds", 2.0)
    fake.stall(1.0)
    # When a question is asked for
    answer = await ask()
    # Then Anthropic answered
    assert answer.provider == "anthropic"
    assert [api for api, _ in fake.requests] == ["openai", "anthropic"]


async def test_one_client_and_its_connection_serve_every_call(providers, fake) -> None:
    # Given an OpenAI key
    grant(providers, "openai")
    # When three answers are asked for, structured and free text
    await ask()
    await ask()
    await ai.complete("s", "p", json_output=False)
    # Then they came over one connection: the same client (and pool) served them all
    assert len(fake.peers) == 3 and len(set(fake.peers)) == 1


async def test_without_any_key_the_ai_is_unavailable_at_once(providers, fake) -> None:
    with pytest.raises(AiUnavailable) as raised:
        await ask()
    assert raised.value.message == "No AI provider is configured"
    assert fake.requests == []
