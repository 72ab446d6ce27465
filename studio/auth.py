"""Who the creator is: the single local creator on 127.0.0.1; anywhere else, whoever signed in.

A studio that listens beyond this machine shows nothing until sign-in is set up (Streamlit's `st.login`
with any OIDC provider, Supabase Auth included: an `[auth]` section in `.streamlit/secrets.toml`), and
then shows each creator only their own clones.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import streamlit as st

from clonr.access import LOCAL_CREATOR, Creator

LOOPBACK_NAMES = {"localhost"}


def is_local(address: str | None) -> bool:
    """Whether the studio listens on this machine only (an empty address means every interface)."""
    if not address:
        return False
    if address in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def listening_address() -> str | None:
    return st.get_option("server.address")


def sign_in_configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets.toml at all
        return False


def signed_in_user() -> dict[str, Any] | None:
    """The signed-in person's claims, or None."""
    return st.user.to_dict() if st.user.is_logged_in else None


def creator() -> Creator:
    """The creator this session acts as; stops the page until one is known."""
    address = listening_address()
    if is_local(address):
        return LOCAL_CREATOR
    if not sign_in_configured():
        st.error(f"This studio listens on {address or 'every address'}, beyond this machine, and nobody signs "
                 "in: set up sign-in (an [auth] section in .streamlit/secrets.toml for any OIDC provider, "
                 "Supabase Auth included) or serve it on 127.0.0.1.")
        st.stop()
    user = signed_in_user()
    if user is None:
        st.title("Clonr studio")
        st.button("Sign in", type="primary", on_click=st.login)
        st.stop()
    return Creator(f"{user.get('iss', '')}|{user['sub']}")
