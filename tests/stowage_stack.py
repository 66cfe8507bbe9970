"""Starts a real stack (the `stowage` binary) on a free loopback port; shared by the Python test suites."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections import namedtuple

Stack = namedtuple("Stack", "url email password token data_dir")

# The data dir and schema `start` made for each server it started, removed again by `stop`.
_made = {}


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _binary():
    explicit = os.environ.get("STOWAGE_BIN")
    if explicit:
        return explicit
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "..", "target"))
    return os.path.join(target, "debug", "stowage")


def start(prefix, *args):
    """(process, Stack) of a fresh stack, once it answers; the first start's secrets come from its stdout.
    `args` go to `stowage serve` as they are (for example `--region`). With `STOWAGE_TEST_S3_BUCKET` and
    `STOWAGE_TEST_S3_ENDPOINT` set, file bytes go to that S3-compatible bucket (credentials from `AWS_*`);
    with `STOWAGE_TEST_DATABASE_URL`, the catalog and tables go to that PostgreSQL database, a schema per stack."""
    data_dir = tempfile.mkdtemp(prefix=prefix)
    bucket = os.environ.get("STOWAGE_TEST_S3_BUCKET")
    if bucket:
        # File bytes in the S3-compatible store CI runs, below a prefix of this stack's own.
        args = (*args, "--s3-bucket", bucket, "--s3-endpoint", os.environ["STOWAGE_TEST_S3_ENDPOINT"],
                "--s3-prefix", os.path.basename(data_dir))
    database = os.environ.get("STOWAGE_TEST_DATABASE_URL")
    schema = None
    if database:
        schema = "py_" + "".join(c if c.isalnum() else "_" for c in os.path.basename(data_dir).lower())[-30:]
        args = (*args, "--database-url", database, "--database-schema", schema)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [_binary(), "serve", "--data-dir", data_dir, "--listen", f"127.0.0.1:{port}", *args],
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
    assert secrets.get("token"), "the first start printed no admin token"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/v2/storage", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    _made[process.pid] = (data_dir, schema)
    return process, Stack(url, "admin@localhost", secrets.get("password"), secrets["token"], data_dir)


def call(url, token, method, path, body=None, header="X-StorageApi-Token", timeout=600):
    """The JSON answer of `method path` on the stack at `url` (None when empty); `body` goes as JSON."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header(header, token)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read()
        return json.loads(text) if text else None


def stop(process):
    """Stops the stack with SIGTERM and removes its data dir; its exit code."""
    process.terminate()
    code = process.wait(timeout=20)
    discard(*_made.pop(process.pid, (None, None)))
    return code


def discard(data_dir, schema=None):
    """Removes what a stopped stack kept: its data dir and, on PostgreSQL, its catalog schema and the
    schema of its tables. Test runs would otherwise leave gigabytes behind on the machine."""
    if data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)
    database = os.environ.get("STOWAGE_TEST_DATABASE_URL")
    if schema and database:
        subprocess.run(["psql", "-q", database, "-c", f"DROP SCHEMA IF EXISTS {schema} CASCADE",
                        "-c", f"DROP SCHEMA IF EXISTS {schema}_tables CASCADE"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
