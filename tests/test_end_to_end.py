"""The real product path: the installed `clonr` command, the real local model, real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLONR = [sys.executable, "-m", "clonr"]


def clonr(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CLONR_CHAT_MODEL": "smollm2", "CLONR_REPLY_TOKENS": "40"}
    return subprocess.run(CLONR + list(args), input=input, capture_output=True, text=True, env=env, timeout=240)


@pytest.mark.real_model
def test_create_ingest_and_chat_with_the_real_model(tmp_path: Path, isolated_env: Path) -> None:
    notes = tmp_path / "ada.md"
    notes.write_text("# About me\nI am Ada Lovelace. My pet horse is called Shakespeare. I call my work "
                     "poetical science.\n", encoding="utf-8")
    assert clonr("create", "Ada Lovelace", "--short", "Mathematician", "--greeting", "Good day!").returncode == 0
    ingested = clonr("ingest", "ada-lovelace", str(notes))
    assert ingested.returncode == 0 and "ada.md: added" in ingested.stdout

    chat = clonr("chat", "Ada Lovelace", input="What is your horse called?\nAnd your work?\n")
    assert chat.returncode == 0, chat.stderr
    replies = [line for line in chat.stdout.splitlines() if line.startswith("Ada Lovelace: ")]
    assert len(replies) == 2 and all(len(r) > len("Ada Lovelace: ") + 3 for r in replies)

    doctor = clonr("doctor")
    assert doctor.returncode == 0 and "smollm2" in doctor.stdout and "sha256 verified" in doctor.stdout
    assert (isolated_env / "clonr.db").exists()

    again = clonr("chat", "ada-lovelace", "-m", "Do you remember what I asked first?")
    assert again.returncode == 0 and again.stdout.startswith("Ada Lovelace: ")


def test_errors_from_the_real_command_are_one_line_with_exit_1() -> None:
    result = clonr("chat", "nobody", "-m", "hi")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "No clone called" in result.stderr


@pytest.mark.real_model
def test_the_inner_monologue_with_the_real_model(monkeypatch) -> None:
    from clonr import Clonr, load_settings

    monkeypatch.setenv("CLONR_CHAT_MODEL", "smollm2")
    monkeypatch.setenv("CLONR_REPLY_TOKENS", "40")
    app = Clonr(load_settings())
    clone = app.clones.create("Ada Lovelace", "Mathematician.")
    turn = app.chat.start_turn(clone.id, "Do you like poetry?", fan_id="studio", think=True)
    reply = turn.text()
    app.worker.drain()
    assert turn.thought and reply and turn.thought not in reply
