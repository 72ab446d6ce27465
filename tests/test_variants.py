"""A clone as of a date: it knows only the sources, chat messages, example dialogues and events dated up to then,
its description is drafted from that slice alone, it is its own published clone, and it never sees a later fact."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from clonr import Clonr
from clonr.cli import LazyApp, cli
from clonr.errors import ClonrError
from clonr.store import SHARED_FAN
from tests.conftest import FakeChatModel

LATER = ("Lisbon", "Graça", "Brasa", "Marvila", "Bright and noisy")  # facts of after 2015, one word each
CHAT = """\
3/14/15, 10:00 AM - Rui: Are you still throwing on the old kick wheel?
3/14/15, 10:02 AM - Inês Duarte: Every morning, the kick wheel keeps me honest
6/1/20, 9:00 AM - Rui: How is the new studio?
6/1/20, 9:03 AM - Inês Duarte: Bright and noisy, I love it
"""


@pytest.fixture
def ines(app: Clonr, tmp_path: Path) -> Clonr:
    """Inês with a source of 2014, one of 2019, one undated, a chat export of 2015 and 2020 (each in its own
    chunk), an interview answer given today and events of 2015 and 2021."""
    app.clones.create("Inês Duarte", short_description="A ceramicist.", long_description="I work in Lisbon.")
    porto = app.ingest.add_text("ines-duarte", "I live in Porto and teach ceramics at a school in Bonfim.", "Porto")
    lisbon = app.ingest.add_text("ines-duarte", "I moved to Lisbon and opened my studio in Graça.", "Lisbon")
    app.ingest.add_text("ines-duarte", "My gas kiln is called Brasa.", "Kiln")
    app.ingest.date_source("ines-duarte", porto.source.id, "2014")
    app.ingest.date_source("ines-duarte", lisbon.source.id, "2019-05")
    export = tmp_path / "WhatsApp Chat with Rui.txt"
    export.write_text(CHAT.replace("kick wheel keeps me honest", "kick wheel keeps me honest " + "and calm " * 120),
                      encoding="utf-8")
    app.ingest.add_chat("ines-duarte", export, me="Inês Duarte")
    app.dialogues.add("ines-duarte", "Where is your studio?", "In Marvila, since this year.", origin="interview")
    app.memory.remember(app.clones.get("ines-duarte").id, SHARED_FAN,
                        ["I won a prize for my Porto tea bowls.", "I bought the Marvila building."], kind="event",
                        happened_at=[datetime(2015, 6, 1, tzinfo=UTC), datetime(2021, 3, 1, tzinfo=UTC)])
    app.worker.drain()
    return app


def everything_known(app: Clonr, slug: str) -> str:
    """All a clone could be given: its descriptions, notes, dialogues, candidates and shared memories."""
    clone = app.clones.get(slug)
    notes = [doc.page_content for s in app.ingest.list_sources(slug) for doc in
             app.index_for(clone).get_by_ids([f"{s.id}:{n}" for n in range(s.chunk_count)])]
    return json.dumps([clone.long_description, clone.short_description, clone.greeting, notes,
                       [(d.user_text, d.char_text) for d in app.dialogues.list(slug)],
                       [(c.user_text, c.char_text) for c in app.ingest.dialogue_candidates(slug)],
                       [m.text for m in app.memory.list(clone.id, SHARED_FAN, limit=100)]], ensure_ascii=False)


def test_a_clone_as_of_a_year_knows_only_what_was_dated_by_then(ines: Clonr, fake_chat: FakeChatModel) -> None:
    found = ines.variants.slice("ines-duarte", date(2015, 12, 31))
    assert ([s.title for s in found.sources], found.later_sources, [s.title for s in found.undated_sources]) == (
        ["Porto", "WhatsApp: Rui"], 1, ["Kiln"])
    assert (found.dialogues, found.later_dialogues, found.events, found.later_events) == (0, 1, 1, 1)
    variant, _ = ines.variants.create("ines-duarte", date(2015, 12, 31), describe=False)
    assert (variant.name, variant.slug, variant.as_of, variant.published) == (
        "Inês Duarte, 2015", "ines-duarte-2015", date(2015, 12, 31), False)
    known = everything_known(ines, variant.slug)
    assert "Porto" in known and "kick wheel" in known and "prize for my Porto tea bowls" in known
    assert not [word for word in LATER if word in known], known
    assert ines.clones.variants("ines-duarte") == [variant]
    assert ines.clones.get("ines-duarte").long_description == "I work in Lisbon.", "the original is untouched"


def test_asked_about_a_later_fact_it_is_never_given_one(ines: Clonr, fake_chat: FakeChatModel) -> None:
    variant, _ = ines.variants.create("ines-duarte", date(2015, 12, 31), describe=False)
    for n, question in enumerate(("Where is your studio now, in Lisbon or Marvila?",
                                  "What is your kiln called, Brasa?", "How is the new studio in Graça?")):
        fake_chat.enqueue("I cannot know that yet.")
        "".join(ines.chat.start_turn(variant.slug, question, fan_id=f"fan-{n}"))  # each a first message
        prompt = fake_chat.prompt().replace(question, "")
        assert not [word for word in LATER if word in prompt], prompt
    assert "You are yourself as you were on 31 December 2015" in fake_chat.calls[-1][0].text


def test_its_description_is_drafted_from_its_slice_alone(ines: Clonr, fake_chat: FakeChatModel) -> None:
    fake_chat.enqueue(json.dumps({"claims": [{"axis": "experiences", "claim": "I live in Porto and teach ceramics.",
                                              "evidence": ["E1"]}]}),
                      '{"short": "A ceramics teacher in Porto.", "greeting": "Olá! Straight from the wheel."}')
    calls = len(fake_chat.calls)
    variant, _ = ines.variants.create("ines-duarte", date(2015, 12, 31), name="Inês at 30")
    read = json.dumps([[m.text for m in call] for call in fake_chat.calls[calls:]], ensure_ascii=False)
    assert "Porto" in read and not [word for word in LATER if word in read]
    assert (variant.name, variant.long_description, variant.short_description, variant.greeting) == (
        "Inês at 30", "I live in Porto and teach ceramics.", "A ceramics teacher in Porto.",
        "Olá! Straight from the wheel.")


def test_it_is_frozen_and_made_whole_or_not_at_all(ines: Clonr, fake_chat: FakeChatModel) -> None:
    variant, _ = ines.variants.create("ines-duarte", date(2015, 12, 31), describe=False)
    with pytest.raises(ClonrError, match="knows only what was true up to 2015-12-31"):
        ines.memory.post_event(variant.id, "I moved to Lisbon.")
    with pytest.raises(ClonrError, match="knows only what was true up to 2015-12-31: follow feeds"):
        ines.feeds.add(variant.id, "https://inesduarte.pt/feed.xml")
    with pytest.raises(ClonrError, match="already a clone as of"):
        ines.variants.create(variant.id, date(2014, 12, 31))
    with pytest.raises(ClonrError, match="has nothing dated up to 2010-12-31"):
        ines.variants.create("ines-duarte", date(2010, 12, 31))
    with pytest.raises(ClonrError, match="not in the past"):
        ines.variants.create("ines-duarte", date(2999, 12, 31))
    fake_chat.fail_with(RuntimeError("the model server is down"))
    before = [c.slug for c in ines.clones.list()]
    with pytest.raises(RuntimeError):
        ines.variants.create("ines-duarte", date(2016, 12, 31))
    assert [c.slug for c in ines.clones.list()] == before, "no half-made variant is left"


def test_a_source_is_dated_by_year_month_or_day_and_a_bad_date_says_how(ines: Clonr) -> None:
    kiln = next(s for s in ines.ingest.list_sources("ines-duarte") if s.title == "Kiln")
    for when in ("2015", "2015-06", "2015-06-30"):
        assert ines.ingest.date_source("ines-duarte", kiln.id, when).published == when
    with pytest.raises(ClonrError, match="is not a date: write a year"):
        ines.ingest.date_source("ines-duarte", kiln.id, "last summer")
    assert ines.ingest.date_source("ines-duarte", kiln.id, None).published is None


def test_fans_pick_another_year_on_the_widget(ines: Clonr) -> None:
    from widget.app import other_years

    variant, _ = ines.variants.create("ines-duarte", date(2015, 12, 31), describe=False)
    original = ines.clones.publish("ines-duarte")
    assert other_years(ines, original) == "", "a draft variant is nobody's to see"
    ines.clones.publish(variant.id)
    assert other_years(ines, original) == ('<p role="navigation">Talk to them in another year: '
                                           '<a href="/c/ines-duarte-2015/">Inês Duarte, 2015</a></p>')
    assert '<a href="/c/ines-duarte/">Inês Duarte</a>' in other_years(ines, ines.clones.get(variant.id))


def test_the_cli_dates_sources_and_makes_a_year(ines: Clonr, fake_chat: FakeChatModel) -> None:
    def run(*args: str):
        return CliRunner().invoke(cli, list(args), obj=LazyApp(ines))

    kiln = next(s for s in ines.ingest.list_sources("ines-duarte") if s.title == "Kiln")
    dry = run("as-of", "ines-duarte", "2015", "--dry-run")
    assert dry.exit_code == 0 and "As of 2015-12-31: 2 source(s), 0 example dialogue(s), 1 event(s)." in dry.output
    assert f"left out, undated: {kiln.id[:8]}" in dry.output and ines.clones.variants("ines-duarte") == []
    assert "Kiln: dated 2013." in run("sources", "ines-duarte", "--date", kiln.id[:8], "2013").output
    made = run("as-of", "ines-duarte", "2015", "--no-describe")
    assert made.exit_code == 0 and "Made Inês Duarte, 2015 (ines-duarte-2015)" in made.output
    assert "Brasa" in everything_known(ines, "ines-duarte-2015"), "dated 2013: now it is part of 2015"
    bad = run("as-of", "ines-duarte", "someday")
    assert bad.exit_code == 1 and "is not a date" in bad.output


@pytest.mark.real_model
def test_the_real_model_as_of_2015_answers_from_2015(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SmolLM2 cannot draft descriptions (its claims cite placeholders), so the year is told by its notes alone."""
    from clonr import load_settings

    monkeypatch.setenv("CLONR_CHAT_MODEL", "smollm2")
    monkeypatch.setenv("CLONR_REPLY_TOKENS", "80")
    app = Clonr(load_settings())
    app.clones.create("Inês Duarte")
    for title, text, when in (
            ("Porto", "I live in Porto. I teach ceramics to teenagers at a school in Bonfim and throw bowls on an old "
                      "kick wheel in my grandmother's garage.", "2014"),
            ("Lisbon", "In 2019 I moved to Lisbon and opened my own studio in Graça, with a gas kiln called Brasa.",
             "2019")):
        source = app.ingest.add_text("ines-duarte", text, title).source
        app.ingest.date_source("ines-duarte", source.id, when)
    variant, _ = app.variants.create("ines-duarte", date(2015, 12, 31), describe=False)
    replies = ["".join(app.chat.start_turn(variant.slug, "Where do you live and work these days?", fan_id=f"fan-{n}"))
               for n in range(3)]  # it samples: three fans ask
    app.worker.drain()
    assert not [reply for reply in replies if "Graça" in reply or "Brasa" in reply], replies
    assert any(word in reply for reply in replies for word in ("Porto", "Bonfim", "ceramic", "kick wheel")), replies
