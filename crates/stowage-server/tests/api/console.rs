//! The console's sign-in, sessions and first pages, over HTTP as a browser sends them.

use reqwest::redirect::Policy;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// A browser-like client: no automatic redirects, cookies carried by hand.
pub(crate) struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

/// The user agent the test browser sends, which the events of what it does carry.
pub(crate) const BROWSER_AGENT: &str = "stowage-console-test/1";

impl Browser {
    pub(crate) fn new(app: &TestApp) -> Self {
        Browser::at(&app.url)
    }

    /// A browser for the stack at `base` (`http://127.0.0.1:port`).
    pub(crate) fn at(base: &str) -> Self {
        let client = reqwest::Client::builder().redirect(Policy::none()).user_agent(BROWSER_AGENT).build().unwrap();
        Browser { client, base: base.to_string(), cookies: vec![] }
    }

    fn keep(&mut self, response: &reqwest::Response) -> Vec<String> {
        let mut raw = Vec::new();
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap().to_string();
            let (pair, _) = text.split_once(';').unwrap_or((&text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_string(), value.to_string()));
            }
            raw.push(text);
        }
        raw
    }

    pub(crate) fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub(crate) async fn get(&mut self, path: &str) -> (u16, String, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&response);
        let status = response.status().as_u16();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
        (status, location, response.text().await.unwrap())
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String, String, Vec<String>) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        let raw = self.keep(&response);
        let status = response.status().as_u16();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
        (status, location, response.text().await.unwrap(), raw)
    }

    /// A POST of raw bytes, as the upload script sends them: (status, body).
    pub(crate) async fn post_bytes(&mut self, path: &str, csrf: &str, bytes: Vec<u8>) -> (u16, String) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .header("X-CSRF-Token", csrf)
            .header("Content-Type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// The CSRF value the upload form's script sends.
    pub(crate) fn upload_csrf(page: &str) -> String {
        let start = page.find("data-csrf=\"").unwrap() + "data-csrf=\"".len();
        page[start..].split('"').next().unwrap().to_string()
    }

    /// The CSRF value of the page's forms.
    pub(crate) fn csrf(page: &str) -> String {
        let start = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
        page[start..].split('"').next().unwrap().to_string()
    }
}

#[tokio::test]
async fn the_admin_signs_in_with_the_first_start_password_and_sees_their_projects() {
    let app = spawn_app().await;
    app.create_bucket("sales").await;
    let mut browser = Browser::new(&app);
    let (status, _, page) = browser.get("/console").await;
    assert_eq!(status, 200);
    let csrf = Browser::csrf(&page);
    let (status, location, _, cookies) = browser
        .post("/console/sign-in", &[("email", "admin@localhost"), ("password", &app.admin_password), ("csrf", &csrf)])
        .await;
    assert_eq!((status, location.as_str()), (303, "/console/projects"));
    let session = cookies.iter().find(|c| c.starts_with("stowage_session=")).unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(session.contains(flag), "{session}");
    }
    let (status, _, picker) = browser.get("/console/projects").await;
    assert_eq!(status, 200);
    assert!(picker.contains("Signed in as admin@localhost") && picker.contains("Main") && picker.contains("admin"));
    let (status, _, project) = browser.get(&format!("/console/projects/{}", app.project_id)).await;
    assert_eq!(status, 200);
    assert!(project.contains("in.c-sales"));
    // Every signed-in page's header leads to the API reference the stack serves.
    assert!(project.contains("href=\"/api-reference\""), "{project}");
}

#[tokio::test]
async fn a_wrong_password_or_unknown_email_is_refused_next_to_the_form() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    for (email, password) in [("admin@localhost", "not-the-password"), ("nobody@example.com", "whatever-password")] {
        let (_, _, page) = browser.get("/console").await;
        let csrf = Browser::csrf(&page);
        let (status, _, page, cookies) =
            browser.post("/console/sign-in", &[("email", email), ("password", password), ("csrf", &csrf)]).await;
        assert_eq!(status, 401);
        assert!(page.contains("class=\"error\" role=\"alert\">Wrong email or password."));
        assert!(!cookies.iter().any(|c| c.starts_with("stowage_session=")));
    }
    let (status, location, _) = browser.get("/console/projects").await;
    assert_eq!((status, location.as_str()), (303, "/console"));
}

#[tokio::test]
async fn a_form_without_the_right_csrf_value_changes_nothing() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    browser.get("/console").await;
    let (status, _, page, cookies) = browser
        .post(
            "/console/sign-in",
            &[("email", "admin@localhost"), ("password", &app.admin_password), ("csrf", "forged")],
        )
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("expired"));
    assert!(!cookies.iter().any(|c| c.starts_with("stowage_session=")));
    let mut fresh = Browser::new(&app);
    let (status, _, _, _) = fresh.post("/console/sign-in-token", &[("token", &app.admin), ("csrf", "x")]).await;
    assert_eq!(status, 400, "without the CSRF cookie the form is refused");
}

#[tokio::test]
async fn a_pasted_token_opens_only_its_project_and_what_it_can_read() {
    let app = spawn_app().await;
    let granted = app.create_bucket("granted").await;
    app.create_bucket("hidden").await;
    let (secret, _) =
        app.create_token(json!({"description": "partner", "bucketPermissions": {&granted: "read"}})).await;
    let mut browser = Browser::new(&app);
    let (_, _, page) = browser.get("/console").await;
    let csrf = Browser::csrf(&page);
    let (status, _, _, _) = browser.post("/console/sign-in-token", &[("token", &secret), ("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let (_, _, picker) = browser.get("/console/projects").await;
    assert!(picker.contains("Signed in with the token &quot;partner&quot;") && picker.contains("Main"));
    let (_, _, project) = browser.get(&format!("/console/projects/{}", app.project_id)).await;
    assert!(project.contains(&granted) && !project.contains("in.c-hidden"));
    let (status, _, _) = browser.get("/console/projects/999").await;
    assert_eq!(status, 403);
    let (_, _, page) = browser.get("/console").await;
    assert_eq!(page, "", "a signed-in visitor is sent on to the projects");
    let mut other = Browser::new(&app);
    let (_, _, page) = other.get("/console").await;
    let csrf = Browser::csrf(&page);
    let (status, _, page, _) = other.post("/console/sign-in-token", &[("token", "1-1-bogus"), ("csrf", &csrf)]).await;
    assert_eq!(status, 401);
    assert!(page.contains("This token is not valid."));
}

#[tokio::test]
async fn signing_out_needs_the_sessions_csrf_value_and_ends_the_session() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    let (_, _, page) = browser.get("/console").await;
    let csrf = Browser::csrf(&page);
    browser
        .post("/console/sign-in", &[("email", "admin@localhost"), ("password", &app.admin_password), ("csrf", &csrf)])
        .await;
    let (_, _, picker) = browser.get("/console/projects").await;
    let session_csrf = Browser::csrf(&picker);
    let (status, _, _, _) = browser.post("/console/sign-out", &[("csrf", "wrong")]).await;
    assert_eq!(status, 400);
    assert_eq!(browser.get("/console/projects").await.0, 200, "still signed in");
    let (status, location, _, _) = browser.post("/console/sign-out", &[("csrf", &session_csrf)]).await;
    assert_eq!((status, location.as_str()), (303, "/console"));
    assert_eq!(browser.get("/console/projects").await.0, 303);
}

#[tokio::test]
async fn the_manage_api_sets_console_passwords() {
    let app = spawn_app().await;
    app.member_token("ann@example.com", "guest").await;
    let path = "/manage/users/ann@example.com/password";
    app.put(path, &app.manage, json!({"password": "short"})).await.expect_error(400, "manage.users.validation");
    app.put("/manage/users/nobody@example.com/password", &app.manage, json!({"password": "long-enough-password"}))
        .await
        .expect_error(404, "manage.users.notFound");
    app.call(
        reqwest::Method::PUT,
        path,
        Some("wrong"),
        crate::helpers::Payload::Json(json!({"password": "long-enough-password"})),
    )
    .await
    .expect_error(401, "manage.tokenInvalid");
    app.put(path, &app.manage, json!({"password": "ann-long-enough-password"})).await.expect(204);
    let mut browser = Browser::new(&app);
    let (_, _, page) = browser.get("/console").await;
    let csrf = Browser::csrf(&page);
    let (status, _, _, _) = browser
        .post(
            "/console/sign-in",
            &[("email", "ann@example.com"), ("password", "ann-long-enough-password"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, 303);
    let (_, _, picker) = browser.get("/console/projects").await;
    assert!(picker.contains("guest"));
}

pub(crate) async fn signed_in_admin(app: &TestApp) -> Browser {
    let mut browser = Browser::new(app);
    let (_, _, page) = browser.get("/console").await;
    let csrf = Browser::csrf(&page);
    let (status, _, _, _) = browser
        .post("/console/sign-in", &[("email", "admin@localhost"), ("password", &app.admin_password), ("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    browser
}

#[tokio::test]
async fn the_tokens_page_creates_a_limited_token_and_shows_its_secret_once() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("sales").await;
    let mut browser = signed_in_admin(&app).await;
    let tokens = format!("/console/projects/{}/tokens", app.project_id);
    let (status, _, page) = browser.get(&tokens).await;
    assert_eq!(status, 200);
    assert!(page.contains("admin@localhost") && page.contains("master (admin)"));
    let csrf = Browser::csrf(&page);
    let field = format!("bucket:{bucket}");
    let form = [
        ("description", "partner"),
        (field.as_str(), "read"),
        ("component:keboola.wr-storage", "1"),
        ("expiresIn", "3600"),
        ("csrf", csrf.as_str()),
    ];
    let (status, _, created, _) = browser.post(&tokens, &form).await;
    assert_eq!(status, 200);
    let start = created.find("<code id=\"secret\">").unwrap() + "<code id=\"secret\">".len();
    let secret = created[start..].split('<').next().unwrap().to_string();
    assert!(created.contains("id=\"copy\""));
    let verify = app.get("/v2/storage/tokens/verify", &secret).await.expect(200).body;
    assert_eq!(verify["bucketPermissions"], json!({&bucket: "read"}));
    assert_eq!(verify["componentAccess"], json!(["keboola.wr-storage"]));
    assert!(verify["expires"].is_string());
    let (_, _, list) = browser.get(&tokens).await;
    assert!(list.contains("partner") && list.contains(&format!("read {bucket}")) && !list.contains(&secret));
    let bad = [("description", "x"), ("expiresIn", "soon"), ("csrf", csrf.as_str())];
    let (status, _, page, _) = browser.post(&tokens, &bad).await;
    assert_eq!(status, 400);
    assert!(page.contains("Expires in: give a number of seconds"));
}

#[tokio::test]
async fn a_token_is_refreshed_after_confirmation_sent_and_deleted_from_its_page() {
    let app = spawn_app().await;
    let (secret, body) = app.create_token(json!({"description": "partner"})).await;
    let id = body["id"].as_str().unwrap();
    let mut browser = signed_in_admin(&app).await;
    let base = format!("/console/projects/{}/tokens/{id}", app.project_id);
    let (status, _, detail) = browser.get(&base).await;
    assert_eq!(status, 200);
    assert!(detail.contains("storage.tokenCreated") && detail.contains("Send token") && detail.contains("Delete"));
    let (status, _, confirm) = browser.get(&format!("{base}/refresh")).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("stops working at once"));
    let csrf = Browser::csrf(&confirm);
    let (status, _, refreshed, _) = browser.post(&format!("{base}/refresh"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 200);
    assert!(refreshed.contains("shown only this once"));
    app.get("/v2/storage/tokens/verify", &secret).await.expect_error(401, "storage.tokenInvalid");
    let (status, _, sent, _) = browser
        .post(&format!("{base}/share"), &[("recipientEmail", "ann@example.com"), ("message", "hi"), ("csrf", &csrf)])
        .await;
    assert_eq!(status, 200);
    assert!(sent.contains("A one-time link for ann@example.com was written to outbox/"), "{sent}");
    assert_eq!(app.outbox().len(), 1);
    let (status, _, invalid, _) = browser
        .post(&format!("{base}/share"), &[("recipientEmail", "not-an-email"), ("message", "hi"), ("csrf", &csrf)])
        .await;
    assert_eq!(status, 400);
    assert!(invalid.contains("class=\"error\""));
    let (status, location, _, _) = browser.post(&format!("{base}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!((status, location), (303, format!("/console/projects/{}/tokens", app.project_id)));
    app.get(&format!("/v2/storage/tokens/{id}"), &app.admin).await.expect_error(404, "storage.tokens.notFound");
}

#[tokio::test]
async fn editing_a_token_replaces_its_grants_and_unchecked_boxes_take_permissions_away() {
    let app = spawn_app().await;
    let sales = app.create_bucket("sales").await;
    let stock = app.create_bucket("stock").await;
    let (secret, body) = app
        .create_token(json!({"description": "partner", "bucketPermissions": {&sales: "write"},
            "componentAccess": ["keboola.wr-storage"], "canReadAllFileUploads": true}))
        .await;
    let id = body["id"].as_str().unwrap();
    let mut browser = signed_in_admin(&app).await;
    let base = format!("/console/projects/{}/tokens/{id}", app.project_id);
    let (_, _, detail) = browser.get(&base).await;
    assert!(detail.contains("<option value=\"write\" selected>"), "the form starts from the current grants");
    assert!(detail.contains("value=\"partner\""));
    let csrf = Browser::csrf(&detail);
    let stock_field = format!("bucket:{stock}");
    let sales_field = format!("bucket:{sales}");
    let form = [
        ("description", "partner, read only"),
        (sales_field.as_str(), ""),
        (stock_field.as_str(), "read"),
        ("csrf", csrf.as_str()),
    ];
    let (status, _, saved, _) = browser.post(&format!("{base}/edit"), &form).await;
    assert_eq!(status, 200);
    assert!(saved.contains("Saved."));
    let verify = app.get("/v2/storage/tokens/verify", &secret).await.expect(200).body;
    assert_eq!(verify["description"], "partner, read only");
    assert_eq!(verify["bucketPermissions"], json!({&stock: "read"}));
    assert!(verify.get("componentAccess").is_none(), "no component access is left: {verify}");
    assert_eq!(verify["canReadAllFileUploads"], false);
    let unknown = [("description", "x"), ("bucket:in.c-nope", "read"), ("csrf", csrf.as_str())];
    let (status, _, refused, _) = browser.post(&format!("{base}/edit"), &unknown).await;
    assert_eq!(status, 400);
    assert!(refused.contains("class=\"error\"") && refused.contains("in.c-nope"));
    let after = app.get("/v2/storage/tokens/verify", &secret).await.expect(200).body;
    assert_eq!(after["description"], "partner, read only", "a refused edit changes nothing");
}

#[tokio::test]
async fn a_master_token_page_offers_no_edit_delete_or_send_controls() {
    let app = spawn_app().await;
    let mut browser = signed_in_admin(&app).await;
    let admin_id = TestApp::token_id(&app.admin);
    let (status, _, page) = browser.get(&format!("/console/projects/{}/tokens/{admin_id}", app.project_id)).await;
    assert_eq!(status, 200);
    assert!(page.contains("This is a master token"));
    assert!(!page.contains("Send token") && !page.contains("/delete") && !page.contains("Refresh"));
}

#[tokio::test]
async fn the_storage_pages_list_a_buckets_tables_and_preview_a_table_with_values_escaped() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("sales").await;
    app.create_table(&bucket, "orders", "id,note\n1,<script>alert(1)</script>\n2,plain\n", &["id"]).await;
    let mut browser = signed_in_admin(&app).await;
    let (_, _, project) = browser.get(&format!("/console/projects/{}", app.project_id)).await;
    assert!(project.contains(&format!("/console/projects/{}/buckets/{bucket}", app.project_id)));
    assert!(project.contains(&format!("<h1>Main (project {})</h1>", app.project_id)));
    let (status, _, listing) = browser.get(&format!("/console/projects/{}/buckets/{bucket}", app.project_id)).await;
    assert_eq!(status, 200);
    assert!(listing.contains(&format!("/tables/{bucket}.orders\">orders</a>")));
    assert!(listing.contains("<td class=\"number\" data-label=\"Rows\">2</td>"));
    let (status, _, table) = browser.get(&format!("/console/projects/{}/tables/{bucket}.orders", app.project_id)).await;
    assert_eq!(status, 200);
    assert!(table.contains("<th>Primary key</th><td>id</td>"));
    let path = format!("/console/projects/{}/tables/{bucket}.orders?tab=data", app.project_id);
    let (status, _, table) = browser.get(&path).await;
    assert_eq!(status, 200);
    assert!(table.contains("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>") && !table.contains("<script>alert"));
    assert!(table.contains("<td>plain</td>"));
    let (status, _, missing) = browser.get(&format!("/console/projects/{}/tables/{bucket}.nope", app.project_id)).await;
    assert_eq!(status, 404);
    assert!(missing.contains("class=\"error\""));
}

#[tokio::test]
async fn a_pasted_token_cannot_browse_a_bucket_it_was_not_granted() {
    let app = spawn_app().await;
    let granted = app.create_bucket("granted").await;
    let hidden = app.create_bucket("hidden").await;
    app.create_table(&hidden, "secret", "id\n1\n", &[]).await;
    let (secret, _) =
        app.create_token(json!({"description": "partner", "bucketPermissions": {&granted: "read"}})).await;
    let mut browser = Browser::new(&app);
    let (_, _, page) = browser.get("/console").await;
    let csrf = Browser::csrf(&page);
    browser.post("/console/sign-in-token", &[("token", &secret), ("csrf", &csrf)]).await;
    let (status, _, _) = browser.get(&format!("/console/projects/{}/buckets/{granted}", app.project_id)).await;
    assert_eq!(status, 200);
    let (status, _, refused) = browser.get(&format!("/console/projects/{}/buckets/{hidden}", app.project_id)).await;
    assert_eq!(status, 403);
    assert!(refused.contains("class=\"error\""));
    let (status, _, table) = browser.get(&format!("/console/projects/{}/tables/{hidden}.secret", app.project_id)).await;
    assert_eq!(status, 403);
    assert!(!table.contains("<td>1</td>"));
}

#[tokio::test]
async fn a_csv_uploaded_from_the_bucket_page_creates_a_table_and_later_uploads_add_or_replace_rows() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("uploads").await;
    let mut browser = signed_in_admin(&app).await;
    let bucket_page = format!("/console/projects/{}/buckets/{bucket}", app.project_id);
    let (_, _, page) = browser.get(&bucket_page).await;
    assert!(page.contains("<form id=\"upload\"") && page.contains("<progress id=\"upload-progress\""));
    let csrf = Browser::upload_csrf(&page);
    let upload = format!("{bucket_page}/upload");

    let (status, body) = browser
        .post_bytes(&format!("{upload}?name=orders&primaryKey=id"), &csrf, b"id,item\n1,a\n2,b\n".to_vec())
        .await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["location"], format!("/console/projects/{}/tables/{bucket}.orders", app.project_id));
    let table = app.get(&format!("/v2/storage/tables/{bucket}.orders"), &app.admin).await.expect(200).body;
    assert_eq!((table["rowsCount"].clone(), table["primaryKey"].clone()), (json!(2), json!(["id"])));

    let incremental = format!("{upload}?table={bucket}.orders&incremental=1");
    let (status, body) = browser.post_bytes(&incremental, &csrf, b"id,item\n2,B\n3,c\n".to_vec()).await;
    assert_eq!(status, 200, "{body}");
    let preview = app.get(&format!("/v2/storage/tables/{bucket}.orders/data-preview"), &app.admin).await.expect(200);
    assert_eq!(preview.text, "\"id\",\"item\"\n\"1\",\"a\"\n\"2\",\"B\"\n\"3\",\"c\"\n");

    let full = format!("{upload}?table={bucket}.orders&incremental=0");
    let (status, _) = browser.post_bytes(&full, &csrf, b"id,item\n9,z\n".to_vec()).await;
    assert_eq!(status, 200);
    let table = app.get(&format!("/v2/storage/tables/{bucket}.orders"), &app.admin).await.expect(200).body;
    assert_eq!(table["rowsCount"], 1);
}

#[tokio::test]
async fn a_bad_upload_is_refused_with_a_readable_message_and_leaves_the_table_as_it_was() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("uploads").await;
    app.create_table(&bucket, "orders", "id,item\n1,a\n", &["id"]).await;
    let mut browser = signed_in_admin(&app).await;
    let bucket_page = format!("/console/projects/{}/buckets/{bucket}", app.project_id);
    let (_, _, page) = browser.get(&bucket_page).await;
    let csrf = Browser::upload_csrf(&page);
    let upload = format!("{bucket_page}/upload");

    let into = format!("{upload}?table={bucket}.orders&incremental=0");
    let (status, body) = browser.post_bytes(&into, &csrf, b"id,item\n2,\"open\n".to_vec()).await;
    assert_eq!(status, 400, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(error["error"].as_str().unwrap().contains("line"), "{error}");
    let (status, body) = browser.post_bytes(&into, "not-the-csrf-value", b"id,item\n3,c\n".to_vec()).await;
    assert_eq!(status, 400);
    assert!(body.contains("The form expired"), "{body}");
    let (status, body) = browser.post_bytes(&format!("{upload}?name=bad%20name"), &csrf, b"id\n1\n".to_vec()).await;
    assert_eq!(status, 400);
    assert!(body.contains("Name: "), "{body}");
    let preview = app.get(&format!("/v2/storage/tables/{bucket}.orders/data-preview"), &app.admin).await.expect(200);
    assert_eq!(preview.text, "\"id\",\"item\"\n\"1\",\"a\"\n", "nothing changed");

    // A token that may only read the bucket gets no upload form and cannot upload.
    let (secret, _) = app.create_token(json!({"bucketPermissions": {&bucket: "read"}})).await;
    let mut reader = Browser::new(&app);
    let (_, _, page) = reader.get("/console").await;
    let sign_in_csrf = Browser::csrf(&page);
    reader.post("/console/sign-in-token", &[("token", &secret), ("csrf", &sign_in_csrf)]).await;
    let (_, _, page) = reader.get(&bucket_page).await;
    assert!(!page.contains("<form id=\"upload\""));
    let (_, _, page) = reader.get(&format!("/console/projects/{}", app.project_id)).await;
    let start = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    let session_csrf = page[start..].split('"').next().unwrap().to_string();
    let (status, _) = reader.post_bytes(&into, &session_csrf, b"id,item\n3,c\n".to_vec()).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn the_download_link_streams_the_whole_table_as_csv_with_a_header() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("sales").await;
    let rows: String = (1..=2500).map(|i| format!("{i},\"item, {i}\"\n")).collect();
    app.create_table(&bucket, "orders", &format!("id,item\n{rows}"), &["id"]).await;
    let mut browser = signed_in_admin(&app).await;
    let table_page = format!("/console/projects/{}/tables/{bucket}.orders", app.project_id);
    let (_, _, page) = browser.get(&table_page).await;
    assert!(page.contains(&format!("href=\"{table_page}/download\"")));
    let response = reqwest::Client::new()
        .get(format!("{}{table_page}/download", app.url))
        .header("Cookie", browser.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(response.headers()["content-disposition"], format!("attachment; filename=\"{bucket}.orders.csv\""));
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2501);
    assert_eq!(lines[0], "\"id\",\"item\"");
    assert!(lines.contains(&"\"2500\",\"item, 2500\""));
}

#[tokio::test]
async fn a_bucket_is_created_from_the_project_page_and_a_bad_name_is_explained_there() {
    let app = spawn_app().await;
    let mut browser = signed_in_admin(&app).await;
    let project = format!("/console/projects/{}", app.project_id);
    let (_, _, page) = browser.get(&project).await;
    assert!(page.contains("No buckets yet.") && page.contains(">Create bucket</button>"));
    let csrf = Browser::csrf(&page);
    let (status, _, page, _) =
        browser.post(&format!("{project}/buckets"), &[("name", "bad name"), ("stage", "in"), ("csrf", &csrf)]).await;
    assert_eq!(status, 400);
    assert!(page.contains("class=\"error\" role=\"alert\">"), "{page}");
    let (status, location, _, _) = browser
        .post(
            &format!("{project}/buckets"),
            &[("name", "results"), ("stage", "out"), ("description", "Final numbers"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!((status, location.as_str()), (303, format!("{project}/buckets/out.c-results").as_str()));
    let bucket = app.get("/v2/storage/buckets/out.c-results", &app.admin).await.expect(200).body;
    assert_eq!(bucket["description"], "Final numbers");
    // The event carries the person's address and browser, as an API call's event carries its caller's.
    let events = app.get("/v2/storage/buckets/out.c-results/events", &app.admin).await.expect(200).body;
    let created = events.as_array().unwrap().iter().find(|e| e["event"] == "storage.bucketCreated").unwrap();
    assert_eq!(created["context"]["remoteAddr"], "127.0.0.1", "{created}");
    assert_eq!(created["context"]["userAgent"], BROWSER_AGENT, "{created}");
    assert_eq!(app.get("/v2/storage/buckets", &app.admin).await.expect(200).body.as_array().unwrap().len(), 1);

    // A token that may not manage buckets is offered no form and refused.
    let (secret, _) = app.create_token(json!({"bucketPermissions": {"out.c-results": "read"}})).await;
    let mut reader = Browser::new(&app);
    let (_, _, page) = reader.get("/console").await;
    let sign_in = Browser::csrf(&page);
    reader.post("/console/sign-in-token", &[("token", &secret), ("csrf", &sign_in)]).await;
    let (_, _, page) = reader.get(&project).await;
    assert!(!page.contains(">Create bucket</button>"));
    let csrf = Browser::csrf(&page);
    let (status, _, page, _) = reader.post(&format!("{project}/buckets"), &[("name", "mine"), ("csrf", &csrf)]).await;
    assert_eq!(status, 403);
    assert!(page.contains("You don't have access to the resource."), "{page}");
    app.get("/v2/storage/buckets/in.c-mine", &app.admin).await.expect(404);
}

#[tokio::test]
async fn repeated_wrong_passwords_make_the_next_attempts_wait_even_with_the_right_password() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    let mut attempt = async |email: &str, password: &str| {
        let (_, _, page) = browser.get("/console").await;
        let csrf = Browser::csrf(&page);
        let (status, _, page, _) =
            browser.post("/console/sign-in", &[("email", email), ("password", password), ("csrf", &csrf)]).await;
        (status, page)
    };
    for _ in 0..5 {
        assert_eq!(attempt("admin@localhost", "a-wrong-password").await.0, 401);
    }
    let (status, page) = attempt("Admin@localhost", &app.admin_password).await;
    assert_eq!(status, 429, "the right password waits too, so guessing gains nothing");
    assert!(page.contains("role=\"alert\">Too many failed sign-ins for this email: try again in 1 second."), "{page}");
    // Another email is not held up.
    assert_eq!(attempt("nobody@example.com", "whatever-password").await.0, 401);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(attempt("admin@localhost", &app.admin_password).await.0, 303, "after the wait the right password works");
}

#[tokio::test]
async fn console_pages_are_never_cached_or_framed_by_another_site() {
    let app = spawn_app().await;
    for path in ["/console", &format!("/tokens/shared/{}", "0".repeat(64))] {
        let response = reqwest::get(format!("{}{path}", app.url)).await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("frame-ancestors 'none'") && policy.contains("form-action 'self'"), "{policy}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
}

#[tokio::test]
async fn the_stack_root_leads_to_the_console_and_an_unknown_console_page_is_a_page() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    let (status, location, _) = browser.get("/").await;
    assert_eq!((status, location.as_str()), (303, "/console"));
    let (status, _, page) = browser.get("/console/no/such/page").await;
    assert_eq!(status, 404);
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("Page not found"), "{page}");
    assert!(page.contains("href=\"/console/projects\""));
    let api = app.get("/v2/storage/no-such-thing", &app.admin).await;
    api.expect_error(404, "notFound");
}

#[tokio::test]
async fn pages_run_only_the_stacks_own_script_which_it_serves() {
    let app = spawn_app().await;
    app.create_bucket("b").await;
    let browser = signed_in_admin(&app).await;
    let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let script = client.get(format!("{}/console/static/console.js", app.url)).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(script.headers()["content-type"], "text/javascript; charset=utf-8");
    assert!(script.text().await.unwrap().contains("data-confirm"));
    let style = client.get(format!("{}/console/static/console.css", app.url)).send().await.unwrap();
    assert_eq!(style.headers()["content-type"], "text/css; charset=utf-8");
    assert!(style.text().await.unwrap().contains(".badge-success"));
    let bucket = format!("/console/projects/{}/buckets/in.c-b", app.project_id);
    let config = app
        .post("/v2/storage/components/keboola.wr-storage/configs", &app.admin, json!({"name": "w"}))
        .await
        .expect(201)
        .body;
    let writer = format!(
        "/console/projects/{}/components/keboola.wr-storage/{}",
        app.project_id,
        config["id"].as_str().unwrap()
    );
    // The sign-in page as a visitor, the others as the signed-in admin.
    let signed_in = browser.cookie_header();
    for (path, cookie) in
        [("/console", ""), ("/console/projects", &signed_in), (&bucket, &signed_in), (&writer, &signed_in)]
    {
        let response = client.get(format!("{}{path}", app.url)).header("cookie", cookie).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
        assert!(csp.contains("script-src 'self'") && !csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
        assert!(csp.contains("style-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        let page = response.text().await.unwrap();
        assert!(page.contains("<script src=\"/console/static/console.js\" defer></script>"), "{path}");
        assert_eq!(page.matches("<script").count(), 1, "{path}: no inline script");
        assert!(page.contains("<link rel=\"stylesheet\" href=\"/console/static/console.css\">"), "{path}");
        assert!(!page.contains("<style") && !page.contains(" style="), "{path}: no inline style");
        for handler in ["onclick=", "onsubmit=", "onchange=", "oninput="] {
            assert!(!page.contains(handler), "{path}: {handler}");
        }
    }
}

#[tokio::test]
async fn a_typed_tables_page_shows_each_columns_type() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("typed-page").await;
    let body = json!({"name": "orders", "primaryKeysNames": ["id"], "columns": [
        {"name": "id", "basetype": "INTEGER"},
        {"name": "amount", "basetype": "NUMERIC", "definition": {"length": "10,2"}},
    ]});
    let job = app.post(&format!("/v2/storage/buckets/{bucket}/tables-definition"), &app.admin, body).await.expect(202);
    assert_eq!(app.wait_job(job.body).await["status"], "success");
    let mut browser = signed_in_admin(&app).await;
    let (status, _, page) = browser.get(&format!("/console/projects/{}/tables/{bucket}.orders", app.project_id)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(
            "<th>Columns</th><td>id <span class=\"muted\">INTEGER not null</span>, \
             amount <span class=\"muted\">NUMERIC(10,2)</span></td>"
        ),
        "{page}"
    );
}

/// Waits until a component run has ended, through the queue API.
async fn wait_queue_job(app: &TestApp, id: &str) -> Value {
    for _ in 0..600 {
        let job = app.get(&format!("/queue/jobs/{id}"), &app.admin).await.expect(200).body;
        if ["success", "error", "terminated"].contains(&job["status"].as_str().unwrap_or("")) {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("component run {id} did not end");
}

#[tokio::test]
async fn the_jobs_page_lists_storage_jobs_and_component_runs_and_filters_them_by_status_and_component() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("activity").await;
    let created = app.create_table(&bucket, "orders", "id,v\n1,a\n", &["id"]).await;
    assert_eq!(created["status"], "success");
    let path = "/v2/storage/components/keboola.wr-storage/configs";
    let config = app.post(path, &app.admin, json!({"name": "nowhere"})).await.expect(201).body;
    let row = json!({"name": "orders", "configuration": {
        "storage": {"input": {"tables": [{"source": format!("{bucket}.orders"), "destination": "orders"}]}}}});
    app.post(&format!("{path}/{}/rows", config["id"].as_str().unwrap()), &app.admin, row).await.expect(201);
    let body = json!({"component": "keboola.wr-storage", "config": config["id"]});
    let run = app.post("/queue/jobs", &app.admin, body).await.expect(201).body;
    let run_id = run["id"].as_str().unwrap().to_string();
    let ended = wait_queue_job(&app, &run_id).await;
    assert_eq!(ended["status"], "error", "a writer without a target fails: {ended}");

    let mut browser = signed_in_admin(&app).await;
    let base = format!("/console/projects/{}", app.project_id);
    let (status, _, page) = browser.get(&format!("{base}/jobs")).await;
    assert_eq!(status, 200);
    let storage_job = format!("href=\"{base}/storage-jobs/{}\"", created["id"]);
    let component_run = format!("href=\"{base}/jobs/{run_id}\"");
    assert!(page.contains(&storage_job) && page.contains("tableCreate"), "{page}");
    assert!(page.contains(&component_run) && page.contains("Storage Writer"), "{page}");
    assert!(page.contains("class=\"badge badge-success\"") && page.contains("class=\"badge badge-error\""));
    assert!(page.find(&component_run) < page.find(&storage_job), "newest first");

    let (_, _, failed) = browser.get(&format!("{base}/jobs?status=error")).await;
    assert!(failed.contains(&component_run) && !failed.contains(&storage_job), "{failed}");
    let (_, _, storage) = browser.get(&format!("{base}/jobs?component=storage")).await;
    assert!(storage.contains(&storage_job) && !storage.contains(&component_run), "{storage}");
    let (_, _, none) = browser.get(&format!("{base}/jobs?status=processing&component=keboola.ex-storage")).await;
    assert!(none.contains("No jobs match the filter."), "{none}");
    let (status, _, _) = browser.get(&format!("{base}/jobs?offset=-1")).await;
    assert_eq!(status, 400, "a malformed offset is the client's mistake");
    let (status, _, far) = browser.get(&format!("{base}/jobs?offset=450")).await;
    assert_eq!(status, 200);
    assert!(far.contains("The console pages through the newest 500 jobs of each kind") && !far.contains("Older"));

    let (status, _, job) = browser.get(&format!("{base}/storage-jobs/{}", created["id"])).await;
    assert_eq!(status, 200);
    assert!(job.contains("tableCreate") && job.contains(&format!("{bucket}.orders")) && job.contains("badge-success"));
    let (status, _, missing) = browser.get(&format!("{base}/storage-jobs/999999")).await;
    assert_eq!(status, 404);
    assert!(missing.contains("Job 999999 not found"), "{missing}");
}

#[tokio::test]
async fn the_events_page_searches_the_projects_events_pages_through_them_and_explains_a_bad_search() {
    let app = spawn_app().await;
    for n in 0..3 {
        app.create_bucket(&format!("events-{n}")).await;
    }
    let mut browser = signed_in_admin(&app).await;
    let base = format!("/console/projects/{}/events", app.project_id);
    let (status, _, page) = browser.get(&base).await;
    assert_eq!(status, 200);
    assert!(page.contains("storage.bucketCreated") && page.contains("in.c-events-2"), "{page}");
    let (_, _, found) = browser.get(&format!("{base}?q=objectId%3Ain.c-events-1")).await;
    let listed = found.split("id=\"events\"").nth(1).expect("the events table");
    assert!(listed.contains("in.c-events-1") && !listed.contains("in.c-events-2"), "{found}");
    let (_, _, none) = browser.get(&format!("{base}?q=nothingLikeThis")).await;
    assert!(none.contains("No events match the search."), "{none}");
    let (status, _, bad) = browser.get(&format!("{base}?q=%28")).await;
    assert_eq!(status, 400);
    assert!(bad.contains("class=\"error\" role=\"alert\">Failed to parse query"), "{bad}");
    // Far past the last event: an empty page that leads back.
    let (status, _, past) = browser.get(&format!("{base}?offset=5000")).await;
    assert_eq!(status, 200);
    assert!(past.contains("offset=4950") && !past.contains("offset=5050"), "{past}");
}

#[tokio::test]
async fn every_signed_in_page_has_the_header_with_the_projects_sections_and_sign_out() {
    let app = spawn_app().await;
    app.create_bucket("nav").await;
    let mut browser = signed_in_admin(&app).await;
    let base = format!("/console/projects/{}", app.project_id);
    let pages = [
        (base.clone(), "Storage"),
        (format!("{base}/buckets/in.c-nav"), "Storage"),
        (format!("{base}/jobs"), "Jobs"),
        (format!("{base}/events"), "Events"),
        (format!("{base}/tokens"), "API Tokens"),
        (format!("{base}/components/keboola.wr-storage"), "Storage Writer"),
        (format!("{base}/components/keboola.ex-storage"), "Storage Extractor"),
    ];
    for (path, section) in pages {
        let (status, _, page) = browser.get(&path).await;
        assert_eq!(status, 200, "{path}");
        assert!(page.contains("<header class=\"top\">") && page.contains("Signed in as admin@localhost"), "{path}");
        assert!(page.contains("action=\"/console/sign-out\""), "{path}: sign-out on every page");
        assert!(page.contains(&format!("aria-current=\"page\">{section}</a>")), "{path}: {section} is current");
        for other in ["Jobs", "Events", "API Tokens", "Storage Writer"] {
            assert!(page.contains(&format!(">{other}</a>")), "{path}: links to {other}");
        }
    }
    let (_, _, picker) = browser.get("/console/projects").await;
    assert!(picker.contains("<header class=\"top\">") && !picker.contains("aria-current"), "no project, no sections");
}

#[tokio::test]
async fn a_bucket_page_shows_metadata_and_events_and_deletes_the_bucket_after_naming_what_goes() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("doomed").await;
    app.create_table(&bucket, "orders", "id,v\n1,a\n2,b\n3,c\n", &["id"]).await;
    let body = json!({"provider": "user", "metadata": [{"key": "owner", "value": "<ann>"}]});
    app.post(&format!("/v2/storage/buckets/{bucket}/metadata"), &app.admin, body).await.expect(201);
    let mut browser = signed_in_admin(&app).await;
    let here = format!("/console/projects/{}/buckets/{bucket}", app.project_id);
    let (status, _, page) = browser.get(&here).await;
    assert_eq!(status, 200);
    let metadata = page.split("id=\"metadata\"").nth(1).expect("a metadata table");
    assert!(metadata.contains("<td data-label=\"Value\">&lt;ann&gt;</td>"), "{page}");
    let events = page.split("id=\"events\"").nth(1).expect("an events table");
    assert!(events.contains("storage.bucketCreated") && events.contains("Created bucket in.c-doomed"), "{page}");

    let (status, _, confirm) = browser.get(&format!("{here}/delete")).await;
    assert_eq!(status, 200);
    assert!(confirm.contains(&format!("<li>{bucket}.orders (3 rows)</li>")), "{confirm}");
    app.get(&format!("/v2/storage/buckets/{bucket}"), &app.admin).await.expect(200);
    let csrf = Browser::csrf(&confirm);
    let (status, location, ..) = browser.post(&format!("{here}/delete"), &[("csrf", csrf.as_str())]).await;
    assert_eq!((status, location.as_str()), (303, format!("/console/projects/{}", app.project_id).as_str()));
    app.get(&format!("/v2/storage/buckets/{bucket}"), &app.admin).await.expect_error(404, "storage.buckets.notFound");
    let (status, ..) = browser.post(&format!("{here}/delete"), &[("csrf", "wrong")]).await;
    assert_eq!(status, 400, "a form without the session's CSRF value changes nothing");
}

#[tokio::test]
async fn a_token_that_may_only_write_a_bucket_is_not_offered_its_deletion() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("kept").await;
    let (secret, _) = app.create_token(json!({"description": "writer", "bucketPermissions": {&bucket: "write"}})).await;
    let mut browser = Browser::new(&app);
    let (_, _, page) = browser.get("/console").await;
    let csrf = Browser::csrf(&page);
    browser.post("/console/sign-in-token", &[("token", secret.as_str()), ("csrf", csrf.as_str())]).await;
    let here = format!("/console/projects/{}/buckets/{bucket}", app.project_id);
    let (status, _, page) = browser.get(&here).await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"upload\"") && !page.contains("/delete\""), "{page}");
    let (status, _, refused) = browser.get(&format!("{here}/delete")).await;
    assert_eq!(status, 403, "{refused}");
}

#[tokio::test]
async fn a_tables_page_filters_its_data_sample_changes_its_key_shows_events_and_deletes_it() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("tabs").await;
    app.create_table(&bucket, "cities", "id,city\n1,Prague\n2,Brno\n3,Prague\n", &[]).await;
    let mut browser = signed_in_admin(&app).await;
    let here = format!("/console/projects/{}/tables/{bucket}.cities", app.project_id);
    let (_, _, overview) = browser.get(&here).await;
    assert!(
        overview.contains("<th>Primary key</th><td>none</td>") && overview.contains("aria-current=\"page\">Overview")
    );
    let (status, _, data) = browser.get(&format!("{here}?tab=data&column=city&value=Prague")).await;
    assert_eq!(status, 200);
    let sample = data.split("id=\"preview\"").nth(1).unwrap();
    assert_eq!((sample.matches("<td>Prague</td>").count(), sample.contains("Brno")), (2, false), "{data}");
    assert!(data.contains("2 rows match."), "{data}");
    let (_, _, events) = browser.get(&format!("{here}?tab=events")).await;
    assert!(events.split("id=\"events\"").nth(1).unwrap().contains("storage.tableCreated"), "{events}");

    let csrf = Browser::csrf(&overview);
    let (status, location, ..) =
        browser.post(&format!("{here}/primary-key"), &[("columns", "id"), ("csrf", csrf.as_str())]).await;
    assert_eq!(status, 303);
    assert!(location.contains("/storage-jobs/"), "{location}");
    for _ in 0..100 {
        let table = app.get(&format!("/v2/storage/tables/{bucket}.cities"), &app.admin).await.expect(200).body;
        if table["primaryKey"] == json!(["id"]) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, _, job) = browser.get(&location).await;
    assert!(job.contains("badge-success") || job.contains("badge-processing"), "{job}");
    let (_, _, keyed) = browser.get(&here).await;
    assert!(keyed.contains("<th>Primary key</th><td>id</td>"), "{keyed}");

    let (status, _, confirm) = browser.get(&format!("{here}/delete")).await;
    assert_eq!(status, 200);
    assert!(confirm.contains(&format!("The table {bucket}.cities and its 3 rows are deleted.")), "{confirm}");
    let (status, location, ..) = browser.post(&format!("{here}/delete"), &[("csrf", csrf.as_str())]).await;
    assert_eq!((status, location), (303, format!("/console/projects/{}/buckets/{bucket}", app.project_id)));
    let gone = app.get(&format!("/v2/storage/tables/{bucket}.cities"), &app.admin).await;
    gone.expect_error(404, "storage.tables.notFound");
}

#[tokio::test]
async fn the_project_page_finds_buckets_by_their_id_or_a_tables_id_without_a_script() {
    let app = spawn_app().await;
    let alpha = app.create_bucket("alpha").await;
    app.create_bucket("beta").await;
    app.create_table(&alpha, "orders", "id\n1\n", &[]).await;
    let mut browser = signed_in_admin(&app).await;
    let project = format!("/console/projects/{}", app.project_id);
    for (q, kept, gone) in [("ORDERS", "in.c-alpha", "in.c-beta"), ("beta", "in.c-beta", "in.c-alpha")] {
        let (status, _, page) = browser.get(&format!("{project}?q={q}")).await;
        assert_eq!(status, 200);
        assert!(page.contains("1 of 2 buckets match."), "{page}");
        assert!(page.contains(&format!(">{kept}</a>")) && !page.contains(&format!(">{gone}</a>")), "{q}: {page}");
    }
}
