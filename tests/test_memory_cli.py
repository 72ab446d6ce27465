"""`clonr memory`, `clonr event` and `clonr reindex` through CliRunner, over the fake model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from langchain_core.embeddings import DeterministicFakeEmbedding

from clonr import Clonr
from clonr.cli import LazyApp, cli
from clonr.memory.service import UPDATE_KNOWLEDGE
from tests.conftest import FakeChatModel


@pytest.fixture
def run(app: Clonr):
    app.clones.create("Ada")

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), obj=LazyApp(app))
    return invoke


@pytest.fixture
def transcript(tmp_path: Path) -> Path:
    lines = [{"speaker": "fan", "text": "My sister lives in Lisbon.", "time": "2025-03-01T10:00:00"},
             {"speaker": "clone", "text": "Lisbon is lovely in spring.", "time": "2025-03-01T10:01:00"},
             {"speaker": "fan", "text": "I adopted a kitten named Pixel.", "time": "2025-03-02T09:00:00"}]
    path = tmp_path / "past.json"
    path.write_text(json.dumps(lines))
    return path


def test_an_import_returns_once_the_lines_are_stored_and_a_server_does_the_model_work(app: Clonr, run,
                                                                                    transcript: Path) -> None:
    result = run("memory", "ada", "--fan", "f1", "import", str(transcript))
    assert result.exit_code == 0 and "follow in the background" in result.output and "--wait" in result.output
    ada = app.clones.get("ada")
    stored = app.store.list_memories(ada.id, ["f1"], limit=None)
    assert "Fan: I adopted a kitten named Pixel." in [m.text for m in stored], "stored and searchable at once"
    assert app.memory.lexical_search(ada.id, ["f1"], "kitten") and all(m.importance is None for m in stored)
    job = app.ingest.start_job(ada.id, [("wiki:Ada_Lovelace", {})])  # never run
    shown = run("jobs").output
    assert "ada  memory work  3 memories to score and reflect on" in shown
    assert f"ada  ingestion {job.id[:8]}  queued  0/1" in shown
    app.memory.catch_up()  # what a server does as it starts
    app.worker.drain()
    assert all(m.importance for m in app.store.list_memories(ada.id, ["f1"], limit=None))
    assert "memory work" not in run("jobs", "ada").output


def test_an_imports_knowledge_updates_are_counted_and_made_up_when_a_server_starts(app: Clonr, run,
                                                                                  transcript: Path) -> None:
    app.memory.policy = dataclasses.replace(app.memory.policy, knowledge_updates=True)
    assert run("memory", "ada", "--fan", "f1", "import", str(transcript)).exit_code == 0
    assert "ada  memory work  3 memories to score and reflect on, 2 lines to compare with what the fan said " \
           "before" in run("jobs").output, "the fan's two lines, not the clone's"
    compared, compare = [], app.worker.tasks[UPDATE_KNOWLEDGE]
    app.worker.tasks[UPDATE_KNOWLEDGE] = lambda **batch: (compared.append(batch), compare(**batch))
    app.memory.catch_up()  # what a server does as it starts
    app.worker.drain()
    assert "memory work" not in run("jobs").output and len(compared) == 1, "made up in one batch"
    app.memory.catch_up()
    app.worker.drain()
    assert len(compared) == 1, "nothing left to make up"
    assert "Imported 3 lines." in run("memory", "ada", "--fan", "f2", "import", str(transcript), "--wait").output
    assert not app.memory.waiting("ada") and len(compared) == 2, "--wait stays until they are compared"


def test_a_batch_queued_twice_compares_each_line_once(app: Clonr, run, transcript: Path) -> None:
    """A server starting queues again what is still marked, even what a durable queue still holds."""
    app.memory.policy = dataclasses.replace(app.memory.policy, knowledge_updates=True)
    assert run("memory", "ada", "--fan", "f1", "import", str(transcript)).exit_code == 0
    compared = []
    update = app.memory.update_knowledge
    app.memory.update_knowledge = lambda new: (compared.append(new.id), update(new))[1]
    app.memory.catch_up()
    app.memory.catch_up()  # the same batch, queued twice
    app.worker.drain()
    assert len(compared) == 2 == len(set(compared)), "the fan's two lines, each compared once"


def test_import_list_search_pin_edit_delete(run, transcript: Path) -> None:
    assert "Imported 3 lines." in run("memory", "ada", "--fan", "f1", "import", str(transcript), "--wait").output
    listed = json.loads(run("memory", "ada", "--fan", "f1", "list", "--json").output)
    assert listed[0]["text"] == "Fan: I adopted a kitten named Pixel."
    assert all(m["importance"] for m in listed), "with --wait, importance was scored before the command returned"
    answer = next(m for m in listed if m["text"] == "Ada: Lisbon is lovely in spring.")
    assert next(m for m in listed if m["id"] == answer["in_reply_to"])["text"] == "Fan: My sister lives in Lisbon."
    assert listed[0]["in_reply_to"] is None, "a day later: another conversation"

    found = json.loads(run("memory", "ada", "--fan", "f1", "search", "kitten Pixel", "--budget", "200",
                           "--json").output)
    assert found[0]["text"] == "Fan: I adopted a kitten named Pixel." and found[0]["score"] >= found[-1]["score"]
    assert set(found[0]["reasons"]) >= {"relevance", "lexical"}

    lisbon = next(m["id"] for m in listed if "Lisbon" in m["text"] and m["text"].startswith("Fan"))
    pinned = run("memory", "ada", "--fan", "f1", "pin", lisbon).output.split()
    assert pinned[1] == "*" and pinned[4] == "observation"
    assert "Porto" in run("memory", "ada", "--fan", "f1", "edit", lisbon, "Fan: My sister lives in Porto.").output
    assert run("memory", "ada", "--fan", "f1", "delete", lisbon).exit_code == 0
    assert len(json.loads(run("memory", "ada", "--fan", "f1", "list", "--json").output)) == 2
    assert "Forgot 2" in run("memory", "ada", "--fan", "f1", "delete", "--everything").output


def test_a_chat_from_the_cli_is_remembered_before_the_process_ends(run, app: Clonr,
                                                                   fake_chat: FakeChatModel) -> None:
    run("chat", "ada", "--fan", "f2", "-m", "My favourite colour is teal.")
    listed = json.loads(run("memory", "ada", "--fan", "f2", "list", "--json").output)
    assert "Fan: My favourite colour is teal." in [m["text"] for m in listed]


def test_events_are_shared_with_every_fan(run, app: Clonr, fake_chat: FakeChatModel) -> None:
    assert "will remember" in run("event", "ada", "I just ran the Berlin marathon!").output
    too_long = run("event", "ada", "word " * 1000)
    assert too_long.exit_code != 0 and "limit is 4,000" in too_long.output
    run("chat", "ada", "--fan", "someone", "-m", "Did you run the marathon?")
    assert "Berlin marathon" in fake_chat.information()


@pytest.mark.parametrize("args, message", [
    (("memory", "ada", "--fan", "f1", "pin", "nope"), "No memory 'nope'"),
    (("memory", "ada", "--fan", "bad fan", "list"), "Fan id"),
    (("memory", "nobody", "--fan", "f1", "list"), "No clone called"),
    (("memory", "ada", "--fan", "f1", "import", "missing.json"), "not a readable file"),
    (("event", "ada", "   "), "needs some text"),
])
def test_bad_input_is_one_line_exit_1(run, args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 1 and message in result.output and result.output.count("\n") == 1


def test_restore_undoes_a_knowledge_update(run, app: Clonr) -> None:
    ada = app.clones.get("ada")
    paris, berlin = app.memory.remember(ada.id, "f1", ["Fan: My sister lives in Paris.", "Fan: I moved to Berlin."])
    app.store.update_memory(paris.id, superseded_by=berlin.id)  # a wrong retirement
    listed = run("memory", "ada", "--fan", "f1", "list").output
    assert f"~Fan: My sister lives in Paris.~ (replaced by {berlin.id}: Fan: I moved to Berlin.)" in listed
    restored = run("memory", "ada", "--fan", "f1", "restore", paris.id)
    assert restored.exit_code == 0 and "(replaced" not in restored.output
    assert json.loads(run("memory", "ada", "--fan", "f1", "list", "--json").output)[1]["superseded_by"] is None


def test_reindex_embeds_notes_dialogues_and_every_fans_memories_again_for_a_new_model(
        run, app: Clonr, settings, fake_chat: FakeChatModel) -> None:
    ada = app.clones.get("ada")
    app.ingest.add_text(ada.id, "Ada's horse was called Shakespeare.", "Horses")
    app.dialogues.add(ada.id, "Any pets?", "A horse, Shakespeare.")
    app.memory.remember(ada.id, "f1", ["Fan: one", "Fan: two"])
    app.memory.remember(ada.id, "f2", ["Fan: three"])

    class OtherModel(DeterministicFakeEmbedding):
        model_id: str = "another-model"

    switched = Clonr(settings, chat_model=fake_chat, embeddings=OtherModel(size=64))
    refused = CliRunner().invoke(cli, ["chat", "ada", "-m", "Hello"], obj=LazyApp(switched))
    assert refused.exit_code == 1 and "clonr reindex" in refused.output
    result = CliRunner().invoke(cli, ["reindex", "ada"], obj=LazyApp(switched))
    assert "Embedded 1 note chunks, 1 example dialogues and 3 memories of Ada again." in result.output
    fake_chat.enqueue("Shakespeare!")
    assert CliRunner().invoke(cli, ["chat", "ada", "-m", "Your horse?"], obj=LazyApp(switched)).exit_code == 0


def test_a_long_list_with_links_and_repeats_collapsed(run, app: Clonr, clock) -> None:
    ada = app.clones.get("ada")
    app.memory.remember(ada.id, "f1", [f"Fan: line number {n}" for n in range(300)])
    listed = json.loads(run("memory", "ada", "--fan", "f1", "list", "--json", "--limit", "300").output)
    assert len(listed) == 300, "300 memories' links in one listing (SQLite's compound SELECT holds 500 terms)"
    clock.advance(days=1)
    app.memory.remember(ada.id, "f1", ["Fan: the oven runs hot again", "Fan: The oven runs hot again!"])
    shown = run("memory", "ada", "--fan", "f1", "list", "--limit", "5").output
    assert shown.count("oven") == 1 and "Fan: The oven runs hot again!  (x2 since" in shown
    every = run("memory", "ada", "--fan", "f1", "list", "--limit", "5", "--every-saying").output
    assert every.count("oven") == 2
