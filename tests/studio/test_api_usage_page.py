"""The "API & usage" studio page: keys made, shown once, listed and revoked; usage plotted from the real ledger."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from clonr import Clonr
from clonr.access import LOCAL_CREATOR, Creator
from clonr.errors import ModelError, SignInError
from clonr.store import Clone
from studio import auth, resources
from tests.conftest import FakeChatModel

ENTRYPOINT = str(Path(__file__).resolve().parents[2] / "studio" / "streamlit_app.py")
DAY_ONE = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DAY_THREE = DAY_ONE + timedelta(days=2)
OTHER = Creator("https://auth.example.test|grace")


@pytest.fixture
def studio(app: Clonr, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setattr(resources, "make_clonr", lambda: app)
    monkeypatch.setattr(auth, "listening_address", lambda: "127.0.0.1")  # the local creator, as in test_pages
    st.cache_resource.clear()
    yield AppTest.from_file(ENTRYPOINT, default_timeout=30)
    st.cache_resource.clear()


@pytest.fixture
def ada(app: Clonr) -> Clone:
    return app.clones.publish(app.clones.create("Ada Lovelace").id)


def open_page(at: AppTest, page: str = "api_usage") -> AppTest:
    at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert not at.exception
    return at


def page_text(at: AppTest) -> str:
    """Everything the page sent to the browser, tables included, as one text."""

    def walk(node: Any) -> Iterator[str]:
        if getattr(node, "proto", None) is not None:
            yield str(node.proto)
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    return "".join(walk(at._tree))


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def create_key(at: AppTest, name: str) -> None:
    at.text_input(key="api_usage_name").input(name)
    button(at, "Create key").click().run()
    assert not at.exception


def keys_table(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "prefix" in d.value.columns)


def table(at: AppTest, label: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if label in d.value.columns).set_index(label)


def charts(at: AppTest) -> dict[str, pd.DataFrame]:
    """Each chart's data as a wide frame (one row per day), named by its figures, e.g. "replies+failed"."""
    found = {}
    for chart in at.get("vega_lite_chart"):
        [dataset] = chart.proto.datasets
        data = pa.ipc.open_stream(dataset.data.data).read_all().to_pandas()
        index, color, value = (f"{part} -- streamlit-generated" for part in ("index", "color", "value"))
        wide = (data.pivot(index=index, columns=color, values=value) if color in data.columns
                else data.set_index(index))
        found["+".join(sorted(wide.columns))] = wide
    return found


def test_a_new_key_is_shown_once_works_and_is_listed(studio: AppTest, app: Clonr) -> None:
    studio.run()
    open_page(studio)
    assert "No keys yet" in studio.info[0].value
    create_key(studio, "My app")
    [secret] = [c.value for c in studio.code if c.value.startswith("clonr_")]
    assert "not shown again" in studio.warning[0].value
    [record] = app.keys.list(LOCAL_CREATOR)
    assert secret.split("_")[1] == record.prefix and record.secret_hash not in secret, "only a hash is stored"
    assert app.keys.authenticate(secret).owner_id == LOCAL_CREATOR.id
    listed = keys_table(studio).iloc[0]
    assert (listed["name"], listed["prefix"], listed["clones"], listed["expires"], listed["revoked"]) == (
        "My app", record.prefix, "all", "never", "no")
    studio.run()
    assert not studio.exception
    assert secret not in page_text(studio), "a rerun does not show the secret again"
    assert secret[len("clonr_") + len(record.prefix):] not in repr(studio.session_state.to_dict())
    assert keys_table(studio).iloc[0]["last used"] != "never", "authenticating marked it used"
    open_page(studio, "profile")
    open_page(studio)
    assert secret not in page_text(studio), "nor does coming back to the page"
    assert record.prefix in page_text(studio)


def test_a_key_can_be_limited_to_some_clones_and_expire(studio: AppTest, app: Clonr, ada: Clone) -> None:
    app.clones.create("Charles Babbage")
    studio.run()
    open_page(studio)
    studio.multiselect(key="api_usage_clones").select(ada.id)
    last_day = datetime.now(UTC).date() + timedelta(days=30)
    studio.date_input(key="api_usage_expires").set_value(last_day)
    create_key(studio, "Ada only")
    [record] = app.keys.list(LOCAL_CREATOR)
    assert record.clone_ids == (ada.id,)
    assert record.expires_at is not None
    assert abs(record.expires_at - datetime.combine(last_day + timedelta(days=1), datetime.min.time(), UTC)) \
        < timedelta(seconds=5), "it works through the last day chosen"
    listed = keys_table(studio).iloc[0]
    assert listed["clones"] == "Ada Lovelace" and listed["expires"].startswith(str(last_day + timedelta(days=1)))


def test_a_key_without_a_name_is_refused_in_one_line(studio: AppTest, app: Clonr) -> None:
    studio.run()
    open_page(studio)
    create_key(studio, "   ")
    assert "needs a name" in studio.error[0].value and "\n" not in studio.error[0].value
    assert app.keys.list(LOCAL_CREATOR) == [] and not studio.code[1:], "nothing made, no secret shown"


def test_revoking_a_key_needs_a_tick_and_stops_it_at_once(studio: AppTest, app: Clonr) -> None:
    keep = app.keys.create(LOCAL_CREATOR, "keep")
    drop = app.keys.create(LOCAL_CREATOR, "drop")
    studio.run()
    open_page(studio)
    assert button(studio, "Revoke").disabled, "not without saying so"
    studio.selectbox(key="api_usage_revoke_key").select(drop.record.prefix).run()
    studio.checkbox(key=f"api_usage_revoke_sure_{drop.record.prefix}").check().run()
    button(studio, "Revoke").click().run()
    assert not studio.exception
    assert "Revoked" in studio.success[0].value
    with pytest.raises(SignInError, match="revoked"):
        app.keys.authenticate(drop.secret)
    assert app.keys.authenticate(keep.secret).key_id == keep.record.id, "the other key still works"
    revoked = keys_table(studio).set_index("prefix")["revoked"]
    assert revoked[drop.record.prefix] != "no" and revoked[keep.record.prefix] == "no"
    assert studio.selectbox(key="api_usage_revoke_key").options == [f"keep · {keep.record.prefix}"]


def test_the_snippet_calls_the_local_v1_with_the_openai_sdk(studio: AppTest, app: Clonr, ada: Clone) -> None:
    studio.run()
    open_page(studio)
    [snippet] = [c.value for c in studio.code if c.language == "python"]
    assert f'base_url="http://127.0.0.1:{app.settings.widget_port}/v1"' in snippet
    assert f'model="{ada.slug}"' in snippet and "user=" in snippet and "from openai import OpenAI" in snippet


def api_turn(app: Clonr, secret: str, clone: Clone, user: str) -> None:
    """A reply as the OpenAI-compatible endpoint makes it: the key's end user, on the `api` channel."""
    actor = app.keys.authenticate(secret)
    fan = app.fans.end_user(actor, clone.id, user)
    app.fans.turn(actor, clone.id, fan.fan_id, "Hi, what are you working on?", channel="api").text()


def test_usage_is_plotted_per_day_and_tabled_by_clone_and_key(studio: AppTest, app: Clonr, ada: Clone,
                                                             fake_chat: FakeChatModel,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    stores = [importlib.import_module(f"clonr.store.{name}") for name in ("messages", "ledger")]
    made = app.keys.create(LOCAL_CREATOR, "My app")
    for store in stores:
        monkeypatch.setattr(store, "_now", lambda: DAY_ONE)
    for user, wait in (("1", 0.01), ("2", 0.03), ("1", 0.05)):
        fake_chat.first_word_delay_s = wait  # as a model reading prompts of different lengths
        api_turn(app, made.secret, ada, user)
    fake_chat.first_word_delay_s = 0.07
    app.chat.start_turn(ada.id, "Hello from the studio", fan_id="studio").text()
    for store in stores:
        monkeypatch.setattr(store, "_now", lambda: DAY_THREE)
    api_turn(app, made.secret, ada, "2")
    fake_chat.fail_with(ConnectionError("down"))
    with pytest.raises(ModelError):
        app.chat.start_turn(ada.id, "Still there?", fan_id="studio").text()
    rows = app.store.usage_rows(LOCAL_CREATOR.id)
    assert len(rows) == 6

    studio.run()
    open_page(studio)
    plotted = charts(studio)
    days = ["2026-03-02", "2026-03-03", "2026-03-04"]
    messages = plotted["failed+replies"]
    assert list(messages.index) == days, "the quiet day is shown, at zero"
    assert messages["replies"].tolist() == [4, 0, 1] and messages["failed"].tolist() == [0, 0, 1]
    assert plotted["active fans"]["active fans"].tolist() == [3, 0, 2]
    tokens = plotted["completion tokens+prompt tokens"]

    def day_sum(field: str, day: date) -> int:
        return sum(r[field] for r in rows if r["created_at"].date() == day)

    assert tokens["prompt tokens"].tolist() == [day_sum("prompt_tokens", DAY_ONE.date()), 0,
                                                day_sum("prompt_tokens", DAY_THREE.date())]
    assert tokens["completion tokens"].tolist()[0] == day_sum("completion_tokens", DAY_ONE.date()) > 0
    waits = sorted(r["first_token_ms"] for r in rows if r["created_at"].date() == DAY_ONE.date())
    latency = plotted["first token p50 (ms)+first token p95 (ms)"]
    assert latency.loc["2026-03-02", "first token p50 (ms)"] == pytest.approx((waits[1] + waits[2]) / 2)
    assert latency.loc["2026-03-02", "first token p95 (ms)"] >= latency.loc["2026-03-02", "first token p50 (ms)"]

    by_clone = table(studio, "clone")
    assert by_clone.loc["Ada Lovelace", "replies"] == 5 and by_clone.loc["Ada Lovelace", "failed"] == 1
    by_key = table(studio, "key")
    assert by_key.loc[f"My app ({made.record.prefix})", ["replies", "active fans"]].tolist() == [4, 2]
    assert by_key.loc["no key (studio, widget)", "replies"] == 1


def test_an_empty_ledger_says_so_instead_of_empty_charts(studio: AppTest) -> None:
    studio.run()
    open_page(studio)
    assert any("No usage yet" in i.value for i in studio.info)
    assert not studio.get("vega_lite_chart")


def test_another_creators_keys_and_usage_never_show(studio: AppTest, app: Clonr, ada: Clone) -> None:
    theirs = app.keys.create(OTHER, "Grace's secret app")
    their_clones = app.clones.acting_as(OTHER)
    bob = their_clones.publish(their_clones.create("Bob").id)
    api_turn(app, theirs.secret, bob, "42")
    app.chat.acting_as(OTHER).start_turn(bob.id, "Hi", fan_id="studio").text()
    mine = app.keys.create(LOCAL_CREATOR, "mine")
    studio.run()
    open_page(studio)
    shown = page_text(studio)
    assert theirs.record.prefix not in shown and "Grace" not in shown and "bob" not in shown.lower()
    assert keys_table(studio)["prefix"].tolist() == [mine.record.prefix]
    assert studio.selectbox(key="api_usage_revoke_key").options == [f"mine · {mine.record.prefix}"]
    assert any("No usage yet" in i.value for i in studio.info), "their replies are not the local creator's usage"
