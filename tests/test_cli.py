"""The `clonr` command, driven through Click's CliRunner over an app with the fake model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from clonr import Clonr
from clonr.cli import LazyApp, cli
from tests.conftest import FakeChatModel


@pytest.fixture
def run(app: Clonr):
    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, list(args), obj=LazyApp(app), input=input)
    return invoke


def test_create_list_and_duplicate(run) -> None:
    result = run("create", "Ada Lovelace", "--short", "Mathematician", "--greeting", "Hi!")
    assert result.exit_code == 0 and "ada-lovelace" in result.output
    listed = json.loads(run("list", "--json").output)
    assert [(c["slug"], c["short_description"], c["published"]) for c in listed] == [
        ("ada-lovelace", "Mathematician", False)]
    duplicate = run("create", "ADA LOVELACE")
    assert duplicate.exit_code == 1
    assert duplicate.output.strip().startswith("Error: A clone named") and duplicate.output.count("\n") == 1


def test_long_description_from_a_file(run, app: Clonr, tmp_path: Path) -> None:
    (tmp_path / "ada.md").write_text("I was born in 1815.")
    assert run("create", "Ada", "--long-file", str(tmp_path / "ada.md")).exit_code == 0
    assert app.clones.get("ada").long_description == "I was born in 1815."


def test_ingest_reports_each_file_and_fails_when_one_is_bad(run, tmp_path: Path) -> None:
    run("create", "Ada")
    (tmp_path / "a.md").write_text("Ada loved horses.")
    (tmp_path / "b.txt").write_bytes(b"\x00\x01")
    result = run("ingest", "ada", str(tmp_path / "a.md"), str(tmp_path / "b.txt"))
    assert result.exit_code == 1
    assert "a.md: added (1 chunks)" in result.output
    assert "b.txt looks like a binary file" in result.output
    assert "a.md: already there" in run("ingest", "ada", str(tmp_path / "a.md")).output


def test_chat_reads_stdin_streams_and_keeps_history(run, app: Clonr, fake_chat: FakeChatModel) -> None:
    run("create", "Ada")
    fake_chat.enqueue("First answer.", "Second answer.")
    result = run("chat", "ada", input="hello\n\nhow are you?\n")
    assert result.exit_code == 0
    assert result.output == "Ada: First answer.\nAda: Second answer.\n"
    assert len(app.chat.history("ada")) == 4
    fake_chat.enqueue("Third.")
    assert run("chat", "ada", "-m", "again").output == "Ada: Third.\n"
    assert len(fake_chat.calls[-1]) == 6, "history from the earlier run is in the prompt"


@pytest.mark.parametrize("args, message", [
    (("chat", "nobody", "-m", "hi"), "No clone called 'nobody'"),
    (("chat", "ada", "-m", ""), "The message is empty"),
    (("chat", "ada", "-m", "x" * 5000), "limit is 4,000"),
    (("chat", "ada", "--fan", "a b", "-m", "hi"), "Fan id"),
    (("ingest", "nobody", "a.md"), "No clone called"),
    (("publish", "nobody"), "No clone called"),
])
def test_bad_input_exits_1_with_one_line(run, args: tuple[str, ...], message: str) -> None:
    run("create", "Ada")
    result = run(*args)
    assert result.exit_code == 1
    assert message in result.output and result.output.count("\n") == 1


def test_publish_prints_the_address_and_an_escaped_snippet(run, app: Clonr) -> None:
    run("create", 'Ada "<script>"')
    result = run("publish", "ada-script")
    assert "http://127.0.0.1:7860/c/ada-script/" in result.output
    snippet = result.output.strip().splitlines()[-1]
    assert snippet.startswith("<iframe") and "<script>" not in snippet and "&lt;script&gt;" in snippet
    assert app.clones.get("ada-script").published
    run("publish", "ada-script", "--unpublish")
    assert not app.clones.get("ada-script").published


def test_doctor_reports_backends(run) -> None:
    result = run("doctor")
    assert "records" in result.output and "sqlite" in result.output and "embedded" in result.output
    assert "off (no STRIPE_SECRET_KEY): allowances only" in result.output


def test_an_unwritable_home_is_a_one_line_error(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("CLONR_HOME", str(blocker / "home"))
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 1 and "CLONR_HOME" in result.output and result.output.count("\n") == 1


def test_an_unreachable_database_is_a_one_line_error(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://clonr:hunter2@127.0.0.1:9/clonr")
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 1 and "DATABASE_URL" in result.output and "hunter2" not in result.output
