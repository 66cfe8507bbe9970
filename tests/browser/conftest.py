"""A fresh stack (the `stowage` binary) and a headless Chromium for the console tests."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections import namedtuple

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service


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


Stack = namedtuple("Stack", "url email password token data_dir")


@pytest.fixture(scope="session")
def stack():
    """A fresh stack: its url, the admin's email, console password and master token, and its data dir."""
    data_dir = tempfile.mkdtemp(prefix="stowage-browser-")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [_binary(), "serve", "--data-dir", data_dir, "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    secrets = {}
    for line in process.stdout:
        if "master Storage API token" in line:
            secrets["token"] = next(process.stdout).strip()
        if "Console sign-in" in line:
            secrets["password"] = next(process.stdout).strip()
            break
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/v2/storage", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    yield Stack(url, "admin@localhost", secrets["password"], secrets["token"], data_dir)
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture
def browser():
    """Headless Chromium from Debian's packages, with the network quiet."""
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}",
    ]:
        options.add_argument(flag)
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_window_size(1280, 800)
    yield driver
    driver.quit()


@pytest.fixture
def shots():
    """Where screenshots go (CI keeps them as artifacts)."""
    directory = os.environ.get("STOWAGE_SCREENSHOTS", os.path.join(os.path.dirname(__file__), "screenshots"))
    os.makedirs(directory, exist_ok=True)
    return directory
