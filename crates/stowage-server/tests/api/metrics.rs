//! Prometheus metrics on their own listener move with the work the stack does.

use crate::console::signed_in_admin;
use crate::helpers::spawn_app;

/// The value of the sample named `name` whose labels include every pair of `labels` (0 when the
/// sample is not there yet).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| line.split(['{', ' ']).next() == Some(name))
        .filter(|line| labels.iter().all(|(key, value)| line.contains(&format!("{key}=\"{value}\""))))
        .map(|line| line.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

async fn scrape(url: &str) -> String {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_bytes_jobs_and_sessions_as_the_work_is_done() {
    let app = spawn_app().await;
    let buckets = [("method", "GET"), ("route", "/v2/storage/buckets"), ("status", "200")];
    let before = scrape(&app.metrics_url).await;
    for _ in 0..3 {
        app.get("/v2/storage/buckets", &app.admin).await.expect(200);
    }
    app.get("/v2/storage/no-such-thing", &app.admin).await.expect(404);
    app.create_bucket("m").await;
    let csv = format!("id,text\n{}", (0..20_000).map(|i| format!("{i},some text of row {i}\n")).collect::<String>());
    app.create_table("in.c-m", "t", &csv, &[]).await;
    let exported = app.export("in.c-m.t", serde_json::json!({})).await;
    let mut browser = signed_in_admin(&app).await;
    assert_eq!(browser.get("/console/projects").await.0, 200);
    let after = scrape(&app.metrics_url).await;

    let moved = |name: &str, labels: &[(&str, &str)]| sample(&after, name, labels) - sample(&before, name, labels);
    assert_eq!(moved("stowage_http_requests_total", &buckets), 3.0);
    let latency = [("method", "GET"), ("route", "/v2/storage/buckets")];
    assert_eq!(moved("stowage_http_request_duration_seconds_count", &latency), 3.0);
    assert!(moved("stowage_http_requests_total", &[("route", "unmatched"), ("status", "404")]) >= 1.0);
    assert!(moved("stowage_http_request_bytes_total", &[]) >= csv.len() as f64, "the upload's bytes came in");
    assert!(moved("stowage_http_response_bytes_total", &[]) >= exported.len() as f64, "the download's went out");
    let storage_success = [("kind", "storage"), ("status", "success")];
    assert!(moved("stowage_jobs_finished_total", &storage_success) >= 2.0, "the create and the export");
    assert!(moved("stowage_job_duration_seconds_count", &[("kind", "storage")]) >= 2.0);
    assert_eq!(sample(&after, "stowage_jobs_unfinished", &[("kind", "storage"), ("status", "waiting")]), 0.0);
    assert!(after.contains("stowage_jobs_unfinished{kind=\"component\",status=\"processing\"} 0"));
    assert_eq!(sample(&before, "stowage_console_sessions_active", &[]), 0.0);
    assert_eq!(sample(&after, "stowage_console_sessions_active", &[]), 1.0);

    let public = reqwest::get(format!("{}/metrics", app.url)).await.unwrap();
    assert_eq!(public.status(), 404, "metrics are not on the public port");
}
