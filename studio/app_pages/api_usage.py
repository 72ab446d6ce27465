"""API keys for the OpenAI-compatible endpoint, how to call it, and what the creator's clones answered (usage).

Keys and usage come from `app.keys` and `app.usage` for the signed-in creator only. A new key's secret lives in
this one run's local variable: it is never put in session state, so a rerun or another page cannot show it again.
"""

from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from clonr import ClonrError
from clonr.billing import UsageLine
from clonr.store import ApiKeyRecord
from studio import auth, state
from studio.markup import plain
from studio.resources import get_app, my_clones

NO_KEY = "-"  # the usage service's group for replies no API key asked for (studio, widget)
COUNTS = ["replies", "failed", "fans", "prompt_tokens", "completion_tokens", "speech_seconds"]
COLUMNS = {"replies": "replies", "failed": "failed", "fans": "active fans", "prompt_tokens": "prompt tokens",
           "completion_tokens": "completion tokens", "first_token_p50_ms": "first token p50 (ms)",
           "first_token_p95_ms": "first token p95 (ms)", "speech_seconds": "seconds spoken"}

app = get_app()
creator = auth.creator()
clones = {c.id: c for c in my_clones().list()}
st.header("API & usage")
st.caption("Let your own programs talk with your published clones through an OpenAI-compatible API, and see "
           "what your clones answered on every surface.")


def when(moment: datetime | None, empty: str = "") -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else empty


def expiry(last_day: date | None) -> timedelta | None:
    """The key works through `last_day` (UTC) and stops at the midnight after it."""
    if last_day is None:
        return None
    return datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=UTC) - datetime.now(UTC)


def clone_names(key: ApiKeyRecord) -> str:
    if key.clone_ids is None:
        return "all"
    return ", ".join(clones[i].name if i in clones else f"{i} (deleted)" for i in key.clone_ids)


def revoke(prefix: str) -> None:
    """From the button's callback, before the rerun, so the table below already shows it revoked."""
    try:
        record = app.keys.revoke(creator, prefix)
        st.success(f"Revoked {record.prefix} ({plain(record.name, 80)}): it stops working now.")
    except ClonrError as exc:
        st.error(str(exc))


def key_table(keys: list[ApiKeyRecord]) -> None:
    st.dataframe(pd.DataFrame([
        {"name": k.name, "prefix": k.prefix, "clones": clone_names(k), "created": when(k.created_at),
         "expires": when(k.expires_at, "never"), "last used": when(k.last_used_at, "never"),
         "revoked": when(k.revoked_at, "no")} for k in keys]), hide_index=True)


def daily(lines: list[UsageLine]) -> pd.DataFrame:
    """One row per day from the first to the last, quiet days at zero, so the bars keep their real spacing."""
    frame = pd.DataFrame([asdict(line) for line in lines]).set_index("group")
    frame.index = pd.to_datetime(frame.index)
    frame = frame.reindex(pd.date_range(frame.index.min(), frame.index.max(), freq="D"))
    frame[COUNTS] = frame[COUNTS].fillna(0)
    frame.index = frame.index.strftime("%Y-%m-%d")
    return frame.rename(columns=COLUMNS)


def grouped(lines: list[UsageLine], label: str, names: dict[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame([asdict(line) for line in lines]).rename(columns={**COLUMNS, "group": label})
    frame[label] = frame[label].map(lambda group: names.get(group, group))
    return frame


st.subheader("API keys")
with st.form("api_usage_create_form", clear_on_submit=True):
    name = st.text_input("Name", placeholder="My app", key="api_usage_name",
                         help="To tell your keys apart, e.g. the program that uses it.")
    limit = st.multiselect("Only for these clones", list(clones), format_func=lambda i: clones[i].name,
                           placeholder="All your clones", key="api_usage_clones")
    last_day = st.date_input("Last day it works (UTC)", value=None, min_value=datetime.now(UTC).date(),
                             key="api_usage_expires", help="Leave it empty for a key that does not expire.")
    create = st.form_submit_button("Create key", type="primary")
made = None
if create:
    try:
        made = app.keys.create(creator, name, [my_clones().get(i).id for i in limit] or None, expiry(last_day))
    except ClonrError as exc:
        st.error(str(exc))
if made is not None:
    st.success(f"Key {made.record.prefix} ({plain(made.record.name, 80)}) created.")
    st.warning("Copy the secret now: it is not shown again. Clonr keeps only a hash of it.")
    st.code(made.secret, language=None)

keys = app.keys.list(creator)
if not keys:
    st.info("No keys yet: create one above, or with `clonr keys create NAME`.")
else:
    key_table(keys)
    live = {k.prefix: k for k in keys if k.revoked_at is None}
    if live:
        with st.expander("Revoke a key"):
            prefix = st.selectbox("Key", list(live), format_func=lambda p: f"{live[p].name} · {p}",
                                  key="api_usage_revoke_key")
            sure = st.checkbox("Yes, revoke it: programs using it stop working at once",
                               key=f"api_usage_revoke_sure_{prefix}")
            st.button("Revoke", key="api_usage_revoke", disabled=not sure, on_click=revoke, args=(prefix,))

st.subheader("How to use it")
chosen = clones.get(state.clone_id() or "")
slug = chosen.slug if chosen else "your-clone-slug"
st.code(f"""from openai import OpenAI

client = OpenAI(base_url="{app.settings.widget_url}/v1", api_key="clonr_...")  # your key's secret
reply = client.chat.completions.create(
    model="{slug}",  # the clone's slug
    user="customer-42",  # your own id for your end user: each has their own conversation and memories
    messages=[{{"role": "user", "content": "Hi! What are you working on?"}}],
)
print(reply.choices[0].message.content)""", language="python")
st.caption("The official openai SDK and LangChain's ChatOpenAI work unchanged (streaming too); `/v1/models` lists "
           "the clones a key may use. Clonr keeps each end user's history, so send only the new message. The "
           "API is served by the widget server (`clonr serve`).")
if chosen and not chosen.published:
    st.caption(f"{plain(chosen.name)} is a draft: publish it (step 7) before the API answers for it.")

st.subheader("Usage")
try:
    by_day, by_clone, by_key = (app.usage.summary(by) for by in ("day", "clone", "key"))
except ClonrError as exc:
    st.error(str(exc))
    st.stop()
if not by_day:
    st.info("No usage yet: replies on the widget, the API and the test chat are counted here once your clones "
            "answer.")
    st.stop()
days = daily(by_day)
st.caption("Per day (UTC), from the usage ledger: one row per reply attempt. Replies include those cut short; "
           "failed attempts are counted apart.")
left, right = st.columns(2)
with left:
    st.markdown("**Messages per day**")
    st.bar_chart(days[["replies", "failed"]], stack=True)
    st.markdown("**Tokens per day**")
    st.bar_chart(days[["prompt tokens", "completion tokens"]], stack=True)
with right:
    st.markdown("**Active fans per day**")
    st.bar_chart(days[["active fans"]])
    st.markdown("**Time to the first token**")
    st.bar_chart(days[["first token p50 (ms)", "first token p95 (ms)"]], stack=False)
    if days["seconds spoken"].any():
        st.markdown("**Seconds spoken per day** (widget, API, Discord)")
        st.bar_chart(days[["seconds spoken"]])
names = {k.id: f"{k.name} ({k.prefix})" for k in keys} | {NO_KEY: "no key (studio, widget)"}
st.markdown("**By clone**")
st.dataframe(grouped(by_clone, "clone", {c.slug: c.name for c in clones.values()}), hide_index=True)
st.markdown("**By key**")
st.dataframe(grouped(by_key, "key", names), hide_index=True)
