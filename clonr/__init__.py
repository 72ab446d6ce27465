"""Clonr: build an AI clone of a person from their own data, and publish it for fans to chat with."""

__version__ = "0.1.0"  # before the imports: modules below read it

from clonr.app import Check, Clonr, freeze_startup_objects
from clonr.config import Settings, load_settings
from clonr.errors import ClonrError

__all__ = ["Check", "Clonr", "ClonrError", "Settings", "__version__", "freeze_startup_objects", "load_settings"]
