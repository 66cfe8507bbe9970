"""A fresh stack (the `stowage` binary) and a headless Chromium for the console tests."""

import os
import shutil
import sys

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import stowage_stack  # noqa: E402


@pytest.fixture(scope="session")
def target():
    """A second stack, the other end of the writer."""
    process, started = stowage_stack.start("stowage-browser-target-")
    yield started
    stowage_stack.stop(process)


@pytest.fixture(scope="session")
def stack(target):
    """A fresh stack: its url, the admin's email, console password and master token, and its data dir.
    It offers the second stack as the region "other"."""
    process, started = stowage_stack.start("stowage-browser-", "--region", f"other={target.url}")
    yield started
    stowage_stack.stop(process)


@pytest.fixture
def browser(tmp_path_factory):
    """Headless Chromium from Debian's packages, with the network quiet."""
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
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
