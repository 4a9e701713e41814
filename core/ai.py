"""The AI-provider layer: structured answers (`structured`) and free text (`complete`) over OpenAI,
Anthropic and Together.

`structured` takes a Pydantic model and returns a validated instance of it. OpenAI-compatible providers
get `response_format` of type `json_schema` (strict) built from the model (`strict_json_schema`);
Anthropic gets a forced call of one tool whose `input_schema` is the model's JSON schema. The answer is
still validated with the model (and the caller's `check`), an invalid one is asked for once more with the
reason, and a second invalid answer hands over to the next provider.

Providers are tried in `settings.ai_provider_order`, skipping those without a key, all under one deadline
(`ai_deadline_seconds`): each call's timeout is cut to what is left of it, and the SDKs' own retries of
connection errors, 408/409/429 and 5xx (`ai_max_retries`) stay inside it. When every configured provider
fails, the deadline passes, or none is configured, `AiUnavailable` is raised; callers decide whether they
have a fallback. Clients never send prompts: callers build them from their own data.

Each process keeps one SDK client per provider (its connection pool), built on first use and closed by
`close_clients` when the api or the worker shuts down.
"""

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import anthropic
import openai
from anthropic.types import ToolChoiceToolParam, ToolParam
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONObject, ResponseFormatJSONSchema
from pydantic import BaseModel, ValidationError

from core.ai_providers import Provider, Wire, anthropic_client, configured_providers, openai_client
from core.errors import AiUnavailable
from core.json_schema import strict_json_schema
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 4096

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")


@dataclass(frozen=True)
class Completion:
    text: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Structured(Generic[T]):
    """A validated answer, the provider and model that gave it, and the tokens it cost (every call made
    for it, invalid answers and failed providers included)."""

    value: T
    provider: str
    model: str
    input_tokens: int
    output_tokens: int


class InvalidAnswer(Exception):
    """An answer that does not satisfy the model or the caller's check; the message says why, and is
    shown to the model when it is asked again."""


# ---- the two calls ----------------------------------------------------------------------------------


async def structured(
    model: type[T],
    *,
    system: str,
    prompt: str,
    check: Callable[[T], None] | None = None,
    settings: Settings | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> Structured[T]:
    """An instance of `model` from the first provider that gives a valid one; AiUnavailable otherwise.

    `check` may reject a schema-valid answer by raising InvalidAnswer (for example, one that cites ids
    that do not exist); such an answer is asked for again like any invalid one.
    """
    settings = settings or get_settings()
    spent = _Tokens()

    async def ask(provider: Provider, deadline: _Deadline) -> Structured[T]:
        reply = await _call(provider, settings, deadline, system, prompt, max_tokens, model)
        spent.add(reply)
        try:
            value = _validated(model, reply, check)
        except InvalidAnswer as error:
            logger.info("invalid answer from AI provider %s (%s); asking once more", provider.name, error)
            again = f"{prompt}\n\nYour previous answer was invalid: {error}. Answer following the schema."
            reply = await _call(provider, settings, deadline, system, again, max_tokens, model)
            spent.add(reply)
            value = _validated(model, reply, check)
        return Structured(value, provider.name, reply.model, spent.input, spent.output)

    return await _first_answer(settings, ask)


async def complete(
    system: str,
    prompt: str,
    *,
    json_output: bool = True,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    settings: Settings | None = None,
) -> Completion:
    """Free text (or, with `json_output`, any JSON object) from the first provider that answers."""
    settings = settings or get_settings()

    async def ask(provider: Provider, deadline: _Deadline) -> Completion:
        output: _Output = "json_object" if json_output else None
        reply = await _call(provider, settings, deadline, system, prompt, max_tokens, output)
        text = reply.answer if isinstance(reply.answer, str) else json.dumps(reply.answer)
        return Completion(text, provider.name, reply.model, reply.input_tokens, reply.output_tokens)

    return await _first_answer(settings, ask)


# ---- providers in order, under one deadline ---------------------------------------------------------


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = asyncio.get_running_loop().time() + seconds

    def call_timeout(self, settings: Settings) -> float:
        """One attempt's timeout: the configured one, cut to what is left of the deadline."""
        left = self.at - asyncio.get_running_loop().time()
        return max(0.001, min(settings.ai_timeout_seconds, left))


async def _first_answer(settings: Settings, ask: Callable[[Provider, _Deadline], Awaitable[R]]) -> R:
    providers = configured_providers(settings)
    if not providers:
        raise AiUnavailable("No AI provider is configured")
    deadline = _Deadline(settings.ai_deadline_seconds)
    failures: list[str] = []
    current = providers[0]
    try:
        async with asyncio.timeout_at(deadline.at):
            for current in providers:
                try:
                    return await ask(current, deadline)
                except (openai.APIError, anthropic.APIError) as error:
                    failures.append(f"{current.name}: {_describe(error)}")
                except InvalidAnswer as error:
                    failures.append(f"{current.name}: answered invalidly twice ({error})")
                logger.warning("AI provider failed: %s", failures[-1])
    except TimeoutError:
        failures.append(f"{current.name}: out of time")
        logger.warning("AI deadline of %gs passed while asking %s", deadline.seconds, current.name)
        raise AiUnavailable(
            f"No AI provider answered within {deadline.seconds:g}s (" + "; ".join(failures) + ")"
        ) from None
    raise AiUnavailable("No AI provider could answer (" + "; ".join(failures) + ")")


def _describe(error: Exception) -> str:
    if isinstance(error, openai.APITimeoutError | anthropic.APITimeoutError):
        return "timed out"
    status = getattr(error, "status_code", None)
    return f"HTTP {status}" if status else type(error).__name__


# ---- one call over a provider's wire ----------------------------------------------------------------


# What a call asks for: an instance of a model, any JSON object (OpenAI-compatible only), or free text.
_Output = type[BaseModel] | Literal["json_object"] | None


@dataclass(frozen=True)
class _Reply:
    """What one call brought back: the JSON text or tool input, or why there is no usable answer."""

    answer: str | dict[str, object]
    problem: str | None
    model: str
    input_tokens: int
    output_tokens: int


@dataclass
class _Tokens:
    input: int = 0
    output: int = 0

    def add(self, reply: _Reply) -> None:
        self.input += reply.input_tokens
        self.output += reply.output_tokens


async def _call(
    provider: Provider,
    settings: Settings,
    deadline: _Deadline,
    system: str,
    prompt: str,
    max_tokens: int,
    output: _Output,
) -> _Reply:
    timeout = deadline.call_timeout(settings)
    if provider.wire is Wire.ANTHROPIC:
        schema_model = output if isinstance(output, type) else None
        return await _ask_anthropic(provider, settings, timeout, system, prompt, max_tokens, schema_model)
    return await _ask_openai(provider, settings, timeout, system, prompt, max_tokens, output)


async def _ask_openai(
    provider: Provider,
    settings: Settings,
    timeout: float,
    system: str,
    prompt: str,
    max_tokens: int,
    output: _Output,
) -> _Reply:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": system},
        {"role": "user", "content": prompt},
    ]
    response_format: ResponseFormatJSONSchema | ResponseFormatJSONObject | openai.Omit = openai.omit
    if isinstance(output, type):
        response_format = {
            "type": "json_schema",
            "json_schema": {
                "name": _schema_name(output),
                "schema": strict_json_schema(output),
                "strict": True,
            },
        }
    elif output is not None:
        response_format = {"type": "json_object"}
    response = await openai_client(provider, settings).chat.completions.create(
        model=provider.model,
        messages=messages,
        max_tokens=max_tokens,
        response_format=response_format,
        timeout=timeout,
    )
    usage = response.usage
    choice = response.choices[0] if response.choices else None
    problem = None
    if choice is None:
        problem = "there was no answer"
    elif choice.message.refusal:
        problem = f"the model refused: {choice.message.refusal[:200]}"
    elif choice.finish_reason == "length":
        problem = f"the answer was cut off at {max_tokens} tokens"
    return _Reply(
        answer=(choice.message.content or "") if choice else "",
        problem=problem,
        model=response.model or provider.model,
        input_tokens=usage.prompt_tokens if usage else 0,
        output_tokens=usage.completion_tokens if usage else 0,
    )


async def _ask_anthropic(
    provider: Provider,
    settings: Settings,
    timeout: float,
    system: str,
    prompt: str,
    max_tokens: int,
    output: type[BaseModel] | None,
) -> _Reply:
    client = anthropic_client(provider, settings)
    if output is None:
        response = await client.messages.create(
            model=provider.model,
            system=system,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=max_tokens,
            timeout=timeout,
        )
    else:
        # One tool, and the model must call it: its input is the answer, shaped by the model's schema.
        name = _schema_name(output)
        tool: ToolParam = {
            "name": name,
            "description": f"Give your answer as the input of this tool ({name}).",
            "input_schema": output.model_json_schema(),
        }
        forced: ToolChoiceToolParam = {"type": "tool", "name": name}
        response = await client.messages.create(
            model=provider.model,
            system=system,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=max_tokens,
            tools=[tool],
            tool_choice=forced,
            timeout=timeout,
        )
    problem = None
    answer: str | dict[str, object] = "".join(b.text for b in response.content if b.type == "text")
    if output is not None:
        calls = [b for b in response.content if b.type == "tool_use" and b.name == _schema_name(output)]
        if calls:
            answer = calls[0].input
        else:
            problem = "the answer did not call the tool"
    if response.stop_reason == "max_tokens":
        problem = f"the answer was cut off at {max_tokens} tokens"
    return _Reply(
        answer=answer,
        problem=problem,
        model=response.model or provider.model,
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
    )


def _validated(model: type[T], reply: _Reply, check: Callable[[T], None] | None) -> T:
    if reply.problem:
        raise InvalidAnswer(reply.problem)
    try:
        if isinstance(reply.answer, str):
            value = model.model_validate_json(_strip_fence(reply.answer))
        else:
            value = model.model_validate(reply.answer)
    except ValidationError as error:
        raise InvalidAnswer(_explain(error)) from error
    if check is not None:
        check(value)
    return value


def _explain(error: ValidationError) -> str:
    """The first few problems, by place and kind (never echoing the answer's own text back)."""
    details = error.errors(include_input=False, include_url=False, include_context=False)
    where = [
        f"{'.'.join(str(part) for part in detail['loc']) or 'the answer'}: {detail['msg']}"
        for detail in details[:3]
    ]
    more = f" and {len(details) - 3} more" if len(details) > 3 else ""
    return "the answer does not match the schema (" + "; ".join(where) + more + ")"


def _strip_fence(text: str) -> str:
    """Some models wrap JSON in a Markdown code fence even when told not to."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[-1].rsplit("```", 1)[0]
    return stripped


def _schema_name(model: type[BaseModel]) -> str:
    """Response formats and tools are named by `^[a-zA-Z0-9_-]{1,64}$`."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", model.__name__)[:64]
