//! The client_credentials grant and the grant types a client may use.

use super::*;

#[tokio::test]
async fn client_credentials_gives_a_service_client_an_access_token_for_its_scope() {
    let app = TestApp::spawn().await;
    let client = service_client(&app, "service").await;

    let answer = post(&app, "/token", basic(&client), &CLIENT_CREDENTIALS).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "Bearer");
    assert_eq!(answer.body["scope"], SERVICE_SCOPE);
    assert!(answer.body["expires_in"].as_u64().is_some_and(|s| s > 0));
    assert!(answer.body.get("id_token").is_none(), "{}", answer.body);
    assert!(
        answer.body.get("refresh_token").is_none(),
        "{}",
        answer.body
    );

    let token = string(&answer.body, "access_token");
    let header = part(&token, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    let signer = signing_kid(&app, SigningAlg::RS256);
    assert_eq!(header["kid"], signer.as_str());

    // It verifies against the served JWK of its kid.
    let jwks = app.get_json("/jwks").await;
    let key = served_key(&jwks, &signer);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["service"]);
    validation.set_issuer(&[&app.issuer]);
    let claims = jsonwebtoken::decode::<Value>(&token, &key, &validation)
        .expect("the access token verifies")
        .claims;
    assert_eq!(claims["scope"], SERVICE_SCOPE);
    assert_eq!(claims["client_id"], "service");
    assert_eq!(claims["sub"], "service");

    // Asking for the scope explicitly works too.
    let mut form = CLIENT_CREDENTIALS.to_vec();
    form.push(("scope", SERVICE_SCOPE));
    let answer = post(&app, "/token", basic(&client), &form).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["scope"], SERVICE_SCOPE);
}

#[tokio::test]
async fn client_credentials_refuses_a_scope_the_client_does_not_have() {
    let app = TestApp::spawn().await;
    let client = service_client(&app, "service").await;
    for scope in ["codes:revoke", "openid", "codes:issue codes:revoke"] {
        let mut form = CLIENT_CREDENTIALS.to_vec();
        form.push(("scope", scope));
        let answer = post(&app, "/token", basic(&client), &form).await;
        assert_eq!(answer.status, 400, "{scope}: {}", answer.body);
        assert_eq!(answer.error(), Some("invalid_scope"), "{scope}");
    }
}

#[tokio::test]
async fn client_credentials_is_refused_to_a_public_client_and_to_a_client_without_the_grant() {
    let app = TestApp::spawn().await;
    let public = public_client(&app, "spa").await;
    let answer = post(
        &app,
        "/token",
        Auth::Public(&public.id),
        &CLIENT_CREDENTIALS,
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.error(), Some("unauthorized_client"));

    let web = app.client("rp").await;
    let answer = post(&app, "/token", basic(&web), &CLIENT_CREDENTIALS).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.error(), Some("unauthorized_client"));
}

#[tokio::test]
async fn an_unsupported_grant_type_is_refused() {
    let (app, client) = app_with_rp().await;
    for grant_type in [
        "password",
        "urn:ietf:params:oauth:grant-type:device_code",
        "implicit",
    ] {
        let answer = post(
            &app,
            "/token",
            basic(&client),
            &[
                ("grant_type", grant_type),
                ("username", "alice@centre.fr"),
                ("password", PASSWORD),
            ],
        )
        .await;
        assert_eq!(answer.status, 400, "{grant_type}: {}", answer.body);
        assert_eq!(
            answer.error(),
            Some("unsupported_grant_type"),
            "{grant_type}"
        );
    }
}
