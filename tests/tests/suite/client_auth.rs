//! Client authentication at the token, revocation and introspection endpoints; the
//! client_credentials grant; token introspection (RFC 7662) and revocation (RFC 7009).

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use idp::{keys::SigningAlg, oidc::clients::AuthMethod, store::now};
use idp_tests::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// How a request authenticates its client.
enum Auth<'a> {
    Basic(&'a str, &'a str),
    /// `client_id` and `client_secret` in the body.
    Post(&'a str, &'a str),
    /// `client_id` only (public client).
    Public(&'a str),
    /// `client_assertion` (private_key_jwt).
    Jwt(&'a str),
}

struct Answer {
    status: u16,
    www_authenticate: Option<String>,
    body: Value,
}

impl Answer {
    fn error(&self) -> Option<&str> {
        self.body["error"].as_str()
    }
}

async fn post(app: &TestApp, path: &str, auth: Auth<'_>, form: &[(&str, &str)]) -> Answer {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let mut request = app.http().post(app.url(path));
    match auth {
        Auth::Basic(id, secret) => request = request.basic_auth(id, Some(secret)),
        Auth::Post(id, secret) => form.extend([("client_id", id), ("client_secret", secret)]),
        Auth::Public(id) => form.push(("client_id", id)),
        Auth::Jwt(assertion) => form.extend([
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ]),
    }
    let response = request.form(&form).send().await.expect("POST");
    let status = response.status().as_u16();
    let www_authenticate = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.expect("body");
    Answer {
        status,
        www_authenticate,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

fn secret(client: &TestClient) -> &str {
    client.secret.as_deref().expect("secret client")
}

fn basic(client: &TestClient) -> Auth<'_> {
    Auth::Basic(&client.id, secret(client))
}

fn string(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .to_owned()
}

fn part(jwt: &str, index: usize) -> Value {
    let segment = jwt.split('.').nth(index).expect("JWS segment");
    serde_json::from_slice(&B64.decode(segment).expect("base64url")).expect("JSON")
}

/// A fresh authorization code for `client`, the browser logging `email` in if needed.
async fn code_for(app: &TestApp, browser: &Browser, client: &TestClient, email: &str) -> String {
    let out = browser.authorize(&auth_url(app, client, &[]), email).await;
    query_of(&out)
        .remove("code")
        .unwrap_or_else(|| panic!("a code: {out}"))
}

fn code_form(code: &str) -> [(&str, &str); 3] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
    ]
}

/// Tokens of a full code flow with client_secret_basic.
async fn user_tokens(app: &TestApp, browser: &Browser, client: &TestClient) -> Value {
    let code = code_for(app, browser, client, "alice@centre.fr").await;
    let answer = post(app, "/token", basic(client), &code_form(&code)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

async fn userinfo_status(app: &TestApp, access_token: &str) -> u16 {
    app.http()
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("GET /userinfo")
        .status()
        .as_u16()
}

async fn refresh(app: &TestApp, client: &TestClient, refresh_token: &str) -> Answer {
    post(
        app,
        "/token",
        basic(client),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn introspect(app: &TestApp, auth: Auth<'_>, token: &str) -> Answer {
    post(app, "/introspect", auth, &[("token", token)]).await
}

/// An EC P-256 key of a client: its PKCS#8 and its public JWK.
struct ClientKey {
    pkcs8: Vec<u8>,
    jwk: Value,
}

impl ClientKey {
    fn generate(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key");
        let pkcs8 = pair.to_pkcs8v1().expect("PKCS#8").as_ref().to_vec();
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
        });
        Self { pkcs8, jwk }
    }

    fn sign(&self, kid: &str, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(
            &header,
            claims,
            &jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8),
        )
        .expect("assertion signs")
    }
}

fn assertion_claims(app: &TestApp, client_id: &str) -> Value {
    let t = now();
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": app.url("/token"),
        "iat": t,
        "exp": t + 60,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

const SERVICE_SCOPE: &str = "codes:issue";

async fn service_client(app: &TestApp, id: &str) -> TestClient {
    app.client_with(id, |reg| {
        reg.grant_types = vec!["client_credentials".into()];
        reg.scopes = vec![SERVICE_SCOPE.into()];
    })
    .await
}

async fn public_client(app: &TestApp, id: &str) -> TestClient {
    app.client_with(id, |reg| {
        reg.auth_method = AuthMethod::None;
        reg.grant_types = vec!["authorization_code".into()];
    })
    .await
}

const CLIENT_CREDENTIALS: [(&str, &str); 1] = [("grant_type", "client_credentials")];

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

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
    let response = app
        .http()
        .post(app.url("/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", client.id.as_str()),
            ("client_secret", secret(&client)),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "invalid_request");
}

// ---------------------------------------------------------------------------------------------
// private_key_jwt
// ---------------------------------------------------------------------------------------------

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

#[tokio::test]
async fn private_key_jwt_accepts_a_fresh_assertion_signed_by_the_registered_key() {
    let app = TestApp::spawn().await;
    let key = ClientKey::generate("k1");
    let client = jwt_client(&app, &key).await;

    let assertion = key.sign("k1", &assertion_claims(&app, &client.id));
    let answer = post(&app, "/token", Auth::Jwt(&assertion), &CLIENT_CREDENTIALS).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
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
    let app = TestApp::spawn().await;
    let key = ClientKey::generate("k1");
    let client = jwt_client(&app, &key).await;
    let assertion = key.sign("k1", &assertion_claims(&app, &client.id));

    let first = post(&app, "/token", Auth::Jwt(&assertion), &CLIENT_CREDENTIALS).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let replay = post(&app, "/token", Auth::Jwt(&assertion), &CLIENT_CREDENTIALS).await;
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
    let app = TestApp::spawn().await;
    let key = ClientKey::generate("k1");
    let client = jwt_client(&app, &key).await;
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
        (
            "another key, same kid",
            other_key.sign("k1", &assertion_claims(&app, &client.id)),
        ),
        (
            "another key, unknown kid",
            other_key.sign("k2", &assertion_claims(&app, &client.id)),
        ),
    ];
    for (case, assertion) in cases {
        let answer = post(&app, "/token", Auth::Jwt(&assertion), &CLIENT_CREDENTIALS).await;
        assert_eq!(answer.status, 401, "{case}: {}", answer.body);
        assert_eq!(answer.error(), Some("invalid_client"), "{case}");
    }

    // A secret client cannot authenticate with an assertion either.
    let secret_client = service_client(&app, "rp-secret").await;
    let assertion = key.sign("k1", &assertion_claims(&app, &secret_client.id));
    let answer = post(&app, "/token", Auth::Jwt(&assertion), &CLIENT_CREDENTIALS).await;
    assert_eq!(
        (answer.status, answer.error()),
        (401, Some("invalid_client"))
    );

    // The control: a good assertion still works.
    let good = key.sign("k1", &assertion_claims(&app, &client.id));
    let answer = post(&app, "/token", Auth::Jwt(&good), &CLIENT_CREDENTIALS).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

// ---------------------------------------------------------------------------------------------
// client_credentials
// ---------------------------------------------------------------------------------------------

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
    let signer = app
        .state
        .keys
        .current()
        .signer(SigningAlg::RS256)
        .expect("signer")
        .kid
        .clone();
    assert_eq!(header["kid"], signer.as_str());

    // It verifies against the served JWK of its kid.
    let jwks: Value = app
        .http()
        .get(app.url("/jwks"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("JSON");
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == signer.as_str())
        .expect("served");
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).expect("JWK");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["service"]);
    validation.set_issuer(&[&app.issuer]);
    let claims = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("key"),
        &validation,
    )
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
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
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

// ---------------------------------------------------------------------------------------------
// Introspection and revocation
// ---------------------------------------------------------------------------------------------

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

#[tokio::test]
async fn revoking_an_unknown_token_answers_200() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
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
