"""The deployment example (deploy/compose.yaml): every Clonr process it starts is a real command with real
options, every setting it gives is one Clonr reads, and together they make the service the README describes.
The container runtime itself is not run here; each piece it runs is tested elsewhere (test_scale.py,
test_workers.py, test_remote_model.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from clonr.cli import cli
from clonr.config import SETTINGS, load_settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SECRETS = {"POSTGRES_PASSWORD": "pw", "CLONR_SECRET_KEY": "k" * 64}


def _substituted(text: str) -> str:
    """Compose's `${NAME:?message}` with the secrets an operator exports."""
    return re.sub(r"\$\{(\w+):\?[^}]*\}", lambda match: SECRETS[match.group(1)], text)


@pytest.fixture(scope="module")
def services() -> dict[str, dict]:
    return yaml.safe_load(_substituted((DEPLOY / "compose.yaml").read_text()))["services"]


def test_every_clonr_process_is_a_real_command(services: dict[str, dict]) -> None:
    for name in ("serve", "worker", "model"):
        command = services[name]["command"]
        result = CliRunner().invoke(cli, [*command, "--help"])
        assert result.exit_code == 0, f"{name}: clonr {' '.join(command)}: {result.output}"
    assert (DEPLOY.parent / services["studio"]["entrypoint"][2]).is_file()
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["clonr"]' in dockerfile and "scripts/setup --qwen" in dockerfile


def test_the_settings_are_clonrs_and_make_one_service_on_postgres(services: dict[str, dict]) -> None:
    known = {setting.name for setting in SETTINGS}
    for name in ("serve", "worker", "studio"):
        environment = {key: str(value) for key, value in services[name]["environment"].items()}
        assert set(environment) <= known, f"{name}: unknown settings {set(environment) - known}"
        settings = load_settings(environment, env_file=None)
        assert (settings.job_queue, settings.vector_backend, settings.server_jobs) == ("postgres", "pgvector", False)
        assert settings.limits_storage.startswith("redis://") and settings.secret_key == SECRETS["CLONR_SECRET_KEY"]
        assert settings.openai_model == services["model"]["command"][2], "the model the model server serves"
        assert "clonr-home:/data" in services[name]["volumes"], "uploads staged by one process, read by a worker"


def test_no_secret_is_written_in_the_file() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    for name in ("POSTGRES_PASSWORD", "CLONR_SECRET_KEY"):
        assert re.search(rf"{name}: \$\{{{name}:\?", text) or f"${{{name}:?" in text
    assert not re.search(r"(sk_live|sk_test|whsec)_", text)
