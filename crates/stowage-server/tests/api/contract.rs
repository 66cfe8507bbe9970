//! The API contract: the OpenAPI document the stack serves, generated from its route table.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::spawn_app;

async fn document(url: &str) -> Value {
    let response = reqwest::get(format!("{url}/openapi.json")).await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `/abs/{container}/{*blob}` as OpenAPI writes it.
fn template(path: &str) -> String {
    path.replace("{*", "{")
}

#[tokio::test]
async fn the_openapi_document_describes_every_api_route_of_the_route_table_and_no_console_page() {
    let app = spawn_app().await;
    let document = document(&app.url).await;
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["servers"][0]["url"], app.url.as_str());
    let paths = document["paths"].as_object().unwrap();
    let mut described = 0;
    for (method, path) in stowage_http::route_table() {
        let operation = &paths.get(&template(&path)).unwrap_or(&Value::Null)[method.as_str().to_lowercase()];
        if path.starts_with("/console") {
            assert!(operation.is_null(), "the console page {method} {path} is in the API document");
            continue;
        }
        assert!(operation.is_object(), "{method} {path} is served but not in the document");
        assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{method} {path} has no summary");
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|status| status.starts_with('2') || status.starts_with('3')),
            "{method} {path} describes no success"
        );
        assert!(responses.contains_key("default"), "{method} {path} describes no error");
        described += 1;
    }
    let in_document: usize = paths.values().map(|item| item.as_object().unwrap().len()).sum();
    assert_eq!(in_document, described, "the document holds operations the route table does not serve");
}

fn refs<'a>(value: &'a Value, found: &mut BTreeSet<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.insert(target);
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_schema_the_document_refers_to_is_defined_and_tokens_are_its_security_schemes() {
    let app = spawn_app().await;
    let document = document(&app.url).await;
    let mut found = BTreeSet::new();
    refs(&document, &mut found);
    assert!(found.contains("#/components/schemas/Bucket"), "{found:?}");
    for target in found {
        let name = target.strip_prefix("#/components/schemas/").expect("refs point at schemas");
        assert!(document["components"]["schemas"][name].is_object(), "{target} is not defined");
    }
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["storageApiToken"]["name"], "X-StorageApi-Token");
    assert_eq!(schemes["storageApiToken"]["in"], "header");
    assert_eq!(schemes["manageApiToken"]["name"], "X-KBC-ManageApiToken");
    let list_buckets = &document["paths"]["/v2/storage/buckets"]["get"];
    assert_eq!(list_buckets["security"][0]["storageApiToken"], serde_json::json!([]));
    assert_eq!(document["paths"]["/manage/projects"]["get"]["security"][0]["manageApiToken"], serde_json::json!([]));
    // The blob endpoint's credential is its signature, in the query.
    let blob = &document["paths"]["/abs/{container}/{blob}"]["put"];
    assert_eq!(blob["security"], serde_json::json!([]));
    let names: Vec<&str> = blob["parameters"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    assert!(names.contains(&"sig") && names.contains(&"blockid"), "{names:?}");
}

#[tokio::test]
async fn a_bucket_answer_has_exactly_the_fields_its_schema_declares() {
    let app = spawn_app().await;
    let document = document(&app.url).await;
    let bucket = app.post("/v2/storage/buckets", &app.admin, serde_json::json!({"name": "shape", "stage": "in"})).await;
    let bucket = bucket.expect(201).body;
    let schema = &document["components"]["schemas"]["Bucket"];
    let declared: BTreeSet<&str> = schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    let answered: BTreeSet<&str> = bucket.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(answered.difference(&declared).collect::<Vec<_>>(), Vec::<&&str>::new(), "undeclared fields");
    for required in schema["required"].as_array().unwrap() {
        assert!(answered.contains(required.as_str().unwrap()), "{required} is required but missing");
    }
}

#[tokio::test]
async fn the_api_reference_page_lists_every_operation_without_a_token() {
    let app = spawn_app().await;
    let document = document(&app.url).await;
    let page = reqwest::get(format!("{}/api-reference", app.url)).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(html.contains(&format!("id=\"{id}\"")), "{id} ({path}) is not on the page");
        }
    }
    assert!(html.contains("id=\"schema-Token\""));
}
