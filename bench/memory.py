#!/usr/bin/env python3
"""Resident memory of one server over a mixed workload of transfers.

Starts the `stowage` binary on a fresh data dir, generates a CSV, and runs full loads, incremental
loads and exports (each export downloaded to the end) in turn, printing the server's resident memory
(VmRSS) after each transfer and its peak (VmHWM). Memory must level off: freed buffers go back to the
allocator and are reused, whatever the number of transfers. Exits 1 when the last reading is above
--max-rss-mib.

    python3 bench/memory.py                 # 24 transfers of a 1M-row CSV (about 100 MB)
    python3 bench/memory.py --rows 20000    # a quick run (what CI does)

Stdlib only; runs the binary at $STOWAGE_BIN (a release build for real figures), else the debug build
under $CARGO_TARGET_DIR.
"""

import argparse
import gzip
import os
import random
import shutil
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import stowage_stack  # noqa: E402


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


class Api:
    def __init__(self, url, token):
        self.url, self.token = url, token

    def call(self, method, path, body=None):
        return stowage_stack.call(self.url, self.token, method, "/v2/storage" + path, body)

    def wait(self, job):
        while job["status"] not in ("success", "error"):
            time.sleep(0.2)
            job = self.call("GET", f"/jobs/{job['id']}")
        if job["status"] != "success":
            raise RuntimeError(f"job {job['id']} failed: {job.get('error')}")
        return job

    def upload(self, path):
        """Uploads a file with one Put Blob, streamed from disk; its file id."""
        file = self.call("POST", "/files/prepare", {"name": os.path.basename(path)})
        params = file["absUploadParams"]
        sas = params["absCredentials"]["SASConnectionString"]
        parts = dict(part.split("=", 1) for part in sas.split(";") if part)
        blob_url = f"{parts['BlobEndpoint']}/{params['container']}/{params['blobName']}?{parts['SharedAccessSignature']}"
        with open(path, "rb") as body:
            request = urllib.request.Request(blob_url, data=body, method="PUT")
            request.add_header("x-ms-blob-type", "BlockBlob")
            request.add_header("Content-Length", str(os.path.getsize(path)))
            urllib.request.urlopen(request, timeout=600).read()
        return file["id"]

    def download(self, file_id):
        """Reads a file's bytes to the end without keeping them; their count."""
        request = urllib.request.Request(f"{self.url}/v2/storage/files/{file_id}/download")
        request.add_header("X-StorageApi-Token", self.token)
        total = 0
        with urllib.request.urlopen(request, timeout=600) as response:
            while chunk := response.read(1 << 20):
                total += len(chunk)
        return total


def generate(path, rows, first=0, seed=1):
    """`rows` rows of an id and nine text columns, gzipped."""
    rng = random.Random(seed)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    with gzip.open(path, "wt", compresslevel=1, newline="") as out:
        out.write("id," + ",".join(f"c{n}" for n in range(1, 10)) + "\n")
        for row in range(first, first + rows):
            values = [f"{rng.choice(words)}-{rng.randrange(1_000_000)}" for _ in range(9)]
            out.write(f"{row}," + ",".join(values) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the full-load file")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of 2 full loads, 2 incremental loads, 2 exports")
    parser.add_argument("--max-rss-mib", type=float, default=200, help="the last reading must stay under this")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="stowage-memory-")
    full, incremental = os.path.join(work, "full.csv.gz"), os.path.join(work, "incremental.csv.gz")
    generate(full, args.rows)
    # Half of the incremental rows change existing ids, half are new.
    generate(incremental, max(args.rows // 10, 1), first=args.rows - args.rows // 20, seed=2)

    process, stack = stowage_stack.start("stowage-memory-")
    api = Api(stack.url, stack.token)
    try:
        api.call("POST", "/buckets", {"name": "memory", "stage": "in"})
        full_id, incremental_id = api.upload(full), api.upload(incremental)
        api.wait(api.call("POST", "/buckets/in.c-memory/tables-async",
                          {"name": "rows", "dataFileId": full_id, "primaryKey": "id"}))
        print(f"{'#':>3}  {'transfer':<12} {'seconds':>8} {'RSS MiB':>8} {'anon MiB':>9} {'peak MiB':>9}")
        readings = []
        step = 0
        for _ in range(args.rounds):
            for kind in ("full", "incremental", "export", "full", "incremental", "export"):
                step += 1
                started = time.monotonic()
                if kind == "export":
                    job = api.wait(api.call("POST", "/tables/in.c-memory.rows/export-async", {"gzip": True}))
                    api.download(job["results"]["file"]["id"])
                else:
                    file_id = full_id if kind == "full" else incremental_id
                    api.wait(api.call("POST", "/tables/in.c-memory.rows/import-async",
                                      {"dataFileId": file_id, "incremental": kind == "incremental"}))
                rss = rss_kib(process.pid) / 1024
                readings.append(rss)
                anon, peak = rss_kib(process.pid, "RssAnon") / 1024, rss_kib(process.pid, "VmHWM") / 1024
                seconds = time.monotonic() - started
                print(f"{step:>3}  {kind:<12} {seconds:>8.2f} {rss:>8.1f} {anon:>9.1f} {peak:>9.1f}", flush=True)
        last_half = readings[len(readings) // 2:]
        print(f"resident after the first transfer {readings[0]:.1f} MiB, after the last {readings[-1]:.1f} MiB, "
              f"highest in the second half {max(last_half):.1f} MiB")
        if readings[-1] > args.max_rss_mib:
            print(f"FAIL: {readings[-1]:.1f} MiB resident is above {args.max_rss_mib} MiB")
            return 1
        return 0
    finally:
        stowage_stack.stop(process)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
