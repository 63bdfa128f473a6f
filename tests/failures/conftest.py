"""Fixtures of the diagnosis tests (the fake GitHub is the shared one: the App installed on
octo-org/widgets): the worker's diagnosis loop reading from it."""

import pytest

REPO = "octo-org/widgets"


@pytest.fixture
def loop(diagnosis):
    """The diagnosis loop (the shared `diagnosis` fixture), by the name these tests use."""
    return diagnosis
