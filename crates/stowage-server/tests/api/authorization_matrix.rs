//! Every route × every token kind that exists, allowed or denied. Fails when a route of the
//! router has no case here, so a new route cannot ship without its authorization rule.

use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Payload, TestApp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Admin,
    Share,
    Guest,
    ReadOnly,
    NoToken,
    Invalid,
    Manage,
}

use Kind::*;

const ALL_KINDS: &[Kind] = &[Admin, Share, Guest, ReadOnly, NoToken, Invalid, Manage];
const MASTERS: &[Kind] = &[Admin, Share, Guest, ReadOnly];
const WRITERS: &[Kind] = &[Admin, Share, Guest];
const TOKEN_MANAGERS: &[Kind] = &[Admin, Share];
const PUBLIC: &[Kind] = ALL_KINDS;
const MANAGE: &[Kind] = &[Manage];

/// One request: route as registered, concrete path template, body, and who may call it.
struct Case {
    method: Method,
    route: &'static str,
    path: &'static str,
    body: Option<Value>,
    allowed: &'static [Kind],
}

fn case(method: Method, route: &'static str, path: &'static str, allowed: &'static [Kind]) -> Case {
    Case { method, route, path, body: None, allowed }
}

fn with_body(mut c: Case, body: Value) -> Case {
    c.body = Some(body);
    c
}

fn cases() -> Vec<Case> {
    use Method as M;
    vec![
        case(M::GET, "/v2/storage", "/v2/storage", PUBLIC),
        case(M::GET, "/v2/storage/tokens/verify", "/v2/storage/tokens/verify", MASTERS),
        case(M::GET, "/v2/storage/tokens/{id}/events", "/v2/storage/tokens/{self}/events", MASTERS),
        case(M::GET, "/v2/storage/tokens/{id}/events", "/v2/storage/tokens/{admin}/events", TOKEN_MANAGERS),
        case(M::GET, "/v2/storage/buckets", "/v2/storage/buckets", MASTERS),
        with_body(case(M::POST, "/v2/storage/buckets", "/v2/storage/buckets", WRITERS), json!({"name": "{unique}"})),
        case(M::GET, "/v2/storage/buckets/{id}", "/v2/storage/buckets/{bucket}", MASTERS),
        with_body(
            case(M::PUT, "/v2/storage/buckets/{id}", "/v2/storage/buckets/{bucket}", WRITERS),
            json!({"description": "changed"}),
        ),
        case(M::DELETE, "/v2/storage/buckets/{id}", "/v2/storage/buckets/{bucket}", WRITERS),
        case(M::DELETE, "/v2/storage/buckets/{id}", "/v2/storage/buckets/{bucket}?async=1", WRITERS),
        case(M::GET, "/v2/storage/buckets/{id}/events", "/v2/storage/buckets/{bucket}/events", MASTERS),
        case(M::GET, "/v2/storage/events", "/v2/storage/events", MASTERS),
        with_body(
            case(M::POST, "/v2/storage/events", "/v2/storage/events", MASTERS),
            json!({"component": "c", "message": "m"}),
        ),
        case(M::GET, "/v2/storage/events/{id}", "/v2/storage/events/{event}", MASTERS),
        case(M::GET, "/v2/storage/dev-branches", "/v2/storage/dev-branches", MASTERS),
        case(M::GET, "/v2/storage/dev-branches/{id}", "/v2/storage/dev-branches/default", MASTERS),
        case(M::GET, "/v2/storage/metadata", "/v2/storage/branch/default/metadata", MASTERS),
        with_body(
            case(M::POST, "/v2/storage/metadata", "/v2/storage/branch/default/metadata", WRITERS),
            json!({"metadata": [{"key": "k", "value": "v"}]}),
        ),
        case(M::DELETE, "/v2/storage/metadata/{id}", "/v2/storage/branch/default/metadata/{metadata}", WRITERS),
        case(M::GET, "/v2/storage/jobs", "/v2/storage/jobs", MASTERS),
        case(M::GET, "/v2/storage/jobs/{id}", "/v2/storage/jobs/{job}", MASTERS),
        case(M::GET, "/manage/projects", "/manage/projects", MANAGE),
        with_body(case(M::POST, "/manage/projects", "/manage/projects", MANAGE), json!({"name": "p"})),
        case(M::GET, "/manage/projects/{id}", "/manage/projects/{project}", MANAGE),
        case(M::DELETE, "/manage/projects/{id}", "/manage/projects/{project}", MANAGE),
        case(M::GET, "/manage/projects/{id}/users", "/manage/projects/{project}/users", MANAGE),
        with_body(
            case(M::POST, "/manage/projects/{id}/users", "/manage/projects/{project}/users", MANAGE),
            json!({"email": "{unique}@example.com", "role": "guest"}),
        ),
        case(M::DELETE, "/manage/projects/{id}/users/{email}", "/manage/projects/{project}/users/{member}", MANAGE),
    ]
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Fills a template with fresh resources made by the admin or the manage token.
async fn materialize(app: &TestApp, template: &str, caller: &str) -> String {
    let mut out = template.to_string();
    let unique = format!("m{}", COUNTER.fetch_add(1, Ordering::Relaxed));
    if out.contains("{bucket}") {
        out = out.replace("{bucket}", &app.create_bucket(&unique).await);
    }
    if out.contains("{self}") {
        let id = if caller.contains('-') { TestApp::token_id(caller) } else { TestApp::token_id(&app.admin) };
        out = out.replace("{self}", &id);
    }
    out = out.replace("{admin}", &TestApp::token_id(&app.admin));
    if out.contains("{event}") {
        let created = app.post("/v2/storage/events", &app.admin, json!({"component": "c", "message": "m"})).await;
        out = out.replace("{event}", created.expect(201).body["id"].as_str().unwrap());
    }
    if out.contains("{metadata}") {
        let body = json!({"metadata": [{"key": unique, "value": "v"}]});
        let all = app.post("/v2/storage/branch/default/metadata", &app.admin, body).await.expect(201).body;
        let entry = all.as_array().unwrap().iter().find(|e| e["key"] == json!(unique)).unwrap().clone();
        out = out.replace("{metadata}", entry["id"].as_str().unwrap());
    }
    if out.contains("{job}") {
        let bucket = app.create_bucket(&format!("{unique}j")).await;
        let job = app.delete(&format!("/v2/storage/buckets/{bucket}?async=1"), &app.admin).await.expect(202);
        out = out.replace("{job}", &job.body["id"].to_string());
    }
    if out.contains("{project}") {
        let project = app.post("/manage/projects", &app.manage, json!({"name": unique})).await.expect(201).body;
        let id = project["id"].as_i64().unwrap();
        if out.contains("{member}") {
            let email = format!("{unique}@example.com");
            app.member_token_in(id, &email, "guest").await;
            out = out.replace("{member}", &email);
        }
        out = out.replace("{project}", &id.to_string());
    }
    out.replace("{unique}", &unique)
}

#[tokio::test]
async fn every_route_allows_and_denies_each_token_kind_as_the_spec_says() {
    let app = spawn_app().await;
    let secrets = [
        (Admin, app.admin.clone()),
        (Share, app.member_token("share@example.com", "share").await),
        (Guest, app.member_token("guest@example.com", "guest").await),
        (ReadOnly, app.member_token("readonly@example.com", "readOnly").await),
        (Invalid, format!("{}-999999-stowNotAValidSecretAtAll", app.project_id)),
        (Manage, app.manage.clone()),
    ];
    let mut failures = Vec::new();
    for c in cases() {
        for kind in ALL_KINDS {
            let secret = secrets.iter().find(|(k, _)| k == kind).map(|(_, s)| s.clone());
            let is_manage_route = c.route.starts_with("/manage");
            // The manage token is sent where the route expects a token; storage secrets likewise.
            let token = match (kind, is_manage_route) {
                (NoToken, _) => None,
                (Manage, false) => Some(app.manage.clone()),
                (_, true) if *kind != Manage => secret.clone(),
                _ => secret.clone(),
            };
            let path = materialize(&app, c.path, token.as_deref().unwrap_or("")).await;
            let payload = match &c.body {
                Some(body) => {
                    Payload::Json(serde_json::from_str(&materialize(&app, &body.to_string(), "").await).unwrap())
                }
                None => Payload::None,
            };
            let reply = app.call(c.method.clone(), &path, token.as_deref(), payload).await;
            let status = reply.status.as_u16();
            let allowed = c.allowed.contains(kind);
            let expected_denial = match kind {
                NoToken | Invalid | Manage => 401,
                _ if is_manage_route => 401,
                _ => 403,
            };
            let ok = if allowed { status < 500 && status != 401 && status != 403 } else { status == expected_denial };
            if !ok {
                failures.push(format!("{} {path} as {kind:?}: got {status}, {}", c.method, reply.text));
            }
        }
    }
    assert!(failures.is_empty(), "authorization mismatches:\n{}", failures.join("\n"));
}

#[test]
fn every_registered_route_has_a_case_in_the_matrix() {
    let cases = cases();
    let missing: Vec<_> = stowage_http::route_table()
        .into_iter()
        .filter(|(method, path)| !cases.iter().any(|c| c.method == *method && c.route == path))
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(missing.is_empty(), "routes without an authorization case: {missing:?}");
    for (method, path) in stowage_http::PUBLIC {
        let public = cases.iter().find(|c| c.method.as_str() == *method && c.route == *path).expect("public route");
        assert!(public.allowed.contains(&NoToken));
    }
}
