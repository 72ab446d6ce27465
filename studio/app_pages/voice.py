"""The clone's voice: an offline Piper voice, or the creator's own, cloned with ElevenLabs from recordings they
confirm are of their own voice; listen to each before choosing it. Fans hear it on the widget and through the API."""

import streamlit as st

from clonr import ClonrError
from clonr.voice import SAMPLE_SUFFIXES, Speech, encode
from studio.markup import plain
from studio.resources import current_clone, get_app

app = get_app()
clone = current_clone()
st.header("Voice")
st.caption(f"Fans press the speaker on a reply (or turn on \"Speak replies aloud\") to hear {plain(clone.name)}; "
           "the API speaks with it too (POST /v1/audio/speech). Seconds spoken are counted under API & usage.")


def mp3(speech: Speech) -> bytes:
    return b"".join(encode([speech], "mp3"))


choices = app.voice.voices(clone.id)
labels = {f"{c.option.provider}:{c.option.voice_id}": c for c in choices}
chosen = next((key for key, c in labels.items() if c.chosen), None)
st.subheader("The voices it may use")
picked = st.radio("Voice", list(labels), index=list(labels).index(chosen) if chosen in labels else 0,
                  key="voice_pick", format_func=lambda key: plain(labels[key].option.label)
                  + (" · your own voice" if labels[key].cloned else ""))
listen, choose = st.columns(2)
if listen.button("Listen", key="voice_listen"):
    option = labels[picked].option
    try:
        with st.spinner("Speaking…"):
            st.audio(mp3(app.voice.preview(clone.id, option.provider, option.voice_id)), format="audio/mpeg")
    except ClonrError as exc:
        st.error(str(exc))
if choose.button("Speak with this voice", type="primary", key="voice_choose", disabled=picked == chosen):
    try:
        app.voice.choose(clone.id, labels[picked].option.provider, labels[picked].option.voice_id)
        st.rerun()
    except ClonrError as exc:
        st.error(str(exc))

st.subheader("Your own voice")
if not app.voice.can_clone:
    st.info("To clone your own voice, set ELEVENLABS_API_KEY on the server (an ElevenLabs account with instant voice "
            "cloning). Without it, the clone speaks with the offline voices above.")
else:
    with st.form("voice_clone", clear_on_submit=True):
        samples = st.file_uploader("Recordings of your voice: a minute or more in all, clear, no music",
                                   type=[s.lstrip(".") for s in SAMPLE_SUFFIXES], accept_multiple_files=True,
                                   key="voice_samples")
        mine = st.checkbox("These recordings are of my own voice, and I agree to it being cloned for my AI clone",
                           key="voice_mine")
        make = st.form_submit_button("Clone my voice")
    if make:
        try:
            with st.spinner("Cloning your voice with ElevenLabs…"):
                made = app.voice.clone_voice(clone.id, [(f.name, f.getvalue()) for f in samples or []],
                                             consent=mine)
            st.success(f"Cloned {plain(made.label)}: choose it above after listening to it.")
        except ClonrError as exc:
            st.error(str(exc))
