"""A reply as it comes: "… is writing" from the moment the message is sent, then its words as they stream."""

from collections.abc import Iterable, Iterator

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from studio.markup import plain


def show_writing(name: str, doing: str = "writing") -> DeltaGenerator:
    """Draw the sign where the reply will be; the model may take seconds to read its prompt."""
    sign = st.empty()
    sign.caption(f"{plain(name)} is {doing}…")
    return sign


def clearing(pieces: Iterable[str], sign: DeltaGenerator) -> Iterator[str]:
    """The reply's pieces, for `st.write_stream`; the sign goes when the first one comes."""
    for n, piece in enumerate(pieces):
        if n == 0:
            sign.empty()
        yield piece
