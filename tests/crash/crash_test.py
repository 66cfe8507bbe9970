#!/usr/bin/env python3
"""Kills the real binary with SIGKILL at random moments during table work and checks that what each
job reports after the restart is the truth.

Each round starts one job (a full load, an incremental load with a primary key, an append to a table
without a key, an export, a table delete, the forced delete of a bucket with a table, or a Storage
Writer run that copies a table to a second stack), kills the server after a random delay, restarts
it, and checks:
- every job is finished (the restarted worker takes over the jobs the kill cut off); an import that
  says `success` is in the table exactly once, one that says `error` is not, and running an errored
  import again gives exactly the expected rows (never doubled); a delete says `success` exactly when
  its table or bucket is gone; a writer run that says `success` left the target equal to the source,
  one cut off says it may have left part of its work, and running it again leaves the target equal
  to the source;
- the catalog's row count equals the rows an export returns;
- no table storage is left that no table owns, and the catalog passes SQLite's integrity check.
The seed and the number of kills are printed; `--seed` replays a run. With `STOWAGE_TEST_S3_BUCKET`,
`STOWAGE_TEST_S3_ENDPOINT` and `AWS_*` credentials set, file bytes go to that S3-compatible bucket;
with `STOWAGE_TEST_DATABASE_URL` set, the catalog and the tables are in that PostgreSQL database (a
schema per stack; `psql` reads it for the checks), where leftovers are swept by maintenance, not at
start, so the check waits for a round of it.

    python3 tests/crash/crash_test.py --kills 20
Stdlib only; runs the binary at $STOWAGE_BIN, else the debug build under $CARGO_TARGET_DIR.
"""

import argparse
import gzip
import io
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import stowage_stack  # noqa: E402


def binary():
    if os.environ.get("STOWAGE_BIN"):
        return os.environ["STOWAGE_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "target"))
    return os.path.join(target, "debug", "stowage")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """A `stowage serve` on `data_dir`. Servers of one stack share a `name` (their S3 prefix and, on
    PostgreSQL, their schema) and take `extra` flags (a shared `--stack-key-file`)."""

    def __init__(self, data_dir, name=None, extra=()):
        self.data_dir, self.token, self.process, self.url = data_dir, None, None, None
        self.name, self.extra = name or os.path.basename(data_dir), list(extra)

    def start(self):
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        s3 = []
        if os.environ.get("STOWAGE_TEST_S3_BUCKET"):
            # File bytes in the S3-compatible store CI runs, below a prefix of this stack's own.
            s3 = ["--s3-bucket", os.environ["STOWAGE_TEST_S3_BUCKET"], "--s3-endpoint",
                  os.environ["STOWAGE_TEST_S3_ENDPOINT"], "--s3-prefix", self.name]
        self.process = subprocess.Popen(
            [binary(), "serve", "--data-dir", self.data_dir, "--listen", f"127.0.0.1:{port}",
             "--outbound-allow", "127.0.0.1", *s3, *self.database(), *self.extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if self.token is None:
            for line in self.process.stdout:
                if "master Storage API token" in line:
                    self.token = next(self.process.stdout).strip()
                    break
        for _ in range(400):
            try:
                urllib.request.urlopen(self.url + "/v2/storage", timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the server did not come up")

    def schema(self):
        return "crash_" + "".join(c if c.isalnum() else "_" for c in self.name.lower())[-30:]

    def database(self):
        url = os.environ.get("STOWAGE_TEST_DATABASE_URL")
        if not url:
            return []
        return ["--database-url", url, "--database-schema", self.schema(), "--maintenance-interval", "1"]

    def strays(self):
        """Table storage no table owns."""
        url = os.environ.get("STOWAGE_TEST_DATABASE_URL")
        if url:
            sql = f"SELECT key FROM {self.schema()}_tables.meta EXCEPT SELECT data_file FROM {self.schema()}.tables"
            out = subprocess.run(["psql", url, "-tAc", sql], capture_output=True, text=True, check=True).stdout
            return [line for line in out.splitlines() if line.strip()]
        owned = {row[0] for row in sqlite3.connect(f"file:{self.data_dir}/catalog.sqlite?mode=ro", uri=True)
                 .execute("SELECT data_file FROM tables")}
        return [name for name in os.listdir(os.path.join(self.data_dir, "tables")) if name.split("-")[0] not in owned]

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def discard(self):
        """Removes the data dir and, on PostgreSQL, the schemas of a stack whose servers are stopped."""
        stowage_stack.discard(self.data_dir, self.schema() if os.environ.get("STOWAGE_TEST_DATABASE_URL") else None)

    def call(self, method, path, body=None, raw=False, root="/v2/storage"):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + root + path, data=data, method=method)
        request.add_header("X-StorageApi-Token", self.token)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            text = error.read()
            if error.code >= 500:
                raise
        return text if raw else (json.loads(text) if text else None)

    def upload(self, payload):
        file = self.call("POST", "/files/prepare", {"name": "rows.csv.gz"})
        params = file["absUploadParams"]
        parts = dict(p.split("=", 1) for p in params["absCredentials"]["SASConnectionString"].split(";") if p)
        url = f"{parts['BlobEndpoint']}/{params['container']}/{params['blobName']}?{parts['SharedAccessSignature']}"
        request = urllib.request.Request(url, data=payload, method="PUT")
        request.add_header("x-ms-blob-type", "BlockBlob")
        urllib.request.urlopen(request, timeout=120).read()
        return file["id"]

    def job(self, job_id):
        return self.call("GET", f"/jobs/{job_id}")

    def wait(self, job):
        while job["status"] not in ("success", "error"):
            time.sleep(0.1)
            job = self.job(job["id"])
        return job

    def queue(self, method, path, body=None):
        return self.call(method, path, body, root="/queue")

    def run(self, job):
        """Waits for a component job to end."""
        while not job["isFinished"]:
            time.sleep(0.1)
            job = self.queue("GET", f"/jobs/{job['id']}")
        return job

    def exported_rows(self, table):
        job = self.wait(self.call("POST", f"/tables/{table}/export-async", {"gzip": True}))
        assert job["status"] == "success", job
        request = urllib.request.Request(f"{self.url}/v2/storage/files/{job['results']['file']['id']}/download")
        request.add_header("X-StorageApi-Token", self.token)
        with urllib.request.urlopen(request, timeout=120) as response:
            data = gzip.decompress(response.read())
        return data.count(b"\n")


def quietly(call, *args):
    """Runs a call whose server may die under it."""
    try:
        call(*args)
    except (OSError, ValueError):
        pass


def csv(first, count):
    out = io.StringIO()
    out.write("id,value\n")
    for row in range(first, first + count):
        out.write(f"{row},value-{row}-{'x' * 40}\n")
    return gzip.compress(out.getvalue().encode(), 1)


def main():
    parser = argparse.ArgumentParser(description="SIGKILL the server during table work; check the truth.")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--rows", type=int, default=400_000, help="rows per loaded file")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"seed {seed}, {args.kills} kills, {args.rows} rows per file", flush=True)

    stack = Stack(tempfile.mkdtemp(prefix="stowage-crash-"))
    stack.start()
    stack.call("POST", "/buckets", {"name": "crash"})
    files = {
        "base": stack.upload(csv(0, args.rows)),
        "upsert": stack.upload(csv(args.rows // 2, args.rows)),  # half new ids, half existing
    }
    # Expected row counts, kept as the truth the jobs report.
    expected = {}

    def create(name, key):
        job = stack.wait(stack.call("POST", "/buckets/in.c-crash/tables-async",
                                    {"name": name, "dataFileId": files["base"], "primaryKey": key}))
        assert job["status"] == "success", job
        expected[f"in.c-crash.{name}"] = args.rows

    create("keyed", "id")
    create("append", "")

    # The writer copies the keyed table to a second stack, which is never killed.
    target = Stack(tempfile.mkdtemp(prefix="stowage-crash-target-"))
    target.start()
    target.call("POST", "/buckets", {"name": "copy"})
    secret = target.call("POST", "/tokens", {"description": "writer",
                                             "bucketPermissions": {"in.c-copy": "write"}})["token"]
    writer = stack.call("POST", "/components/keboola.wr-storage/configs",
                        {"name": "copy", "configuration": {"parameters": {"url": target.url, "#token": secret}}})["id"]
    stack.call("POST", f"/components/keboola.wr-storage/configs/{writer}/rows", {"name": "keyed", "configuration": {
        "storage": {"input": {"tables": [{"source": "in.c-crash.keyed", "destination": "keyed"}]}},
        "parameters": {"mode": "replace"}}})

    def copied_rows():
        detail = target.call("GET", "/tables/in.c-copy.keyed")
        return target.exported_rows("in.c-copy.keyed") if isinstance(detail, dict) and "id" in detail else None
    failures = []
    kills = 0
    while kills < args.kills:
        kind = rng.choice(["full", "upsert", "append", "export", "delete", "bucket", "writer"])
        table = "in.c-crash.append" if kind == "append" else "in.c-crash.keyed"
        if kind == "delete" and "in.c-crash.scratch" not in expected:
            create("scratch", "")
        if kind == "bucket":
            table = "in.c-doomed.t"
            stack.call("POST", "/buckets", {"name": "doomed"})
            job = stack.wait(stack.call("POST", "/buckets/in.c-doomed/tables-async",
                                        {"name": "t", "dataFileId": files["base"]}))
            assert job["status"] == "success", job
            request = ("DELETE", "/buckets/in.c-doomed?force=1&async=1", None)
        elif kind == "writer":
            request = ("POST", "/jobs", {"component": "keboola.wr-storage", "config": writer, "mode": "run"})
        elif kind == "delete":
            table = "in.c-crash.scratch"
            request = ("DELETE", f"/tables/{table}?async=1", None)
        elif kind == "export":
            request = ("POST", f"/tables/{table}/export-async", {"gzip": True})
        else:
            file_id = files["upsert"] if kind == "upsert" else files["base"]
            request = ("POST", f"/tables/{table}/import-async", {"dataFileId": file_id, "incremental": kind != "full"})
        if kind == "writer":
            last = max([int(job["id"]) for job in stack.queue("GET", "/jobs?limit=1")] or [0])
            send = lambda: quietly(stack.queue, *request)
        else:
            last = max([job["id"] for job in stack.call("GET", "/jobs?limit=1")] or [0])
            send = lambda: quietly(stack.call, *request)
        # The request runs while the server is killed under it.
        threading.Thread(target=send, daemon=True).start()
        time.sleep(rng.uniform(0, 2.0))
        stack.kill()
        kills += 1
        stack.start()
        if kind == "writer":
            started = [job for job in stack.queue("GET", "/jobs?limit=5") if int(job["id"]) > last]
            job = stack.run(started[0]) if started else {"status": "never created"}
        else:
            started = [job for job in stack.call("GET", "/jobs?limit=5") if job["id"] > last]
            job = stack.wait(started[0]) if started else {"status": "never created"}
        if kind in ("full", "upsert", "append") and job["status"] == "success":
            expected[table] = {"full": args.rows, "upsert": args.rows + args.rows // 2}.get(kind, expected[table] + args.rows)
        if kind in ("full", "upsert", "append") and job["status"] == "error":
            # Nothing was applied: running it again applies the rows exactly once.
            again = stack.wait(stack.call(*request))
            if again["status"] != "success":
                failures.append(f"kill {kills}: the retry of a {kind} failed: {again.get('error')}")
            expected[table] = {"full": args.rows, "upsert": args.rows + args.rows // 2}.get(kind, expected[table] + args.rows)
        if kind == "delete":
            detail = stack.call("GET", f"/tables/{table}")
            gone = not (isinstance(detail, dict) and detail.get("id") == table)
            if job["status"] == "success" and not gone:
                failures.append(f"kill {kills}: a delete says success but the table is there")
            if job["status"] != "success" and gone:
                failures.append(f"kill {kills}: a delete says {job['status']} but the table is gone")
            if gone:
                expected.pop(table, None)
        if kind == "writer":
            source = expected["in.c-crash.keyed"]
            if job["status"] == "success" and copied_rows() != source:
                failures.append(f"kill {kills}: a writer run says success but the copy holds {copied_rows()} "
                                f"rows, the source {source}")
            if job["status"] == "error":
                message = job["result"].get("message", "")
                if "interrupted" not in message:
                    failures.append(f"kill {kills}: a cut-off writer run failed for another reason: {message}")
                again = stack.run(stack.queue("POST", "/jobs", request[2]))
                if again["status"] != "success" or copied_rows() != source:
                    failures.append(f"kill {kills}: running the writer again gave {again['status']} "
                                    f"({again['result'].get('message')}) and {copied_rows()} rows, "
                                    f"the source holds {source}")
        if kind == "bucket":
            detail = stack.call("GET", "/buckets/in.c-doomed")
            gone = not (isinstance(detail, dict) and detail.get("id") == "in.c-doomed")
            if job["status"] == "success" and not gone:
                failures.append(f"kill {kills}: a bucket delete says success but the bucket is there")
            if job["status"] != "success" and gone:
                failures.append(f"kill {kills}: a bucket delete says {job['status']} but the bucket is gone")
            if not gone:
                stack.wait(stack.call("DELETE", "/buckets/in.c-doomed?force=1&async=1"))
        for name, rows in sorted(expected.items()):
            detail = stack.call("GET", f"/tables/{name}")
            held = stack.exported_rows(name)
            if held != rows or detail["rowsCount"] != held:
                failures.append(f"kill {kills} ({kind}, job {job['status']}): {name} holds {held} rows, "
                                f"the catalog says {detail['rowsCount']}, the jobs say {rows}")
        strays = stack.strays()
        for _ in range(50):
            if not strays or not os.environ.get("STOWAGE_TEST_DATABASE_URL"):
                break
            time.sleep(0.1)  # the next round of maintenance (every second here) sweeps them
            strays = stack.strays()
        if strays:
            failures.append(f"kill {kills}: table storage nobody owns: {strays}")
        if not os.environ.get("STOWAGE_TEST_DATABASE_URL"):
            check = sqlite3.connect(f"file:{stack.data_dir}/catalog.sqlite?mode=ro", uri=True)
            if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                failures.append(f"kill {kills}: the catalog fails its integrity check")
        print(f"kill {kills}: {kind} on {table}, job {job['status']}", flush=True)
    stack.kill()
    target.kill()
    print(f"seed {seed}, {kills} kills, {len(failures)} failures")
    for failure in failures:
        print("FAIL", failure)
    if failures:
        print(f"kept for a look: {stack.data_dir} and {target.data_dir}")
        return 1
    stack.discard()
    target.discard()
    return 0


if __name__ == "__main__":
    sys.exit(main())
