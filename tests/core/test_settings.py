import pytest

from core.settings import Settings


@pytest.mark.parametrize(
    "raw",
    ['["https://dash.example","https://admin.example"]', "https://dash.example, https://admin.example"],
)
def test_list_settings_accept_json_or_comma_separated_values(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", raw)
    assert Settings().cors_origins == ["https://dash.example", "https://admin.example"]


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import get_settings

    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", "dev-insecure-secret-key-change-me-0123456789")
    get_settings.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            get_settings()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
