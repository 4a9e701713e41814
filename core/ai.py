"""The AI-provider layer: one `complete` call over OpenAI, Anthropic and Together.

Providers are tried in `settings.ai_provider_order`, skipping those without a key. Each call goes through
the provider's own SDK (Together through the OpenAI SDK with its base URL), which applies the timeout and
retries connection errors, 408/409/429 and 5xx answers with exponential backoff (`ai_max_retries`).
When every configured provider fails, or none is configured, `AiUnavailable` is raised; callers decide
whether they have a fallback. Clients never send prompts: callers build them from their own data.
"""

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import anthropic
import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONObject

from core.errors import AiUnavailable
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 4096


class Wire(StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"


@dataclass(frozen=True)
class Provider:
    name: str
    wire: Wire
    model: str
    api_key: str
    base_url: str | None


@dataclass(frozen=True)
class Completion:
    text: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int


def configured_providers(settings: Settings | None = None) -> list[Provider]:
    settings = settings or get_settings()
    available = {
        "openai": Provider(
            "openai",
            Wire.OPENAI,
            settings.openai_model,
            settings.openai_api_key or "",
            settings.openai_base_url,
        ),
        "anthropic": Provider(
            "anthropic",
            Wire.ANTHROPIC,
            settings.anthropic_model,
            settings.anthropic_api_key or "",
            settings.anthropic_base_url,
        ),
        "together": Provider(
            "together",
            Wire.OPENAI,
            settings.together_model,
            settings.together_api_key or "",
            settings.together_base_url,
        ),
    }
    order = [name.strip().lower() for name in settings.ai_provider_order]
    return [available[name] for name in order if name in available and available[name].api_key]


async def complete(
    system: str, prompt: str, *, json_output: bool = True, max_tokens: int = DEFAULT_MAX_TOKENS
) -> Completion:
    """The first answer a configured provider gives; AiUnavailable when none can answer."""
    settings = get_settings()
    providers = configured_providers(settings)
    if not providers:
        raise AiUnavailable("No AI provider is configured")
    failures = []
    for provider in providers:
        try:
            if provider.wire is Wire.ANTHROPIC:
                return await _ask_anthropic(provider, settings, system, prompt, max_tokens)
            return await _ask_openai(provider, settings, system, prompt, json_output, max_tokens)
        except (openai.APIError, anthropic.APIError) as error:
            logger.warning("AI provider %s failed: %s", provider.name, _describe(error))
            failures.append(f"{provider.name}: {_describe(error)}")
    raise AiUnavailable("No AI provider could answer (" + "; ".join(failures) + ")")


def _describe(error: Exception) -> str:
    if isinstance(error, openai.APITimeoutError | anthropic.APITimeoutError):
        return "timed out"
    status = getattr(error, "status_code", None)
    return f"HTTP {status}" if status else type(error).__name__


def _client_options(provider: Provider, settings: Settings) -> dict[str, Any]:
    """The SDKs apply the timeout to each attempt and back off exponentially between retries."""
    return {
        "api_key": provider.api_key,
        "base_url": provider.base_url,
        "timeout": settings.ai_timeout_seconds,
        "max_retries": settings.ai_max_retries,
    }


async def _ask_openai(
    provider: Provider, settings: Settings, system: str, prompt: str, json_output: bool, max_tokens: int
) -> Completion:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": system},
        {"role": "user", "content": prompt},
    ]
    json_object: ResponseFormatJSONObject = {"type": "json_object"}
    async with openai.AsyncOpenAI(**_client_options(provider, settings)) as client:
        response = await client.chat.completions.create(
            model=provider.model,
            messages=messages,
            max_tokens=max_tokens,
            response_format=json_object if json_output else openai.omit,
        )
    usage = response.usage
    return Completion(
        text=(response.choices[0].message.content or "") if response.choices else "",
        provider=provider.name,
        model=response.model or provider.model,
        input_tokens=usage.prompt_tokens if usage else 0,
        output_tokens=usage.completion_tokens if usage else 0,
    )


async def _ask_anthropic(
    provider: Provider, settings: Settings, system: str, prompt: str, max_tokens: int
) -> Completion:
    async with anthropic.AsyncAnthropic(**_client_options(provider, settings)) as client:
        response = await client.messages.create(
            model=provider.model,
            system=system,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=max_tokens,
        )
    text = "".join(block.text for block in response.content if block.type == "text")
    return Completion(
        text=text,
        provider=provider.name,
        model=response.model or provider.model,
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
    )
