"""Starts a real stack (the `stowage` binary) on a free loopback port for the client tests."""

import os
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _binary():
    explicit = os.environ.get("STOWAGE_BIN")
    if explicit:
        return explicit
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "target"))
    return os.path.join(target, "debug", "stowage")


@pytest.fixture(scope="session")
def stack():
    """(url, admin token) of a fresh stack; stopped with SIGTERM at the end."""
    data_dir = tempfile.mkdtemp(prefix="stowage-py-")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [_binary(), "serve", "--data-dir", data_dir, "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    token = None
    for line in process.stdout:
        if "master Storage API token" in line:
            token = next(process.stdout).strip()
            break
    assert token, "the first start printed no admin token"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/v2/storage", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    yield url, token
    process.terminate()
    assert process.wait(timeout=20) == 0
