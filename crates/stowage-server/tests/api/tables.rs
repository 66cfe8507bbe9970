//! Tables: create, full and incremental loads, CSV rules, exports, previews, primary keys.

use std::io::Read;

use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

async fn app_with_bucket() -> (TestApp, String) {
    let app = spawn_app().await;
    let bucket = app.create_bucket("data").await;
    (app, bucket)
}

#[tokio::test]
async fn a_table_is_created_from_a_file_before_the_client_first_polls() {
    let (app, bucket) = app_with_bucket().await;
    let file = app.upload(&app.admin, "t.csv", b"id,name\n1,a\n2,b\n".to_vec()).await;
    let body = json!({"name": "people", "dataFileId": file, "primaryKey": "id", "delimiter": ",", "enclosure": "\"", "escapedBy": ""});
    let job = app.post(&format!("/v2/storage/buckets/{bucket}/tables-async"), &app.admin, body).await.expect(202).body;
    assert_eq!(job["status"], "success", "a small job is finished in the 202 itself: {job}");
    assert_eq!(job["operationName"], "tableCreate");
    assert_eq!(job["results"]["id"], "in.c-data.people");
    assert_eq!(job["tableId"], "in.c-data.people");
    assert_eq!(job["metrics"]["inBytes"], 16);
    assert_eq!(job["metrics"]["inBytesUncompressed"], 16);
    assert_eq!(job["metrics"]["inCompressed"], false);
    let detail = app.get("/v2/storage/tables/in.c-data.people", &app.admin).await.expect(200).body;
    assert_eq!(detail["columns"], json!(["id", "name"]));
    assert_eq!(detail["primaryKey"], json!(["id"]));
    assert_eq!(detail["rowsCount"], 2);
    assert!(detail["dataSizeBytes"].as_i64().unwrap() > 0);
    assert!(detail["lastImportDate"].is_string() && detail["lastChangeDate"].is_string());
    for (field, value) in
        [("timestampType", json!("MANAGED")), ("isAlias", json!(false)), ("tableType", json!("table"))]
    {
        assert_eq!(detail[field], value, "{field}");
    }
    assert!(detail["uri"].as_str().unwrap().ends_with("/v2/storage/tables/in.c-data.people"));
    assert_eq!(detail["bucket"]["id"], json!(bucket));
    assert_eq!(detail["columnMetadata"], json!([]));
    assert!(!detail["columns"].as_array().unwrap().contains(&json!("_timestamp")));
}

#[tokio::test]
async fn a_full_load_replaces_every_row_and_leaves_no_storage_behind_whether_it_succeeds_or_fails() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "t", "id,v\n1,a\n2,b\n", &[]).await;
    let job = app.import("in.c-data.t", "id,v\n3,c\n", json!({"incremental": 0})).await;
    assert_eq!(job["status"], "success", "{job}");
    assert_eq!(app.preview("in.c-data.t", "").await, "\"id\",\"v\"\n\"3\",\"c\"\n");
    let job = app.import("in.c-data.t", "id,v\n4,d\n\"5,e\n", json!({"incremental": 0})).await;
    assert_eq!(job["status"], "error", "{job}");
    assert_eq!(app.export("in.c-data.t", json!({})).await, b"\"3\",\"c\"\n");
    let job = app.import("in.c-data.t", "id,v\n6,f\n", json!({"incremental": 0})).await;
    assert_eq!(job["status"], "success", "{job}");
    assert_eq!(app.export("in.c-data.t", json!({})).await, b"\"6\",\"f\"\n");
    // On the embedded store, one file per table: the replaced and the failed loads' files are gone.
    if let Ok(entries) = std::fs::read_dir(app.data_dir.path().join("data").join("tables")) {
        let files: Vec<String> =
            entries.map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(files.iter().filter(|name| name.ends_with(".sqlite")).count(), 1, "{files:?}");
    }
}

#[tokio::test]
async fn an_incremental_load_upserts_by_primary_key_and_touches_only_changed_rows() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "t", "id,v\n1,a\n2,b\n", &["id"]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let marker = chrono_now();
    let job = app.import("in.c-data.t", "id,v\n2,b\n3,c\n1,changed\n", json!({"incremental": 1})).await;
    assert_eq!(job["status"], "success", "{job}");
    assert_eq!(app.preview("in.c-data.t", "").await, "\"id\",\"v\"\n\"1\",\"changed\"\n\"2\",\"b\"\n\"3\",\"c\"\n");
    // Row 2 was sent again unchanged: it keeps its old timestamp and is not "changed since".
    let changed = app.preview("in.c-data.t", &format!("changedSince={marker}")).await;
    assert_eq!(changed, "\"id\",\"v\"\n\"1\",\"changed\"\n\"3\",\"c\"\n");
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn an_incremental_load_without_a_primary_key_appends() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "t", "id\n1\n", &[]).await;
    app.import("in.c-data.t", "id\n1\n", json!({"incremental": true})).await;
    let detail = app.get("/v2/storage/tables/in.c-data.t", &app.admin).await.expect(200).body;
    assert_eq!(detail["rowsCount"], 2);
}

#[tokio::test]
async fn duplicate_keys_in_a_file_keep_one_row_the_last() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "t", "id,v\n1,a\n1,b\n", &["id"]).await;
    assert_eq!(app.preview("in.c-data.t", "").await, "\"id\",\"v\"\n\"1\",\"b\"\n");
}

#[tokio::test]
async fn the_primary_key_still_holds_after_full_loads_that_succeed_or_fail() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "t", "id,v\n1,a\n", &["id"]).await;
    let job = app.import("in.c-data.t", "id,v\n1,a\n2,x\n1,b\n", json!({})).await;
    assert_eq!(job["status"], "success", "{job}");
    assert_eq!(app.preview("in.c-data.t", "").await, "\"id\",\"v\"\n\"2\",\"x\"\n\"1\",\"b\"\n");
    let job = app.import("in.c-data.t", "id,v\n3,c\n\"4,d\n", json!({})).await;
    assert_eq!(job["status"], "error");
    // The key survives both: an incremental load updates row 1 instead of adding a second one.
    app.import("in.c-data.t", "id,v\n1,c\n", json!({"incremental": true})).await;
    assert_eq!(app.preview("in.c-data.t", "").await, "\"id\",\"v\"\n\"2\",\"x\"\n\"1\",\"c\"\n");
    let detail = app.get("/v2/storage/tables/in.c-data.t", &app.admin).await.expect(200).body;
    assert_eq!(detail["rowsCount"], 2);
}

#[tokio::test]
async fn new_columns_in_a_file_are_added_and_missing_ones_fail_with_the_spec_message() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "t", "id,v\n1,a\n", &["id"]).await;
    let job = app.import("in.c-data.t", "id,v,extra\n2,b,x\n", json!({"incremental": 1})).await;
    assert_eq!(job["results"]["newColumns"], json!(["extra"]));
    assert_eq!(app.preview("in.c-data.t", "").await, "\"id\",\"v\",\"extra\"\n\"1\",\"a\",\"\"\n\"2\",\"b\",\"x\"\n");
    let job = app.import("in.c-data.t", "id\n3\n", json!({"incremental": 1})).await;
    assert_eq!(job["status"], "error");
    assert_eq!(job["error"]["code"], "storage.tables.missingColumns");
    assert!(job["error"]["message"].as_str().unwrap().starts_with(
        "Some columns are missing in the csv file. Missing columns: v,extra. Expected columns: id,v,extra."
    ));
}

/// Every malformed file fails its import with a message naming the problem and the line, and
/// leaves the table exactly as it was.
#[tokio::test]
async fn malformed_files_fail_the_import_and_leave_the_table_as_it_was() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "t", "id,v\n1,a\n2,b\n", &["id"]).await;
    let before = app.get("/v2/storage/tables/in.c-data.t", &app.admin).await.expect(200).body;
    let before_rows = app.preview("in.c-data.t", "").await;
    let cases: [(&[u8], &str, &str); 9] = [
        (b"id,v\n3,c\n4,\"d\n", "storage.csv.invalid", "line 3"),
        (b"id,v\n3,c\n4,d\0e\n", "storage.csv.invalid", "line 3: a value holds a NUL byte"),
        (b"id,v\n3,c\n4,d\"e\n", "storage.csv.invalid", "line 3"),
        (b"id,v\n3,c\n4,\"d\"x\n", "storage.csv.invalid", "line 3"),
        (b"id,v\n3,c\n4,d,extra\n", "storage.csv.invalid", "line 3"),
        (b"id,v\n3,c\n4,\xff\n", "storage.csv.invalid", "line 3"),
        (b"id,id\n3,c\n", "storage.tables.validation", "more than once"),
        (b"id,bad name\n3,c\n", "storage.tables.validation", "bad name"),
        (b"", "storage.csv.invalid", "empty"),
    ];
    for (content, code, needle) in cases {
        let file = app.upload(&app.admin, "bad.csv", content.to_vec()).await;
        for incremental in [0, 1] {
            let body = json!({"dataFileId": file, "incremental": incremental});
            let job = app.post("/v2/storage/tables/in.c-data.t/import-async", &app.admin, body).await.expect(202).body;
            let job = app.wait_job(job).await;
            assert_eq!(job["status"], "error", "{content:?}");
            assert_eq!(job["error"]["code"], code, "{job}");
            assert!(job["error"]["message"].as_str().unwrap().contains(needle), "{job}");
        }
    }
    let after = app.get("/v2/storage/tables/in.c-data.t", &app.admin).await.expect(200).body;
    assert_eq!(app.preview("in.c-data.t", "").await, before_rows);
    for field in ["columns", "rowsCount", "lastImportDate", "primaryKey"] {
        assert_eq!(after[field], before[field], "{field}");
    }
}

#[tokio::test]
async fn csv_options_and_gzip_input_are_honoured() {
    let (app, bucket) = app_with_bucket().await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, b"id;text\n1;'semi;colon'\n2;'it''s'\n").unwrap();
    let file = app.upload(&app.admin, "data.csv.gz", gz.finish().unwrap()).await;
    let body = json!({"name": "opts", "dataFileId": file, "delimiter": ";", "enclosure": "'"});
    let job = app.post(&format!("/v2/storage/buckets/{bucket}/tables-async"), &app.admin, body).await.expect(202).body;
    assert_eq!(app.wait_job(job).await["status"], "success");
    assert_eq!(app.preview("in.c-data.opts", "").await, "\"id\",\"text\"\n\"1\",\"semi;colon\"\n\"2\",\"it's\"\n");
    let escaped = app.upload(&app.admin, "e.csv", b"id,text\n3,a\\,b\n".to_vec()).await;
    let body = json!({"dataFileId": escaped, "incremental": 1, "enclosure": "", "escapedBy": "\\"});
    let job = app.post("/v2/storage/tables/in.c-data.opts/import-async", &app.admin, body).await.expect(202).body;
    assert_eq!(app.wait_job(job).await["status"], "success");
    assert!(app.preview("in.c-data.opts", "").await.ends_with("\"3\",\"a,b\"\n"));
    let body = json!({"dataFileId": escaped, "delimiter": ";;"});
    app.post("/v2/storage/tables/in.c-data.opts/import-async", &app.admin, body)
        .await
        .expect_error(400, "storage.validation");
}

#[tokio::test]
async fn every_value_reads_back_exactly_as_the_file_wrote_it_whatever_its_quoting_and_line_ends() {
    let (app, bucket) = app_with_bucket().await;
    let file = "\u{feff}id,text\r\n1,plain\r\n2,\r\n3,\"\"\n4,\"multi\nline\r\nvalue\"\r5,\"say \"\"hi\"\"\"\n\
                6,\"\\.\n\\.\"\n7,\\.\n8,NULL\n9,\u{e9} \u{65e5}\u{672c}\n10,\"a,b\"";
    let job = app.create_table(&bucket, "t", file, &["id"]).await;
    assert_eq!(job["status"], "success", "{job}");
    let expected = "\"id\",\"text\"\n\"1\",\"plain\"\n\"2\",\"\"\n\"3\",\"\"\n\"4\",\"multi\nline\r\nvalue\"\n\
                    \"5\",\"say \"\"hi\"\"\"\n\"6\",\"\\.\n\\.\"\n\"7\",\"\\.\"\n\"8\",\"NULL\"\n\
                    \"9\",\"\u{e9} \u{65e5}\u{672c}\"\n\"10\",\"a,b\"\n";
    assert_eq!(app.preview("in.c-data.t", "").await, expected);

    // The same values through an incremental load (a staging table on PostgreSQL), in another
    // dialect: they change nothing, and a new row with an empty value comes in empty.
    let again = "id;text\n2;\n4;'multi\nline\r\nvalue'\n6;'\\.\n\\.'\n11;\n12;'it''s'\n";
    let job = app.import("in.c-data.t", again, json!({"incremental": 1, "delimiter": ";", "enclosure": "'"})).await;
    assert_eq!(job["status"], "success", "{job}");
    let expected = format!("{expected}\"11\",\"\"\n\"12\",\"it's\"\n");
    assert_eq!(app.preview("in.c-data.t", "").await, expected);
    let one = app.create_table(&bucket, "solo", "v\n\\.\nafter\n\n", &[]).await;
    assert_eq!(one["status"], "success", "{one}");
    assert_eq!(app.preview("in.c-data.solo", "").await, "\"v\"\n\"\\.\"\n\"after\"\n\"\"\n");
}

#[tokio::test]
async fn a_header_less_file_uses_the_given_or_the_tables_columns() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "t", "id,v\n1,a\n", &[]).await;
    app.import("in.c-data.t", "2,b\n", json!({"incremental": 1, "withoutHeaders": 1})).await;
    app.import("in.c-data.t", "c,3\n", json!({"incremental": 1, "withoutHeaders": 1, "columns": ["v", "id"]})).await;
    assert_eq!(app.preview("in.c-data.t", "").await, "\"id\",\"v\"\n\"1\",\"a\"\n\"2\",\"b\"\n\"3\",\"c\"\n");
}

#[tokio::test]
async fn exports_have_no_header_quote_every_value_and_project_columns_in_order() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "t", "id,name,note\n1,a,\"x\"\"y\"\n2,b,\n", &[]).await;
    let all = app.export("in.c-data.t", json!({})).await;
    assert_eq!(String::from_utf8(all).unwrap(), "\"1\",\"a\",\"x\"\"y\"\n\"2\",\"b\",\"\"\n");
    let projected = app.export("in.c-data.t", json!({"columns": "note,id"})).await;
    assert_eq!(String::from_utf8(projected).unwrap(), "\"x\"\"y\",\"1\"\n\"\",\"2\"\n");
    let job =
        app.post("/v2/storage/tables/in.c-data.t/export-async", &app.admin, json!({"gzip": 1})).await.expect(202).body;
    let job = app.wait_job(job).await;
    assert_eq!(job["metrics"]["outCompressed"], true);
    assert_eq!(job["metrics"]["outBytesUncompressed"], 26);
    assert!(job["metrics"]["outBytes"].as_u64().unwrap() > 0);
    let gz = app.export("in.c-data.t", json!({"gzip": 1, "limit": 1})).await;
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
    assert_eq!(text, "\"1\",\"a\",\"x\"\"y\"\n");
}

#[tokio::test]
async fn where_filters_select_rows_with_every_operator_spelling() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "t", "id,c\n1,x\n2,y\n10,z\n", &[]).await;
    let pick = |query: &'static str| {
        let app = &app;
        async move { app.preview("in.c-data.t", &format!("columns=id&{query}")).await }
    };
    assert_eq!(pick("whereColumn=c&whereValues%5B%5D=x&whereValues%5B%5D=z").await, "\"id\"\n\"1\"\n\"10\"\n");
    assert_eq!(pick("whereColumn=c&whereValues%5B%5D=x&whereOperator=neq").await, "\"id\"\n\"2\"\n\"10\"\n");
    assert_eq!(pick("whereColumn=c&whereValues%5B%5D=x&whereOperator=ne").await, "\"id\"\n\"2\"\n\"10\"\n");
    let numeric = "whereFilters%5B0%5D%5Bcolumn%5D=id&whereFilters%5B0%5D%5Boperator%5D=gt&whereFilters%5B0%5D%5Bvalues%5D%5B0%5D=2&whereFilters%5B0%5D%5BdataType%5D=INTEGER";
    assert_eq!(pick(numeric).await, "\"id\"\n\"10\"\n");
    let body = json!({"whereFilters": [{"column": "id", "operator": "le", "values": ["2"], "dataType": "INTEGER"}], "columns": ["id"]});
    assert_eq!(String::from_utf8(app.export("in.c-data.t", body).await).unwrap(), "\"1\"\n\"2\"\n");
    let reply =
        app.get("/v2/storage/tables/in.c-data.t/data-preview?whereColumn=nope&whereValues%5B%5D=1", &app.admin).await;
    reply.expect_error(400, "storage.validation");
    let reply =
        app.post("/v2/storage/tables/in.c-data.t/export-async", &app.admin, json!({"columns": ["id", "ghost"]})).await;
    reply.expect_error(400, "storage.validation");
    let reply =
        app.get("/v2/storage/tables/in.c-data.t/data-preview?whereColumn=c&whereValues%5B%5D=x%00y", &app.admin).await;
    let reply = reply.expect_error(400, "storage.validation");
    assert!(reply.text.contains("NUL byte"), "{}", reply.text);
    let body = json!({"whereFilters": [{"column": "c", "operator": "eq", "values": ["x\u{0}"]}]});
    app.post("/v2/storage/tables/in.c-data.t/export-async", &app.admin, body)
        .await
        .expect_error(400, "storage.validation");
}

#[tokio::test]
async fn changed_since_accepts_unix_iso_and_relative_times() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "t", "id\n1\n", &[]).await;
    for since in ["-2%20days", "1360138863", "2013-02-12T15%3A19%3A21%2B00%3A00"] {
        assert_eq!(app.preview("in.c-data.t", &format!("changedSince={since}")).await, "\"id\"\n\"1\"\n");
    }
    assert_eq!(app.preview("in.c-data.t", "changedUntil=-1%20day").await, "\"id\"\n");
    let reply = app.get("/v2/storage/tables/in.c-data.t/data-preview?changedSince=whenever", &app.admin).await;
    reply.expect_error(400, "storage.validation");
    // A relative time past the end of time is refused, not wrapped around (found by fuzzing).
    let far = "/v2/storage/tables/in.c-data.t/data-preview?changedSince=9223372036854775807%20seconds";
    app.get(far, &app.admin).await.expect_error(400, "storage.validation");
}

#[tokio::test]
async fn a_preview_has_a_header_a_limit_and_a_json_form() {
    let (app, bucket) = app_with_bucket().await;
    let csv: String = std::iter::once("n\n".to_string()).chain((0..150).map(|i| format!("{i}\n"))).collect();
    app.create_table(&bucket, "t", &csv, &[]).await;
    assert_eq!(app.preview("in.c-data.t", "").await.lines().count(), 101);
    assert_eq!(app.preview("in.c-data.t", "limit=5").await.lines().count(), 6);
    app.get("/v2/storage/tables/in.c-data.t/data-preview?limit=1001", &app.admin)
        .await
        .expect_error(400, "storage.validation");
    let json =
        app.get("/v2/storage/tables/in.c-data.t/data-preview?format=json&limit=2", &app.admin).await.expect(200).body;
    assert_eq!(json["columns"], json!(["n"]));
    assert_eq!(json["rows"][1], json!([{"columnName": "n", "value": "1", "isTruncated": false}]));
}

#[tokio::test]
async fn a_primary_key_is_added_only_over_unique_values_and_can_be_removed() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "t", "id,v\n1,a\n1,b\n", &[]).await;
    let job = app
        .post("/v2/storage/tables/in.c-data.t/primary-key", &app.admin, json!({"columns": ["id"]}))
        .await
        .expect(202);
    let job = app.wait_job(job.body).await;
    assert_eq!(job["status"], "error");
    assert_eq!(job["error"]["message"], "Cannot create new primary key, duplicate values in primary key columns");
    let job =
        app.post("/v2/storage/tables/in.c-data.t/primary-key", &app.admin, json!({"columns": ["v"]})).await.expect(202);
    assert_eq!(app.wait_job(job.body).await["status"], "success");
    assert_eq!(app.get("/v2/storage/tables/in.c-data.t", &app.admin).await.body["primaryKey"], json!(["v"]));
    let job = app.delete("/v2/storage/tables/in.c-data.t/primary-key", &app.admin).await.expect(202);
    assert_eq!(app.wait_job(job.body).await["status"], "success");
    assert_eq!(app.get("/v2/storage/tables/in.c-data.t", &app.admin).await.body["primaryKey"], json!([]));
}

#[tokio::test]
async fn tables_are_listed_with_includes_and_deleted_sync_or_async() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "a", "x\n1\n", &[]).await;
    app.create_table(&bucket, "b", "x\n1\n", &[]).await;
    let list = app
        .get(&format!("/v2/storage/buckets/{bucket}/tables?include=columns,metadata"), &app.admin)
        .await
        .expect(200)
        .body;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["columns"], json!(["x"]));
    assert_eq!(list[0]["metadata"], json!([]));
    let all = app.get("/v2/storage/tables", &app.admin).await.expect(200).body;
    assert!(all[0].get("columns").is_none() && all[0]["bucket"]["id"] == json!(bucket));
    app.delete("/v2/storage/tables/in.c-data.a", &app.admin).await.expect(204);
    let job = app.delete("/v2/storage/tables/in.c-data.b?async=1", &app.admin).await.expect(202);
    assert_eq!(job.body["operationName"], "tableDrop");
    assert_eq!(app.wait_job(job.body).await["status"], "success");
    app.get("/v2/storage/tables/in.c-data.a", &app.admin).await.expect_error(404, "storage.tables.notFound");
    assert_eq!(app.get("/v2/storage/tables", &app.admin).await.body, json!([]));
}

#[tokio::test]
async fn a_bucket_with_tables_is_deleted_only_with_force() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "t", "x\n1\n", &[]).await;
    app.delete(&format!("/v2/storage/buckets/{bucket}"), &app.admin)
        .await
        .expect_error(400, "storage.buckets.notEmpty");
    app.get("/v2/storage/tables/in.c-data.t", &app.admin).await.expect(200);
    app.delete(&format!("/v2/storage/buckets/{bucket}?force=True&async=True"), &app.admin).await.expect(202);
    app.get("/v2/storage/tables/in.c-data.t", &app.admin).await.expect_error(404, "storage.tables.notFound");
    app.create_bucket("data").await;
    app.create_table(&bucket, "t", "y\n2\n", &[]).await;
    assert_eq!(app.preview("in.c-data.t", "").await, "\"y\"\n\"2\"\n");
}

#[tokio::test]
async fn bad_table_requests_are_rejected_before_any_job_starts() {
    let (app, bucket) = app_with_bucket().await;
    let file = app.upload(&app.admin, "t.csv", b"id\n1\n".to_vec()).await;
    let create = |body: serde_json::Value| {
        let app = &app;
        let path = format!("/v2/storage/buckets/{bucket}/tables-async");
        async move { app.post(&path, &app.admin, body).await }
    };
    create(json!({"name": "bad name", "dataFileId": file})).await.expect_error(400, "storage.tables.validation");
    create(json!({"name": "t"})).await.expect_error(400, "storage.validation");
    create(json!({"name": "t", "dataFileId": 999})).await.expect_error(404, "storage.files.notFound");
    app.create_table(&bucket, "t", "id\n1\n", &[]).await;
    create(json!({"name": "t", "dataFileId": file})).await.expect_error(400, "storage.tables.alreadyExists");
    app.post("/v2/storage/buckets/in.c-nope/tables-async", &app.admin, json!({"name": "t", "dataFileId": file}))
        .await
        .expect_error(404, "storage.buckets.notFound");
    app.post("/v2/storage/tables/in.c-data.nope/import-async", &app.admin, json!({"dataFileId": file}))
        .await
        .expect_error(404, "storage.tables.notFound");
    let job = create(json!({"name": "pk", "dataFileId": file, "primaryKey": "missing"})).await.expect(202).body;
    let job = app.wait_job(job).await;
    assert_eq!(job["status"], "error");
    app.get("/v2/storage/tables/in.c-data.pk", &app.admin).await.expect_error(404, "storage.tables.notFound");
}

#[tokio::test]
async fn a_read_grant_previews_and_exports_but_cannot_import() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "t", "id\n1\n", &[]).await;
    let (reader, _) = app.create_token(json!({"bucketPermissions": {&bucket: "read"}})).await;
    app.get("/v2/storage/tables/in.c-data.t/data-preview", &reader).await.expect(200);
    let job = app.post("/v2/storage/tables/in.c-data.t/export-async", &reader, json!({})).await.expect(202).body;
    let file = &job["results"]["file"]["id"];
    app.get(&format!("/v2/storage/files/{file}"), &reader).await.expect(200);
    let own = app.upload(&reader, "x.csv", b"id\n2\n".to_vec()).await;
    app.post("/v2/storage/tables/in.c-data.t/import-async", &reader, json!({"dataFileId": own}))
        .await
        .expect_error(403, "accessDenied");
    assert_eq!(app.get("/v2/storage/tables", &reader).await.body.as_array().unwrap().len(), 1);
    let (none, _) = app.create_token(json!({})).await;
    assert_eq!(app.get("/v2/storage/tables", &none).await.body, json!([]));
}

#[tokio::test]
async fn table_operations_are_in_the_tables_event_feed() {
    let (app, bucket) = app_with_bucket().await;
    app.create_table(&bucket, "t", "id\n1\n", &[]).await;
    app.import("in.c-data.t", "id\n2\n", json!({"incremental": 1})).await;
    app.export("in.c-data.t", json!({})).await;
    app.get("/v2/storage/tables/in.c-data.t", &app.admin).await.expect(200);
    let feed = app.get("/v2/storage/tables/in.c-data.t/events", &app.admin).await.expect(200).body;
    let names: Vec<_> = feed.as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "storage.tableDetail",
            "storage.tableExported",
            "storage.tableImportDone",
            "storage.tableImportDone",
            "storage.tableCreated"
        ]
    );
    app.get(&format!("/v2/storage/buckets/{bucket}/tables"), &app.admin).await.expect(200);
    assert_eq!(app.events("q=event:storage.tablesListed").await.len(), 1);
}
