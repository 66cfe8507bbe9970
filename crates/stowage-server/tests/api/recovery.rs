//! What a start finds after a stop it did not choose: a data dir still in use, a catalog that did
//! not mirror a table an unfinished job changed, table files that no table owns. The real binary,
//! stopped with SIGKILL.

use std::time::Duration;

use serde_json::{json, Value};

use crate::restart::{free_port, read_admin_token, start, wait_ready};

fn kill(child: &mut tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
}

#[tokio::test]
async fn a_second_server_on_a_data_dir_in_use_refuses_to_start_and_a_killed_server_leaves_no_lock_behind() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (port, client) = (free_port(), reqwest::Client::new());
    let mut first = start(&data, port);
    read_admin_token(&mut first).await;
    wait_ready(&client, &format!("http://127.0.0.1:{port}")).await;

    let second = start(&data, free_port());
    let output = tokio::time::timeout(Duration::from_secs(20), second.wait_with_output()).await.unwrap().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!("is in use by another stowage server (process {})", first.id().unwrap());
    assert!(stderr.contains(&expected) && stderr.contains("--data-dir"), "{stderr}");

    kill(&mut first);
    first.wait().await.unwrap();
    let port = free_port();
    let _third = start(&data, port);
    wait_ready(&client, &format!("http://127.0.0.1:{port}")).await;
}

#[tokio::test]
async fn after_a_kill_the_catalog_is_set_from_the_data_of_an_unfinished_jobs_table_and_orphan_files_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (port, client) = (free_port(), reqwest::Client::new());
    let url = format!("http://127.0.0.1:{port}/v2/storage");
    let mut server = start(&data, port);
    let admin = read_admin_token(&mut server).await;
    wait_ready(&client, &format!("http://127.0.0.1:{port}")).await;
    let api = |method: reqwest::Method, path: &str| {
        client.request(method, format!("{url}{path}")).header("X-StorageApi-Token", &admin)
    };
    api(reqwest::Method::POST, "/buckets").json(&json!({"name": "kept"})).send().await.unwrap();
    let file: Value = api(reqwest::Method::POST, "/files/prepare")
        .json(&json!({"name": "t.csv"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let blob = format!("http://127.0.0.1:{port}{}", crate::helpers::blob_path(&file["absUploadParams"]));
    client.put(blob).header("x-ms-blob-type", "BlockBlob").body("id,v\n1,a\n2,b\n3,c\n").send().await.unwrap();
    let job: Value = api(reqwest::Method::POST, "/buckets/in.c-kept/tables-async")
        .json(&json!({"name": "t", "dataFileId": file["id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(job["status"], "success", "{job}");
    kill(&mut server);
    server.wait().await.unwrap();

    // The state a kill leaves between a table's commit and the catalog's: the rows are in the table,
    // the catalog still shows the old statistics and the job as running; and the file of a create
    // that was cut off before the catalog heard of it.
    let catalog = rusqlite::Connection::open(data.join("catalog.sqlite")).unwrap();
    catalog
        .execute_batch(
            "UPDATE tables SET rows_count = 1, columns = '[\"id\"]' WHERE id = 'in.c-kept.t';
             INSERT INTO jobs (project_id, status, operation_name, operation_params, table_id, created, start,
                 creator_token_id, creator_token_description)
             VALUES (1, 'processing', 'tableImport', '{}', 'in.c-kept.t', 0, 0, 1, 'admin');",
        )
        .unwrap();
    drop(catalog);
    let tables = data.join("tables");
    for orphan in ["0190orphan.sqlite", "0190orphan.sqlite-wal", "0190orphan.sqlite-shm"] {
        std::fs::write(tables.join(orphan), b"left behind").unwrap();
    }

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/v2/storage");
    let _server = start(&data, port);
    wait_ready(&client, &format!("http://127.0.0.1:{port}")).await;
    let get = |path: &str| client.get(format!("{url}{path}")).header("X-StorageApi-Token", &admin).send();
    let table: Value = get("/tables/in.c-kept.t").await.unwrap().json().await.unwrap();
    assert_eq!(table["rowsCount"], 3, "{table}");
    assert_eq!(table["columns"], json!(["id", "v"]));
    let jobs: Value = get("/jobs").await.unwrap().json().await.unwrap();
    assert_eq!(jobs[0]["status"], "error", "the unfinished job ends: {jobs}");
    let left: Vec<String> =
        std::fs::read_dir(&tables).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(left.iter().all(|name| !name.contains("orphan")), "{left:?}");
    assert!(!left.is_empty(), "the table's own file stays");
    let preview = get("/tables/in.c-kept.t/data-preview").await.unwrap().text().await.unwrap();
    assert_eq!(preview.lines().count(), 4, "{preview}");
}

#[tokio::test]
async fn an_import_cut_off_after_its_rows_committed_ends_as_success_and_one_whose_rows_did_not_as_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (port, client) = (free_port(), reqwest::Client::new());
    let mut server = start(&data, port);
    let admin = read_admin_token(&mut server).await;
    let root = format!("http://127.0.0.1:{port}");
    wait_ready(&client, &root).await;
    let call = |method: reqwest::Method, path: &str, body: Value| {
        let request = client.request(method, format!("{root}/v2/storage{path}")).header("X-StorageApi-Token", &admin);
        async move { request.json(&body).send().await.unwrap().json::<Value>().await.unwrap_or(Value::Null) }
    };
    let upload = |csv: &'static str| {
        let call = &call;
        let (client, root) = (&client, &root);
        async move {
            let file = call(reqwest::Method::POST, "/files/prepare", json!({"name": "t.csv"})).await;
            let blob = format!("{root}{}", crate::helpers::blob_path(&file["absUploadParams"]));
            client.put(blob).header("x-ms-blob-type", "BlockBlob").body(csv).send().await.unwrap();
            file["id"].clone()
        }
    };
    call(reqwest::Method::POST, "/buckets", json!({"name": "b"})).await;
    let first = upload("id\n1\n2\n").await;
    let created =
        call(reqwest::Method::POST, "/buckets/in.c-b/tables-async", json!({"name": "t", "dataFileId": first})).await;
    assert_eq!(created["status"], "success");
    let more = upload("id\n3\n4\n5\n").await;
    let appended =
        call(reqwest::Method::POST, "/tables/in.c-b.t/import-async", json!({"dataFileId": more, "incremental": 1}))
            .await;
    assert_eq!(appended["status"], "success");
    kill(&mut server);
    server.wait().await.unwrap();

    // What a kill between the table's commit and the catalog's leaves: the append's rows (and its
    // marker) are in the table, its job still runs and the catalog still counts two rows. A later
    // job that never reached the table is unfinished too.
    let catalog = rusqlite::Connection::open(data.join("catalog.sqlite")).unwrap();
    let appended_id = appended["id"].as_i64().unwrap();
    catalog
        .execute("UPDATE jobs SET status = 'processing', \"end\" = NULL, results = 'null' WHERE id = ?1", [appended_id])
        .unwrap();
    catalog.execute("UPDATE tables SET rows_count = 2 WHERE id = 'in.c-b.t'", []).unwrap();
    catalog
        .execute(
            "INSERT INTO jobs (project_id, status, operation_name, operation_params, table_id, created, start,
                 creator_token_id, creator_token_description)
             VALUES (1, 'processing', 'tableImport', '{}', 'in.c-b.t', 0, 0, 1, 'admin')",
            [],
        )
        .unwrap();
    let never_landed = catalog.last_insert_rowid();
    drop(catalog);

    let port = free_port();
    let root = format!("http://127.0.0.1:{port}");
    let _server = start(&data, port);
    wait_ready(&client, &root).await;
    let get = |path: String| client.get(format!("{root}/v2/storage{path}")).header("X-StorageApi-Token", &admin).send();
    let job: Value = get(format!("/jobs/{appended_id}")).await.unwrap().json().await.unwrap();
    assert_eq!(job["status"], "success", "the rows landed, so the job says so: {job}");
    assert_eq!(job["results"]["rowsInFile"], 3);
    assert_eq!(job["results"]["totalRowsCount"], 5);
    let job: Value = get(format!("/jobs/{never_landed}")).await.unwrap().json().await.unwrap();
    assert_eq!(job["status"], "error", "{job}");
    let table: Value = get("/tables/in.c-b.t".into()).await.unwrap().json().await.unwrap();
    assert_eq!(table["rowsCount"], 5, "{table}");
}
