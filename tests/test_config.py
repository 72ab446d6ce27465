"""Settings come from one place, with defaults, `.env` support and clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clonr.config import SETTINGS, load_settings, settings_table
from clonr.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_give_sqlite_and_the_embedded_index_under_clonr_home(isolated_env: Path) -> None:
    settings = load_settings()
    assert settings.home == isolated_env.resolve()
    assert settings.database_url == f"sqlite:///{isolated_env.resolve() / 'clonr.db'}"
    assert settings.vector_backend == "embedded"


def test_a_postgres_url_switches_vectors_to_pgvector(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example.com/clonr")
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://u:p@db.example.com/clonr"
    assert settings.vector_backend == "pgvector"


def test_a_dotenv_file_is_read_and_the_environment_wins(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / ".env").write_text("CLONR_REPLY_TOKENS=99\nCLONR_THREADS=3\n")
    monkeypatch.setenv("CLONR_THREADS", "1")
    settings = load_settings()
    assert (settings.reply_tokens, settings.threads) == (99, 1)


@pytest.mark.parametrize("name, value, message", [
    ("CLONR_REPLY_TOKENS", "lots", "not a whole number"),
    ("CLONR_CONTEXT_TOKENS", "10", "too small"),
    ("CLONR_CHAT_MODEL", "gpt-17", "not known"),
    ("CLONR_KNOWLEDGE_UPDATES", "maybe", "not known: use on, rules or off"),
])
def test_malformed_settings_say_what_to_do(monkeypatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


@pytest.mark.parametrize("value, expected", [("on", True), ("1", True), ("Yes", True), ("true", True), ("off", False),
                                             ("0", False), ("no", False), ("FALSE", False)])
def test_switches_accept_the_usual_spellings(monkeypatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("CLONR_ALLOW_PRIVATE_URLS", value)
    monkeypatch.setenv("CLONR_KNOWLEDGE_UPDATES", value)
    settings = load_settings()
    assert settings.allow_private_urls is expected
    assert settings.knowledge_updates == ("on" if expected else "off")


def test_only_config_reads_the_environment() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "clonr").rglob("*.py")
                 if p.name != "config.py" and re.search(r"os\.environ\b(?!\.setdefault\(\"GOMP)", p.read_text())]
    assert offenders == []


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    assert settings_table() in readme, "run `cog -r README.md`"
    assert all(f"`{s.name}`" in readme for s in SETTINGS)


def test_the_widget_address_follows_its_port_unless_given(monkeypatch) -> None:
    monkeypatch.setenv("CLONR_WIDGET_PORT", "9000")
    assert load_settings().widget_url == "http://127.0.0.1:9000"
    monkeypatch.setenv("CLONR_WIDGET_URL", "https://chat.example.com/")
    assert load_settings().widget_url == "https://chat.example.com"
