"""The unmodified `kbcstorage` client (and the Azure SDK it uses) against a real stack."""

import csv
import gzip
import hashlib
import os
import uuid

import pytest
import requests
from azure.storage.blob import BlobServiceClient
from kbcstorage.client import Client
from kbcstorage.files import Files


@pytest.fixture
def client(stack):
    url, token = stack
    return Client(url, token)


@pytest.fixture
def bucket(client):
    bucket_id = client.buckets.create(f"py-{uuid.uuid4().hex[:8]}")["id"]
    yield bucket_id
    client.buckets.delete(bucket_id, force=True)


def write_csv(path, rows):
    with open(path, "w", newline="") as out:
        csv.writer(out, lineterminator="\n").writerows(rows)
    return str(path)


def test_a_table_is_created_loaded_fully_and_incrementally_and_previewed(client, bucket, tmp_path):
    first = write_csv(tmp_path / "first.csv", [["id", "name"], ["1", "a"], ["2", "b"]])
    table_id = client.tables.create(bucket, "people", first, primary_key=["id"])
    assert table_id == f"{bucket}.people"
    detail = client.tables.detail(table_id)
    assert detail["columns"] == ["id", "name"]
    assert detail["primaryKey"] == ["id"]
    assert detail["rowsCount"] == 2

    update = write_csv(tmp_path / "update.csv", [["id", "name", "city"], ["2", "bb", "Prague"], ["3", "c", "Brno"]])
    client.tables.load(table_id, update, is_incremental=True)
    preview = client.tables.preview(table_id)
    assert preview == '"id","name","city"\n"1","a",""\n"2","bb","Prague"\n"3","c","Brno"\n'

    full = write_csv(tmp_path / "full.csv", [["id", "name", "city"], ["9", "z", "Ostrava"]])
    client.tables.load(table_id, full, is_incremental=False)
    assert client.tables.preview(table_id) == '"id","name","city"\n"9","z","Ostrava"\n'


def test_a_preview_filters_like_kbcstorage_asks(client, bucket, tmp_path):
    data = write_csv(tmp_path / "data.csv", [["a", "b"], ["1", "x"], ["2", "y"], ["3", "z"]])
    table_id = client.tables.create(bucket, "filtered", data)
    preview = client.tables.preview(
        table_id, columns=["a"], where_column="a", where_values=["1", "2"], where_operator="neq", changed_since="-2 days"
    )
    assert preview == '"a"\n"3"\n'


def test_an_export_with_and_without_gzip_and_with_chosen_columns(client, bucket, tmp_path):
    data = write_csv(tmp_path / "data.csv", [["id", "text"], ["1", 'say "hi"'], ["2", "two\nlines"]])
    table_id = client.tables.create(bucket, "exported", data)
    for gzipped in (True, False):
        out = tmp_path / f"out-{gzipped}"
        out.mkdir()
        path = client.tables.export_to_file(table_id, str(out), is_gzip=gzipped)
        with open(path) as exported:
            assert exported.read() == '"id","text"\n"1","say ""hi"""\n"2","two\nlines"\n'
    out = tmp_path / "columns"
    out.mkdir()
    path = client.tables.export_to_file(table_id, str(out), is_gzip=False, columns=["text"])
    with open(path) as exported:
        assert exported.read() == '"text"\n"say ""hi"""\n"two\nlines"\n'
    file_id = client.tables.export(table_id)
    assert client.files.detail(file_id)["sizeBytes"] > 0


def test_a_failed_load_raises_and_leaves_the_table_unchanged(client, bucket, tmp_path):
    data = write_csv(tmp_path / "data.csv", [["id", "v"], ["1", "a"]])
    table_id = client.tables.create(bucket, "kept", data)
    broken = tmp_path / "broken.csv"
    broken.write_text('id,v\n2,"unclosed\n')
    with pytest.raises(RuntimeError, match="line 2"):
        client.tables.load(table_id, str(broken), is_incremental=True)
    assert client.tables.preview(table_id) == '"id","v"\n"1","a"\n'


@pytest.mark.parametrize("size", [0, 6, 70 * 1024 * 1024])
def test_files_are_uploaded_and_downloaded_back_byte_for_byte(stack, tmp_path, size):
    url, token = stack
    files = Files(url, token)
    source = tmp_path / f"source-{size}.bin"
    source.write_bytes(os.urandom(size))
    file_id = files.upload_file(str(source), tags=["py-test"])
    detail = files.detail(file_id)
    assert detail["sizeBytes"] == size
    assert "absCredentials" not in detail and "credentials" not in detail
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    downloaded = files.download(file_id, str(out))
    digest = lambda path: hashlib.sha256(open(path, "rb").read()).hexdigest()
    assert digest(downloaded) == digest(source)
    assert file_id in [f["id"] for f in files.list(tags=["py-test"])]
    files.delete(file_id)


def test_the_azure_sdk_uploads_and_downloads_with_the_stacks_credentials(stack):
    url, token = stack
    files = Files(url, token)
    prepared = files.prepare_upload("sdk.txt", tags=["sdk"])
    params = prepared["absUploadParams"]
    service = BlobServiceClient.from_connection_string(params["absCredentials"]["SASConnectionString"])
    blob = service.get_blob_client(container=params["container"], blob=params["blobName"])
    blob.upload_blob(b"hello from the azure sdk")
    detail = files.detail(prepared["id"], federation_token=True)
    read = BlobServiceClient.from_connection_string(detail["absCredentials"]["SASConnectionString"])
    downloaded = read.get_blob_client(container=detail["absPath"]["container"], blob=detail["absPath"]["name"])
    assert downloaded.download_blob().readall() == b"hello from the azure sdk"
    with pytest.raises(Exception) as refused:
        downloaded.upload_blob(b"overwrite", overwrite=True)
    assert "AuthorizationPermissionMismatch" in str(refused.value) or "403" in str(refused.value)


def test_a_gzipped_file_loads_into_a_table(client, bucket, tmp_path):
    path = tmp_path / "data.csv.gz"
    with gzip.open(path, "wt") as out:
        out.write("id,v\n1,a\n2,b\n")
    table_id = client.tables.create(bucket, "zipped", str(path))
    assert client.tables.detail(table_id)["rowsCount"] == 2


def test_configurations_of_any_component_are_kept_as_kbcstorage_makes_them(client):
    component = "keboola.runner-config-test"
    created = client.configurations.create(
        component, "From kbcstorage", description="d", configuration={"parameters": {"a": 1}},
        change_description="created by the suite")
    config_id = created["id"]
    try:
        detail = client.configurations.detail(component, config_id)
        assert detail["name"] == "From kbcstorage"
        assert detail["configuration"] == {"parameters": {"a": 1}}
        assert [c["id"] for c in client.configurations.list(component)] == [config_id]
        assert component in [c["id"] for c in client.components.list()]
        listed = {c["id"]: c for c in client.components.list(include=["configuration", "rows", "state"])}
        assert listed[component]["configurations"][0]["configuration"] == {"parameters": {"a": 1}}
        assert listed[component]["configurations"][0]["rows"] == []
        # kbcstorage 0.12 has no calls for an update or metadata; these are the requests Keboola's
        # newer clients send for them.
        url, token = client.root_url, client._token
        headers = {"X-StorageApi-Token": token}
        path = f"{url}/v2/storage/components/{component}/configs/{config_id}"
        updated = requests.put(path, headers=headers, data={"name": "Renamed", "changeDescription": "renamed"})
        updated.raise_for_status()
        assert (updated.json()["name"], updated.json()["version"]) == ("Renamed", 2)
        metadata = requests.post(f"{path}/metadata", headers=headers,
                                 json={"metadata": [{"key": "KBC.configuration.folderName", "value": "sync"}]})
        metadata.raise_for_status()
        assert [(m["key"], m["value"]) for m in requests.get(f"{path}/metadata", headers=headers).json()] == \
            [("KBC.configuration.folderName", "sync")]
        with pytest.raises(requests.HTTPError) as unknown:
            client.configurations.list("non-existent-component")
        assert unknown.value.response.status_code == 404
    finally:
        client.configurations.delete(component, config_id)
    assert client.configurations.list(component) == []


def test_triggers_are_made_changed_and_removed_as_kbcstorage_does_it(stack, client, bucket, tmp_path):
    url, admin = stack
    table_id = client.tables.create(bucket, "watched", write_csv(tmp_path / "w.csv", [["id"], ["1"]]))
    headers = {"X-StorageApi-Token": admin}
    runner = requests.post(f"{url}/v2/storage/tokens", headers=headers,
                           json={"description": "trigger runner", "componentAccess": ["keboola.wr-storage"]})
    runner.raise_for_status()
    runner_id = int(runner.json()["id"])

    created = client.triggers.create(runWithTokenId=runner_id, component="keboola.wr-storage",
                                     configurationId="123", coolDownPeriodMinutes=10, tableIds=[table_id])
    assert created["runWithTokenId"] == runner_id
    assert created["tables"] == [{"tableId": table_id}]
    assert created["creatorToken"]["id"] == client.tokens.verify()["id"]
    assert client.triggers.detail(created["id"]) == created
    assert created["id"] in [t["id"] for t in client.triggers.list()]

    updated = client.triggers.update(created["id"], coolDownPeriodMinutes=30)
    assert updated["coolDownPeriodMinutes"] == 30
    assert updated["tables"] == created["tables"]

    refused = requests.delete(f"{url}/v2/storage/tokens/{runner_id}", headers=headers)
    assert refused.status_code == 400
    assert refused.json()["code"] == "storage.tokens.cannotDeleteDueToOrchestration"
    client.triggers.delete(created["id"])
    assert created["id"] not in [t["id"] for t in client.triggers.list()]
    requests.delete(f"{url}/v2/storage/tokens/{runner_id}", headers=headers).raise_for_status()
