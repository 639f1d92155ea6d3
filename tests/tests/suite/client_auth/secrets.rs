//! Client secrets: basic, post, and exactly one method at a time.

use super::*;

/// `client`'s secret sent in the body (client_secret_post).
fn in_body(client: &TestClient) -> Auth<'_> {
    Auth::Post(&client.id, secret(client))
}

/// A client `rp-post` registered with client_secret_post.
async fn post_client(app: &TestApp) -> TestClient {
    app.client_with("rp-post", |reg| {
        reg.auth_method = AuthMethod::ClientSecretPost;
    })
    .await
}

/// Alice's code for `client` is refused with `wrong` (`invalid_client`), which does not spend
/// it, then exchanged with `right`: the token response, an access token in it.
async fn only_its_method_exchanges(
    app: &TestApp,
    client: &TestClient,
    wrong: Auth<'_>,
    right: Auth<'_>,
) -> Answer {
    let browser = app.browser();
    let code = code_for(app, &browser, client, "alice@centre.fr").await;
    refused_client(app, wrong, &code_form(&code)).await;
    let answer = post(app, "/token", right, &code_form(&code)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body["access_token"].is_string());
    answer
}

/// `/token` with `auth` and `form` is refused as `invalid_client` (401): the answer.
async fn refused_client(app: &TestApp, auth: Auth<'_>, form: &[(&str, &str)]) -> Answer {
    let answer = post(app, "/token", auth, form).await;
    assert_eq!(
        (answer.status, answer.error()),
        (401, Some("invalid_client")),
        "{}",
        answer.body
    );
    answer
}

#[tokio::test]
async fn client_secret_basic_works_only_for_a_client_registered_with_it() {
    let app = TestApp::spawn().await;
    app.user("alice@centre.fr").await;
    let client = app.client("rp-basic").await;
    // The secret sent in the body is refused: the client registered HTTP Basic. The failed
    // attempt did not spend the code; Basic works.
    let answer = only_its_method_exchanges(&app, &client, in_body(&client), basic(&client)).await;
    assert!(answer.body["id_token"].is_string());
}

#[tokio::test]
async fn client_secret_post_works_only_for_a_client_registered_with_it() {
    let app = TestApp::spawn().await;
    app.user("alice@centre.fr").await;
    let client = post_client(&app).await;
    only_its_method_exchanges(&app, &client, basic(&client), in_body(&client)).await;
}

#[tokio::test]
async fn a_wrong_secret_is_refused_with_a_challenge() {
    let (app, client) = app_with_rp().await;
    let post_client = post_client(&app).await;
    let form = [("grant_type", "refresh_token"), ("refresh_token", "x")];

    let wrong = refused_client(&app, Auth::Basic(&client.id, "not-the-secret"), &form).await;
    let challenge = wrong.www_authenticate.expect("WWW-Authenticate");
    assert!(challenge.starts_with("Basic"), "{challenge}");

    refused_client(&app, Auth::Post(&post_client.id, "not-the-secret"), &form).await;

    // Another client's secret, and an unknown client, are refused the same way.
    refused_client(&app, Auth::Basic(&client.id, secret(&post_client)), &form).await;
    refused_client(&app, Auth::Basic("nobody", "secret"), &form).await;

    // The right secret gets past authentication (and fails on the bogus refresh token).
    let right = post(&app, "/token", basic(&client), &form).await;
    assert_eq!((right.status, right.error()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn two_authentication_methods_at_once_are_refused() {
    let (app, client) = app_with_rp().await;
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
