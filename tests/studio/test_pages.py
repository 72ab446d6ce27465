"""Every studio page, run headless with Streamlit's AppTest over an app with the fake model."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from clonr import Clonr
from clonr.access import Creator
from clonr.store import SHARED_FAN
from studio import auth, resources
from tests.conftest import FakeChatModel

ENTRYPOINT = str(Path(__file__).resolve().parents[2] / "studio" / "streamlit_app.py")


@pytest.fixture
def studio(app: Clonr, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setattr(resources, "make_clonr", lambda: app)
    monkeypatch.setattr(auth, "listening_address", lambda: "127.0.0.1")  # as .streamlit/config.toml says
    st.cache_resource.clear()
    at = AppTest.from_file(ENTRYPOINT, default_timeout=30)
    yield at
    st.cache_resource.clear()


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert not at.exception
    return at


def test_a_first_visit_creates_a_clone_from_the_profile_form(studio: AppTest, app: Clonr) -> None:
    studio.run()
    assert not studio.exception
    assert "Create your first clone" in studio.sidebar.info[0].value
    studio.text_input[0].input("Ada Lovelace")
    studio.text_input[1].input("Mathematician")
    studio.text_area[0].input("I was born in 1815.")
    studio.text_area[1].input("Good day!")
    studio.button[0].click().run()
    assert not studio.exception
    clone = app.clones.get("ada-lovelace")
    assert (clone.short_description, clone.long_description, clone.greeting) == (
        "Mathematician", "I was born in 1815.", "Good day!")
    assert studio.session_state["clone_id"] == clone.id


def test_profile_errors_are_shown_not_raised(studio: AppTest, app: Clonr) -> None:
    app.clones.create("Ada")
    studio.run()
    studio.text_input[0].input("!!!")
    studio.button[0].click().run()
    assert not studio.exception
    assert "at least one letter" in studio.error[0].value
    assert app.clones.get("ada").name == "Ada", "nothing stored was changed"


def test_sources_page_adds_a_pasted_note_and_lists_it(studio: AppTest, app: Clonr) -> None:
    app.clones.create("Ada")
    studio.run()
    open_page(studio, "sources")
    studio.text_input[0].input("Horses")
    studio.text_area[0].input("Ada's horse was called Shakespeare.")
    studio.button[0].click().run()
    assert not studio.exception
    assert [s.title for s in app.ingest.list_sources("ada")] == ["Horses"]
    assert "1 source" in studio.subheader[0].value


def test_sources_page_reports_an_empty_note(studio: AppTest, app: Clonr) -> None:
    app.clones.create("Ada")
    studio.run()
    open_page(studio, "sources")
    studio.button[0].click().run()
    assert "empty" in studio.error[0].value
    assert app.ingest.list_sources("ada") == []


@pytest.mark.parametrize("reference", ["/etc/passwd", "~/.ssh/id_rsa", "../clonr.db", "file:///etc/passwd"])
def test_the_web_box_refuses_paths_on_the_servers_disk(studio: AppTest, app: Clonr, reference: str) -> None:
    app.clones.create("Ada")
    studio.run()
    open_page(studio, "sources")
    studio.text_area[1].input(reference)
    studio.button[1].click().run()
    assert not studio.exception
    assert "is not a web address" in studio.error[0].value and "upload files" in studio.error[0].value
    assert app.ingest.jobs("ada") == [], "nothing was queued"


def test_test_chat_streams_a_reply_and_shows_what_was_used(studio: AppTest, app: Clonr,
                                                           fake_chat: FakeChatModel) -> None:
    app.clones.create("Ada", greeting="Good day!")
    app.ingest.add_text("ada", "Ada's horse was called Shakespeare.", "Horses")
    fake_chat.enqueue("My horse is Shakespeare.")
    studio.run()
    open_page(studio, "test_chat")
    assert studio.chat_message[0].markdown[0].value == "Good day!"
    studio.chat_input[0].set_value("What is your horse called?").run()
    assert not studio.exception
    said = [m.markdown[0].value for m in studio.chat_message if m.markdown]
    assert said[-2:] == ["What is your horse called?", "My horse is Shakespeare."]
    assert [m.content for m in app.chat.history("ada", "studio")][-1] == "My horse is Shakespeare."
    assert any("Note from Horses" in c.value for c in studio.caption)
    app.worker.drain()
    studio.chat_input[0].set_value("Tell me about horses again").run()
    assert not studio.exception


def test_publish_page_publishes_and_shows_the_snippet(studio: AppTest, app: Clonr) -> None:
    app.clones.create("Ada")
    studio.run()
    open_page(studio, "publish")
    studio.button[0].click().run()
    assert not studio.exception
    assert app.clones.get("ada").published
    assert studio.code[0].value.startswith('<iframe src="http://127.0.0.1:7860/c/ada/"')
    studio.button[0].click().run()
    assert not app.clones.get("ada").published


def test_publish_checks_a_draft_before_the_button_and_warns_when_it_is_low(studio: AppTest, app: Clonr,
                                                                          fake_chat: FakeChatModel) -> None:
    app.clones.create("Ada")
    app.dialogues.add("ada", "What do you love?", "Engines and poetry.", category="tastes", origin="interview")
    fake_chat.enqueue("I drink water.", "Engines and poetry.")
    studio.run()
    open_page(studio, "publish")
    assert [m.value for m in studio.metric] == [f"{app.fidelity.last('ada').report.clone_score:.2f}", "1.00"]
    assert "no closer to your own answers" in studio.warning[0].value
    assert [b.label for b in studio.button][:2] == ["Check again", "Publish"]
    calls = len(fake_chat.calls)
    studio.run()
    assert len(fake_chat.calls) == calls, "a score that still holds is not checked again"


def test_publish_says_when_the_clone_has_changed_since_its_check(studio: AppTest, app: Clonr,
                                                                 fake_chat: FakeChatModel) -> None:
    app.clones.create("Ada")
    app.dialogues.add("ada", "What do you love?", "Engines and poetry.", category="tastes", origin="interview")
    fake_chat.enqueue("Engines and poetry.", "Water.")
    app.fidelity.run("ada")
    app.clones.publish("ada")
    app.clones.update("ada", greeting="Good day!")
    studio.run()
    open_page(studio, "publish")
    assert not studio.warning
    assert any("changed since" in c.value for c in studio.caption), "a live clone is not re-checked unasked"


def test_publish_without_interview_answers_says_how_to_get_a_score(studio: AppTest, app: Clonr) -> None:
    app.clones.create("Ada")
    studio.run()
    open_page(studio, "publish")
    assert "icebreaker" in studio.info[0].value


def test_pages_without_a_clone_point_to_the_profile(studio: AppTest) -> None:
    studio.run()
    for page in ("sources", "test_chat", "publish"):
        assert "Profile page" in open_page(studio, page).info[0].value


def test_test_chat_lets_the_creator_correct_the_last_reply(studio: AppTest, app: Clonr,
                                                           fake_chat: FakeChatModel) -> None:
    clone = app.clones.create("Ada")
    fake_chat.enqueue("Beep, I am a bot.")
    app.chat.start_turn(clone.id, "Who are you?", fan_id="studio").text()
    studio.run()
    open_page(studio, "test_chat")
    next(t for t in studio.text_area if t.label == "What you would have said").input("I am Ada.")
    next(b for b in studio.button if b.label == "Save correction").click().run()
    assert not studio.exception and "Saved" in studio.success[0].value
    assert app.chat.history(clone.id, "studio")[-1].content == "I am Ada."
    assert [d.char_text for d in app.dialogues.list(clone.id)] == ["I am Ada."]


def test_test_chat_shows_the_inner_monologue_when_asked(studio: AppTest, app: Clonr, fake_chat: FakeChatModel) -> None:
    app.clones.create("Ada")
    fake_chat.enqueue("I should be kind.", "Hello, kind stranger.")
    studio.run()
    open_page(studio, "test_chat")
    studio.toggle[0].set_value(True).run()
    studio.chat_input[0].set_value("Hi").run()
    assert not studio.exception
    assert "Thought: I should be kind." in studio.info[0].value


def test_test_chat_lets_the_creator_edit_the_thought_and_answer_again(studio: AppTest, app: Clonr,
                                                                      fake_chat: FakeChatModel) -> None:
    clone = app.clones.create("Ada")
    fake_chat.enqueue("They are rude.", "Go away.", "Welcome!")
    studio.run()
    open_page(studio, "test_chat")
    studio.toggle[0].set_value(True).run()
    studio.chat_input[0].set_value("Hey").run()
    studio.run()
    thought_box = next(t for t in studio.text_area if t.label == "Thought")
    thought_box.input("They are shy.")
    next(b for b in studio.button if b.label == "Answer again").click().run()
    assert not studio.exception
    assert [m.content for m in app.chat.history(clone.id, "studio")] == ["Hey", "Welcome!"]


def test_sources_page_ingests_urls_in_the_background_and_shows_progress(web_app: Clonr, studio: AppTest,
                                                                        site) -> None:
    site.add("/about", "<html><head><title>About Ada</title></head><body><article>" + "<p>I was born in London in "
             "1815 and I love poetical science, horses and engines of every kind.</p>" * 3 + "</article></body></html>")
    web_app.clones.create("Ada")
    studio.run()
    open_page(studio, "sources")
    form = next(t for t in studio.text_area if t.label == "One per line")
    form.input(f"{site.url('/about')}\n{site.url('/missing')}")
    next(b for b in studio.button if b.label == "Add").click().run()
    assert not studio.exception
    web_app.worker.drain()
    studio.run()
    assert [s.title for s in web_app.ingest.list_sources("ada")] == ["About Ada"]
    assert "1 added" in studio.success[0].value and "HTTP 404" in studio.error[0].value
    assert "1 source" in studio.subheader[0].value


def test_sources_page_deletes_a_source_with_its_chunks(studio: AppTest, app: Clonr) -> None:
    app.clones.create("Ada Lovelace")
    source = app.ingest.add_text("ada-lovelace", "Ada's horse was called Shakespeare.", "Horses").source
    studio.run()
    open_page(studio, "sources")
    assert "1 source" in studio.subheader[0].value
    next(b for b in studio.button if b.label == "Delete this source").click().run()
    assert not studio.exception
    assert app.ingest.list_sources("ada-lovelace") == [] and "0 sources" in studio.subheader[0].value
    assert app.index_for(app.clones.get("ada-lovelace")).get_by_ids([f"{source.id}:0"]) == []


def test_discover_page_searches_and_adds_the_approved_pages(web_app: Clonr, studio: AppTest, site) -> None:
    site.add("/about", "<html><head><title>About Ada Lovelace</title></head><body><article>" + "<p>I am Ada "
             "Lovelace, born in London in 1815; I love poetical science.</p>" * 3 + "</article></body></html>")
    site.add("/html/", "<html><body>" + "".join(
        f"<div class='result__body'><h2><a href='{href}'>{title}</a></h2><a href='{href}'>{text}</a></div>"
        for href, title, text in [(site.url("/about"), "About Ada Lovelace", "Ada Lovelace of London"),
                                     ("https://elsewhere.example/bob", "Bob's page", "Nothing about her")])
        + "</body></html>")
    web_app.clones.create("Ada Lovelace")
    studio.run()
    open_page(studio, "discover")
    next(b for b in studio.button if b.label == "Search").click().run()
    assert not studio.exception
    picks = [c.value for c in studio.checkbox if c.key.startswith("discover_pick_")]
    assert picks == [True, False], "only the likely page is ticked"
    next(b for b in studio.button if b.label == "Add the selected pages").click().run()
    web_app.worker.drain()
    studio.run()
    assert [s.location for s in web_app.ingest.list_sources("ada-lovelace")] == [site.url("/about")]
    assert "elsewhere.example" not in " ".join(site.paths())


def test_sources_page_offers_to_resume_a_stopped_job(web_app: Clonr, studio: AppTest, site) -> None:
    site.add("/about", "<html><head><title>About Ada</title></head><body><article>" + "<p>I was born in London in "
             "1815 and I love poetical science, horses and engines of every kind.</p>" * 3 + "</article></body></html>")
    web_app.clones.create("Ada")
    job = web_app.ingest.start_job("ada", [(site.url("/about"), {})])
    web_app.store.set_job_status(job.id, "interrupted")  # as Ctrl-C, or a restart, leaves it
    studio.run()
    open_page(studio, "sources")
    assert "stopped after 0 of 1 items" in studio.warning[0].value
    next(b for b in studio.button if b.label == "Resume it").click().run()
    assert not studio.exception
    web_app.worker.drain()
    studio.run()
    assert [s.title for s in web_app.ingest.list_sources("ada")] == ["About Ada"]
    assert not studio.warning and "1 added" in studio.success[0].value


def test_icebreaker_page_asks_keeps_answers_and_edits_them(studio: AppTest, app: Clonr,
                                                           fake_chat: FakeChatModel) -> None:
    app.clones.create("Ada")
    studio.run()
    open_page(studio, "icebreaker")
    asked = app.interview.current("ada")
    assert asked.text in " ".join(m.value for m in studio.markdown)
    studio.text_area(key="icebreaker_answer").input("I remember the smell of my mother's study, full of books.")
    next(b for b in studio.button if b.label == "Answer").click().run()
    assert not studio.exception
    [dialogue] = app.dialogues.list("ada")
    assert dialogue.user_text == asked.text and "1 example dialogue" in studio.subheader[0].value
    next(b for b in studio.button if b.label == "Skip this one").click().run()
    next(b for b in studio.button if b.label == "Delete").click().run()
    assert app.dialogues.list("ada") == []


def test_description_page_drafts_and_accepts_a_proposal(studio: AppTest, app: Clonr,
                                                        fake_chat: FakeChatModel) -> None:
    app.clones.create("Ada")
    app.ingest.add_text("ada", "Ada grew up in London with her mother.", "Bio")
    fake_chat.enqueue('{"claims": [{"axis": "experiences", "claim": "I grew up in London.", "evidence": ["E1"]}]}',
                      '{"short": "A Londoner.", "greeting": "Hello!"}')
    studio.run()
    open_page(studio, "description")
    assert "1 excerpts" in studio.markdown[0].value
    next(b for b in studio.button if b.label == "Draft a description").click().run()
    assert not studio.exception
    assert [s.value for s in studio.subheader][:1] == ["Proposed long description"]
    assert any("from Bio" in c.value for c in studio.caption)
    next(b for b in studio.button if b.label == "Accept").click().run()
    assert app.clones.get("ada").long_description == "I grew up in London."


def test_test_chat_runs_the_fidelity_check(studio: AppTest, app: Clonr, fake_chat: FakeChatModel) -> None:
    app.clones.create("Ada")
    app.dialogues.add("ada", "What do you love?", "Engines and poetry.", origin="interview")
    fake_chat.enqueue("Engines and poetry.", "I am a helpful assistant.")
    studio.run()
    open_page(studio, "test_chat")
    next(b for b in studio.button if b.label == "Run the test").click().run()
    assert not studio.exception
    assert [m.label for m in studio.metric] == ["Your clone", "A generic assistant"]
    assert studio.metric[0].value == "1.00"


def test_publish_page_offers_the_card_downloads(studio: AppTest, app: Clonr) -> None:
    app.clones.create("Ada", "Mathematician.", "I love engines.")
    studio.run()
    open_page(studio, "publish")
    assert not studio.exception
    assert "Character card" in [s.value for s in studio.subheader]


def test_outside_text_is_shown_with_its_markdown_neutralised() -> None:
    from studio.markup import plain

    hostile = "Ada ![x](https://evil.example/track.png) [click](javascript:alert(1)) $x^2$ :red[boo]\n# head"
    shown = plain(hostile)
    assert "\n" not in shown and "![" not in shown and "](" not in shown and ":red[" not in shown
    assert shown.replace("\\", "") == " ".join(hostile.split())
    assert plain("a" * 50, 10) == "a" * 9 + "…"


def button(at: AppTest, label: str, key_start: str = ""):
    return next(b for b in at.button if b.label == label and (b.key or "").startswith(key_start))


def test_memories_page_tells_the_clone_about_your_life(studio: AppTest, app: Clonr) -> None:
    clone = app.clones.create("Ada")
    studio.run()
    open_page(studio, "memories")
    studio.text_area[0].input("I just ran the Berlin marathon.")
    button(studio, "Tell my clone").click().run()
    assert not studio.exception
    assert [m.text for m in app.memory.list(clone.id, SHARED_FAN)] == ["I just ran the Berlin marathon."]
    assert "I just ran the Berlin marathon." in [t.value for t in studio.text]
    studio.text_area[0].input("x" * 5000)
    button(studio, "Tell my clone").click().run()
    assert "limit is 4,000" in studio.error[0].value
    assert len(app.memory.list(clone.id, SHARED_FAN)) == 1, "nothing else was stored"


def test_memories_page_shows_a_fans_memories_as_plain_text_and_pins_edits_and_deletes(studio: AppTest,
                                                                                      app: Clonr) -> None:
    clone = app.clones.create("Ada")
    hostile, plain_one, other = app.memory.remember(
        clone.id, "fan-1", ["Fan: ![x](https://evil.example/pixel.png) **bold**", "Fan: I keep bees",
                            "Fan: my sister is Mel"])
    app.memory.remember(clone.id, "fan-2", ["Fan: fan two's secret"])
    studio.run()
    open_page(studio, "memories")
    shown = [t.value for t in studio.text]
    assert hostile.text in shown, "shown as it was said, never rendered"
    assert not any("fan two" in s for s in shown), "one fan at a time"
    assert sum(c.value.startswith("In reply to: ") for c in studio.caption) == 2, "each line after the first"
    button(studio, "Pin", f"memories_fan_pin_{plain_one.id}").click().run()
    assert app.memory.list(clone.id, "fan-1")[1].pinned
    studio.text_area(key=f"memories_fan_text_{other.id}").input("Fan: my sister is Mel, a painter")
    next(b for b in studio.button if b.form_id == f"memories_fan_edit_{other.id}").click().run()
    assert "Fan: my sister is Mel, a painter" in [m.text for m in app.memory.list(clone.id, "fan-1")]
    app.store.update_memory(plain_one.id, superseded_by=other.id)  # a knowledge update got it wrong
    studio.run()
    assert any(c.value.startswith("Replaced by: ") for c in studio.caption)
    button(studio, "Still true", f"memories_fan_restore_{plain_one.id}").click().run()
    assert app.memory._own(clone.id, "fan-1", plain_one.id).superseded_by is None
    button(studio, "Delete", f"memories_fan_delete_{hostile.id}").click().run()
    assert hostile.id not in [m.id for m in app.memory.list(clone.id, "fan-1")]
    assert [m.text for m in app.memory.list(clone.id, "fan-2")] == ["Fan: fan two's secret"], "untouched"


def test_memories_page_searches_like_a_reply_would_and_forgets_a_fan_only_when_sure(studio: AppTest,
                                                                                    app: Clonr) -> None:
    clone = app.clones.create("Ada")
    app.chat.start_turn(clone.id, "Hello", fan_id="fan-1").text()
    app.worker.drain()
    # After that turn, so none is in the conversation yet: a reply would be given them
    app.memory.remember(clone.id, "fan-1", ["Fan: my dog Biscuit loves the beach", "Fan: I work as a nurse"])
    app.memory.post_event(clone.id, "Walked on the beach.")  # listed in "Your life" and recalled for the fan too
    studio.run()
    open_page(studio, "memories")
    studio.text_input(key="memories_query").input("How is Biscuit at the beach?").run()
    assert not studio.exception
    recalled = [t.value for t in studio.tabs[1].text]
    assert recalled[0] == "Fan: my dog Biscuit loves the beach" and "Walked on the beach." in recalled
    assert any("chosen for: relevance" in c.value for c in studio.caption)
    forget = button(studio, "Forget this fan")
    assert forget.disabled, "not without saying so"
    studio.checkbox(key="memories_forget_sure_fan-1").check().run()
    button(studio, "Forget this fan").click().run()
    assert not studio.exception
    assert app.memory.list(clone.id, "fan-1") == [] and app.chat.history(clone.id, "fan-1") == []
    assert "No fan has chatted yet" in studio.info[0].value


def test_memories_page_lists_fifty_at_a_time(studio: AppTest, app: Clonr) -> None:
    clone = app.clones.create("Ada")
    app.memory.remember(clone.id, "fan-1", [f"Fan: fact number {n}" for n in range(60)])
    studio.run()
    open_page(studio, "memories")
    assert len(studio.tabs[1].text) == 50
    button(studio, "Show more").click().run()
    assert len(studio.tabs[1].text) == 60
    assert not [b for b in studio.button if b.label == "Show more"], "nothing more to show"


def test_group_chats_page_creates_a_group_and_lets_the_creator_talk_to_it(studio: AppTest, app: Clonr,
                                                                         fake_chat: FakeChatModel) -> None:
    ada = app.clones.create("Ada Lovelace")
    app.clones.create("Charles Babbage")
    studio.run()
    open_page(studio, "groups")
    assert "in no group chat yet" in studio.info[0].value
    studio.text_input(key="groups_name").input("Engines")
    studio.multiselect(key="groups_members").select(app.clones.get("charles-babbage").id)
    studio.button[0].click().run()
    assert not studio.exception
    group = app.groups.get("engines")
    assert set(group.members) == {ada.id, app.clones.get("charles-babbage").id}
    fake_chat.enqueue("Gears, my friend.")
    studio.chat_input[0].set_value("Charles, what is an engine? <b>bold</b>").run()
    assert not studio.exception
    assert [m.speaker_name for m in app.groups.history(group.id)] == ["You", "Charles Babbage"]
    assert "Gears, my friend." in [m.value for m in studio.markdown]
    assert "You: Charles, what is an engine? <b>bold</b>" in [t.value for t in studio.text], "fans' words as text"


# -- who the creator is ----------------------------------------------------------------------------------------

def test_a_studio_beyond_this_machine_shows_nothing_until_sign_in_is_set_up(
        studio: AppTest, app: Clonr, monkeypatch: pytest.MonkeyPatch) -> None:
    app.clones.create("Ada", long_description="My private notes.")
    monkeypatch.setattr(auth, "listening_address", lambda: "0.0.0.0")
    monkeypatch.setattr(auth, "sign_in_configured", lambda: False)
    studio.run()
    assert not studio.exception
    assert "beyond this machine" in studio.error[0].value and "127.0.0.1" in studio.error[0].value
    assert not studio.selectbox and "Ada" not in str(studio.sidebar)


def test_signed_in_creators_see_only_their_own_clones(studio: AppTest, app: Clonr,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    issuer = "https://auth.example.test"
    app.clones.acting_as(Creator(f"{issuer}|grace")).create("Grace's clone")
    app.clones.acting_as(Creator(f"{issuer}|alan")).create("Alan's clone")
    monkeypatch.setattr(auth, "listening_address", lambda: "0.0.0.0")
    monkeypatch.setattr(auth, "sign_in_configured", lambda: True)
    monkeypatch.setattr(auth, "signed_in_user", lambda: None)
    studio.run()
    assert [b.label for b in studio.button] == ["Sign in"] and not studio.selectbox
    monkeypatch.setattr(auth, "signed_in_user", lambda: {"iss": issuer, "sub": "grace"})
    studio.run()
    assert not studio.exception
    assert studio.sidebar.selectbox[0].options == ["Grace's clone"]


@pytest.mark.parametrize("address, local", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("0.0.0.0", False), ("", False), ("10.0.0.5", False)])
def test_only_a_loopback_address_is_local(address: str, local: bool) -> None:
    assert auth.is_local(address) is local


def test_profile_saves_boundaries_and_shows_an_error_for_a_bad_link(studio: AppTest, app: Clonr) -> None:
    app.clones.create("Ada")
    studio.run()

    def box(start: str):
        return next(t for t in studio.text_area if t.label.startswith(start))

    box("Topics to avoid").input("my divorce->I keep that private.\n\n  politics  ")
    box("Links it may share").input("Shop -> https://shop.example")
    studio.button[0].click().run()
    assert not studio.exception and "Saved" in studio.success[0].value
    clone = app.clones.get("ada")
    assert (clone.avoid_topics, clone.shared_links) == ("my divorce -> I keep that private.\npolitics",
                                                        "Shop -> https://shop.example")
    box("Links it may share").input("Shop -> javascript:alert(1)")
    box("Greeting").input("Changed!")
    studio.button[0].click().run()
    assert not studio.exception
    assert "line 1" in studio.error[0].value and "http" in studio.error[0].value
    after = app.clones.get("ada")
    assert (after.shared_links, after.greeting) == ("Shop -> https://shop.example", ""), "nothing was stored"


def test_a_hostile_clone_name_is_shown_as_text_on_every_page(studio: AppTest, app: Clonr) -> None:
    """A name from an imported card is the creator's outside text too: no page renders its Markdown or HTML."""
    app.clones.create("Ada ![x](https://evil.example/t.png) <img src=x onerror=alert(1)> :red[boo]")
    studio.run()
    for page in ("profile", "discover", "sources", "icebreaker", "description", "test_chat", "publish",
                 "memories", "groups", "api_usage", "monetise", "conversations", "discord", "feeds", "as_of",
                 "voice"):
        open_page(studio, page)
        shown = [e.value for e in [*studio.markdown, *studio.caption, *studio.info, *studio.warning,
                                   *studio.success, *studio.error, *studio.title, *studio.header,
                                   *studio.subheader] if isinstance(e.value, str)]
        for value in shown:  # plain() escapes each mark with a backslash, which shows the mark as text
            raw = value.replace("\\<", "").replace("\\:", "")
            assert "![x](" not in value and ":red[" not in raw and "<img" not in raw, f"{page}: {value!r}"


def test_memories_page_shows_the_memory_work_still_waiting(studio: AppTest, app: Clonr) -> None:
    clone = app.clones.create("Ada")
    studio.run()  # the studio starts: it makes up work left by the last process (none)
    app.worker.drain()
    with app.worker.held():  # an import whose background work no process has done yet
        app.memory.remember(clone.id, "f_1", ["Fan: I keep bees.", "Fan: I moved to Porto."])
    open_page(studio, "memories")
    assert any("waiting: 2 memories to score" in info.value for info in studio.info)
    app.memory.catch_up()
    app.worker.drain()
    open_page(studio, "memories")
    assert not any("is waiting" in info.value for info in studio.info)
