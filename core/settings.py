"""The one place configuration is read from the environment."""

import json
from functools import lru_cache
from typing import Annotated

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _string_list(value: object) -> object:
    """Lists come from the environment as JSON (`["a","b"]`) or, more simply, comma-separated (`a,b`)."""
    if not isinstance(value, str):
        return value
    if value.strip().startswith("["):
        return json.loads(value)
    return [item.strip() for item in value.split(",") if item.strip()]


StringList = Annotated[list[str], NoDecode, BeforeValidator(_string_list)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: str = "development"
    # Required in production; the development default is refused when ENVIRONMENT=production.
    secret_key: str = "dev-insecure-secret-key-change-me-0123456789"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/studymate"
    # Connections per process, kept open once opened; a checkout beyond them waits for one. (Overflow
    # connections, opened for a burst and closed at once after it, made a read-heavy burst open a new
    # Postgres backend every few requests.)
    database_pool_size: int = 20
    # A pooled connection idle longer than this is pinged before use (a lost one is replaced): pinging
    # every checkout doubled the round trips of a request whose DataLoaders each check one out.
    database_ping_after_idle_seconds: float = 10.0
    redis_url: str = "redis://127.0.0.1:6379/0"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_activity_topic: str = "activity-logs"
    kafka_consumer_group: str = "studymate-activity-drain"

    public_url: str = "http://127.0.0.1:8000"
    # Proxies (addresses or CIDRs) whose X-Forwarded-For is believed; nobody's by default.
    trusted_proxies: StringList = Field(default_factory=list)
    cors_origins: StringList = Field(
        default_factory=lambda: ["http://localhost:3000", "http://127.0.0.1:3000"]
    )

    access_token_minutes: int = 15
    refresh_token_days: int = 14
    instructor_invite_code: str | None = None

    login_max_failures: int = 5
    login_lock_minutes: int = 30

    graphql_introspection: bool = True
    graphql_max_depth: int = 12
    graphql_max_tokens: int = 2000
    graphql_max_aliases: int = 30
    graphql_parser_cache_size: int = 512
    persisted_query_ttl_seconds: int = 7 * 24 * 3600
    # A persisted query longer than this runs but is not stored.
    persisted_query_max_bytes: int = 32 * 1024
    # A request body over this is refused with 413 while it streams in, before anything parses it.
    max_body_bytes: int = 2 * 1024 * 1024
    # Any list in an operation's variables; longer ones are refused before GraphQL coerces them.
    graphql_max_list_items: int = 1000
    websocket_ping_seconds: float = 12.0

    # Participants a live session admits (everyone who ever joined it, so leaving and re-joining under
    # new names cannot grow it without bound); a full session answers CONFLICT.
    max_participants_per_session: int = 200

    # Serve repeated read queries of lecture content from memory (core/response_cache.py); off by default.
    response_cache: bool = False
    response_cache_seconds: float = 60.0
    response_cache_entries: int = 256
    # permessage-deflate on websockets (uvicorn's default is on); off, since live frames are small.
    websocket_per_message_deflate: bool = False
    # A graphql-transport-ws socket that has not sent connection_init by then is closed with 4408.
    websocket_init_timeout_seconds: float = 60.0

    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    anthropic_api_key: str | None = None
    anthropic_base_url: str | None = None
    anthropic_model: str = "claude-haiku-4-5"
    together_api_key: str | None = None
    together_base_url: str = "https://api.together.xyz/v1"
    together_model: str = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    ai_provider_order: StringList = Field(default_factory=lambda: ["openai", "anthropic", "together"])
    # One attempt's timeout, and the SDKs' own retries (kept small): every AI call, its retries and its
    # fallbacks to the next provider, ends within the deadline.
    ai_timeout_seconds: float = 30.0
    ai_max_retries: int = 1
    ai_deadline_seconds: float = 60.0

    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None
    stripe_webhook_tolerance_seconds: int = 300
    stripe_timeout_seconds: float = 10.0
    stripe_max_network_retries: int = 2
    # Where Stripe Checkout and the customer portal send the user back to (the web app's billing page).
    billing_return_url: str = "http://localhost:3000/billing"

    # Email: `smtp://user:pass@host:587` (STARTTLS on 587, TLS with `smtps://`); without it, email goes to
    # MAIL_DIR as .eml files when that is set (`studymate dev` sets .data/mail), else it is skipped.
    smtp_url: str | None = None
    email_from: str = "StudyMate <no-reply@studymate.local>"
    mail_dir: str | None = None
    smtp_timeout_seconds: float = 15.0
    # Push through FCM HTTP v1 with a service account; skipped without both.
    fcm_credentials_file: str | None = None
    fcm_project_id: str | None = None
    fcm_base_url: str = "https://fcm.googleapis.com"
    fcm_timeout_seconds: float = 10.0
    # SMS through Twilio's REST API; without the account, SMS goes to SMS_DIR as text files when that is
    # set (`studymate dev` sets .data/sms), else it is skipped. TWILIO_BASE_URL points the SDK elsewhere.
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    sms_from: str | None = None
    twilio_base_url: str | None = None
    sms_dir: str | None = None
    sms_timeout_seconds: float = 10.0

    android_package_name: str = "dev.studymate.app"
    android_cert_fingerprints: StringList = Field(default_factory=list)

    log_level: str = "INFO"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


@lru_cache
def get_settings() -> Settings:
    settings = Settings()
    if settings.is_production and settings.secret_key.startswith("dev-insecure"):
        raise RuntimeError("SECRET_KEY must be set in production")
    return settings
