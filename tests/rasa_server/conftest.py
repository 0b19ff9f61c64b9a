"""Fixtures shared by the tests of the Rasa server's patches."""

from __future__ import annotations

import dataclasses

import pytest

import settings as settings_module
from rasa_server import patches


@pytest.fixture
def performance(monkeypatch):
    """Change ``settings.performance`` fields for the patches in this process, as the environment does for a server."""
    base = settings_module.get_settings()

    def change(**fields) -> None:
        changed = dataclasses.replace(base.performance, **fields)
        monkeypatch.setattr(patches, "get_settings", lambda: dataclasses.replace(base, performance=changed))

    return change
