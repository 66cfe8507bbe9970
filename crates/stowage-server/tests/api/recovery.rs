//! What a start finds after a stop it did not choose: a data dir still in use, a catalog that did
//! not mirror a table an unfinished job changed, table files that no table owns, jobs cut off
//! before or after their rows committed (taken over by the next start's worker). The real binary, stopped with SIGKILL.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::console::Browser;
use crate::restart::{free_port, start, Server};

/// A row as a job a kill cut off leaves it: processing, on `table`, made by the admin.
const UNFINISHED_IMPORT: &str = "INSERT INTO jobs (project_id, status, operation_name, operation_params, table_id,
    created, start, creator_token_id, creator_token_description)
    VALUES (1, 'processing', 'tableImport', '{}', ?1, 0, 0, 1, 'admin')";

#[tokio::test]
async fn a_second_server_on_a_data_dir_in_use_refuses_to_start_and_a_killed_server_leaves_no_lock_behind() {
    let dir = crate::helpers::test_dir();
    let data = dir.path().join("data");
    let first = Server::first_start(&data).await;

    let second = start(&data, free_port());
    let output = tokio::time::timeout(Duration::from_secs(20), second.wait_with_output()).await.unwrap().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!("is in use by another stowage server (process {})", first.child.id().unwrap());
    assert!(stderr.contains(&expected) && stderr.contains("--data-dir"), "{stderr}");

    let admin = first.admin.clone();
    first.kill().await;
    Server::restart(&data, &admin).await;
}

#[tokio::test]
async fn after_a_kill_the_catalog_is_set_from_the_data_of_an_unfinished_jobs_table_and_orphan_files_are_deleted() {
    let dir = crate::helpers::test_dir();
    let data = dir.path().join("data");
    let server = Server::first_start_embedded(&data).await;
    server.call(Method::POST, "/buckets", json!({"name": "kept"})).await;
    let file = server.upload("id,v\n1,a\n2,b\n3,c\n").await;
    let job =
        server.call(Method::POST, "/buckets/in.c-kept/tables-async", json!({"name": "t", "dataFileId": file})).await;
    assert_eq!(job["status"], "success", "{job}");
    let admin = server.admin.clone();
    server.kill().await;

    // The state a kill leaves between a table's commit and the catalog's: the rows are in the table,
    // the catalog still shows the old statistics and a job as running; and the file of a create
    // that was cut off before the catalog heard of it.
    let catalog = rusqlite::Connection::open(data.join("catalog.sqlite")).unwrap();
    catalog.execute("UPDATE tables SET rows_count = 1, columns = '[\"id\"]' WHERE id = 'in.c-kept.t'", []).unwrap();
    catalog.execute(UNFINISHED_IMPORT, ["in.c-kept.t"]).unwrap();
    drop(catalog);
    let tables = data.join("tables");
    for orphan in ["0190orphan.sqlite", "0190orphan.sqlite-wal", "0190orphan.sqlite-shm"] {
        std::fs::write(tables.join(orphan), b"left behind").unwrap();
    }

    let server = Server::restart_embedded(&data, &admin).await;
    let table = server.call(Method::GET, "/tables/in.c-kept.t", Value::Null).await;
    assert_eq!(table["rowsCount"], 3, "{table}");
    assert_eq!(table["columns"], json!(["id", "v"]));
    let jobs = server.call(Method::GET, "/jobs", Value::Null).await;
    assert_eq!(jobs[0]["status"], "error", "a job from before jobs carried their work cannot run again: {jobs}");
    let left: Vec<String> =
        std::fs::read_dir(&tables).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(left.iter().all(|name| !name.contains("orphan")), "{left:?}");
    assert!(!left.is_empty(), "the table's own file stays");
    let preview = server.api(Method::GET, "/tables/in.c-kept.t/data-preview").send().await.unwrap();
    assert_eq!(preview.text().await.unwrap().lines().count(), 4);
}

#[tokio::test]
async fn an_import_cut_off_after_its_rows_committed_is_finished_from_its_marker_and_one_cut_off_before_runs_again() {
    let dir = crate::helpers::test_dir();
    let data = dir.path().join("data");
    let server = Server::first_start_embedded(&data).await;
    server.call(Method::POST, "/buckets", json!({"name": "b"})).await;
    let first = server.upload("id\n1\n2\n").await;
    let created =
        server.call(Method::POST, "/buckets/in.c-b/tables-async", json!({"name": "t", "dataFileId": first})).await;
    assert_eq!(created["status"], "success");
    let more = server.upload("id\n3\n4\n5\n").await;
    let body = json!({"dataFileId": more, "incremental": 1});
    let appended = server.call(Method::POST, "/tables/in.c-b.t/import-async", body).await;
    assert_eq!(appended["status"], "success");
    let last = server.upload("id\n6\n7\n").await;
    let admin = server.admin.clone();
    server.kill().await;

    // What a kill between the table's commit and the catalog's leaves: the append's rows (and its
    // marker) are in the table, its job still runs and the catalog still counts two rows. A later
    // import of the last file was claimed but never reached the table.
    let catalog = rusqlite::Connection::open(data.join("catalog.sqlite")).unwrap();
    let appended_id = appended["id"].as_i64().unwrap();
    let reopen = "UPDATE jobs SET status = 'processing', \"end\" = NULL, results = 'null', lease_owner = 'dead',
        lease_expires = 4102444800 WHERE id = ?1";
    catalog.execute(reopen, [appended_id]).unwrap();
    catalog.execute("UPDATE tables SET rows_count = 2 WHERE id = 'in.c-b.t'", []).unwrap();
    let its_event =
        "DELETE FROM events WHERE id = (SELECT MAX(id) FROM events WHERE event = 'storage.tableImportDone')";
    catalog.execute(its_event, []).unwrap();
    let cut_off = "INSERT INTO jobs (project_id, status, operation_name, operation_params, table_id, created, start,
        creator_token_id, creator_token_description, work, lease_owner, lease_expires, attempts)
        SELECT project_id, 'processing', operation_name, operation_params, table_id, created, start, creator_token_id,
        creator_token_description, json_set(work, '$.fileId', ?2), 'dead', 4102444800, 1 FROM jobs WHERE id = ?1";
    catalog.execute(cut_off, [appended_id, last.as_i64().unwrap()]).unwrap();
    let never_landed = catalog.last_insert_rowid();
    drop(catalog);

    let server = Server::restart_embedded(&data, &admin).await;
    let job = server.wait(json!({"id": appended_id})).await;
    assert_eq!(job["status"], "success", "the rows landed, so the job says so: {job}");
    assert_eq!(job["results"]["rowsInFile"], 3);
    assert_eq!(job["results"]["totalRowsCount"], 5, "its rows were not loaded again: {job}");
    let job = server.wait(json!({"id": never_landed})).await;
    assert_eq!(job["status"], "success", "taken over and run once: {job}");
    assert_eq!(job["results"]["totalRowsCount"], 7, "{job}");
    let table = server.call(Method::GET, "/tables/in.c-b.t", Value::Null).await;
    assert_eq!(table["rowsCount"], 7, "{table}");
    let preview = server.api(Method::GET, "/tables/in.c-b.t/data-preview").send().await.unwrap();
    assert_eq!(preview.text().await.unwrap().lines().count(), 8, "each row once, with the header");
    let imports = server.call(Method::GET, "/events?q=event:storage.tableImportDone", Value::Null).await;
    assert_eq!(imports.as_array().unwrap().len(), 3, "the create's, then each cut-off job's once: {imports}");
}

#[tokio::test]
async fn a_component_run_cut_off_by_a_kill_is_not_run_again_and_ends_as_an_error_that_says_why() {
    let dir = crate::helpers::test_dir();
    let data = dir.path().join("data");
    let server = Server::first_start_embedded(&data).await;
    let admin = server.admin.clone();
    server.kill().await;

    // A writer run a kill cut off: claimed by the dead process, its lease not yet expired.
    let catalog = rusqlite::Connection::open(data.join("catalog.sqlite")).unwrap();
    let cut_off = r#"INSERT INTO jobs (project_id, status, operation_name, operation_params, created, start,
        creator_token_id, creator_token_description, component_id, config_id, work, lease_owner, lease_expires,
        attempts)
        VALUES (1, 'processing', 'componentRun', '{"rowIds":[]}', 0, 0, 1, 'admin', 'keboola.wr-storage', '1',
        '{"kind":"componentRun","componentId":"keboola.wr-storage","configId":"1","rowIds":[]}', 'dead',
        4102444800, 1)"#;
    catalog.execute(cut_off, []).unwrap();
    let id = catalog.last_insert_rowid();
    drop(catalog);

    let server = Server::restart_embedded(&data, &admin).await;
    let mut job = Value::Null;
    for _ in 0..100 {
        let url = format!("{}/queue/jobs/{id}", server.root);
        let answer = server.client.get(url).header("X-StorageApi-Token", &admin).send().await.unwrap();
        job = answer.json().await.unwrap();
        if job["isFinished"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(job["status"], "error", "{job}");
    let message = job["result"]["message"].as_str().unwrap();
    assert!(message.contains("interrupted") && message.contains("may hold part"), "{message}");
    let storage_jobs = server.call(Method::GET, "/jobs", Value::Null).await;
    assert_eq!(storage_jobs, json!([]), "a component run is not a storage job");
}

#[tokio::test]
async fn failed_sign_ins_still_slow_the_next_attempt_after_a_restart() {
    let dir = crate::helpers::test_dir();
    let data = dir.path().join("data");
    let server = Server::first_start(&data).await;
    let attempt = async |root: &str| {
        let mut browser = Browser::at(root);
        let (_, _, page) = browser.get("/console").await;
        let csrf = Browser::csrf(&page);
        let form = [("email", "admin@localhost"), ("password", "a-wrong-password"), ("csrf", csrf.as_str())];
        browser.post("/console/sign-in", &form).await.0
    };
    for _ in 0..5 {
        assert_eq!(attempt(&server.root).await, 401);
    }
    // Two more failures, each after its wait, make the next wait 4 s: longer than a restart.
    for wait in [1, 2] {
        tokio::time::sleep(Duration::from_millis(wait * 1000 + 100)).await;
        assert_eq!(attempt(&server.root).await, 401);
    }
    let admin = server.admin.clone();
    server.kill().await;

    let server = Server::restart(&data, &admin).await;
    assert_eq!(attempt(&server.root).await, 429, "the count of failures outlives the process");
}
