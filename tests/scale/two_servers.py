#!/usr/bin/env python3
"""Two `stowage serve` processes on one PostgreSQL database and one S3-compatible bucket behave as one
stack, and one of them can be SIGKILLed in the middle of its jobs without a job ending twice or a row
being lost or doubled.

- A multi-block upload whose blocks go to different servers is committed by a third request and
  downloads whole from either.
- Both servers take imports (appends to one table without a key, so a row applied twice would show),
  exports, token operations and Storage Writer runs at once; server A is killed while it runs one.
- Every job ends (server B takes over A's jobs when their leases expire): an import that says
  `success` is in the table exactly once and one that says `error` not at all; a writer run that says
  `success` left the target equal to the source; a token refreshed on one server is refused by the
  other with its old secret.
- B carries on: a new import through it succeeds, and A restarted on its data dir serves the same stack.
- A schedule a second apart, with both servers looking for due schedules every second: each turn makes
  at most one run, and a run starts only after the one before it ended.

Needs STOWAGE_TEST_DATABASE_URL, STOWAGE_TEST_S3_BUCKET, STOWAGE_TEST_S3_ENDPOINT and the AWS_*
credentials (CI starts both servers), and `psql` to see which server holds a job; stdlib otherwise. `--seed` replays a run.

    python3 tests/scale/two_servers.py
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "crash"))
from crash_test import Stack, csv  # noqa: E402  (the crash test's client of one server)
import stowage_stack  # noqa: E402  (on the path the crash test put it on)

ROWS = 50_000


def put(url, data, headers=None):
    request = urllib.request.Request(url, data=data, method="PUT")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status


def on(server, url):
    """The same URL, sent to another server of the stack."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{server.url.split('://', 1)[1]}/{rest.split('/', 1)[1]}"


def upload_in_blocks(a, b, payload):
    """Prepares a file on A, sends its first block to A and its second to B, commits on A."""
    file = a.call("POST", "/files/prepare", {"name": "blocks.csv.gz"})
    params = file["absUploadParams"]
    parts = dict(p.split("=", 1) for p in params["absCredentials"]["SASConnectionString"].split(";") if p)
    blob = f"{parts['BlobEndpoint']}/{params['container']}/{params['blobName']}?{parts['SharedAccessSignature']}"
    half = len(payload) // 2
    ids = ["YmxvY2stMQ==", "YmxvY2stMg=="]  # base64 of block-1, block-2
    put(on(a, blob) + f"&comp=block&blockid={ids[0]}", payload[:half])
    put(on(b, blob) + f"&comp=block&blockid={ids[1]}", payload[half:])
    listing = "".join(f"<Latest>{block}</Latest>" for block in ids)
    put(on(a, blob) + "&comp=blocklist", f"<BlockList>{listing}</BlockList>".encode())
    return file["id"]


def download(server, file_id):
    request = urllib.request.Request(f"{server.url}/v2/storage/files/{file_id}/download")
    request.add_header("X-StorageApi-Token", server.token)
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.read()


def status_of(server, token):
    request = urllib.request.Request(f"{server.url}/v2/storage/tokens/verify")
    request.add_header("X-StorageApi-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def scheduled_once(a, b):
    """Runs a schedule a second apart for a few seconds on two servers; the failures it finds."""
    config = a.call("POST", "/components/keboola.wr-storage/configs", {"name": "every second"})["id"]
    settings = {"schedule": {"cronTab": "* * * * * *"},
                "target": {"componentId": "keboola.wr-storage", "configurationId": config}}
    scheduler = a.call("POST", "/components/keboola.scheduler/configs", {"name": "s", "configuration": settings})
    schedule = b.call("POST", "/schedules", {"configurationId": scheduler["id"]}, root="/scheduler")
    started = time.time()
    time.sleep(8)
    a.call("DELETE", f"/schedules/{schedule['id']}", root="/scheduler")
    elapsed = time.time() - started
    runs = b.queue("GET", f"/jobs?component=keboola.wr-storage&config={config}&limit=100")
    while not all(run["isFinished"] for run in runs):
        time.sleep(0.2)
        runs = b.queue("GET", f"/jobs?component=keboola.wr-storage&config={config}&limit=100")
    runs.sort(key=lambda run: int(run["id"]))
    print(f"a schedule a second apart made {len(runs)} runs in {elapsed:.1f} s on two servers", flush=True)
    failures = []
    if not runs or len(runs) > elapsed + 1:
        failures.append(f"a schedule a second apart made {len(runs)} runs in {elapsed:.1f} s")
    for before, after in zip(runs, runs[1:]):
        if after["createdTime"] < before["endTime"]:
            failures.append(f"run {after['id']} started before run {before['id']} ended")
    return failures


def main():
    parser = argparse.ArgumentParser(description="Two servers, one stack; one is killed mid-job.")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    for name in ("STOWAGE_TEST_DATABASE_URL", "STOWAGE_TEST_S3_BUCKET", "STOWAGE_TEST_S3_ENDPOINT"):
        if not os.environ.get(name):
            sys.exit(f"{name} is not set: this test needs a PostgreSQL database and an S3-compatible bucket")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"seed {seed}", flush=True)
    failures = []

    root = tempfile.mkdtemp(prefix="stowage-scale-")
    name = os.path.basename(root).replace("-", "_")
    shared = ["--stack-key-file", os.path.join(root, "stack.key"), "--automation-interval", "1"]
    a = Stack(os.path.join(root, "a"), name, shared)
    a.start()
    b = Stack(os.path.join(root, "b"), name, shared)
    b.token = a.token  # the stack was bootstrapped by A; B prints no banner
    b.start()

    # A file whose blocks went to different servers.
    payload = csv(0, ROWS)
    blocks = upload_in_blocks(a, b, payload)
    for server in (a, b):
        if download(server, blocks) != payload:
            failures.append(f"the file uploaded in blocks to both servers does not download whole from {server.url}")

    a.call("POST", "/buckets", {"name": "scale"})
    job = b.wait(b.call("POST", "/buckets/in.c-scale/tables-async", {"name": "rows", "dataFileId": blocks}))
    assert job["status"] == "success", job
    a.call("POST", "/buckets", {"name": "copy"})
    secret = b.call("POST", "/tokens", {"description": "writer", "bucketPermissions": {"in.c-copy": "write"}})["token"]
    writer = a.call("POST", "/components/keboola.wr-storage/configs",
                    {"name": "copy", "configuration": {"parameters": {"url": b.url, "#token": secret}}})["id"]
    b.call("POST", f"/components/keboola.wr-storage/configs/{writer}/rows", {"name": "rows", "configuration": {
        "storage": {"input": {"tables": [{"source": "in.c-scale.rows", "destination": "rows"}]}},
        "parameters": {"mode": "replace"}}})
    file_id = a.upload(payload)

    # Both servers take work at once; A is killed while it runs.
    submitted, lock = [], threading.Lock()

    def submit(server, kind):
        try:
            if kind == "import":
                job = server.call("POST", "/tables/in.c-scale.rows/import-async",
                                  {"dataFileId": file_id, "incremental": True})
            elif kind == "export":
                job = server.call("POST", "/tables/in.c-scale.rows/export-async", {"gzip": True})
            else:
                job = server.queue("POST", "/jobs", {"component": "keboola.wr-storage", "config": writer, "mode": "run"})
            with lock:
                submitted.append((server, kind, job["id"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # A died under the request: the job may or may not exist, and is found below

    kinds = ["import"] * 8 + ["export"] * 3 + ["writer"] * 2
    threads = [threading.Thread(target=submit, args=(server, kind), daemon=True)
               for kind in kinds for server in (a, b)]
    for thread in threads:
        thread.start()
    token = a.call("POST", "/tokens", {"description": "rotated", "canReadAllFileUploads": True})
    # Kill A while it runs a job: the catalog names the server that holds each job's lease.
    with open(os.path.join(a.data_dir, "server.id")) as file:
        server_a = file.read().strip()
    held = f"SELECT count(*) FROM {a.schema()}.jobs WHERE status = 'processing' AND lease_owner LIKE '{server_a}/%'"
    deadline = time.time() + 30
    while time.time() < deadline:
        out = subprocess.run(["psql", os.environ["STOWAGE_TEST_DATABASE_URL"], "-tAc", held],
                             capture_output=True, text=True, check=True).stdout
        if int(out.strip() or 0) > 0:
            break
        time.sleep(0.05)
    else:
        failures.append("server A never ran a job: the kill would prove nothing")
    time.sleep(rng.uniform(0, 0.2))
    a.kill()
    killed = time.time()
    print("killed server A", flush=True)
    for thread in threads:
        thread.join(timeout=60)

    # Tokens: what A created lives on in B; a refresh on B ends the old secret everywhere.
    if status_of(b, token["token"]) != 200:
        failures.append("a token created on A does not work on B")
    refreshed = b.call("POST", f"/tokens/{token['id']}/refresh")["token"]
    if status_of(b, token["token"]) != 401 or status_of(b, refreshed) != 200:
        failures.append("a token refreshed on B still works with its old secret, or not with the new one")

    # Every job ends; B takes A's over when their leases expire. Jobs A took but never answered for
    # are found in the lists too.
    storage = {job["id"]: job for job in b.call("GET", "/jobs?limit=100")}
    runs = {job["id"]: job for job in b.queue("GET", "/jobs?limit=100")}
    deadline = time.time() + 180
    while time.time() < deadline:
        storage = {job["id"]: job for job in b.call("GET", "/jobs?limit=100")}
        runs = {job["id"]: job for job in b.queue("GET", "/jobs?limit=100")}
        if all(job["status"] in ("success", "error") for job in storage.values()) and \
                all(job["isFinished"] for job in runs.values()):
            break
        time.sleep(0.5)
    else:
        failures.append("jobs still unfinished 180 s after the kill: "
                        f"{[j['id'] for j in storage.values() if j['status'] not in ('success', 'error')]}")
    print(f"every job ended {time.time() - killed:.0f} s after the kill (leases run 30 s)", flush=True)
    imports = [job for job in storage.values() if job["operationName"] == "tableImport"
               and job.get("tableId") == "in.c-scale.rows"]
    succeeded = sum(1 for job in imports if job["status"] == "success")
    held = b.exported_rows("in.c-scale.rows")
    expected = ROWS * (1 + succeeded)
    print(f"{len(imports)} imports ({succeeded} success), {len(runs)} writer runs, table holds {held} rows", flush=True)
    if held != expected:
        failures.append(f"the table holds {held} rows; the first load and {succeeded} successful imports make {expected}")
    detail = b.call("GET", "/tables/in.c-scale.rows")
    if detail["rowsCount"] != held:
        failures.append(f"the catalog says {detail['rowsCount']} rows, an export returns {held}")
    for job in runs.values():
        message = (job.get("result") or {}).get("message", "")
        if job["status"] == "error" and "part of its work" not in message and "interrupted" not in message:
            failures.append(f"writer run {job['id']} failed without saying why it may be partial: {message}")

    # B carries on, and A restarted on its data dir serves the same stack.
    job = b.wait(b.call("POST", "/tables/in.c-scale.rows/import-async", {"dataFileId": file_id, "incremental": True}))
    if job["status"] != "success":
        failures.append(f"an import through the survivor ended {job['status']}")
    a.start()
    if a.exported_rows("in.c-scale.rows") != expected + ROWS:
        failures.append("A restarted does not see the rows the survivor loaded")
    failures += scheduled_once(a, b)
    a.kill()
    b.kill()
    print(f"seed {seed}, {len(failures)} failures")
    for failure in failures:
        print("FAIL", failure)
    if failures:
        print(f"kept for a look: {root}")
        return 1
    stowage_stack.discard(root, a.schema())
    return 0


if __name__ == "__main__":
    sys.exit(main())
