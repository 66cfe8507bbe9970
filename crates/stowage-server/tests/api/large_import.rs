//! A file of several hundred MB goes through upload, table import, export and download against
//! the real binary, and the server's peak memory stays flat (well under 200 MB).

use serde_json::{json, Value};

use crate::restart::stop;

/// Size of the generated CSV.
const TARGET_BYTES: usize = 300 * 1024 * 1024;
const BLOCK_BYTES: usize = 8 * 1024 * 1024;
/// The limit the issue sets for the server's resident memory.
const PEAK_LIMIT_KB: u64 = 200 * 1024;

/// One block of rows `id,payload` (about 1 KB each), starting at row `first`.
fn block(first: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(BLOCK_BYTES + 2048);
    let mut row = first;
    while out.len() < BLOCK_BYTES {
        let payload: String = std::iter::repeat_n((b'a' + (row % 26) as u8) as char, 1000).collect();
        out.extend_from_slice(format!("{row},\"{payload}\"\n").as_bytes());
        row += 1;
    }
    (out, row)
}

fn peak_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_several_hundred_mb_file_is_imported_and_exported_with_flat_server_memory() {
    use reqwest::Method;
    let dir = crate::helpers::test_dir();
    let server = crate::restart::Server::first_start(&dir.path().join("data")).await;
    let pid = server.child.id().unwrap();
    server.call(Method::POST, "/buckets", json!({"name": "big"})).await;
    let file = server.call(Method::POST, "/files/prepare", json!({"name": "big.csv"})).await;
    let blob = format!("{}{}", server.root, crate::helpers::blob_path(&file["absUploadParams"]));

    let mut header = b"id,payload\n".to_vec();
    let (mut uploaded, mut next_row, mut ids) = (0usize, 0usize, Vec::new());
    while uploaded < TARGET_BYTES {
        let (mut bytes, next) = block(next_row);
        if next_row == 0 {
            header.append(&mut bytes);
            bytes = std::mem::take(&mut header);
        }
        next_row = next;
        uploaded += bytes.len();
        let id = format!("{:08}", ids.len());
        let block_id = base64_id(&id);
        let put = server.client.put(format!("{blob}&comp=block&blockid={block_id}")).body(bytes).send().await.unwrap();
        assert_eq!(put.status(), 201);
        ids.push(block_id);
    }
    let list: String = ids.iter().map(|id| format!("<Latest>{id}</Latest>")).collect();
    let put = server
        .client
        .put(format!("{blob}&comp=blocklist"))
        .body(format!("<BlockList>{list}</BlockList>"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);

    let body = json!({"name": "rows", "dataFileId": file["id"], "primaryKey": "id"});
    let job = server.wait(server.call(Method::POST, "/buckets/in.c-big/tables-async", body).await).await;
    assert_eq!(job["status"], "success", "{job}");
    let table = server.call(Method::GET, "/tables/in.c-big.rows", Value::Null).await;
    assert_eq!(table["rowsCount"], json!(next_row));

    let job = server.wait(server.call(Method::POST, "/tables/in.c-big.rows/export-async", json!({})).await).await;
    assert_eq!(job["status"], "success", "{job}");
    let path = format!("/files/{}/download", job["results"]["file"]["id"]);
    let mut download = server.api(Method::GET, &path).send().await.unwrap();
    let (mut bytes, mut rows) = (0usize, 0usize);
    while let Some(chunk) = download.chunk().await.unwrap() {
        bytes += chunk.len();
        rows += chunk.iter().filter(|b| **b == b'\n').count();
    }
    assert_eq!(rows, next_row);
    assert!(bytes > TARGET_BYTES, "the export holds every row: {bytes} bytes");

    let peak = peak_kb(pid);
    eprintln!("server peak resident memory: {peak} kB for {uploaded} bytes");
    let (clean, _, stderr) = stop(server.child).await;
    assert!(clean, "the server did not stop cleanly: {stderr}");
    assert!(peak < PEAK_LIMIT_KB, "the server peaked at {peak} kB for a {uploaded}-byte file");
}

fn base64_id(id: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = id.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A gzip file `id,note` whose second row holds one value of `value_bytes` bytes: a few hundred KB
/// on the wire, far more once decompressed.
fn file_with_one_huge_value(value_bytes: usize) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"id,note\n1,small\n2,\"").unwrap();
    let block = vec![b'x'; 1 << 20];
    for _ in 0..value_bytes >> 20 {
        gz.write_all(&block).unwrap();
    }
    gz.write_all(b"\"\n3,after\n").unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn a_value_past_the_limit_fails_its_import_naming_line_and_column_with_the_table_and_memory_unchanged() {
    use reqwest::Method;
    let dir = crate::helpers::test_dir();
    let server = crate::restart::Server::first_start(&dir.path().join("data")).await;
    let pid = server.child.id().unwrap();
    server.call(Method::POST, "/buckets", json!({"name": "notes"})).await;
    let small = server.upload(b"id,note\n1,kept\n".to_vec()).await;
    let body = json!({"name": "notes", "dataFileId": small, "primaryKey": "id"});
    let created = server.call(Method::POST, "/buckets/in.c-notes/tables-async", body).await;
    assert_eq!(server.wait(created).await["status"], "success");
    let before = peak_kb(pid);

    // 300 MB in one value, sent four times at once: into the table, and as three new tables.
    let huge = server.upload(file_with_one_huge_value(300 << 20)).await;
    let import = server.call(
        Method::POST,
        "/tables/in.c-notes.notes/import-async",
        json!({"dataFileId": huge, "incremental": 1}),
    );
    let creates = (0..3).map(|n| {
        let body = json!({"name": format!("new{n}"), "dataFileId": huge});
        server.call(Method::POST, "/buckets/in.c-notes/tables-async", body)
    });
    let mut jobs = vec![import.await];
    for create in creates {
        jobs.push(create.await);
    }
    for job in jobs {
        let job = server.wait(job).await;
        assert_eq!(job["status"], "error", "{job}");
        assert_eq!(job["error"]["code"], "storage.csv.invalid", "{job}");
        assert_eq!(
            job["error"]["message"],
            "Invalid CSV on line 3: the value in column 2 (\"note\") is longer than 16 MiB, the limit of one value.",
        );
    }

    let table = server.call(Method::GET, "/tables/in.c-notes.notes", Value::Null).await;
    assert_eq!(table["rowsCount"], 1);
    let preview = server.api(Method::GET, "/tables/in.c-notes.notes/data-preview").send().await.unwrap();
    assert_eq!(preview.text().await.unwrap(), "\"id\",\"note\"\n\"1\",\"kept\"\n");
    let tables = server.call(Method::GET, "/buckets/in.c-notes/tables", Value::Null).await;
    assert_eq!(tables.as_array().unwrap().len(), 1, "no table was created: {tables}");

    let peak = peak_kb(pid);
    eprintln!("server peak resident memory: {before} kB before, {peak} kB after four 300 MB values");
    stop(server.child).await;
    assert!(peak < PEAK_LIMIT_KB, "the server peaked at {peak} kB");
}
