"""Starts a real stack (the `stowage` binary) on a free loopback port for the client tests."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import stowage_stack  # noqa: E402


@pytest.fixture(scope="session")
def stack():
    """(url, admin token) of a fresh stack; stopped with SIGTERM at the end."""
    process, started = stowage_stack.start("stowage-py-")
    yield started.url, started.token
    assert stowage_stack.stop(process) == 0
