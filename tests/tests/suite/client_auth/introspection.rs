//! Introspection and revocation, each client for its own tokens.

use super::*;

#[tokio::test]
async fn an_introspected_token_is_active_until_revoked() {
    let app = TestApp::spawn().await;
    let client = service_client(&app, "service").await;
    let answer = post(&app, "/token", basic(&client), &CLIENT_CREDENTIALS).await;
    let token = string(&answer.body, "access_token");
    let claims = part(&token, 1);

    let active = introspect(&app, basic(&client), &token).await;
    assert_eq!(active.status, 200, "{}", active.body);
    assert_eq!(active.body["active"], true);
    assert_eq!(active.body["scope"], SERVICE_SCOPE);
    assert_eq!(active.body["client_id"], "service");
    assert_eq!(active.body["exp"], claims["exp"]);
    assert!(active.body["exp"].as_i64().is_some_and(|e| e > now()));
    assert_eq!(active.body["iss"], app.issuer.as_str());

    let revoked = post(&app, "/revoke", basic(&client), &[("token", &token)]).await;
    assert_eq!(revoked.status, 200);

    let inactive = introspect(&app, basic(&client), &token).await;
    assert_eq!(inactive.status, 200);
    assert_eq!(inactive.body, json!({ "active": false }));

    // Garbage is inactive too, not an error.
    let garbage = introspect(&app, basic(&client), "not-a-token").await;
    assert_eq!(
        (garbage.status, garbage.body.clone()),
        (200, json!({ "active": false }))
    );
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_grant() {
    let app = TestApp::spawn().await;
    app.user("alice@centre.fr").await;
    let client = app.client("rp").await;
    let browser = app.browser();
    let tokens = user_tokens(&app, &browser, &client).await;
    let access_token = string(&tokens, "access_token");
    let refresh_token = string(&tokens, "refresh_token");
    assert_eq!(userinfo_status(&app, &access_token).await, 200);

    let revoked = post(
        &app,
        "/revoke",
        basic(&client),
        &[
            ("token", &refresh_token),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(revoked.status, 200);

    let answer = refresh(&app, &client, &refresh_token).await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(userinfo_status(&app, &access_token).await, 401);
    let inactive = introspect(&app, basic(&client), &access_token).await;
    assert_eq!(inactive.body, json!({ "active": false }));
    let inactive = introspect(&app, basic(&client), &refresh_token).await;
    assert_eq!(inactive.body, json!({ "active": false }));
}

#[tokio::test]
async fn revoking_an_access_token_leaves_the_refresh_token_working() {
    let app = TestApp::spawn().await;
    app.user("alice@centre.fr").await;
    let client = app.client("rp").await;
    let tokens = user_tokens(&app, &app.browser(), &client).await;
    let access_token = string(&tokens, "access_token");

    let revoked = post(&app, "/revoke", basic(&client), &[("token", &access_token)]).await;
    assert_eq!(revoked.status, 200);
    assert_eq!(userinfo_status(&app, &access_token).await, 401);

    let answer = refresh(&app, &client, &string(&tokens, "refresh_token")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        userinfo_status(&app, &string(&answer.body, "access_token")).await,
        200
    );
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_tokens() {
    let app = TestApp::spawn().await;
    app.user("alice@centre.fr").await;
    let owner = app.client("rp-a").await;
    let intruder = app.client("rp-b").await;
    let tokens = user_tokens(&app, &app.browser(), &owner).await;
    let access_token = string(&tokens, "access_token");
    let refresh_token = string(&tokens, "refresh_token");

    for token in [&access_token, &refresh_token] {
        let answer = post(&app, "/revoke", basic(&intruder), &[("token", token)]).await;
        assert_eq!(answer.status, 200, "same answer as for any token");
    }

    assert_eq!(userinfo_status(&app, &access_token).await, 200);
    let active = introspect(&app, basic(&owner), &access_token).await;
    assert_eq!(active.body["active"], true, "{}", active.body);
    let active = introspect(&app, basic(&owner), &refresh_token).await;
    assert_eq!(active.body["active"], true, "{}", active.body);
    // Another client is not told about the owner's refresh token.
    let hidden = introspect(&app, basic(&intruder), &refresh_token).await;
    assert_eq!(hidden.body, json!({ "active": false }));
    let answer = refresh(&app, &owner, &refresh_token).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// An access token is described only to its own client and to the resource servers registered
/// to see that client's tokens; to any other client it is inactive, as an unknown token.
#[tokio::test]
async fn only_its_client_and_the_resource_servers_it_is_meant_for_see_an_access_token() {
    let app = TestApp::spawn().await;
    app.user("alice@centre.fr").await;
    let owner = app.client("rp-a").await;
    let stranger = app.client("rp-b").await;
    let api = app
        .client_with("api-a", |reg| reg.introspects = vec!["rp-a".into()])
        .await;
    let other_api = app
        .client_with("api-b", |reg| reg.introspects = vec!["rp-b".into()])
        .await;
    let tokens = user_tokens(&app, &app.browser(), &owner).await;
    let access_token = string(&tokens, "access_token");

    for allowed in [&owner, &api] {
        let seen = introspect(&app, basic(allowed), &access_token).await;
        assert_eq!(seen.body["active"], true, "{}: {}", allowed.id, seen.body);
        assert_eq!(seen.body["client_id"], "rp-a");
    }
    for refused in [&stranger, &other_api] {
        let hidden = introspect(&app, basic(refused), &access_token).await;
        assert_eq!(hidden.status, 200);
        assert_eq!(hidden.body, json!({ "active": false }), "{}", refused.id);
    }
    // The resource server is not told about the client's refresh token either.
    let refresh_token = string(&tokens, "refresh_token");
    let hidden = introspect(&app, basic(&api), &refresh_token).await;
    assert_eq!(hidden.body, json!({ "active": false }));
}

#[tokio::test]
async fn revoking_an_unknown_token_answers_200() {
    let (app, client) = app_with_rp().await;
    let answer = post(
        &app,
        "/revoke",
        basic(&client),
        &[("token", "this-token-was-never-issued")],
    )
    .await;
    assert_eq!(answer.status, 200);

    // But the caller must still authenticate.
    let answer = post(
        &app,
        "/revoke",
        Auth::Basic(&client.id, "wrong"),
        &[("token", "this-token-was-never-issued")],
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (401, Some("invalid_client"))
    );
}

#[tokio::test]
async fn a_public_client_cannot_introspect() {
    let app = TestApp::spawn().await;
    let public = public_client(&app, "spa").await;
    let service = service_client(&app, "service").await;
    let answer = post(&app, "/token", basic(&service), &CLIENT_CREDENTIALS).await;
    let token = string(&answer.body, "access_token");

    let refused = introspect(&app, Auth::Public(&public.id), &token).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(refused.error(), Some("invalid_client"));
    assert!(refused.body.get("active").is_none());

    let unauthenticated = post(
        &app,
        "/introspect",
        Auth::Public("nobody"),
        &[("token", &token)],
    )
    .await;
    assert_eq!(unauthenticated.status, 401);
}
