"""Clonr over HTTP: the OpenAI-compatible API (`/v1/models`, `/v1/chat/completions`) for API keys."""

from clonr.api.openai_compat import mount_openai

__all__ = ["mount_openai"]
