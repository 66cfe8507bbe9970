use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_new_stack_has_one_maintainer_and_one_organization_holding_project_main_and_its_admin() {
    let app = spawn_app().await;
    let maintainers = app.get("/manage/maintainers", &app.manage).await.expect(200).body;
    assert_eq!(maintainers.as_array().unwrap().len(), 1, "{maintainers}");
    let organizations = app.get("/manage/organizations", &app.manage).await.expect(200).body;
    let organizations = organizations.as_array().unwrap();
    assert_eq!(organizations.len(), 1);
    assert_eq!(organizations[0]["maintainer"]["id"], maintainers[0]["id"]);
    let id = organizations[0]["id"].as_i64().unwrap();
    let detail = app.get(&format!("/manage/organizations/{id}"), &app.manage).await.expect(200).body;
    assert_eq!(
        detail["projects"],
        json!([{"id": app.project_id, "name": "Main", "created": detail["projects"][0]["created"]}])
    );
    let project = app.get(&format!("/manage/projects/{}", app.project_id), &app.manage).await.expect(200).body;
    assert_eq!(project["organization"]["id"], id);
    let members = app.get(&format!("/manage/organizations/{id}/users"), &app.manage).await.expect(200).body;
    assert_eq!(members.as_array().unwrap().len(), 1, "the first admin is the organization's member: {members}");
    let verify = app.get("/v2/storage/tokens/verify", &app.admin).await.expect(200).body;
    assert_eq!(verify["organization"]["id"], id.to_string());
    assert_eq!(verify["admin"]["isOrganizationMember"], true);
}

#[tokio::test]
async fn organizations_are_made_under_a_maintainer_changed_and_deleted_only_when_they_hold_no_project() {
    let app = spawn_app().await;
    let maintainer = app.post("/manage/maintainers", &app.manage, json!({"name": "Partners"})).await.expect(201).body;
    let m = maintainer["id"].as_i64().unwrap();
    let renamed = app.patch(&format!("/manage/maintainers/{m}"), &app.manage, json!({"name": "Agency"})).await;
    assert_eq!(renamed.expect(200).body["name"], "Agency");
    let path = format!("/manage/maintainers/{m}/organizations");
    app.post(&path, &app.manage, json!({"name": " "})).await.expect_error(400, "manage.organizations.validation");
    let org = app.post(&path, &app.manage, json!({"name": "Acme", "crmId": "42"})).await.expect(201).body;
    assert_eq!(
        (org["name"].as_str(), org["crmId"].as_str(), org["projects"].clone()),
        (Some("Acme"), Some("42"), json!([]))
    );
    let o = org["id"].as_i64().unwrap();
    let listed = app.get(&path, &app.manage).await.expect(200).body;
    assert_eq!(listed.as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect::<Vec<_>>(), [o]);

    let changed = app
        .patch(&format!("/manage/organizations/{o}"), &app.manage, json!({"name": "Acme Inc", "allowAutoJoin": false}))
        .await
        .expect(200)
        .body;
    assert_eq!((changed["name"].as_str(), changed["allowAutoJoin"].as_bool()), (Some("Acme Inc"), Some(false)));
    let to_nowhere = json!({"maintainerId": 999});
    app.patch(&format!("/manage/organizations/{o}"), &app.manage, to_nowhere)
        .await
        .expect_error(400, "manage.organizations.validation");

    app.delete(&format!("/manage/maintainers/{m}"), &app.manage)
        .await
        .expect_error(400, "manage.maintainers.hasOrganizations");
    let project = app.post(&format!("/manage/organizations/{o}/projects"), &app.manage, json!({"name": "Sales"})).await;
    let project = project.expect(201).body["id"].as_i64().unwrap();
    app.delete(&format!("/manage/organizations/{o}"), &app.manage)
        .await
        .expect_error(400, "manage.organizations.hasProjects");
    app.delete(&format!("/manage/projects/{project}"), &app.manage).await.expect(204);
    app.delete(&format!("/manage/organizations/{o}"), &app.manage).await.expect(204);
    app.get(&format!("/manage/organizations/{o}"), &app.manage)
        .await
        .expect_error(404, "manage.organizations.notFound");
    app.delete(&format!("/manage/maintainers/{m}"), &app.manage).await.expect(204);
    app.get(&format!("/manage/maintainers/{m}"), &app.manage).await.expect_error(404, "manage.maintainers.notFound");
}

#[tokio::test]
async fn projects_live_in_an_organization_are_listed_by_it_and_move_to_another() {
    let app = spawn_app().await;
    let first = app.get("/manage/organizations", &app.manage).await.expect(200).body[0]["id"].as_i64().unwrap();
    let maintainer = app.get("/manage/maintainers", &app.manage).await.expect(200).body[0]["id"].as_i64().unwrap();
    let path = format!("/manage/maintainers/{maintainer}/organizations");
    let second = app.post(&path, &app.manage, json!({"name": "Second"})).await.expect(201).body["id"].as_i64().unwrap();

    // With two organizations, a project must say where it goes.
    app.post("/manage/projects", &app.manage, json!({"name": "Where"}))
        .await
        .expect_error(400, "manage.projects.validation");
    let named = app.post("/manage/projects", &app.manage, json!({"name": "Here", "organizationId": second})).await;
    assert_eq!(named.expect(201).body["organization"]["id"], second);
    let made =
        app.post(&format!("/manage/organizations/{second}/projects"), &app.manage, json!({"name": "There"})).await;
    let made = made.expect(201).body;
    assert_eq!(made["organization"]["name"], "Second");
    let listed = app.get(&format!("/manage/organizations/{second}/projects"), &app.manage).await.expect(200).body;
    let names: Vec<_> = listed.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Here", "There"]);

    let id = made["id"].as_i64().unwrap();
    let path = format!("/manage/projects/{id}/organizations");
    let moved = app.post(&path, &app.manage, json!({"organizationId": first})).await.expect(200).body;
    assert_eq!(moved["organization"]["id"], first);
    let listed = app.get(&format!("/manage/organizations/{second}/projects"), &app.manage).await.expect(200).body;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    app.post(&format!("/manage/projects/{id}/organizations"), &app.manage, json!({"organizationId": 999}))
        .await
        .expect_error(404, "manage.organizations.notFound");
    app.post("/manage/organizations/999/projects", &app.manage, json!({"name": "Nowhere"}))
        .await
        .expect_error(404, "manage.organizations.notFound");
}

#[tokio::test]
async fn organization_members_are_added_by_email_or_id_and_verify_says_whether_a_token_user_is_one() {
    let app = spawn_app().await;
    let org = app.get("/manage/organizations", &app.manage).await.expect(200).body[0]["id"].as_i64().unwrap();
    let guest = app.member_token("guest@example.com", "admin").await;
    let verify = app.get("/v2/storage/tokens/verify", &guest).await.expect(200).body;
    assert_eq!(verify["admin"]["isOrganizationMember"], false);

    let users = format!("/manage/organizations/{org}/users");
    app.post(&users, &app.manage, json!({"email": "guest@example.com"})).await.expect(204);
    app.post(&users, &app.manage, json!({"email": "guest@example.com"})).await.expect(204);
    app.post(&users, &app.manage, json!({"email": "new@example.com"})).await.expect(204);
    app.post(&users, &app.manage, json!({})).await.expect_error(400, "manage.users.validation");
    app.post(&users, &app.manage, json!({"id": 999})).await.expect_error(404, "manage.users.notFound");
    let members = app.get(&users, &app.manage).await.expect(200).body;
    let emails: Vec<_> = members.as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails.len(), 3, "{members}");
    assert!(emails.contains(&"guest@example.com") && emails.contains(&"new@example.com"));
    let verify = app.get("/v2/storage/tokens/verify", &guest).await.expect(200).body;
    assert_eq!(verify["admin"]["isOrganizationMember"], true);

    let guest_id = verify["admin"]["id"].as_i64().unwrap();
    app.delete(&format!("{users}/{guest_id}"), &app.manage).await.expect(204);
    app.delete(&format!("{users}/{guest_id}"), &app.manage)
        .await
        .expect_error(404, "manage.organizations.userNotFound");
    let verify = app.get("/v2/storage/tokens/verify", &guest).await.expect(200).body;
    assert_eq!(
        verify["admin"]["isOrganizationMember"], false,
        "their project membership stays, the organization's goes"
    );
}

#[tokio::test]
async fn the_manage_token_makes_a_storage_token_in_any_project_with_every_option() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("granted").await;
    let path = format!("/manage/projects/{}/tokens", app.project_id);
    app.post(&path, &app.manage, json!({})).await.expect_error(400, "storage.tokens.validation");
    let body =
        json!({"description": "From manage", "canManageBuckets": false, "bucketPermissions": {bucket.clone(): "read"}});
    let made = app.post(&path, &app.manage, body).await.expect(201).body;
    assert_eq!(made["description"], "From manage");
    assert_eq!(made["bucketPermissions"], json!({bucket.clone(): "read"}));
    let secret = made["token"].as_str().unwrap();
    let verify = app.get("/v2/storage/tokens/verify", secret).await.expect(200).body;
    assert_eq!(verify["owner"]["id"], app.project_id);
    app.get(&format!("/v2/storage/buckets/{bucket}"), secret).await.expect(200);
    let events = app.get("/v2/storage/events?q=storage.tokenCreated", &app.admin).await.expect(200).body;
    assert!(events.as_array().unwrap().iter().any(|e| e["objectId"] == made["id"]), "{events}");
    app.post("/manage/projects/999/tokens", &app.manage, json!({"description": "x"}))
        .await
        .expect_error(404, "manage.projects.notFound");
}
