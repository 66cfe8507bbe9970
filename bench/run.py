#!/usr/bin/env python3
"""Stowage against the tools a user would pick instead, side by side in one run on this machine.

Generates a CSV (an id and nine text columns), starts two stacks (the writer's target is the second),
and runs each workload through Stowage and through its peer in turn, `--runs` times interleaved (Stowage
goes first in odd runs, the peer in even ones: on PostgreSQL the first of the two after the full loads
paid for the checkpoint they set off):

| workload                        | Stowage                                  | peer                                      |
|---------------------------------|------------------------------------------|-------------------------------------------|
| full load with a primary key    | `stowage table import` into a new table  | sqlite3 `.import` into a keyed table      |
| incremental load (half new)     | `stowage table import --incremental`     | sqlite3 staging `.import` + `ON CONFLICT` |
| export, gzip                    | `stowage table export --gzip`            | `sqlite3 -csv` piped to `gzip -1`         |
| export, plain CSV               | `stowage table export`                   | `sqlite3 -csv`                            |
| `changedSince` export           | the rows the incremental load changed    | the full `sqlite3 -csv` export            |
| writer job to a second stack    | `stowage run keboola.wr-storage`         | sqlite3 export, then `.import` elsewhere  |
| `GET tokens/verify` (wrk, 8 c.) | requests/s                               | the token-free API index, requests/s      |

With `--database-url postgres://...` the stacks keep the catalog and the tables in that PostgreSQL
database (a schema per stack), and the peer is the same server through `psql`: `\copy` into a keyed
table, a staging `\copy` plus `INSERT ... ON CONFLICT`, and `\copy ... TO` for exports.

Prints one table (workload, rows, MB, Stowage, peer, ratio, server peak RSS during the Stowage side)
with medians, and writes it as JSON. Times are wall-clock seconds of the whole command, as a user
waits for it; a ratio below 1 means Stowage was faster (for the requests/s row, above 1). Nothing
here asserts a time.

    python3 bench/run.py                      # 300k rows, 3 runs: a few minutes on 2 cores
    python3 bench/run.py --rows 1000000       # the figures in bench/README.md
    python3 bench/run.py --rows 5000 --runs 1 # proves it works (what CI does)

Needs the `sqlite3` CLI (or `psql`), `gzip` and `wrk` (Debian: apt-get install sqlite3 wrk). Runs the binary at
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
        return stowage_stack.call(self.url, self.token, method, "/v2/storage" + path, body)

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


UPDATES = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])


class SqlitePeer:
    """The work without Stowage: the sqlite3 CLI on a database file per run."""

    name = "sqlite3"

    def __init__(self, work):
        self.work = work

    def db(self, run):
        return os.path.join(self.work, f"peer{run}.sqlite")

    def load(self, run, csv):
        sqlite(self.db(run), keyed_table("t"), f".import --csv --skip 1 {csv} t")

    def upsert(self, run, csv):
        sqlite(self.db(run), "CREATE TEMP TABLE s AS SELECT * FROM t WHERE 0;", f".import --csv --skip 1 {csv} s",
               f"INSERT INTO t SELECT * FROM s WHERE true ON CONFLICT (id) DO UPDATE SET {UPDATES};")

    def export(self, run, out, gzip=False, header=False):
        flags = "-csv -header" if header else "-csv"
        sh(f"sqlite3 {flags} {self.db(run)} 'SELECT * FROM t'" + (f" | gzip -1 > {out}" if gzip else f" > {out}"))

    def copy(self, run, csv):
        sqlite(os.path.join(self.work, f"target{run}.sqlite"), keyed_table("t"), f".import --csv --skip 1 {csv} t")


class PostgresPeer:
    """The work without Stowage on the same PostgreSQL server: `psql` with `\\copy`, a table per run in a
    schema of the benchmark's own."""

    name = "psql"

    def __init__(self, url):
        self.url, self.schema = url, f"bench_peer_{os.getpid()}"
        self.psql(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE; CREATE SCHEMA {self.schema};")

    def psql(self, *commands):
        script = "\\set ON_ERROR_STOP on\n" + "\n".join(commands) + "\n"
        subprocess.run(["psql", "-q", self.url], input=script, text=True, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def load(self, run, csv):
        table = f"{self.schema}.t{run}"
        self.psql(keyed_table(table), f"\\copy {table} FROM '{csv}' WITH (FORMAT csv, HEADER)")

    def upsert(self, run, csv):
        table = f"{self.schema}.t{run}"
        self.psql(f"CREATE TEMP TABLE s (LIKE {table});", f"\\copy s FROM '{csv}' WITH (FORMAT csv, HEADER)",
                  f"INSERT INTO {table} SELECT * FROM s ON CONFLICT (id) DO UPDATE SET {UPDATES};")

    def export(self, run, out, gzip=False, header=False):
        options = "FORMAT csv, HEADER" if header else "FORMAT csv"
        command = f"\\copy {self.schema}.t{run} TO STDOUT WITH ({options})"
        sh(f"psql -q {self.url} -c \"{command}\"" + (f" | gzip -1 > {out}" if gzip else f" > {out}"))

    def copy(self, run, csv):
        self.load(f"{run}_copy", csv)

    def close(self):
        self.psql(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE;")


def wrk(url, token=None, seconds=5):
    """(requests per second, 99th percentile latency in ms) of 8 connections for `seconds`."""
    command = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", url]
    if token:
        command[1:1] = ["-H", f"X-StorageApi-Token: {token}"]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rate = float(next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")))
    p99 = next(line.split()[1] for line in out.splitlines() if line.strip().startswith("99%"))
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    unit = next(unit for unit in ("us", "ms", "s") if p99.endswith(unit))
    return rate, float(p99[:-len(unit)]) * scale[unit]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000, help="rows of the full load")
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs; each figure is their median")
    parser.add_argument("--database-url", help="run the stacks, and the peer, on this PostgreSQL database")
    parser.add_argument("--json", default=os.path.join(tempfile.gettempdir(), "stowage-bench.json"),
                        help="where to write the results [default: %(default)s]")
    args = parser.parse_args()
    os.environ["STOWAGE_BIN"] = binary()  # the stacks run the same binary as the CLI
    for tool in ("psql" if args.database_url else "sqlite3", "gzip", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (Debian: apt-get install sqlite3 postgresql-client wrk)")
    if args.database_url:
        os.environ["STOWAGE_TEST_DATABASE_URL"] = args.database_url  # the stacks' database (stowage_stack)

    work = tempfile.mkdtemp(prefix="stowage-bench-")
    base, upsert = os.path.join(work, "base.csv"), os.path.join(work, "upsert.csv")
    generate(base, args.rows)
    # A tenth of the rows: half change existing ids, half are new.
    changed = max(args.rows // 10, 2)
    generate(upsert, changed, first=args.rows - changed // 2, seed=2)
    mb = os.path.getsize(base) / 1e6

    a, b = Stack("stowage-bench-a-"), Stack("stowage-bench-b-")
    peer_tool = PostgresPeer(args.database_url) if args.database_url else SqlitePeer(work)
    results = {}
    p99s = []  # (tokens/verify, index) latency, ms

    def record(name, rows, size, stowage, peer, peak, higher_is_better=False):
        row = results.setdefault(name, {"rows": rows, "mb": round(size, 1), "stowage": [], "peer": [], "peak": []})
        row["stowage"].append(stowage)
        row["peer"].append(peer)
        row["peak"].append(peak)
        row["higher_is_better"] = higher_is_better

    def stowage_side(command):
        a.reset_peak()
        return timed(command), a.peak_mib()

    def paired(run, stowage, peer):
        """(Stowage seconds, its peak RSS, peer seconds), the two in turn, Stowage first in odd runs."""
        if run % 2:
            seconds, peak = stowage_side(stowage)
            return seconds, peak, timed(peer)
        peer_seconds = timed(peer)
        return (*stowage_side(stowage), peer_seconds)

    try:
        a.call("POST", "/buckets", {"name": "bench", "stage": "in"})
        b.call("POST", "/buckets", {"name": "copy", "stage": "in"})
        secret = b.call("POST", "/tokens", {"description": "writer", "bucketPermissions": {"in.c-copy": "write"}})
        writer = a.call("POST", "/components/keboola.wr-storage/configs",
                        {"name": "bench", "configuration": {"parameters": {"url": b.url, "#token": secret["token"]}}})
        for run in range(1, args.runs + 1):
            table, out = f"in.c-bench.t{run}", os.path.join(work, "out")

            seconds, peak, peer = paired(run, lambda: a.cli("table", "import", base, table, "--primary-key", "id"),
                                         lambda: peer_tool.load(run, base))
            record("full load with a primary key", args.rows, mb, seconds, peer, peak)

            time.sleep(1.05)  # the incremental load's rows change in a later second than the full load's
            since = int(time.time())
            seconds, peak, peer = paired(run, lambda: a.cli("table", "import", upsert, table, "--incremental"),
                                         lambda: peer_tool.upsert(run, upsert))
            record("incremental load (half new)", changed, os.path.getsize(upsert) / 1e6, seconds, peer, peak)

            seconds, peak, peer = paired(run, lambda: a.cli("table", "export", table, out + ".gz", "--gzip"),
                                         lambda: peer_tool.export(run, f"{out}.peer.gz", gzip=True))
            record("export, gzip", args.rows + changed // 2, mb, seconds, peer, peak)

            seconds, peak, full_export = paired(run, lambda: a.cli("table", "export", table, out),
                                                lambda: peer_tool.export(run, f"{out}.peer"))
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
            seconds, peak, peer = paired(
                run, lambda: a.cli("run", "keboola.wr-storage", str(writer["id"])),
                lambda: (peer_tool.export(run, f"{out}.copy", header=True), peer_tool.copy(run, f"{out}.copy")))
            record("writer job to a second stack", args.rows + changed // 2, mb, seconds, peer, peak)

            a.reset_peak()
            verify, verify_p99 = wrk(f"{a.url}/v2/storage/tokens/verify", a.token)
            peak = a.peak_mib()
            index, index_p99 = wrk(f"{a.url}/v2/storage")
            record("GET tokens/verify, req/s (8 conn.)", 0, 0, verify, index, peak, higher_is_better=True)
            p99s.append((verify_p99, index_p99))
            print(f"run {run} of {args.runs} done", flush=True)
    finally:
        a.stop()
        b.stop()
        if isinstance(peer_tool, PostgresPeer):
            peer_tool.close()
        shutil.rmtree(work, ignore_errors=True)

    where = "PostgreSQL, peer psql" if args.database_url else "SQLite, peer sqlite3"
    print(f"\n{args.rows} rows x {len(COLUMNS)} columns, {mb:.1f} MB CSV, medians of {args.runs} interleaved runs "
          f"({where})")
    print(f"{'workload':<38} {'rows':>9} {'MB':>7} {'Stowage':>9} {'peer':>9} {'ratio':>6} {'peak RSS MiB':>13}")
    table = []
    for name, row in results.items():
        stowage, peer = statistics.median(row["stowage"]), statistics.median(row["peer"])
        ratio = stowage / peer if peer else float("nan")
        entry = {"workload": name, "rows": row["rows"], "mb": row["mb"], "stowage": round(stowage, 3),
                 "peer": round(peer, 3), "ratio": round(ratio, 2), "peak_rss_mib": round(max(row["peak"]), 1),
                 "unit": "requests/s" if row["higher_is_better"] else "seconds",
                 "runs": {"stowage": [round(s, 3) for s in row["stowage"]], "peer": [round(p, 3) for p in row["peer"]]}}
        table.append(entry)
        print(f"{name:<38} {row['rows']:>9} {row['mb']:>7.1f} {stowage:>9.2f} {peer:>9.2f} {ratio:>6.2f} "
              f"{entry['peak_rss_mib']:>13.1f}")
    p99 = {"tokens/verify": round(statistics.median(v for v, _ in p99s), 2),
           "index": round(statistics.median(i for _, i in p99s), 2)}
    print(f"99th percentile latency, ms: tokens/verify {p99['tokens/verify']}, index {p99['index']}")
    with open(args.json, "w") as out:
        json.dump({"rows": args.rows, "runs": args.runs, "engine": "postgres" if args.database_url else "sqlite",
                   "results": table, "p99_ms": p99}, out, indent=2)
    print(f"\nJSON: {args.json}")


if __name__ == "__main__":
    main()
