"""Clonr over HTTP: the OpenAI-compatible endpoints and the conversations API for API keys, served with every
installed surface by `clonr serve` (`create_server`)."""

from clonr.api.server import SURFACES_GROUP, create_api, create_server, serve

__all__ = ["SURFACES_GROUP", "create_api", "create_server", "serve"]
