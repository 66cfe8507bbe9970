"""Sends two `stowage` binaries the same calls and prints where their answers differ, with ids, times,
secrets and ports masked: the check that a change of structure changed no answer.

    python3 tests/compare/same_answers.py OLD_BINARY NEW_BINARY

Tables, buckets and their routes, for four kinds of token (master, none, a read grant, a write grant on
another bucket), over good, missing and malformed ids and bodies. Exits 1 when an answer differs."""

import json, os, re, sys, time, urllib.request, urllib.error

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import stowage_stack

def call(url, token, method, path, body=None, form=False):
    data = None
    headers = {"X-StorageApi-Token": token}
    if body is not None:
        if form:
            data = body.encode(); headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode(); headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        value = json.loads(text) if text else None
    except ValueError:
        value = text
    return status, value

MASK = re.compile(r"^(id|uuid|exceptionId|created|createdTime|startTime|endTime|lastImportDate|lastChangeDate|uri|url|token|runId|lastUsed|refreshed|expires|runDuration|durationSeconds|operationParams|creatorToken|results)$")
def mask(value):
    if isinstance(value, dict):
        return {k: ("*" if MASK.match(k) else mask(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"\d{4}-\d\d-\d\dT[\d:+]+|exception-[0-9a-f]+|\b\d{1,3}-[0-9a-f]{20,}\b|127\.0\.0\.1:\d+", "*", value)
    return value

# Inside a finished job, ids and times are masked but the parameters and results are compared.
JOB_MASK = re.compile(r"^(id|dataFileId|fileId|exceptionId|created|createdTime|startTime|endTime|runId|creatorToken|url|uri|tables|durationSeconds|metrics|lastImportDate|lastChangeDate)$")
def mask_job(value):
    if isinstance(value, dict):
        return {k: ("*" if JOB_MASK.match(k) else mask_job(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_job(v) for v in value]
    return value

def upload(u, token, name, text):
    """Uploads `text` as a file with one Put Blob; its id."""
    _, file = call(u, token, "POST", "/v2/storage/files/prepare", {"name": name})
    params = file["absUploadParams"]
    parts = dict(part.split("=", 1) for part in params["absCredentials"]["SASConnectionString"].split(";") if part)
    blob = f"{parts['BlobEndpoint']}/{params['container']}/{params['blobName']}?{parts['SharedAccessSignature']}"
    request = urllib.request.Request(blob, data=text.encode(), method="PUT", headers={"x-ms-blob-type": "BlockBlob"})
    urllib.request.urlopen(request).read()
    return file["id"]

def finished(u, token, answer):
    """The job an async call answered with, once it ended."""
    status, job = answer
    if status != 202 and not (isinstance(job, dict) and "status" in job):
        return status, job
    for _ in range(200):
        if job["status"] in ("success", "error", "terminated"): break
        time.sleep(0.05)
        _, job = call(u, token, "GET", f"/v2/storage/jobs/{job['id']}")
    return status, job

def jobs(u, admin, out):
    """Every storage job kind, run to its end."""
    def rec(*args, **kw):
        status, job = finished(u, admin, call(u, admin, *args, **kw))
        out.append(("jobs", args[0], args[1], status, mask_job(job)))
    call(u, admin, "POST", "/v2/storage/buckets", {"name": "j", "stage": "in"})
    first = upload(u, admin, "rows.csv", "id,v\n1,a\n2,b\n")
    rec("POST", "/v2/storage/buckets/in.c-j/tables-async", {"name": "t", "dataFileId": first, "primaryKey": "id"})
    rec("POST", "/v2/storage/buckets/in.c-j/tables-async", {"name": "t", "dataFileId": first})
    more = upload(u, admin, "more.csv", "id,v,w\n2,c,x\n3,d,y\n")
    rec("POST", "/v2/storage/tables/in.c-j.t/import-async", {"dataFileId": more, "incremental": 1})
    rec("POST", "/v2/storage/tables/in.c-j.t/import-async", {"dataFileId": first})
    rec("POST", "/v2/storage/tables/in.c-j.t/import-async", {"dataFileId": more, "withoutHeaders": 1})
    rec("POST", "/v2/storage/tables/in.c-j.t/export-async", {"columns": ["id"], "gzip": 1, "limit": 5})
    rec("POST", "/v2/storage/tables/in.c-j.t/export-async", {"changedSince": "-1 days"})
    rec("DELETE", "/v2/storage/tables/in.c-j.t/primary-key")
    rec("POST", "/v2/storage/tables/in.c-j.t/primary-key", "columns[]=id", form=True)
    rec("POST", "/v2/storage/tables/in.c-j.t/primary-key", "columns[]=v", form=True)
    rec("POST", "/v2/storage/tables/in.c-j.t/columns", {"name": "extra"})
    rec("POST", "/v2/storage/buckets/in.c-j/tables-definition",
        {"name": "typed", "primaryKeysNames": ["id"], "columns": [{"name": "id", "basetype": "INTEGER"}, {"name": "n", "basetype": "NUMERIC"}]})
    rec("POST", "/v2/storage/tables/in.c-j.typed/columns", {"name": "d", "basetype": "DATE"})
    rec("POST", "/v2/storage/tables/in.c-j.typed/import-async", {"dataFileId": upload(u, admin, "bad.csv", "id,n\nx,1\n")})
    rec("GET", "/v2/storage/tables/in.c-j.t")
    rec("DELETE", "/v2/storage/tables/in.c-j.typed?async=1")
    rec("DELETE", "/v2/storage/buckets/in.c-j?async=1&force=1")
    rec("GET", "/v2/storage/jobs?limit=100")

def scenario(binary):
    os.environ["STOWAGE_BIN"] = binary
    process, stack = stowage_stack.start("cmp-")
    u, admin = stack.url, stack.token
    out = []
    def rec(name, token, *args, **kw):
        status, value = call(u, token, *args, **kw)
        out.append((name, args[0], args[1], status, mask(value)))
        return status, value
    call(u, admin, "POST", "/v2/storage/buckets", {"name": "a", "stage": "in"})
    call(u, admin, "POST", "/v2/storage/buckets", {"name": "b", "stage": "in"})
    st, job = call(u, admin, "POST", "/v2/storage/buckets/in.c-a/tables-definition",
                   {"name": "t", "primaryKeysNames": ["id"], "columns": [{"name": "id", "basetype": "STRING"}, {"name": "v", "basetype": "STRING"}]})
    for _ in range(100):
        st, j = call(u, admin, "GET", f"/v2/storage/jobs/{job['id']}")
        if j["status"] in ("success", "error"): break
        time.sleep(0.1)
    _, none = call(u, admin, "POST", "/v2/storage/tokens", {"description": "none"})
    _, reader = call(u, admin, "POST", "/v2/storage/tokens", {"description": "r", "bucketPermissions": {"in.c-a": "read"}})
    _, writer_b = call(u, admin, "POST", "/v2/storage/tokens", {"description": "w", "bucketPermissions": {"in.c-b": "write"}})
    tokens = {"admin": admin, "none": none["token"], "reader": reader["token"], "writer_b": writer_b["token"]}
    for name, tok in tokens.items():
        for t in ["in.c-a.t", "in.c-a.nope", "in.c-b.t", "bad", "in.c-a.t.x", "in.c-zz.t"]:
            rec(name, tok, "GET", f"/v2/storage/tables/{t}")
            rec(name, tok, "GET", f"/v2/storage/tables/{t}/data-preview")
            rec(name, tok, "GET", f"/v2/storage/tables/{t}/data-preview?limit=abc")
            rec(name, tok, "GET", f"/v2/storage/tables/{t}/events")
            rec(name, tok, "POST", f"/v2/storage/tables/{t}/import-async", {"dataFileId": "x"})
            rec(name, tok, "POST", f"/v2/storage/tables/{t}/import-async", {"dataFileId": 999})
            rec(name, tok, "POST", f"/v2/storage/tables/{t}/export-async", {"format": "bogus"})
            rec(name, tok, "POST", f"/v2/storage/tables/{t}/primary-key", "columns[]=nope", form=True)
            rec(name, tok, "POST", f"/v2/storage/tables/{t}/columns", {"name": ""})
            rec(name, tok, "POST", f"/v2/storage/tables/{t}/columns", "x[", form=True)
            rec(name, tok, "GET", f"/v2/storage/tables/{t}/metadata")
            rec(name, tok, "POST", f"/v2/storage/tables/{t}/metadata", {"provider": "p", "metadata": [{"key": "k", "value": name}]})
            rec(name, tok, "POST", f"/v2/storage/tables/{t}/metadata", {"provider": "p", "metadata": "x"})
            rec(name, tok, "DELETE", f"/v2/storage/tables/{t}/metadata/abc")
            rec(name, tok, "DELETE", f"/v2/storage/tables/{t}/metadata/999")
            for c in [f"{t}.id", f"{t}.nope", t]:
                rec(name, tok, "GET", f"/v2/storage/columns/{c}/metadata")
                rec(name, tok, "POST", f"/v2/storage/columns/{c}/metadata", {"provider": "p", "metadata": [{"key": "k", "value": "v"}]})
                rec(name, tok, "POST", f"/v2/storage/columns/{c}/metadata", {"provider": "", "metadata": [{"key": "k"}]})
                rec(name, tok, "DELETE", f"/v2/storage/columns/{c}/metadata/1")
        for b in ["in.c-a", "in.c-b", "in.c-zz", "bad"]:
            rec(name, tok, "GET", f"/v2/storage/buckets/{b}/tables")
            rec(name, tok, "GET", f"/v2/storage/buckets/{b}")
            rec(name, tok, "GET", f"/v2/storage/buckets/{b}/events?limit=x")
            rec(name, tok, "GET", f"/v2/storage/buckets/{b}/metadata")
            rec(name, tok, "POST", f"/v2/storage/buckets/{b}/metadata", {"provider": "p", "metadata": [{"key": "k", "value": "v"}]})
            rec(name, tok, "POST", f"/v2/storage/buckets/{b}/metadata", "metadata[0][key]=", form=True)
            rec(name, tok, "DELETE", f"/v2/storage/buckets/{b}/metadata/1")
            rec(name, tok, "PUT", f"/v2/storage/buckets/{b}", {"displayName": ""})
            rec(name, tok, "PUT", f"/v2/storage/buckets/{b}", "color[a]=1", form=True)
            rec(name, tok, "DELETE", f"/v2/storage/buckets/{b}?force=maybe")
            rec(name, tok, "POST", f"/v2/storage/buckets/{b}/tables-async", {"name": "n", "dataFileId": "x"})
            rec(name, tok, "POST", f"/v2/storage/buckets/{b}/tables-definition", {"name": "n", "columns": "x"})
    jobs(u, admin, out)
    # destructive last
    rec("admin", admin, "DELETE", "/v2/storage/tables/in.c-a.t/primary-key")
    rec("reader", tokens["reader"], "DELETE", "/v2/storage/tables/in.c-a.t")
    rec("admin", admin, "DELETE", "/v2/storage/tables/in.c-a.t")
    rec("admin", admin, "GET", "/v2/storage/tables/in.c-a.t")
    rec("reader", tokens["reader"], "DELETE", "/v2/storage/buckets/in.c-a")
    rec("admin", admin, "DELETE", "/v2/storage/buckets/in.c-b?async=1")
    rec("admin", admin, "DELETE", "/v2/storage/buckets/in.c-a")
    stowage_stack.stop(process)
    return out

old = scenario(sys.argv[1]); new = scenario(sys.argv[2])
diffs = 0
for a, b in zip(old, new):
    if a != b:
        diffs += 1
        print("DIFF", a[0], a[1], a[2]); print("  old", a[3], json.dumps(a[4])[:300]); print("  new", b[3], json.dumps(b[4])[:300])
print(f"{len(old)} calls each, {diffs} differ")


def walk(a, b, path=""):
    if type(a) != type(b) or not isinstance(a, (dict, list)):
        if a != b: print("   at", path, repr(a)[:120], "vs", repr(b)[:120])
        return
    if isinstance(a, dict):
        for k in set(a) | set(b): walk(a.get(k), b.get(k), path + "." + k)
    else:
        for i, (x, y) in enumerate(zip(a, b)): walk(x, y, f"{path}[{i}]")
for a, b in zip(old, new):
    if a != b: walk(a[4], b[4])

sys.exit(1 if diffs else 0)
