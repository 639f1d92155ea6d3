//! Client authentication at the token, revocation and introspection endpoints; the
//! client_credentials grant; token introspection (RFC 7662) and revocation (RFC 7009).

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use idp::{keys::SigningAlg, oidc::clients::AuthMethod, store::now};
use idp_tests::*;
use serde_json::{Value, json};

mod client_credentials;
mod introspection;
mod private_key_jwt;
mod secrets;

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

/// A new provider and its client `rp` (client_secret_basic).
async fn app_with_rp() -> (TestApp, TestClient) {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    (app, client)
}

fn secret(client: &TestClient) -> &str {
    client.secret.as_deref().expect("secret client")
}

fn basic(client: &TestClient) -> Auth<'_> {
    Auth::Basic(&client.id, secret(client))
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

/// The status `GET /userinfo` answers for `access_token`.
async fn userinfo_status(app: &TestApp, access_token: &str) -> u16 {
    userinfo(app, access_token).await.0
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
