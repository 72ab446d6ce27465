"""The persona with the fake model: question bank, interview, example dialogues in prompts, description
proposals and the fidelity check."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from clonr import Clonr
from clonr.errors import InvalidInputError
from clonr.persona import CATEGORIES, DESCRIPTION_TOKENS, QUESTIONS, InterviewService
from clonr.store import SqlStore
from clonr.store.database import _MIGRATIONS
from tests.conftest import FakeChatModel


def test_the_question_bank_spans_a_life_and_several_registers() -> None:
    life = [q for q in QUESTIONS if q.category != "openers"]
    assert len(life) >= 120 and len({q.category for q in life}) >= 10
    assert min(Counter(q.category for q in life).values()) >= 10
    assert len({q.id for q in QUESTIONS}) == len({q.text for q in QUESTIONS}) == len(QUESTIONS)
    openers = [q.text for q in QUESTIONS if q.category == "openers"]
    assert any("game" in o for o in openers) and any("Teach me" in o for o in openers)
    assert any(o.startswith("Good evening") for o in openers) and any("yo " in o for o in openers)


# -- the interview -------------------------------------------------------------------------------------------

def test_the_interview_covers_categories_follows_up_on_thin_answers_and_keeps_answers(
        app: Clonr, fake_chat: FakeChatModel) -> None:
    app.clones.create("Ada")
    first = app.interview.current("ada")
    assert first.category == CATEGORIES[0] and not first.is_follow_up and first.answered == 0
    fake_chat.enqueue('{"question": "What did you love most about it?"}')
    follow_up = app.interview.answer("ada", "Engines, mostly.")
    assert follow_up.is_follow_up and follow_up.text == "What did you love most about it?"
    assert follow_up.question_id == first.question_id
    second = app.interview.answer("ada", "The way a machine could weave patterns like a loom weaves flowers, "
                                         "which felt like poetry to me.")
    assert not second.is_follow_up and second.category == CATEGORIES[1], "the least-covered category comes next"
    dialogues = app.dialogues.list("ada")
    assert [(d.user_text, d.char_text[:8], d.category, d.origin) for d in dialogues] == [
        (first.text, "Engines,", CATEGORIES[0], "interview"),
        ("What did you love most about it?", "The way ", CATEGORIES[0], "interview")]
    assert second.answered == 1 and second.by_category[CATEGORIES[0]] == 1


def test_the_interview_can_be_skipped_and_resumed(app: Clonr, fake_chat: FakeChatModel) -> None:
    app.clones.create("Ada")
    asked = app.interview.current("ada")
    after_skip = app.interview.skip("ada")
    assert after_skip.question_id != asked.question_id
    resumed = InterviewService(app.store, app.clones, app.dialogues, lambda: fake_chat).current("ada")
    assert resumed.question_id == after_skip.question_id, "a new session asks the pending question again"
    assert asked.question_id not in {app.interview.skip("ada").question_id for _ in range(20)}
    app.interview.restart_skipped("ada")
    seen, step = [], app.interview.current("ada")
    while step is not None:  # skip everything: the interview ends, having offered the skipped question again
        seen.append(step.question_id)
        step = app.interview.skip("ada")
    assert asked.question_id in seen and len(seen) == len(QUESTIONS)


def test_a_follow_up_falls_back_when_the_model_answers_out_of_shape(app: Clonr, fake_chat: FakeChatModel) -> None:
    app.clones.create("Ada")
    app.interview.current("ada")
    fake_chat.enqueue("I refuse to produce JSON")
    follow_up = app.interview.answer("ada", "Yes.")
    assert follow_up.is_follow_up and follow_up.text.endswith("?")
    assert app.interview.skip("ada").is_follow_up is False, "skipping a follow-up moves on"


# -- example dialogues in the prompt --------------------------------------------------------------------------

def test_example_dialogues_are_in_the_prompt_within_their_budget(app: Clonr, fake_chat: FakeChatModel) -> None:
    ada = app.clones.create("Ada")
    for n in range(40):
        app.dialogues.add("ada", f"Question number {n} about engines?", "word " * 60 + f"answer {n}")
    turn = app.chat.start_turn("ada", "Tell me about engines")
    turn.text()
    examples = next(s for s in turn.plan.sections if s.name == "examples")
    assert 0 < examples.items < 40 and examples.tokens <= 0.15 * turn.plan.budget
    system = fake_chat.calls[-1][0].text
    assert system.count("\n---\nFan: Question number") == examples.items
    kept = app.dialogues.list(ada.id)[0]
    app.dialogues.update("ada", kept.id, char_text="I adore engines.")
    app.dialogues.delete("ada", app.dialogues.list(ada.id)[1].id)
    assert len(app.dialogues.list("ada")) == 39
    with pytest.raises(InvalidInputError, match="empty"):
        app.dialogues.add("ada", "Hi", "  ")


def test_old_mes_example_text_becomes_dialogue_records(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
        connection.execute(sa.text(
            "INSERT INTO clones (id, slug, name, short_description, long_description, greeting, example_dialogues, "
            "published, created_at, updated_at) VALUES ('c1', 'ada', 'Ada', '', '', '', :examples, 0, "
            "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"),
            {"examples": "<START>\n{{user}}: Who are you?\n{{char}}: Ada.\n<START>\n{{user}}: Tea?\n{{char}}: Always."})
        connection.execute(sa.text(
            "INSERT INTO messages (clone_id, fan_id, role, content, created_at) VALUES ('c1', 'me', 'user', 'hi', "
            "'2026-01-01 00:00:00')"))
    store = SqlStore(url)  # migrates to the latest revision
    assert [(d.user_text, d.char_text, d.origin) for d in store.list_dialogues("c1")] == [
        ("Who are you?", "Ada.", "manual"), ("Tea?", "Always.", "manual")]
    assert [m.content for m in store.recent_messages("c1", "me", 10)] == ["hi"], \
        "rebuilding the clones table on SQLite must not cascade-delete what points at it"
    store.delete_clone("c1")
    assert store.recent_messages("c1", "me", 10) == [], "foreign keys are enforced again afterwards"


# -- the long description ---------------------------------------------------------------------------------------

def claims(*items: tuple[str, str, list[str]]) -> str:
    return json.dumps({"claims": [{"axis": axis, "claim": claim, "evidence": evidence}
                                  for axis, claim, evidence in items]})


@pytest.fixture
def ada_with_sources(app: Clonr):
    app.clones.create("Ada", long_description="I like maths.")
    app.ingest.add_text("ada", "Ada grew up in London with her mother, who insisted on mathematics lessons.", "Bio")
    app.dialogues.add("ada", "What scares you?", "Thunderstorms have terrified me since childhood.",
                      category="fears", origin="interview")
    return app


def test_a_description_keeps_only_claims_grounded_in_what_the_model_was_shown(
        ada_with_sources: Clonr, fake_chat: FakeChatModel) -> None:
    app = ada_with_sources
    estimate = app.descriptions.estimate("ada")
    assert estimate.excerpts == 2 and estimate.steps == 1 and estimate.tokens > 20
    fake_chat.enqueue(claims(
        ("experiences", "I grew up in London with my mother.", ["E1"]),
        ("fears", "I am afraid of thunderstorms.", ["E2"]) if False else
        ("personality", "Thunderstorms have terrified me since I was a child.", ["E2"]),
        ("goals", "I want to sail to America.", ["E1"]),  # cites E1 but shares nothing with it: invented
        ("values", "I value mathematics above all.", ["E9"]),  # cites an excerpt it was never shown
    ), '{"short": "A London-raised mathematician who fears thunderstorms.", "greeting": "Hello, dear friend!"}')
    progress = []
    proposals = app.descriptions.propose("ada", on_progress=lambda done, total: progress.append((done, total)))
    long, short, greeting = proposals
    assert long.field == "long_description" and long.status == "pending"
    assert long.text == ("Thunderstorms have terrified me since I was a child.\n\nI grew up in London with my mother.")
    assert "America" not in long.text and "mathematics above all" not in long.text
    assert [e["sources"] for e in long.evidence] == [["Bio"], ["interview: What scares you?"]]
    assert short.text.startswith("A London-raised") and greeting.text == "Hello, dear friend!"
    assert progress[0] == (0, 2) and progress[-1] == (2, 2)
    assert app.clones.get("ada").long_description == "I like maths.", "nothing is applied before the creator says so"
    assert "+I grew up in London with my mother." in app.descriptions.diff("ada", long.id)


def test_accepting_never_silently_overwrites_the_creators_own_edit(ada_with_sources: Clonr,
                                                                   fake_chat: FakeChatModel) -> None:
    app = ada_with_sources
    fake_chat.enqueue(claims(("experiences", "I grew up in London with my mother.", ["E1"])),
                      '{"short": "A mathematician.", "greeting": "Hello!"}')
    long, short, greeting = app.descriptions.propose("ada")
    app.clones.update("ada", long_description="I wrote this myself.")
    with pytest.raises(InvalidInputError, match="edited after this proposal"):
        app.descriptions.accept("ada", long.id)
    assert app.clones.get("ada").long_description == "I wrote this myself."
    app.descriptions.accept("ada", long.id, force=True)
    assert app.clones.get("ada").long_description == "I grew up in London with my mother."
    app.descriptions.accept("ada", short.id, text="Mathematician and poet.")
    app.descriptions.reject("ada", greeting.id)
    assert app.clones.get("ada").short_description == "Mathematician and poet."
    assert app.clones.get("ada").greeting == "" and app.descriptions.pending("ada") == []
    with pytest.raises(InvalidInputError, match="already accepted"):
        app.descriptions.accept("ada", long.id)


def test_a_long_corpus_is_read_in_steps_and_the_description_stays_within_512_tokens(
        app: Clonr, fake_chat: FakeChatModel) -> None:
    app.clones.create("Ada")
    for n in range(30):
        app.ingest.add_text("ada", f"Fact {n}: " + " ".join(f"engine{n}x{k}" for k in range(150)), f"Note {n}")
    steps = app.descriptions.estimate("ada").steps
    assert steps > 1
    for step in range(steps):
        fake_chat.enqueue(claims(*[(axis, f"I built engine{n}x{k} " + "and more words " * 6, [f"E{n + 1}"])
                                   for n in range(step, min(step + 3, 30))
                                   for k, axis in enumerate(("personality", "values", "goals"))]))
    fake_chat.enqueue('{"short": "An engine builder.", "greeting": "Hi!"}')
    long = app.descriptions.propose("ada")[0]
    assert 0 < len(long.text.split()) <= DESCRIPTION_TOKENS
    prompts = [call[0].text for call in fake_chat.calls]
    assert len(prompts) == steps + 1 and "Claims so far:\n(none yet)" in prompts[0]
    assert "Claims so far:\n1. [" in prompts[1], "each step sees the claims so far"


def test_drafting_without_any_material_says_what_to_do(app: Clonr) -> None:
    app.clones.create("Ada")
    with pytest.raises(InvalidInputError, match="no sources or interview answers"):
        app.descriptions.propose("ada")


# -- the fidelity check -------------------------------------------------------------------------------------

def test_fidelity_scores_the_clone_and_a_generic_assistant_on_held_out_answers(
        app: Clonr, fake_chat: FakeChatModel, clock) -> None:
    app.clones.create("Ada")
    app.dialogues.add("ada", "What do you love?", "Engines and poetry.", category="tastes", origin="interview")
    app.dialogues.add("ada", "And what else?", "Engines and poetry.", category="tastes", origin="interview")
    app.dialogues.add("ada", "Hello", "Good day!", origin="manual")
    event = app.memory.post_event(app.clones.get("ada").id, "I love engines and poetry, and wrote about both.")
    clock.advance(days=3)
    fake_chat.enqueue("Engines and poetry.", "As an AI, I love helping.", "Engines and poetry.", "I drink water.")
    report = app.fidelity.run("ada", questions=5)
    app.worker.drain()
    [after] = app.store.get_memories([event.id])
    assert after.last_accessed_at == event.last_accessed_at, "testing a clone does not make its memories recent"
    assert len(report.items) == 2
    assert report.clone_score == pytest.approx(1.0) and report.baseline_score < report.clone_score
    clone_prompts = ["\n".join(m.text for m in call) for call in fake_chat.calls
                     if "helpful assistant" not in call[0].text]
    assert all("Engines and poetry." not in p for p in clone_prompts), \
        "held-out answers are not in the prompt"
    assert "Good day!" in clone_prompts[0], "other examples still are"
    assert app.chat.history("ada", "fidelity-check") == [], "the check leaves no trace"
    assert [r["channel"] for r in app.store.usage_rows()] == ["fidelity"] * 2, "but its replies are counted"
    assert report.worst(1)[0].clone_score == min(i.clone_score for i in report.items)


def test_the_last_fidelity_check_is_kept_and_goes_stale_when_the_clone_changes(
        app: Clonr, fake_chat: FakeChatModel) -> None:
    app.clones.create("Ada")
    app.dialogues.add("ada", "What do you love?", "Engines and poetry.", category="tastes", origin="interview")
    assert app.fidelity.last("ada") is None
    fake_chat.enqueue("Engines and poetry.", "As an AI, I love helping.")
    report = app.fidelity.run("ada")
    check = app.fidelity.last("ada")
    assert check.report == report and not check.stale and check.warning == ""
    app.clones.update("ada", long_description="I write programs for the Analytical Engine.")
    assert app.fidelity.last("ada").stale, "a new long description may change every answer"
    fake_chat.enqueue("Engines and poetry.", "Water.")
    app.fidelity.run("ada")
    assert not app.fidelity.last("ada").stale
    app.dialogues.add("ada", "Hello", "Good day!", origin="manual")
    assert app.fidelity.last("ada").stale, "so may a new example dialogue"


def test_a_clone_no_closer_than_a_generic_assistant_gets_a_warning(app: Clonr, fake_chat: FakeChatModel) -> None:
    app.clones.create("Ada")
    app.dialogues.add("ada", "What do you love?", "Engines and poetry.", category="tastes", origin="interview")
    fake_chat.enqueue("I drink water.", "Engines and poetry.")
    app.fidelity.run("ada")
    assert "no closer to your own answers" in app.fidelity.last("ada").warning


def test_fidelity_needs_interview_answers(app: Clonr) -> None:
    app.clones.create("Ada")
    with pytest.raises(InvalidInputError, match="clonr interview"):
        app.fidelity.run("ada")


# -- the CLI ---------------------------------------------------------------------------------------------------

@pytest.fixture
def run(app: Clonr):
    from click.testing import CliRunner

    from clonr.cli import LazyApp, cli

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, list(args), obj=LazyApp(app), input=input)
    return invoke


def test_interview_cli_reads_answers_skips_and_stops(run, app: Clonr) -> None:
    app.clones.create("Ada")
    long_answer = "I remember the smell of my mother's study, full of books about numbers and poems."
    result = run("interview", "ada", input=f"{long_answer}\n/skip\n/stop\n")
    assert result.exit_code == 0, result.output
    assert "carries on" in result.output
    [dialogue] = app.dialogues.list("ada")
    assert dialogue.char_text == long_answer and dialogue.origin == "interview"
    again = run("interview", "ada", input="")
    assert again.exit_code == 0 and "1 questions answered" in again.output


def test_dialogues_cli_lists_edits_and_deletes(run, app: Clonr) -> None:
    app.clones.create("Ada")
    assert run("dialogues", "ada", "--add", "Tea?", "Always.", "--category", "tastes").exit_code == 0
    [listed] = json.loads(run("dialogues", "ada", "--json").output)
    assert (listed["said"], listed["answer"], listed["category"]) == ("Tea?", "Always.", "tastes")
    assert run("dialogues", "ada", "--edit", listed["id"][:8], "--answer", "Always, with lemon.").exit_code == 0
    assert app.dialogues.list("ada")[0].char_text == "Always, with lemon."
    assert run("dialogues", "ada", "--delete", listed["id"][:8]).exit_code == 0
    assert app.dialogues.list("ada") == []
    missing = run("dialogues", "ada", "--delete", "nope")
    assert missing.exit_code == 1 and "No dialogue" in missing.output


def test_describe_cli_shows_the_estimate_diff_and_sources_then_accepts(run, ada_with_sources: Clonr,
                                                                       fake_chat: FakeChatModel) -> None:
    fake_chat.enqueue(claims(("experiences", "I grew up in London with my mother.", ["E1"])),
                      '{"short": "A mathematician from London.", "greeting": "Hello!"}')
    result = run("describe", "ada", "--yes")
    assert result.exit_code == 0, result.output
    assert "The model will read 2 excerpts" in result.output
    assert "+I grew up in London with my mother." in result.output and "from Bio" in result.output
    clone = ada_with_sources.clones.get("ada")
    assert (clone.long_description, clone.greeting) == ("I grew up in London with my mother.", "Hello!")


def test_fidelity_cli_prints_both_scores(run, app: Clonr, fake_chat: FakeChatModel) -> None:
    app.clones.create("Ada")
    app.dialogues.add("ada", "What do you love?", "Engines and poetry.", origin="interview")
    fake_chat.enqueue("Engines and poetry.", "Helping users.")
    report = json.loads(run("fidelity", "ada", "--json").stdout)
    assert report["clone"] == pytest.approx(1.0) and report["baseline"] < 1.0
    assert report["items"][0]["question"] == "What do you love?"
