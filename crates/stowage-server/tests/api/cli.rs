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
        cli(dir.path(), &[("STOWAGE_TOKEN", &app.admin)], &["--profile", "second", "login", "--url", &app.url]).await;
    assert_eq!(out.code, 0);
    assert_eq!(cli(dir.path(), &[], &["--profile", "second", "bucket", "list"]).await.code, 0);
    let missing = cli(dir.path(), &[], &["--profile", "nope", "bucket", "list"]).await;
    assert_eq!(missing.code, 1);
    assert_eq!(missing.stderr.trim(), "stowage: no profile \"nope\": run `stowage login --url URL --profile nope`");
}

#[tokio::test]
async fn keboolas_environment_variables_work_without_a_profile() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("KBC_STORAGE_API_URL", app.url.as_str()), ("KBC_STORAGE_TOKEN", app.admin.as_str())];
    let out = cli(dir.path(), &env, &["bucket", "create", "envy"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "Bucket in.c-envy created.");
    let none = cli(dir.path(), &[], &["bucket", "list"]).await;
    assert_eq!(none.code, 1);
    assert!(none.stderr.starts_with("stowage: no profile: run `stowage login --url URL`"));
}

#[tokio::test]
async fn projects_and_members_are_administered_through_the_manage_api() {
    let (_app, dir) = logged_in().await;
    let created = cli(dir.path(), &[], &["--json", "project", "create", "Analytics"]).await;
    let project = created.json()["id"].to_string();
    assert!(cli(dir.path(), &[], &["project", "list"]).await.stdout.contains("Analytics"));
    let added = cli(dir.path(), &[], &["user", "add", &project, "ann@example.com", "--role", "guest"]).await;
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert!(added.stdout.contains("ann@example.com added to project") && added.stdout.contains(&format!("{project}-")));
    assert!(cli(dir.path(), &[], &["user", "list", &project]).await.stdout.contains("ann@example.com\tguest"));
    assert_eq!(cli(dir.path(), &[], &["user", "remove", &project, "ann@example.com"]).await.code, 0);
    let again = cli(dir.path(), &[], &["user", "remove", &project, "ann@example.com"]).await;
    assert_eq!(again.code, 1);
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
    let refreshed = cli(dir.path(), &[], &["--json", "token", "refresh", &id]).await.json();
    assert_ne!(refreshed["token"].as_str().unwrap(), secret);
    let shared = cli(dir.path(), &[], &["token", "share", &id, "--email", "ann@example.com", "--message", "hi"]).await;
    assert_eq!(shared.code, 0, "{}", shared.stderr);
    assert_eq!(app.outbox().len(), 1);
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
    let listed = cli(dir.path(), &[], &["--json", "table", "list", "in.c-sales"]).await.json();
    assert_eq!(listed[0]["rowsCount"], 3);
    assert_eq!(app.get("/v2/storage/tables/in.c-sales.orders", &app.admin).await.body["primaryKey"], json!(["id"]));
}

#[tokio::test]
async fn files_are_uploaded_and_downloaded_byte_for_byte() {
    let (_app, dir) = logged_in().await;
    let source = dir.path().join("blob.bin");
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&source, &bytes).unwrap();
    let up = cli(dir.path(), &[], &["--json", "file", "upload", source.to_str().unwrap(), "--tag", "cli"]).await;
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
    assert_eq!((bad.code, bad.stderr.trim()), (1, "stowage: Invalid access token"));
    let missing = cli(dir.path(), &[], &["table", "preview", "in.c-none.t"]).await;
    assert_eq!(missing.code, 1);
    assert_eq!(missing.stderr.lines().count(), 1);
    let closed = format!("http://127.0.0.1:{}", crate::restart::free_port());
    let gone =
        cli(dir.path(), &[("KBC_STORAGE_API_URL", &closed), ("KBC_STORAGE_TOKEN", &app.admin)], &["bucket", "list"])
            .await;
    assert_eq!(gone.code, 1);
    assert!(gone.stderr.contains("cannot be reached") && !gone.stderr.contains(&app.admin), "{}", gone.stderr);
    let file = dir.path().join("broken.csv");
    std::fs::write(&file, "id\n\"open\n").unwrap();
    assert_eq!(cli(dir.path(), &[], &["bucket", "create", "b"]).await.code, 0);
    let broken = cli(dir.path(), &[], &["table", "import", file.to_str().unwrap(), "in.c-b.t"]).await;
    assert_eq!(broken.code, 1);
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
    assert_eq!(out.code, 1);
    assert!(out.stderr.trim_end().ends_with("ended with error: Invalid access token"), "{}", out.stderr);
}

#[tokio::test]
async fn every_command_has_help_with_an_example() {
    let dir = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 14] = [
        &["login"],
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
    let dir = tempfile::tempdir().unwrap();
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
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("stowage: ") && !stderr.contains(&admin) && !stderr.contains("sig="), "{stderr}");
}
