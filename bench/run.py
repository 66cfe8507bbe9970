#!/usr/bin/env python3
"""Stowage against the tools a user would pick instead, side by side in one run on this machine.

Generates a CSV (an id and nine text columns), starts two stacks (the writer's target is the second),
and runs each workload through Stowage and through its peer in turn, `--runs` times interleaved:

| workload                        | Stowage                                  | peer                                      |
|---------------------------------|------------------------------------------|-------------------------------------------|
| full load with a primary key    | `stowage table import` into a new table  | sqlite3 `.import` into a keyed table      |
| incremental load (half new)     | `stowage table import --incremental`     | sqlite3 staging `.import` + `ON CONFLICT` |
| export, gzip                    | `stowage table export --gzip`            | `sqlite3 -csv` piped to `gzip -1`         |
| export, plain CSV               | `stowage table export`                   | `sqlite3 -csv`                            |
| `changedSince` export           | the rows the incremental load changed    | the full `sqlite3 -csv` export            |
| writer job to a second stack    | `stowage run keboola.wr-storage`         | sqlite3 export, then `.import` elsewhere  |
| `GET tokens/verify` (wrk, 8 c.) | requests/s                               | the token-free API index, requests/s      |

Prints one table (workload, rows, MB, Stowage, peer, ratio, server peak RSS during the Stowage side)
with medians, and writes it as JSON. Times are wall-clock seconds of the whole command, as a user
waits for it; a ratio below 1 means Stowage was faster (for the requests/s row, above 1). Nothing
here asserts a time.

    python3 bench/run.py                      # 300k rows, 3 runs: a few minutes on 2 cores
    python3 bench/run.py --rows 1000000       # the figures in bench/README.md
    python3 bench/run.py --rows 5000 --runs 1 # proves it works (what CI does)

Needs the `sqlite3` CLI, `gzip` and `wrk` (Debian: apt-get install sqlite3 wrk). Runs the binary at
$STOWAGE_BIN, else the release build under $CARGO_TARGET_DIR.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import stowage_stack  # noqa: E402

COLUMNS = ["id"] + [f"c{n}" for n in range(1, 10)]


def binary():
    if os.environ.get("STOWAGE_BIN"):
        return os.environ["STOWAGE_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(HERE, "..", "target"))
    return os.path.join(target, "release", "stowage")


def generate(path, rows, first=0, seed=1):
    """`rows` rows with ids from `first`, about 106 bytes each."""
    rng = random.Random(seed)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    with open(path, "w", newline="") as out:
        out.write(",".join(COLUMNS) + "\n")
        for row in range(first, first + rows):
            out.write(f"{row}," + ",".join(f"{rng.choice(words)}-{rng.randrange(10**6):06d}" for _ in range(9)) + "\n")


class Stack:
    """A running stack: its process, URL and admin token, and the CLI pointed at it."""

    def __init__(self, prefix):
        self.process, stack = stowage_stack.start(prefix, "--outbound-allow", "127.0.0.1")
        self.url, self.token = stack.url, stack.token
        self.env = dict(os.environ, KBC_STORAGE_API_URL=self.url, KBC_STORAGE_TOKEN=self.token)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + "/v2/storage" + path, data=data, method=method)
        request.add_header("X-StorageApi-Token", self.token)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=600) as response:
            text = response.read()
            return json.loads(text) if text else None

    def cli(self, *args):
        subprocess.run([binary(), *args], env=self.env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def reset_peak(self):
        """Starts a new peak of resident memory (VmHWM)."""
        with open(f"/proc/{self.process.pid}/clear_refs", "w") as refs:
            refs.write("5")

    def peak_mib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        stowage_stack.stop(self.process)


def timed(command):
    started = time.monotonic()
    command()
    return time.monotonic() - started


def sh(script):
    subprocess.run(["bash", "-c", script], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def sqlite(db, *commands):
    subprocess.run(["sqlite3", db], input="\n".join(commands) + "\n", text=True, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def keyed_table(name):
    return f"CREATE TABLE {name} (id TEXT PRIMARY KEY, " + ", ".join(f"{c} TEXT" for c in COLUMNS[1:]) + ");"


def wrk(url, token=None, seconds=5):
    """Requests per second of 8 connections for `seconds`."""
    command = ["wrk", "-t2", "-c8", f"-d{seconds}s", url]
    if token:
        command[1:1] = ["-H", f"X-StorageApi-Token: {token}"]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return float(next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000, help="rows of the full load")
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs; each figure is their median")
    parser.add_argument("--json", default=os.path.join(tempfile.gettempdir(), "stowage-bench.json"),
                        help="where to write the results [default: %(default)s]")
    args = parser.parse_args()
    os.environ["STOWAGE_BIN"] = binary()  # the stacks run the same binary as the CLI
    for tool in ("sqlite3", "gzip", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (Debian: apt-get install sqlite3 wrk)")

    work = tempfile.mkdtemp(prefix="stowage-bench-")
    base, upsert = os.path.join(work, "base.csv"), os.path.join(work, "upsert.csv")
    generate(base, args.rows)
    # A tenth of the rows: half change existing ids, half are new.
    changed = max(args.rows // 10, 2)
    generate(upsert, changed, first=args.rows - changed // 2, seed=2)
    mb = os.path.getsize(base) / 1e6

    a, b = Stack("stowage-bench-a-"), Stack("stowage-bench-b-")
    results = {}

    def record(name, rows, size, stowage, peer, peak, higher_is_better=False):
        row = results.setdefault(name, {"rows": rows, "mb": round(size, 1), "stowage": [], "peer": [], "peak": []})
        row["stowage"].append(stowage)
        row["peer"].append(peer)
        row["peak"].append(peak)
        row["higher_is_better"] = higher_is_better

    def stowage_side(command):
        a.reset_peak()
        return timed(command), a.peak_mib()

    try:
        a.call("POST", "/buckets", {"name": "bench", "stage": "in"})
        b.call("POST", "/buckets", {"name": "copy", "stage": "in"})
        secret = b.call("POST", "/tokens", {"description": "writer", "bucketPermissions": {"in.c-copy": "write"}})
        writer = a.call("POST", "/components/keboola.wr-storage/configs",
                        {"name": "bench", "configuration": {"parameters": {"url": b.url, "#token": secret["token"]}}})
        for run in range(1, args.runs + 1):
            table, db = f"in.c-bench.t{run}", os.path.join(work, f"peer{run}.sqlite")
            out = os.path.join(work, "out")

            seconds, peak = stowage_side(lambda: a.cli("table", "import", base, table, "--primary-key", "id"))
            peer = timed(lambda: sqlite(db, keyed_table("t"), f".import --csv --skip 1 {base} t"))
            record("full load with a primary key", args.rows, mb, seconds, peer, peak)

            time.sleep(1.05)  # the incremental load's rows change in a later second than the full load's
            since = int(time.time())
            seconds, peak = stowage_side(lambda: a.cli("table", "import", upsert, table, "--incremental"))
            updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
            peer = timed(lambda: sqlite(db, "CREATE TEMP TABLE s AS SELECT * FROM t WHERE 0;",
                                        f".import --csv --skip 1 {upsert} s",
                                        f"INSERT INTO t SELECT * FROM s WHERE true ON CONFLICT (id) DO UPDATE SET {updates};"))
            record("incremental load (half new)", changed, os.path.getsize(upsert) / 1e6, seconds, peer, peak)

            seconds, peak = stowage_side(lambda: a.cli("table", "export", table, out + ".gz", "--gzip"))
            peer = timed(lambda: sh(f"sqlite3 -csv {db} 'SELECT * FROM t' | gzip -1 > {out}.peer.gz"))
            record("export, gzip", args.rows + changed // 2, mb, seconds, peer, peak)

            seconds, peak = stowage_side(lambda: a.cli("table", "export", table, out))
            full_export = timed(lambda: sh(f"sqlite3 -csv {db} 'SELECT * FROM t' > {out}.peer"))
            record("export, plain CSV", args.rows + changed // 2, mb, seconds, full_export, peak)

            seconds, peak = stowage_side(lambda: a.cli("table", "export", table, out, "--changed-since", str(since)))
            exported = sum(1 for _ in open(out)) - 1
            if exported != changed:
                sys.exit(f"the changedSince export held {exported} rows, the incremental load changed {changed}")
            record("changedSince export after the load", changed, os.path.getsize(upsert) / 1e6, seconds, full_export,
                   peak)

            rows = a.call("GET", f"/components/keboola.wr-storage/configs/{writer['id']}/rows")
            body = {"name": "copy", "configuration": {
                "storage": {"input": {"tables": [{"source": table, "destination": "copy"}]}},
                "parameters": {"mode": "replace"}}}
            path = f"/components/keboola.wr-storage/configs/{writer['id']}/rows"
            if rows:
                a.call("PUT", f"{path}/{rows[0]['id']}", body)
            else:
                a.call("POST", path, body)
            seconds, peak = stowage_side(lambda: a.cli("run", "keboola.wr-storage", str(writer["id"])))
            target = os.path.join(work, f"target{run}.sqlite")
            peer = timed(lambda: (sh(f"sqlite3 -csv -header {db} 'SELECT * FROM t' > {out}.copy"),
                                  sqlite(target, keyed_table("t"), f".import --csv --skip 1 {out}.copy t")))
            record("writer job to a second stack", args.rows + changed // 2, mb, seconds, peer, peak)

            a.reset_peak()
            verify = wrk(f"{a.url}/v2/storage/tokens/verify", a.token)
            peak = a.peak_mib()
            index = wrk(f"{a.url}/v2/storage")
            record("GET tokens/verify, req/s (8 conn.)", 0, 0, verify, index, peak, higher_is_better=True)
            print(f"run {run} of {args.runs} done", flush=True)
    finally:
        a.stop()
        b.stop()

    print(f"\n{args.rows} rows x {len(COLUMNS)} columns, {mb:.1f} MB CSV, medians of {args.runs} interleaved runs")
    print(f"{'workload':<38} {'rows':>9} {'MB':>7} {'Stowage':>9} {'peer':>9} {'ratio':>6} {'peak RSS MiB':>13}")
    table = []
    for name, row in results.items():
        stowage, peer = statistics.median(row["stowage"]), statistics.median(row["peer"])
        ratio = stowage / peer if peer else float("nan")
        entry = {"workload": name, "rows": row["rows"], "mb": row["mb"], "stowage": round(stowage, 3),
                 "peer": round(peer, 3), "ratio": round(ratio, 2), "peak_rss_mib": round(max(row["peak"]), 1),
                 "unit": "requests/s" if row["higher_is_better"] else "seconds"}
        table.append(entry)
        print(f"{name:<38} {row['rows']:>9} {row['mb']:>7.1f} {stowage:>9.2f} {peer:>9.2f} {ratio:>6.2f} "
              f"{entry['peak_rss_mib']:>13.1f}")
    with open(args.json, "w") as out:
        json.dump({"rows": args.rows, "runs": args.runs, "results": table}, out, indent=2)
    print(f"\nJSON: {args.json}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
