//! Client secrets: basic, post, and exactly one method at a time.

use super::*;

#[tokio::test]
async fn client_secret_basic_works_only_for_a_client_registered_with_it() {
    let app = TestApp::spawn().await;
    app.user("alice@centre.fr").await;
    let client = app.client("rp-basic").await;
    let browser = app.browser();
    let code = code_for(&app, &browser, &client, "alice@centre.fr").await;

    // The secret sent in the body is refused: the client registered HTTP Basic.
    let refused = post(
        &app,
        "/token",
        Auth::Post(&client.id, secret(&client)),
        &code_form(&code),
    )
    .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(refused.error(), Some("invalid_client"));

    // The failed attempt did not spend the code; Basic works.
    let answer = post(&app, "/token", basic(&client), &code_form(&code)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body["access_token"].is_string());
    assert!(answer.body["id_token"].is_string());
}

#[tokio::test]
async fn client_secret_post_works_only_for_a_client_registered_with_it() {
    let app = TestApp::spawn().await;
    app.user("alice@centre.fr").await;
    let client = app
        .client_with("rp-post", |reg| {
            reg.auth_method = AuthMethod::ClientSecretPost;
        })
        .await;
    let browser = app.browser();
    let code = code_for(&app, &browser, &client, "alice@centre.fr").await;

    let refused = post(&app, "/token", basic(&client), &code_form(&code)).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(refused.error(), Some("invalid_client"));

    let answer = post(
        &app,
        "/token",
        Auth::Post(&client.id, secret(&client)),
        &code_form(&code),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body["access_token"].is_string());
}

#[tokio::test]
async fn a_wrong_secret_is_refused_with_a_challenge() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let post_client = app
        .client_with("rp-post", |reg| {
            reg.auth_method = AuthMethod::ClientSecretPost;
        })
        .await;
    let form = [("grant_type", "refresh_token"), ("refresh_token", "x")];

    let wrong = post(
        &app,
        "/token",
        Auth::Basic(&client.id, "not-the-secret"),
        &form,
    )
    .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(wrong.error(), Some("invalid_client"));
    let challenge = wrong.www_authenticate.expect("WWW-Authenticate");
    assert!(challenge.starts_with("Basic"), "{challenge}");

    let wrong = post(
        &app,
        "/token",
        Auth::Post(&post_client.id, "not-the-secret"),
        &form,
    )
    .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(wrong.error(), Some("invalid_client"));

    // Another client's secret, and an unknown client, are refused the same way.
    let wrong = post(
        &app,
        "/token",
        Auth::Basic(&client.id, secret(&post_client)),
        &form,
    )
    .await;
    assert_eq!((wrong.status, wrong.error()), (401, Some("invalid_client")));
    let unknown = post(&app, "/token", Auth::Basic("nobody", "secret"), &form).await;
    assert_eq!(
        (unknown.status, unknown.error()),
        (401, Some("invalid_client"))
    );

    // The right secret gets past authentication (and fails on the bogus refresh token).
    let right = post(&app, "/token", basic(&client), &form).await;
    assert_eq!((right.status, right.error()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn two_authentication_methods_at_once_are_refused() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let response = token_request(
        &app,
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", client.id.as_str()),
            ("client_secret", secret(&client)),
        ],
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "invalid_request");
}
