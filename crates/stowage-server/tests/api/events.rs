use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Payload, TestApp};

fn names(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["event"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn every_bucket_operation_records_an_event_with_token_object_and_branch() {
    let app = spawn_app().await;
    let id = app.create_bucket("audited").await;
    app.put(&format!("/v2/storage/buckets/{id}"), &app.admin, json!({"description": "x"})).await.expect(200);
    app.get("/v2/storage/buckets", &app.admin).await.expect(200);
    app.delete(&format!("/v2/storage/buckets/{id}"), &app.admin).await.expect(204);
    let events = app.events("").await;
    assert_eq!(
        names(&events),
        ["storage.bucketDeleted", "storage.bucketsListed", "storage.bucketUpdated", "storage.bucketCreated"]
    );
    let branch_id = app.get("/v2/storage/dev-branches/default", &app.admin).await.expect(200).body["id"].clone();
    for event in &events {
        assert_eq!(event["token"]["id"], json!(TestApp::token_id(&app.admin)));
        assert_eq!(event["token"]["name"], "admin@localhost");
        assert_eq!(event["idBranch"], branch_id);
        assert_eq!(event["component"], "storage");
        assert!(event["uuid"].as_str().unwrap().len() == 36);
        assert!(event["params"].is_object() && event["results"].is_object() && event["performance"].is_object());
    }
    let created = &events[3];
    assert_eq!(created["objectType"], "bucket");
    assert_eq!(created["objectId"], json!(id));
}

#[tokio::test]
async fn listing_events_records_nothing_but_listing_buckets_does() {
    let app = spawn_app().await;
    app.create_bucket("one").await;
    let marker = app.events("").await[0]["id"].as_i64().unwrap();
    app.get("/v2/storage/events", &app.admin).await.expect(200);
    app.get("/v2/storage/buckets", &app.admin).await.expect(200);
    let since = app.events(&format!("sinceId={marker}")).await;
    assert_eq!(names(&since), ["storage.bucketsListed"]);
}

#[tokio::test]
async fn since_id_and_max_id_are_exclusive_and_accept_uuids() {
    let app = spawn_app().await;
    for name in ["e1", "e2", "e3"] {
        app.create_bucket(name).await;
    }
    let events = app.events("sortOrder=asc").await;
    let (e1, e2, e3) = (&events[0], &events[1], &events[2]);
    let after = app.events(&format!("sinceId={}", e1["id"])).await;
    assert_eq!(after.len(), 2);
    let between = app.events(&format!("sinceId={}&maxId={}", e1["id"], e3["id"])).await;
    assert_eq!(between.len(), 1);
    assert_eq!(between[0]["id"], e2["id"]);
    let by_uuid =
        app.events(&format!("sinceId={}&maxId={}", e1["uuid"].as_str().unwrap(), e3["uuid"].as_str().unwrap())).await;
    assert_eq!(by_uuid[0]["id"], e2["id"]);
}

#[tokio::test]
async fn limit_offset_and_sort_order_page_through_events() {
    let app = spawn_app().await;
    for name in ["p1", "p2", "p3"] {
        app.create_bucket(name).await;
    }
    let newest_first = app.events("").await;
    assert!(newest_first[0]["id"].as_i64() > newest_first[1]["id"].as_i64());
    let page = app.events("limit=1&offset=1").await;
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["id"], newest_first[1]["id"]);
    app.get("/v2/storage/events?limit=10000", &app.admin).await.expect(200);
    let reply = app.get("/v2/storage/events?limit=10001", &app.admin).await.expect_error(400, "storage.validation");
    assert_eq!(reply.message(), "Parameter \"limit\" must be between 1 and 10000, 10001 given.");
    app.get("/v2/storage/events?sortOrder=sideways", &app.admin).await.expect_error(400, "storage.validation");
}

#[tokio::test]
async fn the_q_parameter_matches_fields_and_free_text() {
    let app = spawn_app().await;
    let id = app.create_bucket("searched").await;
    app.create_bucket("other").await;
    let found = app.events(&format!("q=objectId:{id}%20AND%20event:storage.bucketCreated")).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["objectId"], json!(id));
    let by_token = app.events(&format!("q=token.id:{}", TestApp::token_id(&app.admin))).await;
    assert_eq!(by_token.len(), 2);
    let text = app.events("q=searched").await;
    assert_eq!(text.len(), 1);
    assert_eq!(app.events("q=objectId:nothing-like-this").await.len(), 0);
}

#[tokio::test]
async fn an_unparsable_query_is_a_400_starting_with_failed_to_parse_query() {
    let app = spawn_app().await;
    for q in ["%3A%20success", "success%3A", "%2FGET", "*tables*"] {
        let reply = app.get(&format!("/v2/storage/events?q={q}"), &app.admin).await;
        let reply = reply.expect_error(400, "storage.events.invalidQuery");
        assert!(reply.message().starts_with("Failed to parse query"), "{}", reply.message());
    }
}

#[tokio::test]
async fn a_posted_event_round_trips_with_its_fields() {
    let app = spawn_app().await;
    let body = json!({
        "component": "ex-sfdc",
        "configurationId": "sys.c-sfdc.account-1",
        "message": "Extraction done",
        "description": "all rows",
        "type": "success",
        "runId": "123.456",
        "params": {"rows": 10},
        "results": {"ok": true},
        "duration": 12.5,
    });
    let created = app.post("/v2/storage/events", &app.admin, body).await.expect(201).body;
    assert!(created["id"].is_string());
    let uuid = created["uuid"].as_str().unwrap();
    let event = app.get(&format!("/v2/storage/events/{uuid}"), &app.admin).await.expect(200).body;
    assert_eq!(event["event"], "ext.ex-sfdc.sys.c-sfdc.account-1");
    assert_eq!(event["component"], "ex-sfdc");
    assert_eq!(event["message"], "Extraction done");
    assert_eq!(event["description"], "all rows");
    assert_eq!(event["type"], "success");
    assert_eq!(event["runId"], "123.456");
    assert_eq!(event["params"], json!({"rows": 10}));
    assert_eq!(event["results"], json!({"ok": true}));
    assert_eq!(event["performance"]["duration"], json!(12.5));
    let by_id =
        app.get(&format!("/v2/storage/events/{}", created["id"].as_str().unwrap()), &app.admin).await.expect(200);
    assert_eq!(by_id.body["uuid"], json!(uuid));
    let filtered = app.events("runId=123.456").await;
    assert_eq!(filtered.len(), 1);
    assert_eq!(app.events("component=ex-sfdc").await.len(), 1);
}

#[tokio::test]
async fn an_event_without_params_has_empty_objects_and_a_plain_name() {
    let app = spawn_app().await;
    let created = app.post_form("/v2/storage/events", &app.admin, "component=whatever&message=hi").await.expect(201);
    let event = app.get(&format!("/v2/storage/events/{}", created.body["uuid"].as_str().unwrap()), &app.admin).await;
    let event = event.expect(200).body;
    assert_eq!(event["event"], "ext.whatever.");
    assert_eq!(event["params"], json!({}));
    assert_eq!(event["results"], json!({}));
    assert_eq!(event["performance"], json!({}));
    assert_eq!(event["type"], "info");
}

#[tokio::test]
async fn invalid_events_are_rejected_and_nothing_is_recorded() {
    let app = spawn_app().await;
    let cases = [
        (json!({"message": "m"}), "storage.events.validation"),
        (json!({"component": "c"}), "storage.events.validation"),
        (json!({"component": "c", "message": "m", "type": "fatal"}), "storage.events.validation"),
        (json!({"component": "c", "message": "m", "params": "not-json"}), "storage.validation"),
    ];
    for (body, code) in cases {
        app.post("/v2/storage/events", &app.admin, body).await.expect_error(400, code);
    }
    assert_eq!(app.events("").await.len(), 0);
}

#[tokio::test]
async fn events_up_to_200_kb_are_accepted_and_larger_ones_rejected() {
    let app = spawn_app().await;
    app.post("/v2/storage/events", &app.admin, json!({"component": "c", "message": "m".repeat(190_000)}))
        .await
        .expect(201);
    let reply =
        app.post("/v2/storage/events", &app.admin, json!({"component": "c", "message": "m".repeat(250_000)})).await;
    reply.expect_error(400, "requestTooLarge");
    assert_eq!(app.events("").await.len(), 1);
}

#[tokio::test]
async fn invalid_utf8_in_a_form_body_is_a_malformed_request() {
    let app = spawn_app().await;
    let reply = app
        .call(Method::POST, "/v2/storage/events", Some(&app.admin), Payload::Form("component=c&message=%C3%28".into()))
        .await;
    reply.expect_error(400, "malformedRequest");
}

#[tokio::test]
async fn the_run_id_header_is_stored_on_the_events_of_a_request() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/v2/storage/buckets", app.url))
        .header("X-StorageApi-Token", &app.admin)
        .header("X-KBC-RunId", "777")
        .json(&json!({"name": "run"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let events = app.events("runId=777").await;
    assert_eq!(names(&events), ["storage.bucketCreated"]);
    assert_eq!(app.events("q=runId:777").await.len(), 1);
}

#[tokio::test]
async fn a_bucket_feed_holds_only_that_buckets_events() {
    let app = spawn_app().await;
    let id = app.create_bucket("mine").await;
    app.create_bucket("theirs").await;
    let feed = app.get(&format!("/v2/storage/buckets/{id}/events"), &app.admin).await.expect(200).body;
    assert_eq!(feed.as_array().unwrap().len(), 1);
    assert_eq!(feed[0]["objectId"], json!(id));
    app.get("/v2/storage/buckets/in.c-nope/events", &app.admin).await.expect_error(404, "storage.buckets.notFound");
}

#[tokio::test]
async fn a_token_feed_holds_events_about_the_token_and_events_made_by_it() {
    let app = spawn_app().await;
    let guest = app.member_token("guest@example.com", "guest").await;
    let guest_id = TestApp::token_id(&guest);
    app.post("/v2/storage/events", &guest, json!({"component": "c", "message": "from guest"})).await.expect(201);
    app.create_bucket("admin-only").await;
    let feed = app.get(&format!("/v2/storage/tokens/{guest_id}/events"), &app.admin).await.expect(200).body;
    assert_eq!(names(feed.as_array().unwrap()), ["ext.c.", "storage.tokenCreated"]);
    let own = app.get(&format!("/v2/storage/tokens/{guest_id}/events"), &guest).await.expect(200).body;
    assert_eq!(own.as_array().unwrap().len(), 2);
    let admin_id = TestApp::token_id(&app.admin);
    app.get(&format!("/v2/storage/tokens/{admin_id}/events"), &guest).await.expect_error(403, "accessDenied");
    app.get("/v2/storage/tokens/99999/events", &app.admin).await.expect_error(404, "storage.tokens.notFound");
    let reply = app.get("/v2/storage/tokens/foo/events", &app.admin).await.expect_error(404, "notFound");
    assert!(reply.message().contains("resource not found"));
}

#[tokio::test]
async fn concurrent_listings_each_record_one_event_that_the_feed_shows_when_the_call_returns() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("busy").await;
    let tokens: Vec<String> = futures::future::join_all((0..8).map(|n| {
        app.create_token(json!({"description": format!("reader {n}"), "bucketPermissions": {&bucket: "read"}}))
    }))
    .await
    .into_iter()
    .map(|(secret, _)| secret)
    .collect();
    // Eight clients list at once, five times each; after each answer its own event is in the feed.
    let clients = tokens.iter().map(|secret| {
        let app = &app;
        async move {
            let feed = format!("/v2/storage/tokens/{}/events?q=event:storage.bucketsListed", TestApp::token_id(secret));
            for listed in 1..=5 {
                app.get("/v2/storage/buckets", secret).await.expect(200);
                assert_eq!(app.get(&feed, &app.admin).await.expect(200).body.as_array().unwrap().len(), listed);
            }
        }
    });
    futures::future::join_all(clients).await;
    let listed = app.events("q=event:storage.bucketsListed&limit=1000").await;
    assert_eq!(listed.len(), 40, "one event per listing, none lost or doubled");
    for secret in &tokens {
        let mine = listed.iter().filter(|e| e["token"]["id"] == json!(TestApp::token_id(secret))).count();
        assert_eq!(mine, 5);
    }
}

#[tokio::test]
async fn a_project_that_posts_events_past_its_allowance_is_answered_429_and_nothing_is_stored() {
    let app = spawn_app().await;
    let (limited, _) = app.create_token(serde_json::json!({"description": "no permissions"})).await;
    // About 200 KiB each: the allowance holds 4 MiB at once and earns 16 KiB a second.
    let big = "x".repeat(200 * 1024 - 64);
    let mut statuses = Vec::new();
    for n in 0..24 {
        let body = serde_json::json!({"component": "flood", "message": format!("event {n}"), "description": big});
        statuses.push(app.post("/v2/storage/events", &limited, body).await);
    }
    let refused = statuses.iter().position(|reply| reply.status == 429).expect("the flood is held back");
    assert!((19..=21).contains(&refused), "refused after {refused} events");
    let reply = &statuses[refused];
    assert_eq!(reply.body["code"], "tooManyRequests");
    assert!(reply.message().starts_with("Too many events recorded in this project: try again in "), "{}", reply.text);
    let stored = app.events("component=flood&limit=100").await;
    assert_eq!(stored.len(), statuses.iter().filter(|reply| reply.status == 201).count());
    // Another project is not held back by this one's flood.
    let other = app.post("/manage/projects", &app.manage, serde_json::json!({"name": "Other"})).await.expect(201);
    let elsewhere = app.member_token_in(other.body["id"].as_i64().unwrap(), "other@example.com", "admin").await;
    let body = serde_json::json!({"component": "flood", "message": "elsewhere", "description": big});
    app.post("/v2/storage/events", &elsewhere, body).await.expect(201);
}
