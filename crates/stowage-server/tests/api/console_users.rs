//! Users & Settings in the console: members added and removed by a project admin, one-time links
//! to set a password, and changing one's own password.

use crate::console::{signed_in_admin, Browser};
use crate::helpers::{mail_text, share_link, spawn_app, TestApp};

/// Signs a person in with email and password; the status of the sign-in.
async fn sign_in(app: &TestApp, email: &str, password: &str) -> (u16, Browser) {
    let mut browser = Browser::new(app);
    let (_, _, page) = browser.get("/console").await;
    let csrf = Browser::csrf(&page);
    let (status, ..) =
        browser.post("/console/sign-in", &[("email", email), ("password", password), ("csrf", csrf.as_str())]).await;
    (status, browser)
}

/// Sets a password through the link in a mail; the status and page.
async fn set_through(app: &TestApp, link: &str, password: &str, repeat: &str) -> (u16, String) {
    let response = app.client.post(link).form(&[("password", password), ("repeat", repeat)]).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn an_admin_adds_a_member_who_sets_a_password_through_the_mailed_link_and_signs_in() {
    let app = spawn_app().await;
    let mut admin = signed_in_admin(&app).await;
    let users = format!("/console/projects/{}/users", app.project_id);
    let (status, _, page) = admin.get(&users).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("admin@localhost <span class=\"muted\">(you)</span>") && page.contains(">Add member</button>")
    );
    let csrf = Browser::csrf(&page);
    let (status, _, page, _) =
        admin.post(&users, &[("email", "Ann@Example.com"), ("role", "guest"), ("csrf", csrf.as_str())]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Added ann@example.com as guest. A one-time link to set a password for ann@example.com was written to outbox/"), "{page}");
    let members = app
        .client
        .get(format!("{}/manage/projects/{}/users", app.url, app.project_id))
        .header("X-KBC-ManageApiToken", &app.manage)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(members.contains("ann@example.com") && members.contains("guest"), "{members}");

    let mails = app.outbox();
    assert_eq!(mails.len(), 1);
    assert!(mail_text(&mails[0]).contains("To: ann@example.com"));
    let link = share_link(&mails[0]);
    assert!(link.starts_with(&format!("{}/console/password/", app.url)), "{link}");
    for _ in 0..2 {
        let opened = app.client.get(&link).send().await.unwrap();
        assert_eq!(opened.status(), 200, "opening the link does not use it up");
        assert!(opened
            .text()
            .await
            .unwrap()
            .contains("Choose the console password for <strong>ann@example.com</strong>"));
    }
    let (status, page) = set_through(&app, &link, "short", "short").await;
    assert_eq!(status, 400);
    assert!(page.contains("The password is too short: use at least 12 characters."), "{page}");
    let (status, page) = set_through(&app, &link, "a long password 1", "a long password 2").await;
    assert_eq!((status, page.contains("The two new passwords differ.")), (400, true), "{page}");
    let (status, page) = set_through(&app, &link, "a long password 1", "a long password 1").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Your password is set."));
    let (status, _) = set_through(&app, &link, "another long one", "another long one").await;
    assert_eq!(status, 410, "a link works once");
    assert_eq!(app.client.get(&link).send().await.unwrap().status(), 410);

    let (status, mut ann) = sign_in(&app, "ann@example.com", "a long password 1").await;
    assert_eq!(status, 303);
    let (status, _, page) = ann.get(&users).await;
    assert_eq!(status, 200);
    assert!(page.contains("ann@example.com <span class=\"muted\">(you)</span>"), "{page}");
    assert!(!page.contains(">Add member</button>") && !page.contains(">Remove</button>"), "a guest manages no one");
    let csrf = Browser::csrf(&page);
    let (status, _, page, _) =
        ann.post(&users, &[("email", "bob@example.com"), ("role", "admin"), ("csrf", csrf.as_str())]).await;
    assert_eq!(status, 400);
    assert!(page.contains("Only the project's admins manage its members; your role is &quot;guest&quot;."), "{page}");
}

#[tokio::test]
async fn an_admin_removes_a_member_whose_master_token_stops_working_but_not_themself() {
    let app = spawn_app().await;
    let secret = app.member_token("carl@example.com", "admin").await;
    app.get("/v2/storage/tokens/verify", &secret).await.expect(200);
    let mut admin = signed_in_admin(&app).await;
    let users = format!("/console/projects/{}/users", app.project_id);
    let (_, _, page) = admin.get(&users).await;
    assert!(page.contains("data-confirm=\"Remove carl@example.com from the project? Their master token is deleted.\""));
    let csrf = Browser::csrf(&page);
    let (status, _, page, _) =
        admin.post(&format!("{users}/remove"), &[("email", "carl@example.com"), ("csrf", csrf.as_str())]).await;
    assert_eq!(status, 200);
    assert!(page.contains("Removed carl@example.com; their master token is deleted."), "{page}");
    app.get("/v2/storage/tokens/verify", &secret).await.expect(401);
    let (status, _, page, _) =
        admin.post(&format!("{users}/remove"), &[("email", "admin@localhost"), ("csrf", csrf.as_str())]).await;
    assert_eq!(status, 400);
    assert!(page.contains("You cannot remove yourself from the project here."), "{page}");
    let (status, ..) =
        admin.post(&format!("{users}/remove"), &[("email", "carl@example.com"), ("csrf", "forged")]).await;
    assert_eq!(status, 400, "a form without the session's CSRF value changes nothing");
}

#[tokio::test]
async fn a_person_changes_their_password_which_ends_their_sessions() {
    let app = spawn_app().await;
    let mut admin = signed_in_admin(&app).await;
    let users = format!("/console/projects/{}/users", app.project_id);
    let (_, _, page) = admin.get(&users).await;
    let csrf = Browser::csrf(&page);
    let change = format!("{users}/password");
    let form = |current: &'static str, new: &'static str, repeat: &'static str| {
        [("current", current), ("password", new), ("repeat", repeat)]
    };
    let wrong = form("not it at all", "a brand new password", "a brand new password");
    let (status, _, page, _) = admin.post(&change, &[&wrong[..], &[("csrf", csrf.as_str())]].concat()).await;
    assert_eq!(status, 400);
    assert!(page.contains("The current password is not right."), "{page}");
    let password = app.admin_password.clone();
    let (status, _, page, _) = admin
        .post(
            &change,
            &[
                ("current", password.as_str()),
                ("password", "a brand new password"),
                ("repeat", "another one"),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!((status, page.contains("The two new passwords differ.")), (400, true));
    let (status, location, ..) = admin
        .post(
            &change,
            &[
                ("current", password.as_str()),
                ("password", "a brand new password"),
                ("repeat", "a brand new password"),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!((status, location.as_str()), (303, "/console"));
    let (status, location, _) = admin.get(&users).await;
    assert_eq!((status, location.as_str()), (303, "/console"), "the session opened with the old password ended");
    assert_eq!(sign_in(&app, "admin@localhost", &password).await.0, 401);
    assert_eq!(sign_in(&app, "admin@localhost", "a brand new password").await.0, 303);
}

#[tokio::test]
async fn a_session_opened_with_a_token_sees_no_members_and_no_password_form() {
    let app = spawn_app().await;
    let (secret, _) = app.create_token(serde_json::json!({"description": "partner"})).await;
    let mut browser = Browser::new(&app);
    let (_, _, page) = browser.get("/console").await;
    let csrf = Browser::csrf(&page);
    browser.post("/console/sign-in-token", &[("token", secret.as_str()), ("csrf", csrf.as_str())]).await;
    let (status, _, page) = browser.get(&format!("/console/projects/{}/users", app.project_id)).await;
    assert_eq!(status, 200);
    assert!(page.contains("a pasted token has no user") && !page.contains("id=\"members\""), "{page}");
    assert!(!page.contains("Change password"));
}
