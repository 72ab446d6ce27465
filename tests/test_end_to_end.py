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


@pytest.mark.real_model
def test_the_persona_pipeline_with_the_real_model(monkeypatch) -> None:
    """Interview follow-up, the description drafted over a small corpus, and the fidelity check, for real."""
    from clonr import Clonr, load_settings
    from clonr.llm import count_tokens
    from clonr.persona import DESCRIPTION_TOKENS

    monkeypatch.setenv("CLONR_CHAT_MODEL", "smollm2")
    monkeypatch.setenv("CLONR_REPLY_TOKENS", "60")
    app = Clonr(load_settings())
    clone = app.clones.create("Ada Lovelace")
    app.ingest.add_text(clone.id, "Ada Lovelace was born in London in 1815. Her mother, Lady Byron, had her "
                        "tutored in mathematics and science. She loved horses and poetry.", "Biography")
    app.ingest.add_text(clone.id, "In 1843 Ada translated an article about Charles Babbage's Analytical Engine and "
                        "added notes, including the first published algorithm for a machine.", "Notes")
    app.interview.current(clone.id)
    follow_up = app.interview.answer(clone.id, "Horses.")
    assert follow_up.is_follow_up and follow_up.text.endswith("?")
    app.interview.answer(clone.id, "Riding through the fields near our house gave me time to think about numbers.")

    estimate = app.descriptions.estimate(clone.id)
    assert estimate.excerpts == 4 and estimate.steps == 1
    steps = []
    long, *_ = app.descriptions.propose(clone.id, on_progress=lambda done, total: steps.append(done))
    assert steps[-1] == estimate.steps + 1
    assert count_tokens(app.chat_model, long.text) <= DESCRIPTION_TOKENS
    corpus = {e.source for e in app.descriptions.corpus(clone.id)}
    assert all(claim["sources"] and set(claim["sources"]) <= corpus for claim in long.evidence)
    assert all(claim["claim"] in long.text for claim in long.evidence)
    if long.text:  # a tiny model may find nothing it can ground; when it does, accepting applies it
        app.descriptions.accept(clone.id, long.id)
        assert app.clones.get(clone.id).long_description == long.text

    report = app.fidelity.run(clone.id, questions=2)
    assert len(report.items) == 2 and all(item.clone_answer and item.baseline_answer for item in report.items)
    assert -1.0 <= report.clone_score <= 1.0 and -1.0 <= report.baseline_score <= 1.0
