//! The writer and extractor pages of the console, over HTTP as a browser sends them, with a
//! second stack at the other end.

use std::time::Duration;

use serde_json::{json, Value};

use crate::console::{signed_in_admin, Browser};
use crate::helpers::{spawn_app_reaching_loopback, TestApp};

const WRITER: &str = "keboola.wr-storage";
const EXTRACTOR: &str = "keboola.ex-storage";

/// Creates a configuration through its page; (its page's path, its id, the session's CSRF value).
async fn new_config(browser: &mut Browser, app: &TestApp, component: &str, name: &str) -> (String, String, String) {
    let list = format!("/console/projects/{}/components/{component}", app.project_id);
    let (status, _, page) = browser.get(&list).await;
    assert_eq!(status, 200);
    assert!(page.contains("No configurations yet."));
    let csrf = Browser::csrf(&page);
    let (status, location, _, _) = browser.post(&list, &[("name", name), ("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert!(location.starts_with(&format!("{list}/")), "{location}");
    let id = location.rsplit('/').next().unwrap().to_string();
    (location, id, csrf)
}

async fn stored(app: &TestApp, component: &str, id: &str) -> Value {
    app.get(&format!("/v2/storage/components/{component}/configs/{id}"), &app.admin).await.expect(200).body
}

fn row_ids(config: &Value) -> Vec<(String, String)> {
    config["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["name"].as_str().unwrap().to_string(), row["id"].as_str().unwrap().to_string()))
        .collect()
}

/// Follows a job page until the job has ended; the last page.
async fn finished_job_page(browser: &mut Browser, path: &str) -> String {
    for _ in 0..400 {
        let (status, _, page) = browser.get(path).await;
        assert_eq!(status, 200);
        if !page.contains("http-equiv=\"refresh\"") {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the job at {path} did not end");
}

#[tokio::test]
async fn a_writer_set_up_in_the_console_writes_the_enabled_tables_in_the_chosen_order() {
    let a = spawn_app_reaching_loopback().await;
    let b = spawn_app_reaching_loopback().await;
    let source = a.create_bucket("src").await;
    for name in ["orders", "people", "skipped"] {
        a.create_table(&source, name, "id,name\n1,a\n2,b\n", &["id"]).await;
    }
    let target = b.create_bucket("target").await;
    let (write_token, _) = b.create_token(json!({"bucketPermissions": {&target: "write"}})).await;
    let mut browser = signed_in_admin(&a).await;
    let (page_path, id, csrf) = new_config(&mut browser, &a, WRITER, "to the other stack").await;

    let (_, _, page) = browser.get(&page_path).await;
    assert!(page.contains("Not set up yet: pick the region of the target project and paste its token."));
    let target_form = [("region", "custom"), ("customUrl", b.url.as_str()), ("token", write_token.as_str())];
    let (status, location, _, _) =
        browser.post(&format!("{page_path}/target"), &[target_form.as_slice(), &[("csrf", &csrf)]].concat()).await;
    assert_eq!((status, location.as_str()), (303, page_path.as_str()));
    let (_, _, page) = browser.get(&page_path).await;
    assert!(page.contains(&format!("Writes to project <strong>Main</strong> (id {})", b.project_id)), "{page}");
    assert!(page.contains(&format!("bucket <strong>{target}</strong>")));
    assert!(!page.contains(&write_token), "the token is never shown again");
    let saved = stored(&a, WRITER, &id).await;
    assert_eq!(saved["configuration"]["parameters"]["url"], b.url.as_str());
    assert!(saved["configuration"]["parameters"]["#token"].as_str().unwrap().starts_with("KBC::ConfigSecure::"));
    let leaks = crate::restart::grep_dir(a.data_dir.path(), &write_token);
    assert!(leaks.is_empty(), "the pasted token is stored only sealed: {leaks:?}");

    for name in ["orders", "people", "skipped"] {
        let table = format!("{source}.{name}");
        let (status, _, _, _) =
            browser.post(&format!("{page_path}/rows"), &[("source", table.as_str()), ("csrf", &csrf)]).await;
        assert_eq!(status, 303);
    }
    let rows = row_ids(&stored(&a, WRITER, &id).await);
    let row = |name: &str| rows.iter().find(|(n, _)| n.ends_with(name)).unwrap().1.clone();
    let (status, _, _, _) = browser
        .post(&format!("{page_path}/rows/{}/enabled", row("skipped")), &[("enabled", "0"), ("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    let (status, _, _, _) = browser
        .post(&format!("{page_path}/rows/{}/move", row("people")), &[("direction", "up"), ("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    let saved = stored(&a, WRITER, &id).await;
    assert_eq!(saved["rowsSortOrder"], json!([row("people"), row("orders"), row("skipped")]));
    let (_, _, page) = browser.get(&page_path).await;
    assert!(
        page.find(&format!("data-row=\"{}\"", row("people"))) < page.find(&format!("data-row=\"{}\"", row("orders")))
    );
    assert!(page.contains("<td data-label=\"Status\" class=\"nowrap\">Disabled</td>"));
    let versions = page.split("id=\"versions\"").nth(1).expect("the configuration's versions");
    assert!(versions.contains("<td data-label=\"Change\">Changed the order of the tables</td>"), "{page}");
    assert!(versions.contains("<td data-label=\"Change\">Disabled a table</td>"), "{page}");

    let (status, job_path, _, _) = browser.post(&format!("{page_path}/run"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert!(job_path.starts_with(&format!("/console/projects/{}/jobs/", a.project_id)), "{job_path}");
    let job = finished_job_page(&mut browser, &job_path).await;
    assert!(job.contains("<td id=\"status\"><span class=\"badge badge-success\">success</span></td>"), "{job}");
    let people = job.find("Processing table &quot;people&quot;.").expect("the log names each table");
    let orders = job.find("Processing table &quot;orders&quot;.").unwrap();
    assert!(people < orders, "people was moved up, so it is written first");
    assert!(job.contains("Table &quot;people&quot; processed: 2 rows, "), "the log says what moved: {job}");
    assert!(job.contains(" bytes of CSV ("), "{job}");
    assert!(!job.contains("skipped"));
    b.get(&format!("/v2/storage/tables/{target}.people"), &b.admin).await.expect(200);
    b.get(&format!("/v2/storage/tables/{target}.orders"), &b.admin).await.expect(200);
    b.get(&format!("/v2/storage/tables/{target}.skipped"), &b.admin).await.expect(404);
    let (_, _, page) = browser.get(&page_path).await;
    assert!(page.contains(
        "<td data-label=\"Status\" class=\"job-status\"><span class=\"badge badge-success\">success</span></td>"
    ));
}

#[tokio::test]
async fn the_target_form_reports_a_wrong_token_or_address_next_to_it_and_keeps_the_saved_values() {
    let a = spawn_app_reaching_loopback().await;
    let b = spawn_app_reaching_loopback().await;
    let target = b.create_bucket("target").await;
    let (read_token, _) = b.create_token(json!({"bucketPermissions": {&target: "read"}})).await;
    let mut browser = signed_in_admin(&a).await;
    let (page_path, id, csrf) = new_config(&mut browser, &a, WRITER, "wrong token").await;

    let (status, _, page, _) = browser
        .post(&format!("{page_path}/target"), &[("region", "custom"), ("customUrl", "not a url"), ("csrf", &csrf)])
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("role=\"alert\">Custom URL: give the address of the other stack"), "{page}");
    let (status, _, page, _) = browser
        .post(&format!("{page_path}/target"), &[("region", "custom"), ("customUrl", b.url.as_str()), ("csrf", &csrf)])
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("role=\"alert\">Token: paste an API token of the target project with write access"));
    assert_eq!(stored(&a, WRITER, &id).await["configuration"], json!({"parameters": {}}), "nothing was saved");

    let form = [("region", "custom"), ("customUrl", b.url.as_str()), ("token", read_token.as_str()), ("csrf", &csrf)];
    browser.post(&format!("{page_path}/target"), &form).await;
    let (_, _, page) = browser.get(&page_path).await;
    assert!(
        page.contains("id=\"reach\" class=\"error\" role=\"alert\">The token must have write permissions to a single bucket only.")
            || page.contains("id=\"reach\" class=\"error\" role=\"alert\">The token must have only write permissions"),
        "{page}"
    );
    let form = [("region", "custom"), ("customUrl", b.url.as_str()), ("token", "1-2-not-a-token"), ("csrf", &csrf)];
    let (status, _, page, _) = browser.post(&format!("{page_path}/target"), &form).await;
    assert_eq!(status, 303, "{page}");
    let (_, _, page) = browser.get(&page_path).await;
    assert!(page.contains("id=\"reach\" class=\"error\" role=\"alert\">Invalid access token"), "{page}");
}

#[tokio::test]
async fn extractor_table_settings_are_saved_from_the_form_and_keys_it_does_not_show_are_kept() {
    let a = spawn_app_reaching_loopback().await;
    let b = spawn_app_reaching_loopback().await;
    let source = b.create_bucket("shared").await;
    b.create_table(&source, "customers", "id,name\n1,a\n", &["id"]).await;
    let (read_token, _) = b.create_token(json!({"bucketPermissions": {&source: "read"}})).await;
    let mut browser = signed_in_admin(&a).await;
    let (page_path, id, csrf) = new_config(&mut browser, &a, EXTRACTOR, "from b").await;
    let form = [("region", "custom"), ("customUrl", b.url.as_str()), ("token", read_token.as_str()), ("csrf", &csrf)];
    browser.post(&format!("{page_path}/target"), &form).await;
    let (_, _, page) = browser.get(&page_path).await;
    assert!(page.contains("Reads from project <strong>Main</strong>"), "{page}");
    assert!(page.contains("<option value=\"customers\">"), "the source tables are offered");

    let (status, _, page, _) =
        browser.post(&format!("{page_path}/rows"), &[("tableName", "bad name!"), ("csrf", &csrf)]).await;
    assert_eq!(status, 400);
    assert!(page.contains("role=\"alert\">Table name: "), "{page}");
    browser.post(&format!("{page_path}/rows"), &[("tableName", "customers"), ("csrf", &csrf)]).await;
    let row = row_ids(&stored(&a, EXTRACTOR, &id).await)[0].1.clone();
    // A key set through the API, which the form does not show.
    let path = format!("/v2/storage/components/{EXTRACTOR}/configs/{id}/rows/{row}");
    let configuration = json!({"parameters": {"tableName": "customers", "extractMetadata": true}});
    a.put(&path, &a.admin, json!({"configuration": configuration})).await.expect(200);

    let row_path = format!("{page_path}/rows/{row}");
    let (status, _, page) = browser.get(&row_path).await;
    assert_eq!(status, 200);
    assert!(page.contains("value=\"customers\""));
    let bad = [("tableName", "customers"), ("changedSince", "last tuesday-ish"), ("csrf", &csrf)];
    let (status, _, page, _) = browser.post(&row_path, &bad).await;
    assert_eq!(status, 400);
    assert!(page.contains("role=\"alert\">Changed In Last: "), "{page}");
    let good = [
        ("tableName", "customers"),
        ("changedSince", "-1 days"),
        ("incremental", "1"),
        ("primaryKey", "id, name"),
        ("csrf", &csrf),
    ];
    let (status, _, _, _) = browser.post(&row_path, &good).await;
    assert_eq!(status, 303);
    let saved = &stored(&a, EXTRACTOR, &id).await["rows"][0]["configuration"]["parameters"];
    assert_eq!(
        *saved,
        json!({"tableName": "customers", "extractMetadata": true, "changedSince": "-1 days", "incremental": true, "primaryKey": ["id", "name"]})
    );

    let (status, job_path, _, _) = browser.post(&format!("{row_path}/run"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let job = finished_job_page(&mut browser, &job_path).await;
    assert!(job.contains("<td id=\"status\"><span class=\"badge badge-success\">success</span></td>"), "{job}");
    assert!(job.contains("<th>Tables</th><td>customers</td>") && job.contains(">from b</a>"), "{job}");
    a.get(&format!("/v2/storage/tables/in.c-keboola-ex-storage-{id}.customers"), &a.admin).await.expect(200);
}

#[tokio::test]
async fn the_table_list_is_searched_and_deleting_a_table_or_the_configuration_takes_it_away() {
    let a = spawn_app_reaching_loopback().await;
    let bucket = a.create_bucket("src").await;
    for name in ["orders", "people"] {
        a.create_table(&bucket, name, "id\n1\n", &[]).await;
    }
    let mut browser = signed_in_admin(&a).await;
    let (page_path, id, csrf) = new_config(&mut browser, &a, WRITER, "search").await;
    for name in ["orders", "people"] {
        let table = format!("{bucket}.{name}");
        browser.post(&format!("{page_path}/rows"), &[("source", table.as_str()), ("csrf", &csrf)]).await;
    }
    let (_, _, page) = browser.get(&format!("{page_path}?q=PEO")).await;
    assert!(page.contains(&format!("{bucket}.people → people")) && !page.contains(&format!("{bucket}.orders →")));
    let (status, _, page, _) =
        browser.post(&format!("{page_path}/rows"), &[("source", "in.c-src.not-there"), ("csrf", &csrf)]).await;
    assert_eq!(status, 400);
    assert!(page.contains("role=\"alert\">Source table: pick one of this project's tables."), "{page}");

    let people = row_ids(&stored(&a, WRITER, &id).await).into_iter().find(|(n, _)| n.ends_with("people")).unwrap().1;
    let (status, _, _, _) = browser.post(&format!("{page_path}/rows/{people}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert_eq!(row_ids(&stored(&a, WRITER, &id).await).len(), 1);
    let (status, location, _, _) = browser.post(&format!("{page_path}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("/console/projects/{}/components/{WRITER}", a.project_id).as_str())
    );
    a.get(&format!("/v2/storage/components/{WRITER}/configs/{id}"), &a.admin).await.expect(404);
}

#[tokio::test]
async fn a_pasted_token_without_component_access_cannot_open_the_writer_pages() {
    let app = spawn_app_reaching_loopback().await;
    let bucket = app.create_bucket("granted").await;
    let (secret, _) = app.create_token(json!({"bucketPermissions": {&bucket: "read"}})).await;
    let mut browser = Browser::new(&app);
    let (_, _, page) = browser.get("/console").await;
    let csrf = Browser::csrf(&page);
    browser.post("/console/sign-in-token", &[("token", &secret), ("csrf", &csrf)]).await;
    let (status, _, page) = browser.get(&format!("/console/projects/{}/components/{WRITER}", app.project_id)).await;
    assert_eq!(status, 403);
    assert!(page.contains("class=\"error\""));
    let (status, _, page) = browser.get(&format!("/console/projects/{}/components/other.thing", app.project_id)).await;
    assert_eq!(status, 404);
    assert!(page.contains("The console configures the Storage Writer and the Storage Extractor"));
}

#[tokio::test]
async fn a_running_job_is_terminated_from_its_page() {
    let a = spawn_app_reaching_loopback().await;
    let source = a.create_bucket("src").await;
    a.create_table(&source, "t", "x\n1\n", &[]).await;
    let mut browser = signed_in_admin(&a).await;
    let (page_path, _, csrf) = new_config(&mut browser, &a, WRITER, "to nowhere").await;
    // Nothing listens there: the writer keeps retrying, so the job runs until it is terminated.
    let closed = format!("http://127.0.0.1:{}", crate::restart::free_port());
    let form = [("region", "custom"), ("customUrl", closed.as_str()), ("token", "1-2-x"), ("csrf", &csrf)];
    browser.post(&format!("{page_path}/target"), &form).await;
    let table = format!("{source}.t");
    browser.post(&format!("{page_path}/rows"), &[("source", table.as_str()), ("csrf", &csrf)]).await;
    let (_, job_path, _, _) = browser.post(&format!("{page_path}/run"), &[("csrf", &csrf)]).await;
    let (_, _, page) = browser.get(&job_path).await;
    assert!(page.contains("http-equiv=\"refresh\"") && page.contains(">Terminate</button>"), "{page}");
    let (status, location, _, _) = browser.post(&format!("{job_path}/terminate"), &[("csrf", &csrf)]).await;
    assert_eq!((status, location.as_str()), (303, job_path.as_str()));
    let page = finished_job_page(&mut browser, &job_path).await;
    assert!(page.contains("<td id=\"status\"><span class=\"badge badge-terminated\">terminated</span></td>"), "{page}");
    assert!(!page.contains(">Terminate</button>"));
    let (status, _, page, _) = browser.post(&format!("{job_path}/terminate"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 400);
    assert!(page.contains("is not running (it is terminated)"), "{page}");
}

#[tokio::test]
async fn writer_table_settings_replace_the_legacy_incremental_flag_and_keep_other_mapping_keys() {
    let a = spawn_app_reaching_loopback().await;
    let source = a.create_bucket("src").await;
    a.create_table(&source, "orders", "id,total\n1,2\n", &["id"]).await;
    let mut browser = signed_in_admin(&a).await;
    let (page_path, id, csrf) = new_config(&mut browser, &a, WRITER, "legacy").await;
    // A row as an older UI saved it, with a key the form does not show.
    let path = format!("/v2/storage/components/{WRITER}/configs/{id}/rows");
    let configuration = json!({
        "storage": {"input": {"tables": [{"source": format!("{source}.orders"), "destination": "orders", "columns": ["id"]}]}},
        "parameters": {"incremental": true},
    });
    let row = a.post(&path, &a.admin, json!({"name": "orders", "configuration": configuration})).await.expect(201).body;
    let row_path = format!("{page_path}/rows/{}", row["id"].as_str().unwrap());
    let (_, _, page) = browser.get(&row_path).await;
    assert!(page.contains("<option value=\"update\" selected>"), "the legacy flag shows as its mode");

    let bad = [("destination", "orders"), ("changedSince", ""), ("mode", "sideways"), ("csrf", &csrf)];
    let (status, _, page, _) = browser.post(&row_path, &bad).await;
    assert_eq!(status, 400);
    assert!(page.contains("role=\"alert\">Mode: pick replace, update or recreate."));
    let bad = [("destination", ""), ("changedSince", ""), ("mode", "replace"), ("csrf", &csrf)];
    let (status, _, page, _) = browser.post(&row_path, &bad).await;
    assert_eq!(status, 400);
    assert!(page.contains("role=\"alert\">Table Name: "), "{page}");

    let good = [("destination", "all_orders"), ("changedSince", "adaptive"), ("mode", "replace"), ("csrf", &csrf)];
    let (status, _, _, _) = browser.post(&row_path, &good).await;
    assert_eq!(status, 303);
    let saved = a.get(&format!("{path}/{}", row["id"].as_str().unwrap()), &a.admin).await.expect(200).body;
    assert_eq!(saved["configuration"]["parameters"], json!({"mode": "replace"}));
    assert_eq!(
        saved["configuration"]["storage"]["input"]["tables"],
        json!([{"source": format!("{source}.orders"), "destination": "all_orders", "columns": ["id"], "changed_since": "adaptive"}])
    );
}

#[tokio::test]
async fn what_the_token_reaches_is_asked_once_and_reused_while_the_page_is_worked_on() {
    let a = spawn_app_reaching_loopback().await;
    let b = spawn_app_reaching_loopback().await;
    let target = b.create_bucket("target").await;
    let (write_token, _) = b.create_token(json!({"bucketPermissions": {&target: "write"}})).await;
    let mut browser = signed_in_admin(&a).await;
    let (page_path, _, csrf) = new_config(&mut browser, &a, WRITER, "cached").await;
    let form = [("region", "custom"), ("customUrl", b.url.as_str()), ("token", write_token.as_str()), ("csrf", &csrf)];
    browser.post(&format!("{page_path}/target"), &form).await;
    let (_, _, page) = browser.get(&page_path).await;
    assert!(page.contains("Writes to project <strong>Main</strong>"), "{page}");
    // The other stack goes away: the page keeps the answer it had instead of asking again.
    let address = b.url.trim_start_matches("http://").to_string();
    drop(b);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&address).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(tokio::net::TcpStream::connect(&address).await.is_err(), "the other stack is gone");
    let (_, _, page) = browser.get(&page_path).await;
    assert!(page.contains("Writes to project <strong>Main</strong>"), "{page}");
    // A different token is a different question, asked anew (and now unanswered).
    let form = [("region", "custom"), ("customUrl", "http://127.0.0.1:9"), ("token", "1-2-other"), ("csrf", &csrf)];
    browser.post(&format!("{page_path}/target"), &form).await;
    let (_, _, page) = browser.get(&page_path).await;
    assert!(page.contains("id=\"reach\" class=\"error\""), "{page}");
}

#[tokio::test]
async fn a_trigger_is_added_on_a_writer_page_on_its_tables_and_deleted_there() {
    let app = spawn_app_reaching_loopback().await;
    let bucket = app.create_bucket("watched").await;
    app.create_table(&bucket, "orders", "id\n1\n", &["id"]).await;
    let (_, runner) = app.create_token(json!({"description": "sync runner", "componentAccess": [WRITER]})).await;
    let runner = runner["id"].as_str().unwrap().to_string();
    let mut browser = signed_in_admin(&app).await;
    let (page, id, csrf) = new_config(&mut browser, &app, WRITER, "Synced").await;
    let row = json!({"name": "orders", "configuration": {"storage": {"input": {"tables": [
        {"source": format!("{bucket}.orders"), "destination": "orders"}]}}}});
    let rows = format!("/v2/storage/components/{WRITER}/configs/{id}/rows");
    app.post(&rows, &app.admin, row).await.expect(201);

    let (_, _, html) = browser.get(&page).await;
    assert!(html.contains("No triggers: the configuration runs when someone runs it."), "{html}");
    assert!(html.contains(&format!("value=\"{bucket}.orders\"")), "the writer's tables are proposed: {html}");
    assert!(html.contains(&format!("<option value=\"{runner}\">sync runner (token {runner})</option>")), "{html}");

    let form = [("tables", "in.c-nowhere.t"), ("runWithTokenId", runner.as_str()), ("coolDownPeriodMinutes", "5")];
    let (status, _, html, _) =
        browser.post(&format!("{page}/triggers"), &[&form[..], &[("csrf", &csrf)]].concat()).await;
    assert_eq!(status, 400);
    assert!(html.contains("The table &quot;in.c-nowhere.t&quot; was not found"), "the missing table is named: {html}");

    let tables = format!("{bucket}.orders");
    let form = [("tables", tables.as_str()), ("runWithTokenId", runner.as_str()), ("coolDownPeriodMinutes", "15")];
    let (status, location, _, _) =
        browser.post(&format!("{page}/triggers"), &[&form[..], &[("csrf", &csrf)]].concat()).await;
    assert_eq!(status, 303);
    assert_eq!(location, format!("{page}#triggers"));
    let listed = app.get("/v2/storage/triggers", &app.admin).await.expect(200).body;
    let trigger = &listed[0];
    assert_eq!(trigger["configurationId"], id);
    assert_eq!(trigger["coolDownPeriodMinutes"], 15);
    assert_eq!(trigger["runWithTokenId"].to_string(), runner);
    let (_, _, html) = browser.get(&page).await;
    assert!(html.contains(&format!("<td data-label=\"Tables\">{tables}</td>")), "{html}");
    assert!(html.contains(&format!("token {runner}")), "{html}");

    let delete = format!("{page}/triggers/{}/delete", trigger["id"].as_str().unwrap());
    let (status, _, _, _) = browser.post(&delete, &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert_eq!(app.get("/v2/storage/triggers", &app.admin).await.body, json!([]));
}

#[tokio::test]
async fn a_schedule_is_added_on_a_writer_page_and_deleted_there_with_its_configuration() {
    let app = spawn_app_reaching_loopback().await;
    let mut browser = signed_in_admin(&app).await;
    let (page, id, csrf) = new_config(&mut browser, &app, WRITER, "Nightly").await;
    let (_, _, html) = browser.get(&page).await;
    assert!(html.contains("<h2>Schedules</h2><p>No schedules.</p>"), "{html}");
    let admin = TestApp::token_id(&app.admin);

    let form = [("cronTab", "0 3 * * *"), ("timezone", "Mars/Olympus"), ("runWithTokenId", admin.as_str())];
    let (status, _, html, _) =
        browser.post(&format!("{page}/schedules"), &[&form[..], &[("csrf", &csrf)]].concat()).await;
    assert_eq!(status, 400);
    assert!(html.contains("&quot;Mars/Olympus&quot; is not a time zone"), "{html}");
    let schedulers = "/v2/storage/components/keboola.scheduler/configs";
    assert_eq!(app.get(schedulers, &app.admin).await.body, json!([]), "a refused schedule leaves nothing");

    let form = [("cronTab", "0 3 * * *"), ("timezone", "Europe/Prague"), ("runWithTokenId", admin.as_str())];
    let (status, location, _, _) =
        browser.post(&format!("{page}/schedules"), &[&form[..], &[("csrf", &csrf)]].concat()).await;
    assert_eq!((status, location.as_str()), (303, format!("{page}#schedules").as_str()));
    let listed = app.get("/scheduler/schedules", &app.admin).await.expect(200).body;
    let schedule = &listed[0];
    assert_eq!(schedule["target"]["configurationId"], id);
    assert_eq!(schedule["schedule"]["cronTab"], "0 3 * * *");
    let (_, _, html) = browser.get(&page).await;
    assert!(html.contains("<td data-label=\"When\">0 3 * * * (Europe/Prague)</td>"), "{html}");

    let delete = format!("{page}/schedules/{}/delete", schedule["id"].as_str().unwrap());
    let (status, _, _, _) = browser.post(&delete, &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert_eq!(app.get("/scheduler/schedules", &app.admin).await.body, json!([]));
    assert_eq!(app.get(schedulers, &app.admin).await.body, json!([]), "its configuration went to the trash");
}
