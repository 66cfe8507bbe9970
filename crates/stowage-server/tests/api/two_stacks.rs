//! Two stacks as two processes, with two data dirs and each other as regions: the writer moves
//! tables from EU to US and the extractor brings them back, and the target token never shows.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::restart::{free_port, stop, wait_ready};

struct Stack {
    url: String,
    admin: String,
    child: Child,
    client: reqwest::Client,
}

async fn start(dir: &Path, name: &str, port: u16, other: (&str, u16)) -> Stack {
    let url = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stowage"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--stack-name", name])
        .args(["--region", &format!("{}=http://127.0.0.1:{}", other.0, other.1)])
        .arg("--data-dir")
        .arg(dir.join(name))
        .envs(crate::helpers::database_env(&dir.join(name)))
        .env_remove("STOWAGE_MANAGE_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let admin = crate::restart::read_admin_token(&mut child).await;
    let client = reqwest::Client::new();
    wait_ready(&client, &url).await;
    Stack { url, admin, child, client }
}

impl Stack {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request =
            self.client.request(method, format!("{}{path}", self.url)).header("X-StorageApi-Token", &self.admin);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, value) = self.call(reqwest::Method::POST, path, Some(body)).await;
        assert!(status < 300, "{path}: {status} {value}");
        value
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await.1
    }

    async fn table(&self, bucket: &str, name: &str, csv: &str, primary_key: &str) {
        let file = self.post("/v2/storage/files/prepare", json!({"name": "t.csv"})).await;
        let blob = format!("{}{}", self.url, crate::helpers::blob_path(&file["absUploadParams"]));
        let put =
            self.client.put(blob).header("x-ms-blob-type", "BlockBlob").body(csv.to_string()).send().await.unwrap();
        assert_eq!(put.status(), 201);
        let job = self
            .post(
                &format!("/v2/storage/buckets/{bucket}/tables-async"),
                json!({"name": name, "dataFileId": file["id"], "primaryKey": primary_key}),
            )
            .await;
        assert_eq!(job["status"], "success", "{job}");
    }

    async fn run(&self, component: &str, config: &str) -> Value {
        let job = self.post("/queue/jobs", json!({"component": component, "config": config})).await;
        let id = job["id"].as_str().unwrap().to_string();
        for _ in 0..600 {
            let job = self.get(&format!("/queue/jobs/{id}")).await;
            if job["isFinished"] == true {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("job {id} did not finish");
    }
}

#[tokio::test]
async fn two_stack_processes_move_tables_both_ways_through_their_public_apis() {
    let dir = crate::helpers::test_dir();
    let (eu_port, us_port) = (free_port(), free_port());
    let eu = start(dir.path(), "eu", eu_port, ("us", us_port)).await;
    let us = start(dir.path(), "us", us_port, ("eu", eu_port)).await;
    let index = eu.get("/v2/storage").await;
    assert_eq!(index["stack"]["regions"], json!([{"name": "us", "url": format!("http://127.0.0.1:{us_port}")}]));

    eu.post("/v2/storage/buckets", json!({"name": "sales"})).await;
    eu.table("in.c-sales", "orders", "id,total\n1,10\n2,20\n", "id").await;
    eu.table("in.c-sales", "customers", "id,name\n1,Ann\n", "id").await;
    us.post("/v2/storage/buckets", json!({"name": "from-eu", "stage": "in"})).await;
    let write = us
        .post("/v2/storage/tokens", json!({"description": "eu writer", "bucketPermissions": {"in.c-from-eu": "write"}}))
        .await;
    let write_secret = write["token"].as_str().unwrap().to_string();

    let writer = eu
        .post(
            "/v2/storage/components/keboola.wr-storage/configs",
            json!({"name": "to US", "configuration": {"parameters": {"url": us.url, "#token": write_secret}}}),
        )
        .await;
    let writer_id = writer["id"].as_str().unwrap().to_string();
    for (name, mode) in [("orders", "update"), ("customers", "replace")] {
        let row = json!({"name": name, "configuration": {
            "storage": {"input": {"tables": [{"source": format!("in.c-sales.{name}"), "destination": name}]}},
            "parameters": {"mode": mode},
        }});
        eu.post(&format!("/v2/storage/components/keboola.wr-storage/configs/{writer_id}/rows"), row).await;
    }
    let job = eu.run("keboola.wr-storage", &writer_id).await;
    assert_eq!(job["status"], "success", "{job}");
    assert!(!job.to_string().contains(&write_secret), "the job log never shows the target token");
    let config = eu.get(&format!("/v2/storage/components/keboola.wr-storage/configs/{writer_id}")).await;
    assert!(!config.to_string().contains(&write_secret), "the API never shows the target token");
    assert_eq!(us.get("/v2/storage/tables/in.c-from-eu.orders").await["rowsCount"], 2);
    assert_eq!(us.get("/v2/storage/tables/in.c-from-eu.customers").await["rowsCount"], 1);

    let read = us
        .post("/v2/storage/tokens", json!({"description": "eu reader", "bucketPermissions": {"in.c-from-eu": "read"}}))
        .await;
    let extractor = eu
        .post(
            "/v2/storage/components/keboola.ex-storage/configs",
            json!({"name": "from US", "configuration": {"parameters": {"url": us.url, "#token": read["token"]}}}),
        )
        .await;
    let extractor_id = extractor["id"].as_str().unwrap().to_string();
    let row = json!({"name": "orders", "configuration": {"parameters": {"tableName": "orders", "fullSync": true}}});
    eu.post(&format!("/v2/storage/components/keboola.ex-storage/configs/{extractor_id}/rows"), row).await;
    let job = eu.run("keboola.ex-storage", &extractor_id).await;
    assert_eq!(job["status"], "success", "{job}");
    let back = eu.get(&format!("/v2/storage/tables/in.c-keboola-ex-storage-{extractor_id}.orders")).await;
    assert_eq!(back["rowsCount"], 2);
    assert_eq!(back["primaryKey"], json!(["id"]));

    let (eu_clean, _, _) = stop(eu.child).await;
    let (us_clean, _, _) = stop(us.child).await;
    assert!(eu_clean && us_clean);
}
