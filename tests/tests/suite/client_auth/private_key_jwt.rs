//! `private_key_jwt`: signed assertions (RFC 7523), fresh, once, for us.

use super::*;

async fn jwt_client(app: &TestApp, key: &ClientKey) -> TestClient {
    let jwks = json!({ "keys": [key.jwk.clone()] });
    let client = app
        .client_with("rp-jwt", |reg| {
            reg.auth_method = AuthMethod::PrivateKeyJwt;
            reg.jwks = Some(jwks);
            reg.grant_types = vec!["client_credentials".into()];
            reg.scopes = vec![SERVICE_SCOPE.into()];
        })
        .await;
    assert!(client.secret.is_none(), "no secret for private_key_jwt");
    client
}

/// A provider, a key `k1` and a client registered with it.
async fn jwt_app() -> (TestApp, ClientKey, TestClient) {
    let app = TestApp::spawn().await;
    let key = ClientKey::generate("k1");
    let client = jwt_client(&app, &key).await;
    (app, key, client)
}

/// A fresh assertion of `client`, signed with `key` as `k1`.
fn fresh(app: &TestApp, key: &ClientKey, client: &TestClient) -> String {
    key.sign("k1", &assertion_claims(app, &client.id))
}

/// The client credentials grant authenticated by `assertion`.
async fn jwt_token(app: &TestApp, assertion: &str) -> Answer {
    post(app, "/token", Auth::Jwt(assertion), &CLIENT_CREDENTIALS).await
}

/// [`jwt_token`], asserted accepted (200).
async fn accepted(app: &TestApp, assertion: &str) -> Answer {
    let answer = jwt_token(app, assertion).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer
}

#[tokio::test]
async fn private_key_jwt_accepts_a_fresh_assertion_signed_by_the_registered_key() {
    let (app, key, client) = jwt_app().await;

    let answer = accepted(&app, &fresh(&app, &key, &client)).await;
    assert_eq!(answer.body["scope"], SERVICE_SCOPE);
    assert_eq!(
        part(&string(&answer.body, "access_token"), 1)["client_id"],
        "rp-jwt"
    );

    // With client_id in the body too, and aud the issuer (both allowed).
    let mut claims = assertion_claims(&app, &client.id);
    claims["aud"] = json!(app.issuer);
    let assertion = key.sign("k1", &claims);
    let mut form = CLIENT_CREDENTIALS.to_vec();
    form.push(("client_id", "rp-jwt"));
    let answer = post(&app, "/token", Auth::Jwt(&assertion), &form).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn private_key_jwt_refuses_a_replayed_assertion() {
    let (app, key, client) = jwt_app().await;
    let assertion = fresh(&app, &key, &client);

    accepted(&app, &assertion).await;
    let replay = jwt_token(&app, &assertion).await;
    assert_eq!(replay.status, 401, "{}", replay.body);
    assert_eq!(replay.error(), Some("invalid_client"));

    // The same jti in a new assertion is a replay too.
    let mut claims = assertion_claims(&app, &client.id);
    claims["jti"] = part(&assertion, 1)["jti"].clone();
    claims["exp"] = json!(now() + 90);
    let again = post(
        &app,
        "/token",
        Auth::Jwt(&key.sign("k1", &claims)),
        &CLIENT_CREDENTIALS,
    )
    .await;
    assert_eq!((again.status, again.error()), (401, Some("invalid_client")));
}

#[tokio::test]
async fn private_key_jwt_refuses_a_wrong_audience_an_expired_assertion_and_another_key() {
    let (app, key, client) = jwt_app().await;
    let other_key = ClientKey::generate("k1");

    let mut wrong_aud = assertion_claims(&app, &client.id);
    wrong_aud["aud"] = json!("https://other-provider.example/token");
    let mut expired = assertion_claims(&app, &client.id);
    expired["iat"] = json!(now() - 600);
    expired["exp"] = json!(now() - 300);
    let mut wrong_sub = assertion_claims(&app, &client.id);
    wrong_sub["sub"] = json!("someone-else");
    let mut no_jti = assertion_claims(&app, &client.id);
    no_jti.as_object_mut().expect("object").remove("jti");

    let cases = [
        ("wrong audience", key.sign("k1", &wrong_aud)),
        ("expired", key.sign("k1", &expired)),
        ("wrong sub", key.sign("k1", &wrong_sub)),
        ("no jti", key.sign("k1", &no_jti)),
        ("another key, same kid", fresh(&app, &other_key, &client)),
        (
            "another key, unknown kid",
            other_key.sign("k2", &assertion_claims(&app, &client.id)),
        ),
    ];
    for (case, assertion) in cases {
        let answer = jwt_token(&app, &assertion).await;
        assert_eq!(answer.status, 401, "{case}: {}", answer.body);
        assert_eq!(answer.error(), Some("invalid_client"), "{case}");
    }

    // A secret client cannot authenticate with an assertion either.
    let secret_client = service_client(&app, "rp-secret").await;
    let assertion = key.sign("k1", &assertion_claims(&app, &secret_client.id));
    let answer = jwt_token(&app, &assertion).await;
    assert_eq!(
        (answer.status, answer.error()),
        (401, Some("invalid_client"))
    );

    // The control: a good assertion still works.
    let good = fresh(&app, &key, &client);
    let answer = post(&app, "/token", Auth::Jwt(&good), &CLIENT_CREDENTIALS).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}
