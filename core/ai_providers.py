"""The AI providers this process may call, and one SDK client per provider (its connection pool), built on
first use and closed by `close_clients` when the api or the worker shuts down. Together speaks the
OpenAI wire format, through the OpenAI SDK with its own base URL."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import anthropic
import openai

from core.settings import Settings, get_settings


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


# One SDK client per provider and process.

_ClientKey = tuple[str, str, str | None, int]
_openai_clients: dict[_ClientKey, openai.AsyncOpenAI] = {}
_anthropic_clients: dict[_ClientKey, anthropic.AsyncAnthropic] = {}


def _client_key(provider: Provider, settings: Settings) -> _ClientKey:
    return (provider.name, provider.api_key, provider.base_url, settings.ai_max_retries)


def _client_options(provider: Provider, settings: Settings) -> dict[str, Any]:
    """The SDKs apply the timeout to each attempt and back off exponentially between retries."""
    return {
        "api_key": provider.api_key,
        "base_url": provider.base_url,
        "timeout": settings.ai_timeout_seconds,
        "max_retries": settings.ai_max_retries,
    }


def openai_client(provider: Provider, settings: Settings) -> openai.AsyncOpenAI:
    key = _client_key(provider, settings)
    if key not in _openai_clients:
        _openai_clients[key] = openai.AsyncOpenAI(**_client_options(provider, settings))
    return _openai_clients[key]


def anthropic_client(provider: Provider, settings: Settings) -> anthropic.AsyncAnthropic:
    key = _client_key(provider, settings)
    if key not in _anthropic_clients:
        _anthropic_clients[key] = anthropic.AsyncAnthropic(**_client_options(provider, settings))
    return _anthropic_clients[key]


async def close_clients() -> None:
    """Closes the SDK clients (their connection pools); the next call builds them again."""
    clients: list[openai.AsyncOpenAI | anthropic.AsyncAnthropic] = [
        *_openai_clients.values(),
        *_anthropic_clients.values(),
    ]
    _openai_clients.clear()
    _anthropic_clients.clear()
    for client in clients:
        await client.close()
