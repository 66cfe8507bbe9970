//! The `stowage` CLI against a stack started by the test: every command, exit codes, output.

use std::path::Path;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_reaching_loopback, TestApp};

/// Output of one CLI run.
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|_| panic!("not JSON: {}", self.stdout))
    }
}

async fn cli(config_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Out {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_stowage"));
    command
        .args(args)
        .env("STOWAGE_CONFIG_DIR", config_dir)
        .env_remove("KBC_STORAGE_API_URL")
        .env_remove("KBC_STORAGE_TOKEN");
    command.env_remove("STOWAGE_TOKEN").env_remove("STOWAGE_MANAGE_TOKEN").env_remove("STOWAGE_PROFILE");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().await.unwrap();
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A stack and a CLI profile logged in as its admin.
async fn logged_in() -> (TestApp, tempfile::TempDir) {
    let app = spawn_app_reaching_loopback().await;
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), &[("STOWAGE_TOKEN", &app.admin)], &["login", "--url", &app.url]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = cli(dir.path(), &[("STOWAGE_TOKEN", &app.manage)], &["login", "--url", &app.url, "--manage"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    (app, dir)
}

#[tokio::test]
async fn login_stores_an_owner_only_profile_and_never_takes_the_token_as_an_argument() {
    let (app, dir) = logged_in().await;
    let path = dir.path().join("profiles.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(std::fs::read_to_string(&path).unwrap().contains(&app.url));
    let out = cli(dir.path(), &[], &["login", "--url", &app.url, "--token", "x"]).await;
    assert_eq!(out.code, 2, "a --token argument does not exist");
    let out =
        cli(dir.path(), &[("STOWAGE_TOKEN", &app.admin)], &["login", "--profile", "second", "--url", &app.url]).await;
    assert_eq!(out.code, 0);
    assert_eq!(cli(dir.path(), &[], &["bucket", "list", "--profile", "second"]).await.code, 0);
    let missing = cli(dir.path(), &[], &["bucket", "list", "--profile", "nope"]).await;
    assert_eq!(missing.code, 3);
    assert_eq!(missing.stderr.trim(), "stowage: no profile \"nope\": run `stowage login --url URL --profile nope`");
}

#[tokio::test]
async fn keboolas_environment_variables_work_without_a_profile() {
    let app = spawn_app().await;
    let dir = crate::helpers::test_dir();
    let env = [("KBC_STORAGE_API_URL", app.url.as_str()), ("KBC_STORAGE_TOKEN", app.admin.as_str())];
    let out = cli(dir.path(), &env, &["bucket", "create", "envy"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "Bucket in.c-envy created.");
    let none = cli(dir.path(), &[], &["bucket", "list"]).await;
    assert_eq!(none.code, 3);
    assert!(none.stderr.starts_with("stowage: no profile: run `stowage login --url URL`"));
}

#[tokio::test]
async fn projects_and_members_are_administered_through_the_manage_api() {
    let (_app, dir) = logged_in().await;
    let created = cli(dir.path(), &[], &["project", "create", "Analytics", "--json"]).await;
    let project = created.json()["id"].to_string();
    assert!(cli(dir.path(), &[], &["project", "list"]).await.stdout.contains("Analytics"));
    let added = cli(dir.path(), &[], &["user", "add", &project, "ann@example.com", "--role", "guest"]).await;
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert!(added.stdout.contains("ann@example.com added to project") && added.stdout.contains(&format!("{project}-")));
    assert!(cli(dir.path(), &[], &["user", "list", &project]).await.stdout.contains("ann@example.com\tguest"));
    assert_eq!(cli(dir.path(), &[], &["user", "remove", &project, "ann@example.com"]).await.code, 0);
    let again = cli(dir.path(), &[], &["user", "remove", &project, "ann@example.com"]).await;
    assert_eq!(again.code, 4);
    assert!(again.stderr.contains("is not a member"));
}

#[tokio::test]
async fn tokens_are_created_listed_refreshed_shared_and_deleted() {
    let (app, dir) = logged_in().await;
    app.create_bucket("sales").await;
    let out = cli(
        dir.path(),
        &[],
        &[
            "token",
            "create",
            "--description",
            "partner",
            "--read",
            "in.c-sales",
            "--component",
            "keboola.wr-storage",
            "--expires-in",
            "3600",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let secret = out.stdout.lines().last().unwrap().trim().to_string();
    let verify = app.get("/v2/storage/tokens/verify", &secret).await.expect(200).body;
    assert_eq!(verify["bucketPermissions"], json!({"in.c-sales": "read"}));
    assert_eq!(verify["componentAccess"], json!(["keboola.wr-storage"]));
    assert!(verify["expires"].is_string());
    let id = verify["id"].as_str().unwrap().to_string();
    let list = cli(dir.path(), &[], &["token", "list"]).await;
    assert!(list.stdout.contains("partner\tin.c-sales:read") && !list.stdout.contains(&secret));
    let refreshed = cli(dir.path(), &[], &["token", "refresh", &id, "--json"]).await.json();
    assert_ne!(refreshed["token"].as_str().unwrap(), secret);
    let shared = cli(dir.path(), &[], &["token", "share", &id, "--email", "ann@example.com", "--message", "hi"]).await;
    assert_eq!(shared.code, 0, "{}", shared.stderr);
    assert_eq!(app.outbox().len(), 1);
    let file = shared.stdout.split("was written to ").nth(1).unwrap().split(' ').next().unwrap();
    assert!(app.data_dir.path().join("data").join(file).is_file(), "{}", shared.stdout);
    assert_eq!(cli(dir.path(), &[], &["token", "delete", &id]).await.code, 0);
    app.get(&format!("/v2/storage/tokens/{id}"), &app.admin).await.expect_error(404, "storage.tokens.notFound");
}

#[tokio::test]
async fn tables_are_imported_exported_and_previewed_from_files() {
    let (app, dir) = logged_in().await;
    assert_eq!(cli(dir.path(), &[], &["bucket", "create", "sales"]).await.code, 0);
    let first = dir.path().join("orders.csv");
    std::fs::write(&first, "id,total\n1,10\n2,20\n").unwrap();
    let out =
        cli(dir.path(), &[], &["table", "import", first.to_str().unwrap(), "in.c-sales.orders", "--primary-key", "id"])
            .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "Created in.c-sales.orders: it now has 2 rows.");
    let second = dir.path().join("more.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, b"id,total\n2,25\n3,30\n").unwrap();
    std::fs::write(&second, gz.finish().unwrap()).unwrap();
    let out =
        cli(dir.path(), &[], &["table", "import", second.to_str().unwrap(), "in.c-sales.orders", "--incremental"])
            .await;
    assert_eq!(out.stdout.trim(), "Loaded in.c-sales.orders: it now has 3 rows.", "{}", out.stderr);
    let preview = cli(dir.path(), &[], &["table", "preview", "in.c-sales.orders", "--limit", "2"]).await;
    assert_eq!(preview.stdout, "\"id\",\"total\"\n\"1\",\"10\"\n\"2\",\"25\"\n");
    let exported = dir.path().join("out.csv");
    let out = cli(
        dir.path(),
        &[],
        &["table", "export", "in.c-sales.orders", exported.to_str().unwrap(), "--columns", "total,id"],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&exported).unwrap(),
        "\"total\",\"id\"\n\"10\",\"1\"\n\"25\",\"2\"\n\"30\",\"3\"\n"
    );
    let stdout = cli(dir.path(), &[], &["table", "export", "in.c-sales.orders", "--changed-since", "-1 days"]).await;
    assert_eq!(stdout.stdout.lines().count(), 4);
    let listed = cli(dir.path(), &[], &["table", "list", "in.c-sales", "--json"]).await.json();
    assert_eq!(listed[0]["rowsCount"], 3);
    assert_eq!(app.get("/v2/storage/tables/in.c-sales.orders", &app.admin).await.body["primaryKey"], json!(["id"]));
}

#[tokio::test]
async fn files_are_uploaded_and_downloaded_byte_for_byte() {
    let (_app, dir) = logged_in().await;
    let source = dir.path().join("blob.bin");
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&source, &bytes).unwrap();
    let up = cli(dir.path(), &[], &["file", "upload", source.to_str().unwrap(), "--tag", "cli", "--json"]).await;
    assert_eq!(up.code, 0, "{}", up.stderr);
    let id = up.json()["id"].to_string();
    let target = dir.path().join("copy.bin");
    let down = cli(dir.path(), &[], &["file", "download", &id, target.to_str().unwrap()]).await;
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert_eq!(std::fs::read(&target).unwrap(), bytes);
    assert!(down.stderr.is_empty(), "no progress bar when not on a terminal: {}", down.stderr);
}

#[tokio::test]
async fn failures_exit_non_zero_with_one_line_that_says_what_went_wrong() {
    let (app, dir) = logged_in().await;
    let bad =
        cli(dir.path(), &[("KBC_STORAGE_API_URL", &app.url), ("KBC_STORAGE_TOKEN", "1-1-wrong")], &["bucket", "list"])
            .await;
    assert_eq!((bad.code, bad.stderr.trim()), (3, "stowage: Invalid access token"));
    let missing = cli(dir.path(), &[], &["table", "preview", "in.c-none.t"]).await;
    assert_eq!(missing.code, 4);
    assert_eq!(missing.stderr.lines().count(), 1);
    let closed = format!("http://127.0.0.1:{}", crate::restart::free_port());
    let gone =
        cli(dir.path(), &[("KBC_STORAGE_API_URL", &closed), ("KBC_STORAGE_TOKEN", &app.admin)], &["bucket", "list"])
            .await;
    assert_eq!(gone.code, 6);
    assert!(gone.stderr.contains("cannot be reached") && !gone.stderr.contains(&app.admin), "{}", gone.stderr);
    let file = dir.path().join("broken.csv");
    std::fs::write(&file, "id\n\"open\n").unwrap();
    assert_eq!(cli(dir.path(), &[], &["bucket", "create", "b"]).await.code, 0);
    let broken = cli(dir.path(), &[], &["table", "import", file.to_str().unwrap(), "in.c-b.t"]).await;
    assert_eq!(broken.code, 5, "the load job failed");
    assert!(broken.stderr.contains("line 2"), "{}", broken.stderr);
}

#[tokio::test]
async fn a_run_follows_the_job_log_and_its_exit_code_is_the_jobs_outcome() {
    let (a, dir) = logged_in().await;
    let b = spawn_app().await;
    a.create_bucket("src").await;
    a.create_table("in.c-src", "t", "x\n1\n", &[]).await;
    let target = b.create_bucket("target").await;
    let (write, _) = b.create_token(json!({"bucketPermissions": {&target: "write"}})).await;
    let path = "/v2/storage/components/keboola.wr-storage/configs";
    let good = a
        .post(path, &a.admin, json!({"name": "ok", "configuration": {"parameters": {"url": b.url, "#token": write}}}))
        .await
        .expect(201)
        .body;
    let good = good["id"].as_str().unwrap().to_string();
    let row =
        json!({"configuration": {"storage": {"input": {"tables": [{"source": "in.c-src.t", "destination": "t"}]}}}});
    let row_id = a.post(&format!("{path}/{good}/rows"), &a.admin, row.clone()).await.expect(201).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = cli(dir.path(), &[], &["run", "keboola.wr-storage", &good, "--row", &row_id]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("Processing table \"t\".") && out.stdout.contains("succeeded"));
    let queue = cli(dir.path(), &[], &["job", "list", "--queue", "--component", "keboola.wr-storage", "--json"]).await;
    let run = &queue.json()[0];
    assert_eq!((run["config"].as_str(), run["status"].as_str()), (Some(good.as_str()), Some("success")));
    let id = run["id"].as_str().unwrap().to_string();
    assert_eq!(cli(dir.path(), &[], &["job", "wait", &id, "--queue"]).await.code, 0);
    let bad = a
        .post(
            path,
            &a.admin,
            json!({"name": "bad", "configuration": {"parameters": {"url": b.url, "#token": "invalid"}}}),
        )
        .await
        .expect(201)
        .body;
    let bad = bad["id"].as_str().unwrap().to_string();
    a.post(&format!("{path}/{bad}/rows"), &a.admin, row).await.expect(201);
    let out = cli(dir.path(), &[], &["run", "keboola.wr-storage", &bad]).await;
    assert_eq!(out.code, 5);
    assert!(out.stderr.trim_end().ends_with("ended with error: Invalid access token"), "{}", out.stderr);
}

#[tokio::test]
async fn buckets_are_shared_listed_and_unshared_from_the_command_line() {
    let (app, dir) = logged_in().await;
    let bucket = app.create_bucket("shared").await;
    let out = cli(dir.path(), &[], &["bucket", "share", &bucket, "organization-project"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("shared (organization-project)"), "{}", out.stdout);
    let out = cli(dir.path(), &[], &["bucket", "shared"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(&bucket) && out.stdout.contains("organization-project"), "{}", out.stdout);
    let out = cli(dir.path(), &[], &["bucket", "share", &bucket, "everyone"]).await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("not a sharing kind"), "{}", out.stderr);
    let out = cli(dir.path(), &[], &["bucket", "share", &bucket, "selected-projects", "--project", "999"]).await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("targetProjectIds"), "{}", out.stderr);
    let out = cli(dir.path(), &[], &["bucket", "unshare", &bucket]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let detail = app.get(&format!("/v2/storage/buckets/{bucket}"), &app.admin).await.expect(200).body;
    assert!(detail["sharing"].is_null(), "{detail}");
}

#[tokio::test]
async fn every_command_has_help_with_an_example() {
    let dir = crate::helpers::test_dir();
    let commands: [&[&str]; 41] = [
        &["login"],
        &["project", "list"],
        &["project", "delete"],
        &["user", "remove"],
        &["user", "list"],
        &["user", "password"],
        &["token", "list"],
        &["token", "show"],
        &["token", "update"],
        &["token", "delete"],
        &["bucket", "list"],
        &["bucket", "delete"],
        &["table", "list"],
        &["table", "delete"],
        &["file", "list"],
        &["job", "list"],
        &["job", "show"],
        &["job", "wait"],
        &["event", "list"],
        &["config", "list"],
        &["config", "create"],
        &["config", "show"],
        &["config", "delete"],
        &["config", "row", "list"],
        &["config", "row", "create"],
        &["project", "create"],
        &["user", "add"],
        &["token", "create"],
        &["token", "share"],
        &["bucket", "create"],
        &["table", "import"],
        &["table", "export"],
        &["table", "preview"],
        &["file", "upload"],
        &["file", "download"],
        &["run"],
        &["serve"],
        &["token", "refresh"],
        &["bucket", "share"],
        &["bucket", "unshare"],
        &["bucket", "shared"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let out = cli(dir.path(), &[], &args).await;
        assert_eq!(out.code, 0, "{command:?}");
        assert!(out.stdout.contains("Example"), "{command:?}: {}", out.stdout);
    }
}

#[tokio::test]
async fn an_upload_cut_off_by_a_dying_server_fails_with_one_clear_line() {
    let dir = crate::helpers::test_dir();
    let port = crate::restart::free_port();
    let mut server = crate::restart::start_quiet(&dir.path().join("data"), port);
    let admin = crate::restart::read_admin_token(&mut server).await;
    let url = format!("http://127.0.0.1:{port}");
    crate::restart::wait_ready(&reqwest::Client::new(), &url).await;
    let big = dir.path().join("big.bin");
    let chunk: Vec<u8> = (0..1_048_576u32).map(|i| (i * 31 % 253) as u8).collect();
    std::fs::write(&big, chunk.repeat(200)).unwrap();
    let mut upload = tokio::process::Command::new(env!("CARGO_BIN_EXE_stowage"))
        .args(["file", "upload", big.to_str().unwrap()])
        .env("STOWAGE_CONFIG_DIR", dir.path())
        .env("KBC_STORAGE_API_URL", &url)
        .env("KBC_STORAGE_TOKEN", &admin)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The server dies once the first of the upload's 25 blocks has landed.
    let staging = dir.path().join("data").join("blobs").join("staging");
    for _ in 0..4000 {
        if std::fs::read_dir(&staging).map(|mut files| files.next().is_some()).unwrap_or(false) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.kill().await.unwrap();
    let status = upload.wait().await.unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut upload.stderr.take().unwrap(), &mut stderr).await.unwrap();
    assert_eq!(status.code(), Some(6), "a network fault: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("stowage: ") && !stderr.contains(&admin) && !stderr.contains("sig="), "{stderr}");
}

#[tokio::test]
async fn login_checks_the_token_and_the_url_before_it_saves_a_profile() {
    let app = spawn_app().await;
    let dir = crate::helpers::test_dir();
    let profiles = dir.path().join("profiles.toml");
    let wrong = cli(dir.path(), &[("STOWAGE_TOKEN", "1-1-wrong")], &["login", "--url", &app.url]).await;
    assert_eq!((wrong.code, wrong.stderr.trim()), (3, "stowage: Invalid access token"));
    let console = format!("{}/console", app.url);
    let console = cli(dir.path(), &[("STOWAGE_TOKEN", &app.admin)], &["login", "--url", &console]).await;
    assert_eq!(console.code, 2);
    assert!(console.stderr.contains(&format!("log in with the stack's root URL: stowage login --url {}", app.url)));
    assert!(!profiles.exists(), "nothing is saved until a token has been checked");
    let good = cli(dir.path(), &[("STOWAGE_TOKEN", &app.admin)], &["login", "--url", &app.url]).await;
    assert_eq!(good.code, 0, "{}", good.stderr);
    let id = TestApp::token_id(&app.admin);
    assert!(good.stdout.contains(&format!("token {id} (")) && good.stdout.contains("of project"), "{}", good.stdout);
    assert!(good.stdout.contains("\"Main\""), "{}", good.stdout);
    let manage = cli(dir.path(), &[("STOWAGE_TOKEN", &app.admin)], &["login", "--url", &app.url, "--manage"]).await;
    assert_eq!(manage.code, 3, "a Storage API token is not a manage token: {}", manage.stderr);
}

#[tokio::test]
async fn buckets_tables_projects_and_members_are_deleted_from_the_command_line() {
    let (app, dir) = logged_in().await;
    app.create_bucket("gone").await;
    app.create_table("in.c-gone", "t", "id\n1\n2\n", &[]).await;
    let refused = cli(dir.path(), &[], &["bucket", "delete", "in.c-gone"]).await;
    assert_eq!(refused.code, 1, "a bucket with tables needs --force: {}", refused.stderr);
    app.get("/v2/storage/tables/in.c-gone.t", &app.admin).await.expect(200);
    let table = cli(dir.path(), &[], &["table", "delete", "in.c-gone.t"]).await;
    assert_eq!((table.code, table.stdout.trim()), (0, "Table in.c-gone.t deleted."), "{}", table.stderr);
    app.get("/v2/storage/tables/in.c-gone.t", &app.admin).await.expect(404);
    app.create_table("in.c-gone", "u", "id\n1\n", &[]).await;
    let forced = cli(dir.path(), &[], &["bucket", "delete", "in.c-gone", "--force"]).await;
    assert_eq!((forced.code, forced.stdout.trim()), (0, "Bucket in.c-gone and its 1 tables deleted."));
    app.get("/v2/storage/buckets/in.c-gone", &app.admin).await.expect(404);
    assert_eq!(cli(dir.path(), &[], &["table", "delete", "in.c-gone.u"]).await.code, 4);

    let project = cli(dir.path(), &[], &["project", "create", "Temporary", "--json"]).await.json()["id"].to_string();
    let added = cli(dir.path(), &[], &["user", "add", &project, "bob@example.com"]).await;
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert_eq!(cli(dir.path(), &[], &["user", "delete", &project, "bob@example.com"]).await.code, 0);
    assert!(!cli(dir.path(), &[], &["user", "list", &project]).await.stdout.contains("bob@example.com"));
    let deleted = cli(dir.path(), &[], &["project", "delete", &project]).await;
    assert_eq!((deleted.code, deleted.stdout.trim()), (0, format!("Project {project} deleted.").as_str()));
    assert!(!cli(dir.path(), &[], &["project", "list"]).await.stdout.contains("Temporary"));
    assert_eq!(cli(dir.path(), &[], &["project", "delete", &project]).await.code, 4);
}

#[tokio::test]
async fn files_jobs_and_events_are_listed_and_a_job_is_waited_for() {
    let (app, dir) = logged_in().await;
    app.create_bucket("b").await;
    let file = dir.path().join("rows.csv");
    std::fs::write(&file, "id\n1\n").unwrap();
    assert_eq!(cli(dir.path(), &[], &["table", "import", file.to_str().unwrap(), "in.c-b.t"]).await.code, 0);
    let up = cli(dir.path(), &[], &["file", "upload", file.to_str().unwrap(), "--tag", "kept", "--json"]).await;
    let id = up.json()["id"].to_string();
    let tagged = cli(dir.path(), &[], &["file", "list", "--tag", "kept", "--json"]).await.json();
    assert_eq!(tagged.as_array().unwrap().len(), 1);
    assert_eq!(tagged[0]["id"].to_string(), id);
    assert!(cli(dir.path(), &[], &["file", "list"]).await.stdout.contains(&format!("{id}\trows.csv\t")));

    let jobs = cli(dir.path(), &[], &["job", "list", "--json"]).await.json();
    let job = jobs.as_array().unwrap().iter().find(|j| j["operationName"] == "tableCreate").unwrap().clone();
    let job_id = job["id"].to_string();
    let shown = cli(dir.path(), &[], &["job", "show", &job_id]).await;
    assert!(shown.stdout.starts_with(&format!("{job_id}\tsuccess\ttableCreate\tin.c-b.t\t")), "{}", shown.stdout);
    assert_eq!(cli(dir.path(), &[], &["job", "wait", &job_id]).await.code, 0);
    let broken = app.upload(&app.admin, "broken.csv", b"id\n\"open\n".to_vec()).await;
    let failed = app
        .post("/v2/storage/tables/in.c-b.t/import-async", &app.admin, json!({"dataFileId": broken}))
        .await
        .expect(202)
        .body;
    let waited = cli(dir.path(), &[], &["job", "wait", &failed["id"].to_string()]).await;
    assert_eq!(waited.code, 5, "{}", waited.stderr);
    assert!(waited.stderr.contains("ended with error"), "{}", waited.stderr);
    assert_eq!(cli(dir.path(), &[], &["job", "show", "987654"]).await.code, 4);

    let events = cli(dir.path(), &[], &["event", "list", "--q", "tableCreated", "--json"]).await.json();
    let events = events.as_array().unwrap();
    assert!(!events.is_empty() && events.iter().all(|e| e["event"] == "storage.tableCreated"), "{events:?}");
}

#[tokio::test]
async fn tokens_are_shown_and_updated_and_expiry_takes_a_duration() {
    let (app, dir) = logged_in().await;
    app.create_bucket("a").await;
    app.create_bucket("b").await;
    let created = cli(
        dir.path(),
        &[],
        &["token", "create", "--description", "d", "--read", "in.c-a", "--expires-in", "7d", "--json"],
    )
    .await
    .json();
    let id = created["id"].as_str().unwrap().to_string();
    let week = stowage_types::time::now() + 7 * 86_400;
    let (earliest, latest) = (stowage_types::time::format(week - 60), stowage_types::time::format(week));
    let expires = created["expires"].as_str().unwrap();
    assert!((earliest.as_str()..=latest.as_str()).contains(&expires), "{expires} is a week from now");
    let shown = cli(dir.path(), &[], &["token", "show", &id]).await;
    assert!(shown.stdout.contains("description\td\n") && shown.stdout.contains("buckets\tin.c-a:read\n"));
    assert!(!shown.stdout.contains(created["token"].as_str().unwrap()));
    let updated =
        cli(dir.path(), &[], &["token", "update", &id, "--description", "nightly", "--write", "in.c-b"]).await;
    assert_eq!(updated.code, 0, "{}", updated.stderr);
    let detail = app.get(&format!("/v2/storage/tokens/{id}"), &app.admin).await.expect(200).body;
    assert_eq!(
        (detail["description"].as_str(), &detail["bucketPermissions"]),
        (Some("nightly"), &json!({"in.c-b": "write"}))
    );
    let nothing = cli(dir.path(), &[], &["token", "update", &id]).await;
    assert_eq!(nothing.code, 2);
    let bad = cli(dir.path(), &[], &["token", "create", "--expires-in", "7y"]).await;
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("\"7y\" is not a duration"), "{}", bad.stderr);
}

#[tokio::test]
async fn configurations_and_their_rows_are_made_without_curl() {
    let (app, dir) = logged_in().await;
    let settings = dir.path().join("writer.json");
    std::fs::write(&settings, r##"{"parameters": {"url": "http://example.com", "#token": "secret-value"}}"##).unwrap();
    let at = format!("@{}", settings.display());
    let created = cli(
        dir.path(),
        &[],
        &["config", "create", "keboola.wr-storage", "--name", "To EU", "--configuration", &at, "--json"],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let config = created.json()["id"].as_str().unwrap().to_string();
    let stored = app.get(&format!("/v2/storage/components/keboola.wr-storage/configs/{config}"), &app.admin).await.body;
    assert_eq!(stored["configuration"]["parameters"]["url"], "http://example.com");
    let listed = cli(dir.path(), &[], &["config", "list", "keboola.wr-storage"]).await;
    assert!(listed.stdout.starts_with(&format!("{config}\tTo EU\t0 rows\t")), "{}", listed.stdout);
    let row = cli(
        dir.path(),
        &[],
        &[
            "config",
            "row",
            "create",
            "keboola.wr-storage",
            &config,
            "--name",
            "orders",
            "--configuration",
            "{\"a\": 1}",
            "--json",
        ],
    )
    .await;
    assert_eq!(row.code, 0, "{}", row.stderr);
    let row = row.json()["id"].as_str().unwrap().to_string();
    let rows = cli(dir.path(), &[], &["config", "row", "list", "keboola.wr-storage", &config]).await;
    assert_eq!(rows.stdout.trim(), format!("{row}\torders\tenabled"));
    let shown = cli(dir.path(), &[], &["config", "row", "show", "keboola.wr-storage", &config, &row]).await;
    assert_eq!(serde_json::from_str::<Value>(&shown.stdout).unwrap()["configuration"], json!({"a": 1}));
    let config_shown = cli(dir.path(), &[], &["config", "show", "keboola.wr-storage", &config]).await;
    assert!(!config_shown.stdout.contains("secret-value"), "an encrypted value never comes back");
    assert_eq!(cli(dir.path(), &[], &["config", "row", "delete", "keboola.wr-storage", &config, &row]).await.code, 0);
    assert_eq!(cli(dir.path(), &[], &["config", "delete", "keboola.wr-storage", &config]).await.code, 0);
    app.get(&format!("/v2/storage/components/keboola.wr-storage/configs/{config}"), &app.admin).await.expect(404);
    let invalid =
        cli(dir.path(), &[], &["config", "create", "keboola.wr-storage", "--name", "x", "--configuration", "[1, 2"])
            .await;
    assert_eq!(invalid.code, 2);
    assert!(invalid.stderr.contains("--configuration is not valid JSON"), "{}", invalid.stderr);
}

#[tokio::test]
async fn a_password_set_from_the_command_line_signs_the_user_in() {
    let (app, dir) = logged_in().await;
    let short = cli(dir.path(), &[("STOWAGE_PASSWORD", "short")], &["user", "password", "admin@localhost"]).await;
    assert_eq!(short.code, 1);
    assert!(short.stderr.contains("12"), "{}", short.stderr);
    let password = "a long enough password";
    let set = cli(dir.path(), &[("STOWAGE_PASSWORD", password)], &["user", "password", "admin@localhost"]).await;
    assert_eq!(set.code, 0, "{}", set.stderr);
    let mut browser = crate::console::Browser::new(&app);
    let (_, _, page) = browser.get("/console").await;
    let csrf = crate::console::Browser::csrf(&page);
    let (status, location, _, _) = browser
        .post("/console/sign-in", &[("email", "admin@localhost"), ("password", password), ("csrf", &csrf)])
        .await;
    assert_eq!((status, location.as_str()), (303, "/console/projects"));
}

#[tokio::test]
async fn json_errors_name_their_kind_and_exit_code_and_usage_errors_exit_2() {
    let (_app, dir) = logged_in().await;
    let missing = cli(dir.path(), &[], &["table", "preview", "in.c-none.t", "--json"]).await;
    assert_eq!(missing.code, 4);
    assert!(missing.stdout.is_empty());
    let error: Value = serde_json::from_str(missing.stderr.trim()).unwrap();
    assert_eq!((error["kind"].as_str(), error["exitCode"].as_i64()), (Some("notFound"), Some(4)));
    assert!(error["error"].as_str().unwrap().contains("in.c-none.t"), "{error}");
    assert_eq!(cli(dir.path(), &[], &["table", "preview"]).await.code, 2);
    assert_eq!(cli(dir.path(), &[], &["table", "import", "x.csv", "not-a-table-id"]).await.code, 2);
    let version = cli(dir.path(), &[], &["--version"]).await;
    assert!(version.stdout.starts_with("stowage "), "{}", version.stdout);
    let help = cli(dir.path(), &[], &["--help"]).await;
    assert!(help.stdout.contains("5  a job ran and ended with an error"), "{}", help.stdout);
    let serve = cli(dir.path(), &[], &["serve", "--help"]).await;
    assert!(!serve.stdout.contains("--json") && !serve.stdout.contains("--profile"), "{}", serve.stdout);
    assert_eq!(cli(dir.path(), &[], &["serve", "--json"]).await.code, 2);
}

#[tokio::test]
async fn output_piped_into_a_reader_that_stops_early_ends_quietly() {
    let (app, dir) = logged_in().await;
    app.create_bucket("wide").await;
    let value = "v".repeat(500);
    let csv: String =
        std::iter::once("id,text\n".to_string()).chain((0..1000).map(|i| format!("{i},{value}\n"))).collect();
    app.create_table("in.c-wide", "t", &csv, &[]).await;
    let script = format!("\"{}\" table preview in.c-wide.t --limit 1000 | head -n 1", env!("CARGO_BIN_EXE_stowage"));
    let output = tokio::process::Command::new("sh")
        .args(["-c", &script])
        .env("STOWAGE_CONFIG_DIR", dir.path())
        .env_remove("KBC_STORAGE_API_URL")
        .output()
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "\"id\",\"text\"\n");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "", "no panic, no error line");
}

#[tokio::test]
async fn a_trigger_is_created_listed_changed_and_deleted_from_the_command_line() {
    let (app, dir) = logged_in().await;
    let bucket = app.create_bucket("cli-trigger").await;
    app.create_table(&bucket, "orders", "id\n1\n", &[]).await;
    let (_, runner) = app.create_token(json!({"componentAccess": ["keboola.wr-storage"]})).await;
    let runner = runner["id"].as_str().unwrap();
    let table = format!("{bucket}.orders");
    let args = ["trigger", "create", "keboola.wr-storage", "12", "--run-as", runner, "--table", &table, "--json"];
    let created = cli(dir.path(), &[], &args).await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let id = created.json()["id"].as_str().unwrap().to_string();
    assert_eq!(created.json()["coolDownPeriodMinutes"], 5, "five minutes unless told");

    let listed = cli(dir.path(), &[], &["trigger", "list", "--config", "12"]).await;
    let line = listed.stdout.trim();
    assert!(line.starts_with(&format!("{id}\tkeboola.wr-storage 12\tas token {runner}\tevery 5 min")), "{line}");
    assert!(line.ends_with(&table), "{line}");
    let updated = cli(dir.path(), &[], &["trigger", "update", &id, "--cool-down", "30", "--json"]).await;
    assert_eq!(updated.code, 0, "{}", updated.stderr);
    assert_eq!(updated.json()["coolDownPeriodMinutes"], 30);
    let nothing = cli(dir.path(), &[], &["trigger", "update", &id]).await;
    assert_eq!(nothing.code, 2, "an update that changes nothing is a usage error: {}", nothing.stderr);
    let refused = cli(
        dir.path(),
        &[],
        &["trigger", "create", "keboola.wr-storage", "12", "--run-as", runner, "--table", &table, "--cool-down", "0"],
    )
    .await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("Minimal cool down period is 1 minute"), "{}", refused.stderr);

    let deleted = cli(dir.path(), &[], &["trigger", "delete", &id, "--yes"]).await;
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    let shown = cli(dir.path(), &[], &["trigger", "show", &id]).await;
    assert_eq!(shown.code, 4, "{}", shown.stderr);
}

#[tokio::test]
async fn a_schedule_is_created_shown_and_deleted_from_the_command_line() {
    let (app, dir) = logged_in().await;
    let path = "/v2/storage/components/keboola.wr-storage/configs";
    let config = app.post(path, &app.admin, json!({"name": "nightly"})).await.expect(201).body;
    let config = config["id"].as_str().unwrap();
    let args = [
        "schedule",
        "create",
        "keboola.wr-storage",
        config,
        "--cron",
        "0 3 * * *",
        "--timezone",
        "Europe/Prague",
        "--json",
    ];
    let created = cli(dir.path(), &[], &args).await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let id = created.json()["id"].as_str().unwrap().to_string();
    assert_eq!(created.json()["schedule"]["timezone"], "Europe/Prague");
    let admin_id = TestApp::token_id(&app.admin);
    let listed = cli(dir.path(), &[], &["schedule", "list"]).await;
    let expected = format!("{id}\tkeboola.wr-storage {config} (all enabled rows)\t0 3 * * * Europe/Prague\tenabled\tas token {admin_id}\tnext run ");
    assert!(listed.stdout.starts_with(&expected), "{}", listed.stdout);

    let refused =
        cli(dir.path(), &[], &["schedule", "create", "keboola.wr-storage", config, "--cron", "every day"]).await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("schedule.cronTab \"every day\""), "{}", refused.stderr);
    let schedulers = app.get("/v2/storage/components/keboola.scheduler/configs", &app.admin).await.expect(200).body;
    assert_eq!(schedulers.as_array().unwrap().len(), 1, "a refused schedule leaves no configuration: {schedulers}");

    let deleted = cli(dir.path(), &[], &["schedule", "delete", &id, "--yes"]).await;
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    assert_eq!(cli(dir.path(), &[], &["schedule", "show", &id]).await.code, 4);
    let schedulers = app.get("/v2/storage/components/keboola.scheduler/configs", &app.admin).await.expect(200).body;
    assert_eq!(schedulers, json!([]), "its configuration went to the trash");
}

#[tokio::test]
async fn a_typed_table_is_defined_from_the_command_line() {
    let (app, dir) = logged_in().await;
    let bucket = app.create_bucket("cli-typed").await;
    let table = format!("{bucket}.orders");
    let args = [
        "table",
        "define",
        &table,
        "--column",
        "id:INTEGER",
        "--column",
        "amount:numeric(10,2)!",
        "--column",
        "note:STRING(20)",
        "--primary-key",
        "id",
    ];
    let defined = cli(dir.path(), &[], &args).await;
    assert_eq!(defined.code, 0, "{}", defined.stderr);
    assert_eq!(defined.stdout.trim(), format!("Table {table} created with 3 typed columns."));
    let detail = app.get(&format!("/v2/storage/tables/{table}"), &app.admin).await.expect(200).body;
    let columns = &detail["definition"]["columns"];
    assert_eq!(columns[0]["definition"]["nullable"], false, "a key column");
    assert_eq!(columns[1]["definition"], json!({"type": "NUMERIC", "nullable": false, "length": "10,2"}));
    assert_eq!(columns[2]["definition"], json!({"type": "VARCHAR", "nullable": true, "length": "20"}));

    let bad = cli(dir.path(), &[], &["table", "define", &format!("{bucket}.bad"), "--column", "id"]).await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    let refused =
        cli(dir.path(), &[], &["table", "define", &format!("{bucket}.bad"), "--column", "id:GEOGRAPHY"]).await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("basetype \"GEOGRAPHY\" is not one of"), "{}", refused.stderr);
}
