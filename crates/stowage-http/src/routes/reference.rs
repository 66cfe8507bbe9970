//! `GET /openapi.json` (the API contract, generated from the route table; see `crate::openapi`) and
//! `GET /api-reference`, the same document rendered as a page for people, served by the stack
//! itself (no CDN, no script). Public: they describe the API and hold no data.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::Json;
use maud::{html, Markup};
use serde_json::Value;

use crate::openapi::Op;
use crate::routes::html::{render, url};
use crate::{AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/openapi.json", document, Op::ok::<Value>("This API's OpenAPI 3.1 document")).add(
        Method::GET,
        "/api-reference",
        reference,
        Op::html("This API's reference, as a page"),
    )
}

/// The document, built once per process (the route table does not change while it runs).
fn built() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(crate::api_document)
}

/// The document with this stack's URL as its server.
fn served(state: &AppState) -> Value {
    let mut document = built().clone();
    document["servers"] = serde_json::json!([{ "url": state.core.stack.public_url }]);
    document
}

async fn document(State(state): State<AppState>) -> Json<Value> {
    Json(served(&state))
}

async fn reference(State(state): State<AppState>) -> Response {
    let document = served(&state);
    render(StatusCode::OK, "API reference", page(&document))
}

/// The name a `$ref` points to.
fn ref_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.strip_prefix("#/components/schemas/")
}

/// A schema in a few words, with links to named schemas.
fn type_of(schema: &Value) -> Markup {
    if let Some(name) = ref_name(schema) {
        return html! { a href=(format!("#schema-{name}")) { (name) } };
    }
    if let Some(items) = schema.get("items") {
        return html! { "array of " (type_of(items)) };
    }
    if let Some(options) = schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array) {
        return html! {
            @for (i, option) in options.iter().enumerate() {
                @if i > 0 { " or " }
                (type_of(option))
            }
        };
    }
    match schema.get("type") {
        Some(Value::String(kind)) => html! { (kind) },
        Some(Value::Array(kinds)) => {
            let kinds: Vec<&str> = kinds.iter().filter_map(Value::as_str).collect();
            html! { (kinds.join(" or ")) }
        }
        _ if schema.get("additionalProperties").is_some() => html! { "object" },
        _ => html! { "any JSON" },
    }
}

fn page(document: &Value) -> Markup {
    let empty = serde_json::Map::new();
    let paths = document["paths"].as_object().unwrap_or(&empty);
    let schemas = document["components"]["schemas"].as_object().unwrap_or(&empty);
    let tags = document["tags"].as_array().cloned().unwrap_or_default();
    let operations = |tag: &str| {
        let mut found = Vec::new();
        for (path, item) in paths {
            for (method, operation) in item.as_object().into_iter().flatten() {
                if operation["tags"].as_array().is_some_and(|tags| tags.iter().any(|t| t == tag)) {
                    found.push((method.to_uppercase(), path.clone(), operation));
                }
            }
        }
        found
    };
    html! {
        p {
            (document["info"]["description"].as_str().unwrap_or(""))
        }
        p {
            "The machine-readable document: " a href="/openapi.json" { "/openapi.json" }
            " (OpenAPI " (document["openapi"].as_str().unwrap_or("")) "). Tokens go in the "
            code { "X-StorageApi-Token" } " header (the Manage API's in " code { "X-KBC-ManageApiToken" } ")."
        }
        nav aria-label="API sections" {
            ul {
                @for tag in &tags {
                    @let name = tag["name"].as_str().unwrap_or("");
                    li { a href=(format!("#tag-{}", url(name))) { (name) } }
                }
                li { a href="#schemas" { "Schemas" } }
            }
        }
        @for tag in &tags {
            @let name = tag["name"].as_str().unwrap_or("");
            section id=(format!("tag-{}", url(name))) {
                h2 { (name) }
                p { (tag["description"].as_str().unwrap_or("")) }
                @for (method, path, operation) in operations(name) {
                    (operation_block(&method, &path, operation))
                }
            }
        }
        section id="schemas" {
            h2 { "Schemas" }
            @for (name, schema) in schemas {
                (schema_block(name, schema))
            }
        }
    }
}

fn operation_block(method: &str, path: &str, operation: &Value) -> Markup {
    let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
    let responses = operation["responses"].as_object().cloned().unwrap_or_default();
    let body = operation["requestBody"]["content"].as_object().and_then(|content| content.values().next().cloned());
    html! {
        article.operation id=(operation["operationId"].as_str().unwrap_or("")) {
            h3 { code { (method) " " (path) } }
            p { (operation["summary"].as_str().unwrap_or("")) }
            @if !parameters.is_empty() {
                table {
                    caption { "Parameters" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "In" } th scope="col" { "Type" } th scope="col" { "Required" } } }
                    tbody {
                        @for parameter in &parameters {
                            tr {
                                td { code { (parameter["name"].as_str().unwrap_or("")) } }
                                td { (parameter["in"].as_str().unwrap_or("")) }
                                td { (type_of(&parameter["schema"])) }
                                td { @if parameter["required"] == true { "yes" } @else { "no" } }
                            }
                        }
                    }
                }
            }
            @if let Some(body) = body {
                p { "Body: " (type_of(&body["schema"])) }
            }
            ul {
                @for (status, response) in &responses {
                    li {
                        strong { (status) } " "
                        (response["description"].as_str().unwrap_or(""))
                        @for (content_type, content) in response["content"].as_object().into_iter().flatten() {
                            " " code { (content_type) } ": " (type_of(&content["schema"]))
                        }
                    }
                }
            }
        }
    }
}

fn schema_block(name: &str, schema: &Value) -> Markup {
    let empty = serde_json::Map::new();
    let properties = schema["properties"].as_object().unwrap_or(&empty);
    let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    html! {
        article.schema id=(format!("schema-{name}")) {
            h3 { (name) }
            @if let Some(description) = schema["description"].as_str() { p { (description) } }
            @if properties.is_empty() {
                p { (type_of(schema)) }
            } @else {
                table {
                    caption { (name) " fields" }
                    thead { tr { th scope="col" { "Field" } th scope="col" { "Type" } th scope="col" { "Always there" } th scope="col" { "About" } } }
                    tbody {
                        @for (field, property) in properties {
                            tr {
                                td { code { (field) } }
                                td { (type_of(property)) }
                                td { @if required.contains(&field.as_str()) { "yes" } @else { "no" } }
                                td { (property["description"].as_str().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}
