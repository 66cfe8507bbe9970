//! Files and the Azure-Blob-compatible endpoint, spoken the way the Azure SDK speaks it.

use serde_json::{json, Value};

use std::time::Duration;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

/// The blob URL (with SAS) from a prepare's `absUploadParams` or a detail's `absPath`.
fn blob_url(app: &TestApp, params: &Value, container: &str, blob: &str) -> String {
    let connection = params["SASConnectionString"].as_str().unwrap();
    let endpoint = connection.split(';').next().unwrap().strip_prefix("BlobEndpoint=").unwrap();
    assert!(endpoint.starts_with(&app.url), "the endpoint points back at the stack: {endpoint}");
    let sas = connection.split("SharedAccessSignature=").nth(1).unwrap();
    format!("{endpoint}/{container}/{blob}?{sas}")
}

async fn prepare(app: &TestApp, token: &str, body: Value) -> (Value, String) {
    let file = app.post("/v2/storage/files/prepare", token, body).await.expect(201).body;
    let params = &file["absUploadParams"];
    let url = blob_url(
        app,
        &params["absCredentials"],
        params["container"].as_str().unwrap(),
        params["blobName"].as_str().unwrap(),
    );
    (file, url)
}

async fn read_url(app: &TestApp, token: &str, id: &Value) -> String {
    let detail = app.get(&format!("/v2/storage/files/{id}?federationToken=true"), token).await.expect(200).body;
    let path = &detail["absPath"];
    blob_url(app, &detail["absCredentials"], path["container"].as_str().unwrap(), path["name"].as_str().unwrap())
}

async fn put_blob(app: &TestApp, url: &str, body: &'static [u8]) -> reqwest::Response {
    app.client
        .put(url)
        .header("x-ms-blob-type", "BlockBlob")
        .header("If-None-Match", "*")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn upload(app: &TestApp, token: &str, name: &str, body: &'static [u8], tags: &[&str]) -> Value {
    let (file, url) = prepare(app, token, json!({"name": name, "tags": tags})).await;
    assert_eq!(put_blob(app, &url, body).await.status(), 201);
    file
}

/// Asserts an Azure error: status, `x-ms-error-code` and the XML body.
async fn expect_azure_error(response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["x-ms-error-code"], code);
    let body = response.text().await.unwrap();
    assert!(body.contains(&format!("<Error><Code>{code}</Code>")), "{body}");
}

#[tokio::test]
async fn a_file_is_prepared_uploaded_and_downloaded_through_the_stacks_blob_endpoint() {
    let app = spawn_app().await;
    let (file, url) = prepare(&app, &app.admin, json!({"name": "data.csv", "sizeBytes": 6, "tags": ["t1"]})).await;
    assert_eq!(file["provider"], "azure");
    assert_eq!(file["isSliced"], false);
    assert_eq!(file["isEncrypted"], true);
    assert_eq!(file["tags"], json!(["t1"]));
    assert!(file["absUploadParams"]["absCredentials"]["expiration"].is_string());
    let put = put_blob(&app, &url, b"fooBar").await;
    assert_eq!(put.status(), 201);
    for name in ["etag", "last-modified", "x-ms-request-id", "x-ms-version", "x-ms-request-server-encrypted"] {
        assert!(put.headers().contains_key(name), "{name}");
    }
    let detail = app.get(&format!("/v2/storage/files/{}", file["id"]), &app.admin).await.expect(200).body;
    assert_eq!(detail["sizeBytes"], 6);
    assert_eq!(detail["name"], "data.csv");
    for hidden in ["credentials", "absCredentials", "absPath", "absUploadParams"] {
        assert!(detail.get(hidden).is_none(), "{hidden} without federationToken");
    }
    let read = read_url(&app, &app.admin, &file["id"]).await;
    let whole = app.client.get(&read).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["x-ms-blob-type"], "BlockBlob");
    assert_eq!(whole.bytes().await.unwrap().as_ref(), b"fooBar");
    let ranged = app.client.get(&read).header("x-ms-range", "bytes=0-33554431").send().await.unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.headers()["content-range"], "bytes 0-5/6");
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), b"fooBar");
    let middle = app.client.get(&read).header("Range", "bytes=1-2").send().await.unwrap();
    assert_eq!(middle.headers()["content-range"], "bytes 1-2/6");
    assert_eq!(middle.bytes().await.unwrap().as_ref(), b"oo");
    let download = app.get(&format!("/v2/storage/files/{}/download", file["id"]), &app.admin).await.expect(200);
    assert_eq!(download.text, "fooBar");
}

#[tokio::test]
async fn an_empty_blob_answers_a_ranged_read_with_416_and_a_plain_read_with_nothing() {
    let app = spawn_app().await;
    let file = upload(&app, &app.admin, "empty.csv", b"", &[]).await;
    let read = read_url(&app, &app.admin, &file["id"]).await;
    let ranged = app.client.get(&read).header("x-ms-range", "bytes=0-33554431").send().await.unwrap();
    expect_azure_error(ranged, 416, "InvalidRange").await;
    let plain = app.client.get(&read).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn blocks_are_joined_in_the_order_of_the_block_list_for_whole_and_ranged_reads() {
    let app = spawn_app().await;
    let (file, url) = prepare(&app, &app.admin, json!({"name": "blocks.bin"})).await;
    for (id, body) in [("QUFB", "first-"), ("QkJC", "second-"), ("Q0ND", "third"), ("RERE", "left out")] {
        let put = app.client.put(format!("{url}&comp=block&blockid={id}")).body(body).send().await.unwrap();
        assert_eq!(put.status(), 201);
    }
    let list = "<?xml version='1.0' encoding='utf-8'?>\n<BlockList><Latest>Q0ND</Latest><Latest>QUFB</Latest><Latest>QkJC</Latest><Latest>QUFB</Latest></BlockList>";
    let put = app.client.put(format!("{url}&comp=blocklist")).body(list).send().await.unwrap();
    assert_eq!(put.status(), 201);
    // On the local store: the three blocks listed stay, the one left out is gone.
    let staged = app.data_dir.path().join(format!("data/blobs/staging/{}", file["id"]));
    if let Ok(entries) = std::fs::read_dir(&staged) {
        assert_eq!(entries.count(), 3);
    }
    let read = read_url(&app, &app.admin, &file["id"]).await;
    let whole = "thirdfirst-second-first-";
    assert_eq!(app.client.get(&read).send().await.unwrap().text().await.unwrap(), whole);
    let detail = app.get(&format!("/v2/storage/files/{}", file["id"]), &app.admin).await.expect(200).body;
    assert_eq!(detail["sizeBytes"], whole.len());
    // Ranges within one block, across blocks, and to the end.
    for (range, expected) in
        [("bytes=0-2", "thi"), ("bytes=3-12", "rdfirst-se"), ("bytes=5-10", "first-"), ("bytes=17-", "-first-")]
    {
        let ranged = app.client.get(&read).header("x-ms-range", range).send().await.unwrap();
        assert_eq!(ranged.status(), 206, "{range}");
        assert_eq!(ranged.text().await.unwrap(), expected, "{range}");
    }
    // Committed once: a second list is refused and the bytes stay.
    let again = "<BlockList><Latest>RERE</Latest></BlockList>";
    let put = app.client.put(format!("{url}&comp=blocklist")).body(again).send().await.unwrap();
    expect_azure_error(put, 409, "BlobAlreadyExists").await;
    assert_eq!(app.client.get(&read).send().await.unwrap().text().await.unwrap(), whole);
}

#[tokio::test]
async fn a_table_loads_from_a_file_uploaded_in_blocks() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("blocks").await;
    let (file, url) = prepare(&app, &app.admin, json!({"name": "rows.csv"})).await;
    for (id, body) in [("QUFB", "id,v\n1,a\n2,"), ("QkJC", "b\n3,c\n")] {
        let put = app.client.put(format!("{url}&comp=block&blockid={id}")).body(body).send().await.unwrap();
        assert_eq!(put.status(), 201);
    }
    let list = "<BlockList><Latest>QUFB</Latest><Latest>QkJC</Latest></BlockList>";
    assert_eq!(app.client.put(format!("{url}&comp=blocklist")).body(list).send().await.unwrap().status(), 201);
    let job = app
        .post(
            &format!("/v2/storage/buckets/{bucket}/tables-async"),
            &app.admin,
            json!({"name": "t", "dataFileId": file["id"]}),
        )
        .await
        .expect(202)
        .body;
    assert_eq!(app.wait_job(job).await["status"], "success");
    assert_eq!(app.export(&format!("{bucket}.t"), json!({})).await, b"\"1\",\"a\"\n\"2\",\"b\"\n\"3\",\"c\"\n");
}

#[tokio::test]
async fn a_block_list_naming_a_missing_block_is_rejected() {
    let app = spawn_app().await;
    let (_, url) = prepare(&app, &app.admin, json!({"name": "x"})).await;
    let list = "<BlockList><Latest>bm9wZQ==</Latest></BlockList>";
    let put = app.client.put(format!("{url}&comp=blocklist")).body(list).send().await.unwrap();
    expect_azure_error(put, 400, "InvalidBlockList").await;
}

#[tokio::test]
async fn a_blob_is_written_once() {
    let app = spawn_app().await;
    let (_, url) = prepare(&app, &app.admin, json!({"name": "once"})).await;
    assert_eq!(put_blob(&app, &url, b"1").await.status(), 201);
    expect_azure_error(put_blob(&app, &url, b"2").await, 409, "BlobAlreadyExists").await;
}

#[tokio::test]
async fn a_put_without_the_block_blob_type_is_rejected() {
    let app = spawn_app().await;
    let (_, url) = prepare(&app, &app.admin, json!({"name": "typed"})).await;
    let put = app.client.put(&url).body("x").send().await.unwrap();
    expect_azure_error(put, 400, "InvalidHeaderValue").await;
}

#[tokio::test]
async fn a_blob_not_yet_uploaded_is_not_found() {
    let app = spawn_app().await;
    let (file, _) = prepare(&app, &app.admin, json!({"name": "later"})).await;
    let read = read_url(&app, &app.admin, &file["id"]).await;
    expect_azure_error(app.client.get(&read).send().await.unwrap(), 404, "BlobNotFound").await;
}

#[tokio::test]
async fn a_sas_opens_only_its_own_blob_with_its_own_permission() {
    let app = spawn_app().await;
    let (a, a_write) = prepare(&app, &app.admin, json!({"name": "a"})).await;
    let (_, b_write) = prepare(&app, &app.admin, json!({"name": "b"})).await;
    let a_sas = a_write.split_once('?').unwrap().1;
    let b_path = b_write.split_once('?').unwrap().0;
    expect_azure_error(put_blob(&app, &format!("{b_path}?{a_sas}"), b"x").await, 403, "AuthenticationFailed").await;
    assert_eq!(put_blob(&app, &a_write, b"content").await.status(), 201);
    let a_read = read_url(&app, &app.admin, &a["id"]).await;
    let read_sas = a_read.split_once('?').unwrap().1;
    expect_azure_error(put_blob(&app, &format!("{b_path}?{read_sas}"), b"x").await, 403, "AuthenticationFailed").await;
    expect_azure_error(app.client.get(&a_write).send().await.unwrap(), 403, "AuthorizationPermissionMismatch").await;
    let tampered = a_read.replace("sp=r", "sp=rw");
    expect_azure_error(app.client.get(&tampered).send().await.unwrap(), 403, "AuthenticationFailed").await;
    let unsigned = a_read.split_once('?').unwrap().0;
    expect_azure_error(app.client.get(unsigned).send().await.unwrap(), 403, "AuthenticationFailed").await;
}

#[tokio::test]
async fn invalid_prepare_requests_are_rejected() {
    let app = spawn_app().await;
    for body in
        [json!({}), json!({"name": "  "}), json!({"name": "s", "isSliced": 1}), json!({"name": "t", "tags": [""]})]
    {
        app.post("/v2/storage/files/prepare", &app.admin, body).await.expect_error(400, "storage.files.validation");
    }
    assert_eq!(app.get("/v2/storage/files", &app.admin).await.expect(200).body, json!([]));
}

#[tokio::test]
async fn listing_filters_by_tags_query_and_ids_newest_first() {
    let app = spawn_app().await;
    let one = upload(&app, &app.admin, "1", b"1", &["a"]).await;
    let two = upload(&app, &app.admin, "2", b"2", &["b"]).await;
    let three = upload(&app, &app.admin, "3", b"3", &["a", "b"]).await;
    let ids =
        |list: Value| -> Vec<i64> { list.as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()).collect() };
    let all = ids(app.get("/v2/storage/files", &app.admin).await.expect(200).body);
    assert_eq!(all, [three["id"].as_i64().unwrap(), two["id"].as_i64().unwrap(), one["id"].as_i64().unwrap()]);
    assert_eq!(ids(app.get("/v2/storage/files?tags%5B%5D=a", &app.admin).await.body).len(), 2);
    assert_eq!(ids(app.get("/v2/storage/files?tags%5B%5D=a&tags%5B%5D=b", &app.admin).await.body).len(), 3);
    let both = app.get("/v2/storage/files?q=tags%3A%22a%22%20AND%20tags%3A%22b%22", &app.admin).await.expect(200).body;
    assert_eq!(ids(both), [three["id"].as_i64().unwrap()]);
    assert_eq!(
        ids(app.get("/v2/storage/files?limit=1&offset=1", &app.admin).await.body),
        [two["id"].as_i64().unwrap()]
    );
    let window = app.get(&format!("/v2/storage/files?sinceId={}&maxId={}", one["id"], three["id"]), &app.admin).await;
    assert_eq!(ids(window.body), [two["id"].as_i64().unwrap()]);
    app.get("/v2/storage/files?q=name%3Ax", &app.admin).await.expect_error(400, "storage.files.validation");
}

#[tokio::test]
async fn a_token_sees_only_its_own_uploads_unless_it_may_read_all() {
    let app = spawn_app().await;
    let (limited, body) = app.create_token(json!({})).await;
    let token_path = format!("/v2/storage/tokens/{}", body["id"].as_str().unwrap());
    let foreign = upload(&app, &app.admin, "admin.csv", b"x", &[]).await;
    assert_eq!(app.get("/v2/storage/files", &limited).await.expect(200).body, json!([]));
    let own = upload(&app, &limited, "own.csv", b"y", &[]).await;
    let listed = app.get("/v2/storage/files", &limited).await.expect(200).body;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], own["id"]);
    app.get(&format!("/v2/storage/files/{}", own["id"]), &app.admin).await.expect(200);
    app.get(&format!("/v2/storage/files/{}", foreign["id"]), &limited).await.expect_error(403, "accessDenied");
    app.put(&token_path, &app.admin, json!({"canReadAllFileUploads": true})).await.expect(200);
    app.get(&format!("/v2/storage/files/{}", foreign["id"]), &limited).await.expect(200);
    assert_eq!(app.get("/v2/storage/files", &limited).await.body.as_array().unwrap().len(), 2);
    app.put(&token_path, &app.admin, json!({"canReadAllFileUploads": false})).await.expect(200);
    app.get(&format!("/v2/storage/files/{}", foreign["id"]), &limited).await.expect_error(403, "accessDenied");
}

#[tokio::test]
async fn a_read_only_member_lists_all_files_but_cannot_tag_or_delete_them() {
    let app = spawn_app().await;
    let file = upload(&app, &app.admin, "f.csv", b"x", &["keep"]).await;
    let read_only = app.member_token("ro@example.com", "readOnly").await;
    assert_eq!(app.get("/v2/storage/files", &read_only).await.expect(200).body.as_array().unwrap().len(), 1);
    let id = &file["id"];
    app.post(&format!("/v2/storage/files/{id}/tags"), &read_only, json!({"tag": "x"}))
        .await
        .expect_error(403, "accessDenied");
    app.delete(&format!("/v2/storage/files/{id}/tags/keep"), &read_only).await.expect_error(403, "accessDenied");
    app.delete(&format!("/v2/storage/files/{id}"), &read_only).await.expect_error(403, "accessDenied");
}

#[tokio::test]
async fn tags_are_added_and_removed_and_a_deleted_file_is_gone_with_its_bytes() {
    let app = spawn_app().await;
    let file = upload(&app, &app.admin, "t.csv", b"x", &["one"]).await;
    let id = &file["id"];
    app.post(&format!("/v2/storage/files/{id}/tags"), &app.admin, json!({"tag": "two"})).await.expect(204);
    app.delete(&format!("/v2/storage/files/{id}/tags/one"), &app.admin).await.expect(204);
    let detail = app.get(&format!("/v2/storage/files/{id}"), &app.admin).await.expect(200).body;
    assert_eq!(detail["tags"], json!(["two"]));
    app.delete(&format!("/v2/storage/files/{id}/tags/one"), &app.admin)
        .await
        .expect_error(404, "storage.files.notFound");
    let read = read_url(&app, &app.admin, id).await;
    app.delete(&format!("/v2/storage/files/{id}"), &app.admin).await.expect(204);
    app.get(&format!("/v2/storage/files/{id}"), &app.admin).await.expect_error(404, "storage.files.notFound");
    expect_azure_error(app.client.get(&read).send().await.unwrap(), 404, "BlobNotFound").await;
}

#[tokio::test]
async fn files_past_their_max_age_are_deleted_with_their_bytes_and_permanent_ones_stay() {
    let app = spawn_app_with(|config| config.maintenance_interval = Duration::from_millis(100)).await;
    let old = upload(&app, &app.admin, "old.csv", b"old", &[]).await;
    assert_eq!(old["maxAgeDays"], 15);
    let young = upload(&app, &app.admin, "young.csv", b"young", &[]).await;
    let (kept, url) = prepare(&app, &app.admin, json!({"name": "kept.csv", "isPermanent": true})).await;
    assert_eq!(put_blob(&app, &url, b"kept").await.status(), 201);
    let old_read = read_url(&app, &app.admin, &old["id"]).await;

    // Sixteen days pass for two of them: their creation time moves back in the catalog.
    let moved = app.execute_on_catalog(&format!(
        "UPDATE files SET created = created - 16 * 86400 WHERE id IN ({}, {})",
        old["id"].as_i64().unwrap(),
        kept["id"].as_i64().unwrap()
    ));
    assert_eq!(moved, 2);

    let old_path = format!("/v2/storage/files/{}", old["id"]);
    for _ in 0..100 {
        if app.get(&old_path, &app.admin).await.status == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.get(&old_path, &app.admin).await.expect_error(404, "storage.files.notFound");
    expect_azure_error(app.client.get(&old_read).send().await.unwrap(), 404, "BlobNotFound").await;
    app.get(&format!("/v2/storage/files/{}", young["id"]), &app.admin).await.expect(200);
    app.get(&format!("/v2/storage/files/{}", kept["id"]), &app.admin).await.expect(200);
    let expired = app.events("q=event:storage.fileExpired").await;
    assert_eq!(expired.len(), 1);
    assert!(expired[0]["message"].as_str().unwrap().contains("\"old.csv\""), "{}", expired[0]);
}

#[tokio::test]
async fn a_range_to_the_largest_offset_reads_to_the_end_of_the_blob() {
    let app = spawn_app().await;
    let (file, upload) = prepare(&app, &app.admin, json!({"name": "r.csv"})).await;
    assert_eq!(put_blob(&app, &upload, b"0123456789").await.status(), 201);
    let url = read_url(&app, &app.admin, &file["id"]).await;
    for header in ["x-ms-range", "Range"] {
        let read = app.client.get(&url).header(header, "bytes=0-18446744073709551615").send().await.unwrap();
        assert_eq!(read.status(), 206);
        assert_eq!(read.headers()["content-range"], "bytes 0-9/10");
        assert_eq!(read.text().await.unwrap(), "0123456789");
    }
    let past = app.client.get(&url).header("x-ms-range", "bytes=18446744073709551615-").send().await.unwrap();
    assert_eq!(past.status(), 416);
}

#[tokio::test]
async fn a_file_with_a_name_of_the_longest_lengths_allowed_uploads_and_downloads() {
    if std::env::var("STOWAGE_TEST_S3_BUCKET").is_ok() {
        // The bound tested is the local store's (a file system's 255-byte names). S3 allows 1,024-byte
        // keys, but the S3 server CI runs (s3s-fs) keeps each object's checksums in a file named by the
        // base64 of its whole key, so it refuses keys past about 160 bytes: that is its limit, not S3's.
        return;
    }
    let app = spawn_app().await;
    for length in [253, 254, 255] {
        let name = format!("{}.csv", "n".repeat(length - 4));
        let (file, upload) = prepare(&app, &app.admin, json!({ "name": name })).await;
        assert_eq!(put_blob(&app, &upload, b"a,b\n1,2\n").await.status(), 201, "a name of {length}");
        let detail = app.get(&format!("/v2/storage/files/{}", file["id"]), &app.admin).await.expect(200).body;
        assert_eq!(detail["name"], json!(name));
        let read = app.client.get(read_url(&app, &app.admin, &file["id"]).await).send().await.unwrap();
        assert_eq!(read.status(), 200);
        assert_eq!(read.text().await.unwrap(), "a,b\n1,2\n");
    }
}

#[tokio::test]
async fn blocks_staged_for_an_upload_never_committed_are_deleted_once_its_credential_expired() {
    let app = spawn_app_with(|config| config.maintenance_interval = Duration::from_millis(100)).await;
    let (abandoned, abandoned_url) =
        prepare(&app, &app.admin, json!({"name": "abandoned.bin", "isPermanent": true})).await;
    let (fresh, fresh_url) = prepare(&app, &app.admin, json!({"name": "fresh.bin"})).await;
    for url in [&abandoned_url, &fresh_url] {
        let put = app.client.put(format!("{url}&comp=block&blockid=QUFB")).body("staged").send().await.unwrap();
        assert_eq!(put.status(), 201);
    }
    // Nine hours pass for one of them: past its credential's eight, and the hour allowed after.
    let moved = app
        .execute_on_catalog(&format!("UPDATE files SET created = created - 9 * 3600 WHERE id = {}", abandoned["id"]));
    assert_eq!(moved, 1);
    if std::env::var("STOWAGE_TEST_S3_BUCKET").is_ok() {
        // The bucket cannot be looked into from here: twenty maintenance rounds.
        tokio::time::sleep(Duration::from_secs(2)).await;
    } else {
        let staged = app.data_dir.path().join(format!("data/blobs/staging/{}", abandoned["id"]));
        let mut swept = false;
        for _ in 0..100 {
            if std::fs::read_dir(&staged).map_or(true, |entries| entries.count() == 0) {
                swept = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(swept, "the abandoned blocks stayed");
    }
    // Seen through the API on any store: the abandoned block is gone, the fresh one commits.
    let list = "<BlockList><Latest>QUFB</Latest></BlockList>";
    let put = app.client.put(format!("{abandoned_url}&comp=blocklist")).body(list).send().await.unwrap();
    assert_eq!(put.status(), 400);
    let refused = put.text().await.unwrap();
    assert!(refused.contains("InvalidBlockList"), "{refused}");
    let put = app.client.put(format!("{fresh_url}&comp=blocklist")).body(list).send().await.unwrap();
    assert_eq!(put.status(), 201);
    let read = app.client.get(read_url(&app, &app.admin, &fresh["id"]).await).send().await.unwrap();
    assert_eq!(read.text().await.unwrap(), "staged");
}

#[tokio::test]
async fn what_a_projects_uploads_in_progress_may_stage_is_bounded_until_they_commit() {
    let app = spawn_app_with(|config| config.max_staged_bytes = 1000).await;
    let (first, first_url) = prepare(&app, &app.admin, json!({"name": "first.bin"})).await;
    let (_, second_url) = prepare(&app, &app.admin, json!({"name": "second.bin"})).await;
    let block = |url: &str, id: &str| format!("{url}&comp=block&blockid={id}");
    let put = app.client.put(block(&first_url, "QUFB")).body(vec![b'a'; 600]).send().await.unwrap();
    assert_eq!(put.status(), 201);
    // 600 of 1,000 are staged: a block of 600 more is refused as it arrives, another upload's or not.
    for url in [&second_url, &first_url] {
        let put = app.client.put(block(url, "QkJC")).body(vec![b'b'; 600]).send().await.unwrap();
        assert_eq!(put.status(), 409);
        let refused = put.text().await.unwrap();
        assert!(refused.contains("<Code>StagingLimitReached</Code>"), "{refused}");
        assert!(refused.contains("staged 600 B of the 1000 B allowed"), "{refused}");
    }
    // A block sent again under its id replaces the one before, so it fits.
    let put = app.client.put(block(&first_url, "QUFB")).body(vec![b'c'; 700]).send().await.unwrap();
    assert_eq!(put.status(), 201);
    // The refused block was not kept: a list naming it is refused.
    let list = |ids: &str| format!("<BlockList>{ids}</BlockList>");
    let put = app
        .client
        .put(format!("{first_url}&comp=blocklist"))
        .body(list("<Latest>QUFB</Latest><Latest>QkJC</Latest>"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 400);
    let put =
        app.client.put(format!("{first_url}&comp=blocklist")).body(list("<Latest>QUFB</Latest>")).send().await.unwrap();
    assert_eq!(put.status(), 201);
    let read = app.client.get(read_url(&app, &app.admin, &first["id"]).await).send().await.unwrap();
    assert_eq!(read.bytes().await.unwrap().as_ref(), &[b'c'; 700][..]);
    // Committed, the first upload no longer counts: the second stages what it needs.
    let put = app.client.put(block(&second_url, "QkJC")).body(vec![b'b'; 900]).send().await.unwrap();
    assert_eq!(put.status(), 201);
}
