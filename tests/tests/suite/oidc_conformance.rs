//! The OpenID Foundation certification modules, one by one: Basic OP, Config OP and
//! RP-Initiated Logout OP. Each test names the module it stands for (`oidcc-…`).
//!
//! Happy paths are driven by the `openidconnect` crate as the relying party (discovery, PKCE
//! S256, nonce, code exchange, ID token verification against the published JWKS, userinfo);
//! negative cases by plain HTTP, so the exact status, `Location` and error code are checked.

use std::{collections::HashMap, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use idp::{keys::SigningAlg, oidc::clients::AuthMethod};
use idp_tests::{
    assert_shows,
    openidconnect::{
        AccessToken, AccessTokenHash, AuthenticationFlow, AuthorizationCode, ClientId,
        ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
        OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope,
        TokenResponse,
        core::{
            CoreClient, CoreIdToken, CoreIdTokenClaims, CoreJwsSigningAlgorithm,
            CoreProviderMetadata, CoreResponseType, CoreTokenResponse, CoreUserInfoClaims,
        },
    },
    refresh_response as refresh,
    reqwest::{self, StatusCode, header},
    token_request, *,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// The relying party and a few plain-HTTP helpers.
// ---------------------------------------------------------------------------------------------

/// A client configured from the discovery document, as `from_provider_metadata` types it.
type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

const EMAIL: &str = "alice@centre.fr";

async fn discover(app: &TestApp) -> CoreProviderMetadata {
    CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.issuer.clone()).expect("issuer URL"),
        &app.http(),
    )
    .await
    .expect("discovery succeeds")
}

async fn relying_party(app: &TestApp, client: &TestClient) -> Rp {
    CoreClient::from_provider_metadata(
        discover(app).await,
        ClientId::new(client.id.clone()),
        client.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_owned()).expect("redirect URI"))
}

/// An authorization request made by the relying party: what it must remember.
struct Started {
    url: String,
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

/// An authorization URL with PKCE S256, a random state and nonce, `openid` plus `scopes`.
fn start(rp: &Rp, scopes: &[&str], extra: &[(&str, &str)]) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    for (name, value) in extra {
        request = request.add_extra_param(*name, *value);
    }
    let (url, state, nonce) = request.url();
    Started {
        url: url.to_string(),
        state,
        nonce,
        verifier,
    }
}

/// What the relying party holds after a verified code flow.
struct Done {
    tokens: CoreTokenResponse,
    id_token: CoreIdToken,
    claims: CoreIdTokenClaims,
    /// The raw ID token.
    raw_id_token: String,
    /// Its payload as JSON, for claims the core types do not carry (`sid`, user claims).
    payload: Value,
}

impl Done {
    fn access_token(&self) -> &AccessToken {
        self.tokens.access_token()
    }

    fn int(&self, claim: &str) -> i64 {
        self.payload[claim]
            .as_i64()
            .unwrap_or_else(|| panic!("{claim} is a number in {}", self.payload))
    }
}

/// The code of a successful authorization response, after checking `state` and `iss`.
fn code_of(app: &TestApp, out: &str, state: &str) -> String {
    assert!(
        out.starts_with(REDIRECT_URI),
        "not back to the client: {out}"
    );
    let q = query_of(out);
    assert!(!q.contains_key("error"), "authorization failed: {out}");
    assert_eq!(q.get("state").map(String::as_str), Some(state), "{out}");
    assert_eq!(q["iss"], app.issuer, "RFC 9207 iss");
    q.get("code").cloned().expect("code")
}

/// Exchanges `code` with the relying party and verifies the ID token (signature, issuer,
/// audience, expiry, nonce).
async fn redeem(app: &TestApp, rp: &Rp, code: String, started: Started) -> Done {
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint discovered")
        .set_pkce_verifier(started.verifier)
        .request_async(&app.http())
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token").clone();
    let claims = id_token
        .claims(&rp.id_token_verifier(), &started.nonce)
        .expect("the ID token verifies")
        .clone();
    let raw_id_token = id_token.to_string();
    let payload = jwt_part(&raw_id_token, 1);
    Done {
        tokens,
        id_token,
        claims,
        raw_id_token,
        payload,
    }
}

/// A full code flow in `browser` (logging in with [`PASSWORD`] if asked).
async fn code_flow(app: &TestApp, rp: &Rp, browser: &Browser, scopes: &[&str]) -> Done {
    code_flow_with(app, rp, browser, scopes, &[]).await
}

async fn code_flow_with(
    app: &TestApp,
    rp: &Rp,
    browser: &Browser,
    scopes: &[&str],
    extra: &[(&str, &str)],
) -> Done {
    let started = start(rp, scopes, extra);
    let out = browser.authorize(&started.url, EMAIL).await;
    let code = code_of(app, &out, started.state.secret());
    redeem(app, rp, code, started).await
}

/// Header (0) or payload (1) of a JWT.
fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("a JWT");
    serde_json::from_slice(&B64.decode(part).expect("base64url")).expect("JSON")
}

/// An authorization URL of exactly these parameters: the defaults of a code request for
/// `client` (`scope=openid email profile`, state `etat-123`, nonce `nonce-456`) where
/// `overrides` replaces a value (`Some`), removes the parameter (`None`) or adds one.
fn authz(app: &TestApp, client: &TestClient, overrides: &[(&str, Option<&str>)]) -> String {
    let mut params: Vec<(String, String)> = [
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "code"),
        ("scope", "openid email profile"),
        ("state", "etat-123"),
        ("nonce", "nonce-456"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (name, value) in overrides {
        let at = params.iter().position(|(k, _)| k == name);
        match (at, value) {
            (Some(i), Some(v)) => params[i].1 = (*v).to_owned(),
            (Some(i), None) => {
                params.remove(i);
            }
            (None, Some(v)) => params.push(((*name).to_owned(), (*v).to_owned())),
            (None, None) => {}
        }
    }
    let mut url = url::Url::parse(&app.url("/authorize")).expect("url");
    url.query_pairs_mut().extend_pairs(&params);
    url.to_string()
}

/// Runs `url` in `browser` to the client's redirect URI and exchanges the code with
/// client_secret_basic; returns the token response.
async fn raw_flow(app: &TestApp, client: &TestClient, browser: &Browser, url: &str) -> Value {
    let out = browser.authorize(url, EMAIL).await;
    let code = code_of(app, &out, "etat-123");
    let response = exchange_code(app, client, &code, &[]).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

/// The provider's answer to an authorization request that must not reach a login page:
/// the client's redirect URI with an error, whose query is returned.
async fn error_redirect(browser: &Browser, url: &str) -> HashMap<String, String> {
    let (response, at) = browser.follow(url).await;
    let out = location(&response)
        .unwrap_or_else(|| panic!("expected a redirect to the client, got a page at {at}"));
    assert!(out.starts_with(REDIRECT_URI), "{out}");
    query_of(&out)
}

/// An error page: 400, HTML, and above all no `Location` (nobody is redirected).
async fn assert_error_page(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        location(&response).is_none(),
        "an error page must not redirect"
    );
    let content_type = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .expect("content type")
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    response.text().await.expect("page")
}

async fn userinfo_get(app: &TestApp, access_token: &str) -> reqwest::Response {
    app.http()
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo")
}

async fn userinfo_json(app: &TestApp, access_token: &str) -> Value {
    let response = userinfo_get(app, access_token).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

async fn introspect(app: &TestApp, client: &TestClient, token: &str) -> Value {
    let response = app
        .client_post(client, "/introspect", &[("token", token)])
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

/// Asserts an OAuth error answer of the token endpoint.
async fn assert_oauth_error(response: reqwest::Response, status: u16, error: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(body["error"], error, "{body}");
    body
}

/// Whether `browser` still has a session: a `prompt=none` request gets a code.
async fn has_session(app: &TestApp, client: &TestClient, browser: &Browser) -> bool {
    let q = error_redirect(browser, &authz(app, client, &[("prompt", Some("none"))])).await;
    match q.get("error").map(String::as_str) {
        None => {
            assert!(q.contains_key("code"));
            true
        }
        Some("login_required") => false,
        Some(other) => panic!("unexpected error {other}"),
    }
}

/// A logged-in browser and the ID token of its first flow with `client`.
async fn logged_in(app: &TestApp, client: &TestClient) -> (Browser, Done) {
    let rp = relying_party(app, client).await;
    let browser = app.browser();
    let done = code_flow(app, &rp, &browser, &[]).await;
    (browser, done)
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ASCII cookie").to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Config OP: discovery and keys.
// ---------------------------------------------------------------------------------------------

/// oidcc-discovery-endpoint-verification (Config OP), issuer: exactly the one configured,
/// and a strict relying party accepts the document.
#[tokio::test]
async fn discovery_publishes_exactly_the_configured_issuer() {
    let app = TestApp::spawn().await;
    let metadata = discover(&app).await;
    assert_eq!(metadata.issuer().as_str(), app.issuer);
    let doc = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(doc["issuer"], json!(app.issuer));
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        let url = doc[endpoint]
            .as_str()
            .unwrap_or_else(|| panic!("{endpoint}"));
        assert!(
            url.starts_with(&format!("{}/", app.issuer)),
            "{endpoint}: {url}"
        );
    }
}

/// oidcc-discovery (Config OP): the document, with the port redacted, is the reviewed one.
#[tokio::test]
async fn the_discovery_document_matches_its_snapshot() {
    let app = TestApp::spawn().await;
    let response = app
        .http()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("content type")
            .starts_with("application/json")
    );
    let text = response.text().await.expect("body");
    let doc: Value = serde_json::from_str(&text.replace(&app.base, "http://issuer")).expect("JSON");
    // Sorted, so the snapshot does not depend on serde_json's `preserve_order` feature.
    insta::with_settings!({ sort_maps => true }, {
        insta::assert_json_snapshot!("discovery_document", doc);
    });
}

/// oidcc-discovery-endpoint-verification (Config OP): every endpoint the document names
/// answers as that endpoint does, not 404 or 5xx.
#[tokio::test]
async fn every_endpoint_named_by_discovery_answers() {
    let app = TestApp::spawn().await;
    let http = app.http();
    let doc: Value = http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("JSON");
    let url = |name: &str| doc[name].as_str().expect(name).to_owned();

    // Authorization: a request without client is explained on a page.
    let r = http
        .get(url("authorization_endpoint"))
        .send()
        .await
        .expect("GET");
    assert_error_page(r).await;
    // Token, revocation, introspection: an unauthenticated call is invalid_client.
    for name in [
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        let r = http
            .post(url(name))
            .form(&[("grant_type", "authorization_code"), ("token", "x")])
            .send()
            .await
            .expect("POST");
        assert_oauth_error(r, 401, "invalid_client").await;
    }
    // Userinfo: a bearer challenge.
    let r = http
        .get(url("userinfo_endpoint"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key(header::WWW_AUTHENTICATE));
    // JWKS: a key set.
    let r = http.get(url("jwks_uri")).send().await.expect("GET");
    assert_eq!(r.status(), 200);
    let jwks: Value = r.json().await.expect("JSON");
    assert!(!jwks["keys"].as_array().expect("keys").is_empty());
    // End session: the confirmation page.
    let r = http
        .get(url("end_session_endpoint"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);
    // Service documentation.
    let r = http
        .get(url("service_documentation"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);
}

/// oidcc-discovery (jwks_uri): every published key names its `kid`, `alg` and `use`, and
/// carries no private member.
#[tokio::test]
async fn every_published_key_has_kid_alg_and_use() {
    let app = TestApp::spawn().await;
    let r = app.http().get(app.url("/jwks")).send().await.expect("jwks");
    assert_eq!(r.status(), 200);
    let jwks: Value = r.json().await.expect("JSON");
    let keys = jwks["keys"].as_array().expect("keys");
    let mut kids = Vec::new();
    let mut algs = Vec::new();
    for key in keys {
        let kid = key["kid"].as_str().expect("kid");
        assert!(!kid.is_empty());
        kids.push(kid.to_owned());
        assert_eq!(key["use"], "sig", "{key}");
        match key["alg"].as_str().expect("alg") {
            "RS256" => {
                assert_eq!(key["kty"], "RSA");
                assert!(key["n"].is_string() && key["e"].is_string());
            }
            "ES256" => {
                assert_eq!(key["kty"], "EC");
                assert_eq!(key["crv"], "P-256");
                assert!(key["x"].is_string() && key["y"].is_string());
            }
            other => panic!("unexpected alg {other}"),
        }
        algs.push(key["alg"].as_str().expect("alg").to_owned());
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                key.get(private).is_none(),
                "private member {private} published"
            );
        }
    }
    let unique: std::collections::HashSet<_> = kids.iter().collect();
    assert_eq!(unique.len(), kids.len(), "kids are unique");
    assert!(algs.iter().any(|a| a == "RS256"));
    assert!(algs.iter().any(|a| a == "ES256"));
}

// ---------------------------------------------------------------------------------------------
// Basic OP: the code flow and the ID token.
// ---------------------------------------------------------------------------------------------

/// oidcc-server: the full code flow with PKCE and nonce; the ID token verifies, binds the
/// access token (`at_hash`), and carries `auth_time`, `sid`, `acr` and `amr`; userinfo's
/// `sub` is the ID token's.
#[tokio::test]
async fn a_relying_party_completes_the_code_flow_and_verifies_everything() {
    let app = TestApp::spawn().await;
    let client = app.client_with("rp", |reg| reg.require_pkce = true).await;
    let user = app.user(EMAIL).await;
    let rp = relying_party(&app, &client).await;
    let before = idp::store::now();
    let done = code_flow(&app, &rp, &app.browser(), &["email", "profile"]).await;

    let claims = &done.claims;
    assert_eq!(claims.issuer().as_str(), app.issuer);
    assert_eq!(claims.subject().as_str(), user.id);
    assert_eq!(claims.audiences().len(), 1);
    assert_eq!(claims.audiences()[0].as_str(), client.id);
    assert_eq!(
        claims.authorized_party().map(|a| a.as_str()),
        Some(client.id.as_str())
    );
    // at_hash: left half of the SHA-256 of the access token, by the ID token's algorithm.
    let verifier = rp.id_token_verifier();
    let expected = AccessTokenHash::from_token(
        done.access_token(),
        done.id_token.signing_alg().expect("alg"),
        done.id_token.signing_key(&verifier).expect("key"),
    )
    .expect("hash");
    assert_eq!(claims.access_token_hash(), Some(&expected));
    // auth_time: when the person logged in, during this test.
    assert!(claims.auth_time().is_some());
    let auth_time = done.int("auth_time");
    assert!(auth_time >= before && auth_time <= idp::store::now());
    // acr / amr: a password login, one factor (eIDAS-style default names).
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("eidas1")
    );
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .expect("amr")
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(amr, ["pwd"]);
    // sid: the login session, non-empty.
    assert!(
        done.payload["sid"].as_str().is_some_and(|s| !s.is_empty()),
        "{}",
        done.payload
    );
    // The token response itself.
    assert_eq!(
        done.tokens.token_type(),
        &idp_tests::openidconnect::core::CoreTokenType::Bearer
    );
    assert!(done.tokens.expires_in().is_some());
    assert!(done.tokens.refresh_token().is_some());

    let info: CoreUserInfoClaims = rp
        .user_info(done.access_token().clone(), Some(claims.subject().clone()))
        .expect("userinfo endpoint discovered")
        .request_async(&app.http())
        .await
        .expect("userinfo");
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.email().map(|e| e.as_str()), Some(EMAIL));
}

/// oidcc-idtoken-rs256 / oidcc-idtoken-signature: ID tokens are RS256 by default, signed by a
/// key the JWKS publishes; a token with a changed payload is rejected.
#[tokio::test]
async fn id_tokens_are_signed_with_rs256_by_a_published_key() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (_, done) = logged_in(&app, &client).await;
    let header = jwt_part(&done.raw_id_token, 0);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    let jwks = app.get_json("/jwks").await;
    let key = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the signing key is published");
    assert_eq!(key["alg"], "RS256");

    // The same signature over another subject must not verify.
    let rp = relying_party(&app, &client).await;
    let mut payload = done.payload.clone();
    payload["sub"] = json!("someone-else");
    let parts: Vec<&str> = done.raw_id_token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(serde_json::to_vec(&payload).expect("JSON")),
        parts[2]
    );
    let forged: CoreIdToken = forged.parse().expect("still a JWT");
    let nonce = done.claims.nonce().expect("nonce").clone();
    assert!(forged.claims(&rp.id_token_verifier(), &nonce).is_err());
    // The genuine token verifies under an RS256-only policy, not under an ES256-only one.
    let genuine: CoreIdToken = done.raw_id_token.parse().expect("a JWT");
    let rs256_only = rp
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    assert!(genuine.claims(&rs256_only, &nonce).is_ok());
    let es256_only = rp
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    assert!(genuine.claims(&es256_only, &nonce).is_err());
}

/// oidcc-idtoken-signature with a client registered for ES256: its ID token is ES256 and
/// verifies as such (and not under an RS256-only policy).
#[tokio::test]
async fn an_es256_client_gets_an_id_token_that_verifies_with_es256() {
    let app = TestApp::spawn().await;
    let client = app
        .client_with("rp-ec", |reg| reg.id_token_alg = SigningAlg::ES256)
        .await;
    app.user(EMAIL).await;
    let rp = relying_party(&app, &client).await;
    let started = start(&rp, &[], &[]);
    let nonce = started.nonce.clone();
    let out = app.browser().authorize(&started.url, EMAIL).await;
    let code = code_of(&app, &out, started.state.secret());
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint")
        .set_pkce_verifier(started.verifier)
        .request_async(&app.http())
        .await
        .expect("exchange");
    let id_token = tokens.id_token().expect("ID token");
    assert_eq!(jwt_part(&id_token.to_string(), 0)["alg"], "ES256");
    // Under an RS256-only policy it does not verify: the algorithm really is ES256.
    let rs256_only = rp
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    assert!(id_token.claims(&rs256_only, &nonce).is_err());
    let verifier = rp
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = id_token.claims(&verifier, &nonce).expect("ES256 verifies");
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().expect("alg"),
        id_token.signing_key(&verifier).expect("key"),
    )
    .expect("hash");
    assert_eq!(claims.access_token_hash(), Some(&expected));
}

/// oidcc-nonce-invalid: the nonce comes back exactly as sent, special characters included.
#[tokio::test]
async fn the_nonce_is_echoed_exactly() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let nonce = "n-0S6_WzA2Mj + é/?&=";
    let tokens = raw_flow(
        &app,
        &client,
        &app.browser(),
        &authz(&app, &client, &[("nonce", Some(nonce))]),
    )
    .await;
    let payload = jwt_part(tokens["id_token"].as_str().expect("id_token"), 1);
    assert_eq!(payload["nonce"], nonce);
}

/// oidcc-ensure-request-without-nonce-succeeds-for-code-flow: no nonce, no nonce claim.
#[tokio::test]
async fn a_code_flow_request_without_nonce_succeeds() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let rp = relying_party(&app, &client).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = authz(
        &app,
        &client,
        &[
            ("nonce", None),
            ("code_challenge", Some(challenge.as_str())),
            ("code_challenge_method", Some("S256")),
        ],
    );
    let out = app.browser().authorize(&url, EMAIL).await;
    let code = code_of(&app, &out, "etat-123");
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&app.http())
        .await
        .expect("exchange");
    let claims = tokens
        .id_token()
        .expect("ID token")
        .claims(
            &rp.id_token_verifier(),
            |nonce: Option<&Nonce>| match nonce {
                None => Ok(()),
                Some(_) => Err("a nonce nobody sent".to_owned()),
            },
        )
        .expect("verifies without nonce");
    assert!(claims.nonce().is_none());
}

// ---------------------------------------------------------------------------------------------
// Basic OP: userinfo.
// ---------------------------------------------------------------------------------------------

/// oidcc-userinfo-get: GET with the bearer token in the Authorization header.
#[tokio::test]
async fn userinfo_answers_a_get_with_a_bearer_header() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let user = app.user(EMAIL).await;
    let (_, done) = logged_in(&app, &client).await;
    let response = userinfo_get(&app, done.access_token().secret()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["sub"], json!(user.id));
}

/// oidcc-userinfo-post-header: POST without a body, the token in the Authorization header.
#[tokio::test]
async fn userinfo_answers_a_post_with_a_bearer_header() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let user = app.user(EMAIL).await;
    let (_, done) = logged_in(&app, &client).await;
    let response = app
        .http()
        .post(app.url("/userinfo"))
        .bearer_auth(done.access_token().secret())
        .send()
        .await
        .expect("userinfo");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["sub"], json!(user.id));
}

/// oidcc-userinfo-post-body: POST with the token as `access_token` in a form body.
#[tokio::test]
async fn userinfo_answers_a_post_with_the_token_in_the_form_body() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let user = app.user(EMAIL).await;
    let (_, done) = logged_in(&app, &client).await;
    let response = app
        .http()
        .post(app.url("/userinfo"))
        .form(&[("access_token", done.access_token().secret().as_str())])
        .send()
        .await
        .expect("userinfo");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["sub"], json!(user.id));
}

/// oidcc-userinfo-get, negative (RFC 6750 §3.1): no token at all is a 401 with a bare Bearer
/// challenge.
#[tokio::test]
async fn userinfo_without_a_token_is_refused_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let response = app
        .http()
        .get(app.url("/userinfo"))
        .send()
        .await
        .expect("userinfo");
    assert_eq!(response.status(), 401);
    let challenge = response.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");
}

/// oidcc-userinfo-get, negative (RFC 6750 §3.1): a token that is not ours is invalid_token.
#[tokio::test]
async fn userinfo_refuses_a_garbage_token_as_invalid_token() {
    let app = TestApp::spawn().await;
    let response = userinfo_get(&app, "not-a-token").await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert_shows(&challenge, "error=\"invalid_token\"");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "invalid_token");
}

// ---------------------------------------------------------------------------------------------
// Basic OP: scopes and the claims parameter.
// ---------------------------------------------------------------------------------------------

async fn userinfo_for_scopes(scope: &str) -> (TestApp, Value) {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let tokens = raw_flow(
        &app,
        &client,
        &app.browser(),
        &authz(&app, &client, &[("scope", Some(scope))]),
    )
    .await;
    assert_eq!(tokens["scope"], scope);
    let info = userinfo_json(&app, tokens["access_token"].as_str().expect("token")).await;
    (app, info)
}

fn names(info: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = info
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names
}

/// oidcc-scope-profile: profile releases the profile claims, nothing else.
#[tokio::test]
async fn the_profile_scope_releases_the_profile_claims() {
    let (_, info) = userinfo_for_scopes("openid profile").await;
    assert_eq!(
        names(&info),
        [
            "family_name",
            "gender",
            "given_name",
            "job",
            "name",
            "sub",
            "updated_at"
        ]
    );
    assert_eq!(info["given_name"], "Alice");
    assert_eq!(info["family_name"], "Martin");
    assert_eq!(info["gender"], "female");
    assert_eq!(info["job"], "Responsable formation");
    assert!(info["updated_at"].is_i64());
}

/// oidcc-scope-email: email releases email and email_verified, nothing else.
#[tokio::test]
async fn the_email_scope_releases_email_and_email_verified() {
    let (_, info) = userinfo_for_scopes("openid email").await;
    assert_eq!(names(&info), ["email", "email_verified", "sub"]);
    assert_eq!(info["email"], EMAIL);
    assert!(info["email_verified"].is_boolean());
}

/// oidcc-scope-* for the provider's own scope: organization releases siren (the first nine
/// digits of the siret), siret and organization_label.
#[tokio::test]
async fn the_organization_scope_releases_siren_siret_and_organization_label() {
    let (_, info) = userinfo_for_scopes("openid organization").await;
    assert_eq!(
        names(&info),
        ["organization_label", "siren", "siret", "sub"]
    );
    assert_eq!(info["siret"], "13002526500013");
    assert_eq!(info["siren"], "130025265");
    assert_eq!(info["organization_label"], "Centre de formation de test");
}

/// oidcc-scope-all: every scope together releases every claim.
#[tokio::test]
async fn all_scopes_together_release_every_claim() {
    let (_, info) = userinfo_for_scopes("openid email profile organization").await;
    let mut expected: Vec<&str> = idp::oidc::claims::USER_CLAIMS.to_vec();
    expected.push("sub");
    expected.sort_unstable();
    assert_eq!(names(&info), expected);
}

/// oidcc-ensure-other-scope-order-succeeds: `openid` need not come first.
#[tokio::test]
async fn scopes_in_another_order_succeed() {
    let (_, info) = userinfo_for_scopes("email openid").await;
    assert_eq!(info["email"], EMAIL);
}

/// oidcc-scope-all, negative: unknown scopes and scopes the client is not registered for are
/// dropped, not refused.
#[tokio::test]
async fn scopes_the_client_may_not_have_are_dropped() {
    let app = TestApp::spawn().await;
    let client = app
        .client_with("rp-narrow", |reg| {
            reg.scopes = vec!["openid".into(), "email".into()];
        })
        .await;
    app.user(EMAIL).await;
    let tokens = raw_flow(
        &app,
        &client,
        &app.browser(),
        &authz(
            &app,
            &client,
            &[("scope", Some("openid email profile organization inconnu"))],
        ),
    )
    .await;
    assert_eq!(tokens["scope"], "openid email");
    let info = userinfo_json(&app, tokens["access_token"].as_str().expect("token")).await;
    assert_eq!(names(&info), ["email", "email_verified", "sub"]);
}

/// oidcc-claims-essential: userinfo claims asked for through the claims parameter are
/// released without their scope.
#[tokio::test]
async fn the_claims_parameter_releases_userinfo_claims_without_their_scope() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let claims = r#"{"userinfo":{"email":{"essential":true},"siret":null}}"#;
    let tokens = raw_flow(
        &app,
        &client,
        &app.browser(),
        &authz(
            &app,
            &client,
            &[("scope", Some("openid")), ("claims", Some(claims))],
        ),
    )
    .await;
    let info = userinfo_json(&app, tokens["access_token"].as_str().expect("token")).await;
    assert_eq!(names(&info), ["email", "siret", "sub"]);
    assert_eq!(info["email"], EMAIL);
    // Asked for userinfo, not for the ID token.
    let payload = jwt_part(tokens["id_token"].as_str().expect("id_token"), 1);
    assert!(payload.get("email").is_none(), "{payload}");
}

/// oidcc-claims-essential (id_token section): claims asked for in the ID token appear there.
#[tokio::test]
async fn claims_asked_for_in_the_id_token_section_appear_in_the_id_token() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let rp = relying_party(&app, &client).await;
    let claims =
        r#"{"id_token":{"family_name":{"essential":true},"name":{"essential":true},"email":null}}"#;
    let done = code_flow_with(&app, &rp, &app.browser(), &[], &[("claims", claims)]).await;
    assert_eq!(done.payload["family_name"], "Martin");
    assert_eq!(done.payload["name"], "Alice Martin");
    assert_eq!(done.payload["email"], EMAIL);
    assert_eq!(
        done.claims
            .family_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("Martin")
    );
    // Only what was asked for.
    assert!(done.payload.get("given_name").is_none(), "{}", done.payload);
}

/// oidcc-claims-essential, negative: a malformed claims parameter goes back to the client as
/// invalid_request.
#[tokio::test]
async fn a_malformed_claims_parameter_is_invalid_request() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let q = error_redirect(
        &app.browser(),
        &authz(&app, &client, &[("claims", Some("{\"userinfo\":3}"))]),
    )
    .await;
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "etat-123");
}

// ---------------------------------------------------------------------------------------------
// Basic OP: codes.
// ---------------------------------------------------------------------------------------------

/// oidcc-codereuse: a second exchange is invalid_grant, and it revokes what the first one
/// produced (userinfo refuses the access token, introspection says inactive).
#[tokio::test]
async fn a_reused_code_is_refused_and_revokes_its_first_tokens() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let out = app
        .browser()
        .authorize(&authz(&app, &client, &[]), EMAIL)
        .await;
    let code = code_of(&app, &out, "etat-123");
    let first = exchange_code(&app, &client, &code, &[]).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.expect("JSON");
    let access_token = first["access_token"].as_str().expect("token");
    assert_eq!(userinfo_get(&app, access_token).await.status(), 200);
    assert_eq!(
        introspect(&app, &client, access_token).await["active"],
        true
    );

    let second = exchange_code(&app, &client, &code, &[]).await;
    assert_oauth_error(second, 400, "invalid_grant").await;

    let response = userinfo_get(&app, access_token).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
    assert_eq!(
        introspect(&app, &client, access_token).await,
        json!({"active": false})
    );
    // The refresh token of the first exchange is gone with its grant.
    let refreshed = refresh(&app, &client, first["refresh_token"].as_str().expect("rt")).await;
    assert_oauth_error(refreshed, 400, "invalid_grant").await;
}

/// Code expiry (RFC 6749 §4.1.2; not a module, lifetime set to 1 s): a code used after it
/// expired (the provider's clock moved on) is invalid_grant.
#[tokio::test]
async fn an_expired_code_is_refused() {
    let app = TestApp::spawn_with(|c| c.tokens.code_ttl_seconds = 1).await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let out = app
        .browser()
        .authorize(&authz(&app, &client, &[]), EMAIL)
        .await;
    let code = code_of(&app, &out, "etat-123");
    app.state.clock.advance(Duration::from_secs(2));
    let response = exchange_code(&app, &client, &code, &[]).await;
    assert_oauth_error(response, 400, "invalid_grant").await;
}

/// oidcc-ensure-registered-redirect-uri, at the token endpoint: a code must be redeemed with
/// the redirect_uri of its request (RFC 6749 §4.1.3).
#[tokio::test]
async fn a_code_redeemed_with_another_redirect_uri_is_refused() {
    let app = TestApp::spawn().await;
    let client = app
        .client_with("rp", |reg| {
            reg.redirect_uris.push("https://rp.example/other".into());
        })
        .await;
    app.user(EMAIL).await;
    let out = app
        .browser()
        .authorize(&authz(&app, &client, &[]), EMAIL)
        .await;
    let code = code_of(&app, &out, "etat-123");
    let response = token_request(
        &app,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://rp.example/other"),
        ],
    )
    .await;
    assert_oauth_error(response, 400, "invalid_grant").await;
}

/// oidcc-codereuse, by another client (RFC 6749 §4.1.3): a code issued to one client cannot be
/// redeemed by another.
#[tokio::test]
async fn a_code_redeemed_by_another_client_is_refused() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let other = app.client("rp-other").await;
    app.user(EMAIL).await;
    let out = app
        .browser()
        .authorize(&authz(&app, &client, &[]), EMAIL)
        .await;
    let code = code_of(&app, &out, "etat-123");
    let response = exchange_code(&app, &other, &code, &[]).await;
    assert_oauth_error(response, 400, "invalid_grant").await;
}

// ---------------------------------------------------------------------------------------------
// Basic OP: prompt, max_age, id_token_hint.
// ---------------------------------------------------------------------------------------------

/// oidcc-prompt-none-not-logged-in: login_required back to the client, with state and iss.
#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let q = error_redirect(
        &app.browser(),
        &authz(&app, &client, &[("prompt", Some("none"))]),
    )
    .await;
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], "etat-123");
    assert_eq!(q["iss"], app.issuer);
    assert!(!q.contains_key("code"));
}

/// oidcc-prompt-none-logged-in: with a session, prompt=none gives a code at once.
#[tokio::test]
async fn prompt_none_with_a_session_gives_a_code() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (browser, first) = logged_in(&app, &client).await;
    let rp = relying_party(&app, &client).await;
    let started = start(&rp, &[], &[("prompt", "none")]);
    let (response, _) = browser.follow(&started.url).await;
    let out = location(&response).expect("straight back to the client");
    let code = code_of(&app, &out, started.state.secret());
    let done = redeem(&app, &rp, code, started).await;
    assert_eq!(done.claims.subject(), first.claims.subject());
    assert_eq!(done.int("auth_time"), first.int("auth_time"));
    assert_eq!(done.payload["sid"], first.payload["sid"]);
}

/// oidcc-server, across clients: one login is one session, every client of it gets the same
/// `sid` (and auth_time).
#[tokio::test]
async fn two_clients_of_one_login_get_the_same_sid() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let other = app.client("rp-other").await;
    app.user(EMAIL).await;
    let (browser, first) = logged_in(&app, &client).await;
    let rp = relying_party(&app, &other).await;
    let second = code_flow(&app, &rp, &browser, &[]).await;
    assert_eq!(second.payload["sid"], first.payload["sid"]);
    assert_eq!(second.int("auth_time"), first.int("auth_time"));
    assert_eq!(second.claims.subject(), first.claims.subject());
    assert_eq!(second.claims.audiences()[0].as_str(), other.id);
}

/// oidcc-prompt-login: the login page is shown again despite a session, and the new ID
/// token's auth_time is the new login's.
#[tokio::test]
async fn prompt_login_asks_to_log_in_again() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (browser, first) = logged_in(&app, &client).await;
    // auth_time has a one-second resolution: the provider's clock moves on.
    app.state.clock.advance(Duration::from_secs(2));
    let rp = relying_party(&app, &client).await;
    let started = start(&rp, &[], &[("prompt", "login")]);
    let (response, at) = browser.follow(&started.url).await;
    assert!(location(&response).is_none(), "no code without a new login");
    assert_shows(&at, "/connexion");
    assert_eq!(response.status(), 200);
    let out = browser.authorize(&started.url, EMAIL).await;
    let code = code_of(&app, &out, started.state.secret());
    let second = redeem(&app, &rp, code, started).await;
    assert!(second.int("auth_time") > first.int("auth_time"));
    assert_ne!(second.payload["sid"], first.payload["sid"], "a new session");
}

/// oidcc-max-age-1: an authentication older than max_age requires a new login, and the new
/// ID token's auth_time is newer.
#[tokio::test]
async fn max_age_1_requires_a_fresh_login() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (browser, first) = logged_in(&app, &client).await;
    app.state.clock.advance(Duration::from_secs(2));
    let rp = relying_party(&app, &client).await;
    let started = start(&rp, &[], &[("max_age", "1")]);
    let (response, at) = browser.follow(&started.url).await;
    assert!(location(&response).is_none(), "no code without a new login");
    assert_shows(&at, "/connexion");
    let out = browser.authorize(&started.url, EMAIL).await;
    let code = code_of(&app, &out, started.state.secret());
    let second = redeem(&app, &rp, code, started).await;
    assert!(
        second.claims.auth_time().is_some(),
        "auth_time with max_age"
    );
    assert!(second.int("auth_time") > first.int("auth_time"));
}

/// oidcc-max-age-10000: a recent enough login is reused without a page.
#[tokio::test]
async fn max_age_10000_reuses_the_session() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (browser, first) = logged_in(&app, &client).await;
    let rp = relying_party(&app, &client).await;
    let started = start(&rp, &[], &[("max_age", "10000")]);
    let (response, _) = browser.follow(&started.url).await;
    let out = location(&response).expect("straight back to the client");
    let code = code_of(&app, &out, started.state.secret());
    let second = redeem(&app, &rp, code, started).await;
    assert_eq!(second.int("auth_time"), first.int("auth_time"));
}

/// oidcc-max-age-*, negative: a max_age that is not a number goes back to the client as
/// invalid_request.
#[tokio::test]
async fn a_max_age_that_is_not_a_number_is_invalid_request() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let q = error_redirect(
        &app.browser(),
        &authz(&app, &client, &[("max_age", Some("soon"))]),
    )
    .await;
    assert_eq!(q["error"], "invalid_request");
}

/// oidcc-id-token-hint: prompt=none with the previous ID token as id_token_hint succeeds.
#[tokio::test]
async fn prompt_none_with_the_previous_id_token_as_hint_succeeds() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (browser, first) = logged_in(&app, &client).await;
    let rp = relying_party(&app, &client).await;
    let started = start(
        &rp,
        &[],
        &[("prompt", "none"), ("id_token_hint", &first.raw_id_token)],
    );
    let (response, _) = browser.follow(&started.url).await;
    let out = location(&response).expect("straight back to the client");
    let code = code_of(&app, &out, started.state.secret());
    let second = redeem(&app, &rp, code, started).await;
    assert_eq!(second.claims.subject(), first.claims.subject());
}

/// oidcc-login-hint: login_hint fills in the e-mail of the login page.
#[tokio::test]
async fn login_hint_fills_in_the_login_page() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let (response, at) = app
        .browser()
        .follow(&authz(&app, &client, &[("login_hint", Some(EMAIL))]))
        .await;
    assert_shows(&at, "/connexion");
    let page = response.text().await.expect("page");
    assert!(page.contains(&format!("value=\"{EMAIL}\"")), "{page}");
}

/// oidcc-ensure-post-request-succeeds: the authorization request may be a form POST.
#[tokio::test]
async fn an_authorization_request_by_post_succeeds() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let browser = app.browser();
    let response = browser
        .post_form(
            "/authorize",
            &[
                ("client_id", client.id.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("response_type", "code"),
                ("scope", "openid email"),
                ("state", "etat-123"),
                ("nonce", "nonce-456"),
            ],
        )
        .await;
    let login = location(&response).expect("to the login page");
    assert!(login.starts_with("/connexion"), "{login}");
    let response = browser.submit_login(&login, EMAIL, PASSWORD).await;
    let next = location(&response).expect("back to the authorization");
    let (response, _) = browser.follow(&next).await;
    let out = location(&response).expect("back to the client");
    let code = code_of(&app, &out, "etat-123");
    let tokens = exchange_code(&app, &client, &code, &[]).await;
    assert_eq!(tokens.status(), 200);
    let tokens: Value = tokens.json().await.expect("JSON");
    assert_eq!(
        jwt_part(tokens["id_token"].as_str().expect("id_token"), 1)["nonce"],
        "nonce-456"
    );
}

// ---------------------------------------------------------------------------------------------
// Basic OP: bad authorization requests.
// ---------------------------------------------------------------------------------------------

/// oidcc-ensure-registered-redirect-uri: an unregistered redirect_uri gets a page, and
/// nothing is sent there.
#[tokio::test]
async fn an_unregistered_redirect_uri_gets_a_page_not_a_redirect() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let response = app
        .browser()
        .get(&authz(
            &app,
            &client,
            &[("redirect_uri", Some("https://attacker.example/callback"))],
        ))
        .await;
    let page = assert_error_page(response).await;
    assert!(!page.contains("attacker.example"), "{page}");
    // A registered URI plus a suffix is not registered either (exact match).
    let response = app
        .browser()
        .get(&authz(
            &app,
            &client,
            &[("redirect_uri", Some("https://rp.example/callback/extra"))],
        ))
        .await;
    assert_error_page(response).await;
}

/// oidcc-ensure-redirect-uri-in-authorization-request: without redirect_uri, a page.
#[tokio::test]
async fn a_request_without_redirect_uri_gets_a_page() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let response = app
        .browser()
        .get(&authz(&app, &client, &[("redirect_uri", None)]))
        .await;
    assert_error_page(response).await;
}

/// oidcc-ensure-registered-redirect-uri, unknown client: an unknown client_id gets a page:
/// there is no URI to trust.
#[tokio::test]
async fn an_unknown_client_id_gets_a_page() {
    let app = TestApp::spawn().await;
    let unknown = TestClient {
        id: "inconnu".into(),
        secret: None,
    };
    let response = app.browser().get(&authz(&app, &unknown, &[])).await;
    assert_error_page(response).await;
}

/// oidcc-response-type-missing: back to the client with invalid_request.
#[tokio::test]
async fn a_missing_response_type_is_invalid_request() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let q = error_redirect(
        &app.browser(),
        &authz(&app, &client, &[("response_type", None)]),
    )
    .await;
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "etat-123");
    assert_eq!(q["iss"], app.issuer);
}

/// oidcc-response-type-missing, variant (Basic OP offers only `code`): other response types are
/// unsupported_response_type.
#[tokio::test]
async fn another_response_type_is_unsupported_response_type() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    for response_type in ["token", "id_token", "code id_token"] {
        let q = error_redirect(
            &app.browser(),
            &authz(&app, &client, &[("response_type", Some(response_type))]),
        )
        .await;
        assert_eq!(q["error"], "unsupported_response_type", "{response_type}");
        assert_eq!(q["state"], "etat-123");
    }
}

/// oidcc-server, negative (Core §3.1.2.1): a request without the openid scope is invalid_scope.
#[tokio::test]
async fn a_request_without_the_openid_scope_is_invalid_scope() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let q = error_redirect(
        &app.browser(),
        &authz(&app, &client, &[("scope", Some("email profile"))]),
    )
    .await;
    assert_eq!(q["error"], "invalid_scope");
}

/// oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported: request
/// objects are rejected as request_not_supported.
#[tokio::test]
async fn a_request_object_is_rejected_as_unsupported() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let header = B64.encode(br#"{"alg":"none"}"#);
    let body = B64.encode(
        json!({
            "client_id": client.id,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": REDIRECT_URI,
        })
        .to_string(),
    );
    let request = format!("{header}.{body}.");
    let q = error_redirect(
        &app.browser(),
        &authz(&app, &client, &[("request", Some(&request))]),
    )
    .await;
    assert_eq!(q["error"], "request_not_supported");
    assert_eq!(q["state"], "etat-123");
}

/// oidcc-request-uri-unsigned, rejected as unsupported: request_uri is rejected as
/// request_uri_not_supported.
#[tokio::test]
async fn a_request_uri_is_rejected_as_unsupported() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let q = error_redirect(
        &app.browser(),
        &authz(
            &app,
            &client,
            &[("request_uri", Some("https://rp.example/request.jwt"))],
        ),
    )
    .await;
    assert_eq!(q["error"], "request_uri_not_supported");
    assert_eq!(q["state"], "etat-123");
}

/// oidcc-ensure-request-with-unknown-parameter-succeeds, counterpart: a repeated known
/// parameter is invalid_request (RFC 6749 §3.1).
#[tokio::test]
async fn a_repeated_parameter_is_invalid_request() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let url = format!("{}&scope=openid", authz(&app, &client, &[]));
    let q = error_redirect(&app.browser(), &url).await;
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "etat-123");
}

/// oidcc-ensure-request-with-unknown-parameter-succeeds (and oidcc-display-page): unknown
/// parameters are ignored (Core §3.1.2.1), the flow succeeds.
#[tokio::test]
async fn unknown_parameters_are_ignored() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let rp = relying_party(&app, &client).await;
    let done = code_flow_with(
        &app,
        &rp,
        &app.browser(),
        &["email"],
        &[
            ("extra_param", "1"),
            ("vendor_thing", "x"),
            ("display", "page"),
        ],
    )
    .await;
    assert!(done.tokens.refresh_token().is_some());
}

/// oidcc-ensure-request-with-acr-values-succeeds: acr_values do not stop the flow.
#[tokio::test]
async fn a_request_with_acr_values_succeeds() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let rp = relying_party(&app, &client).await;
    let done = code_flow_with(&app, &rp, &app.browser(), &[], &[("acr_values", "pwd mfa")]).await;
    assert!(done.claims.auth_context_ref().is_some());
}

// ---------------------------------------------------------------------------------------------
// PKCE.
// ---------------------------------------------------------------------------------------------

/// oidcc-ensure-request-with-valid-pkce-succeeds, negative (RFC 7636, S256 only): plain is
/// refused, back to the client with invalid_request.
#[tokio::test]
async fn pkce_plain_is_refused() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let challenge = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    for method in [Some("plain"), None] {
        let q = error_redirect(
            &app.browser(),
            &authz(
                &app,
                &client,
                &[
                    ("code_challenge", Some(challenge)),
                    ("code_challenge_method", method),
                ],
            ),
        )
        .await;
        assert_eq!(q["error"], "invalid_request", "{method:?}");
        assert_eq!(q["state"], "etat-123");
    }
}

async fn public_client(app: &TestApp) -> TestClient {
    let client = app
        .client_with("spa", |reg| {
            reg.auth_method = AuthMethod::None;
        })
        .await;
    assert!(client.secret.is_none());
    client
}

/// oidcc-ensure-request-with-valid-pkce-succeeds, negative: a public client must use PKCE.
#[tokio::test]
async fn a_public_client_without_pkce_is_refused() {
    let app = TestApp::spawn().await;
    let client = public_client(&app).await;
    let q = error_redirect(&app.browser(), &authz(&app, &client, &[])).await;
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "etat-123");
}

/// oidcc-ensure-request-with-valid-pkce-succeeds (public client): it redeems its code with its
/// client_id in the form and no secret.
#[tokio::test]
async fn a_public_client_with_pkce_redeems_its_code_without_a_secret() {
    let app = TestApp::spawn().await;
    let client = public_client(&app).await;
    app.user(EMAIL).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = authz(
        &app,
        &client,
        &[
            ("code_challenge", Some(challenge.as_str())),
            ("code_challenge_method", Some("S256")),
        ],
    );
    let out = app.browser().authorize(&url, EMAIL).await;
    let code = code_of(&app, &out, "etat-123");
    let response = app
        .http()
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", client.id.as_str()),
            ("code_verifier", verifier.secret().as_str()),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert!(body["id_token"].is_string() && body["access_token"].is_string());
}

/// oidcc-ensure-request-with-valid-pkce-succeeds through openidconnect: a public client
/// (client_id in the body, no secret).
#[tokio::test]
async fn a_public_client_completes_the_flow_through_openidconnect() {
    let app = TestApp::spawn().await;
    let client = public_client(&app).await;
    let user = app.user(EMAIL).await;
    let rp = relying_party(&app, &client).await;
    let done = code_flow(&app, &rp, &app.browser(), &["email"]).await;
    assert_eq!(done.claims.subject().as_str(), user.id);
}

async fn pkce_code(app: &TestApp, client: &TestClient) -> String {
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let url = authz(
        app,
        client,
        &[
            ("code_challenge", Some(challenge.as_str())),
            ("code_challenge_method", Some("S256")),
        ],
    );
    let out = app.browser().authorize(&url, EMAIL).await;
    code_of(app, &out, "etat-123")
}

/// oidcc-ensure-request-with-valid-pkce-succeeds, negative: a wrong code_verifier is invalid_grant.
#[tokio::test]
async fn a_wrong_code_verifier_is_invalid_grant() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let code = pkce_code(&app, &client).await;
    let (_, other_verifier) = PkceCodeChallenge::new_random_sha256();
    let response = exchange_code(
        &app,
        &client,
        &code,
        &[("code_verifier", other_verifier.secret().as_str())],
    )
    .await;
    assert_oauth_error(response, 400, "invalid_grant").await;
}

/// oidcc-ensure-request-with-valid-pkce-succeeds, negative: a code requested with a challenge
/// cannot be redeemed without the verifier.
#[tokio::test]
async fn a_missing_code_verifier_is_invalid_grant() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let code = pkce_code(&app, &client).await;
    let response = exchange_code(&app, &client, &code, &[]).await;
    assert_oauth_error(response, 400, "invalid_grant").await;
}

/// PKCE is required of every client unless its registration says otherwise: a confidential
/// client registered as operators do (`require_pkce` on) is refused a request without a
/// challenge; the same client registered with it off may still send none.
#[tokio::test]
async fn pkce_is_required_of_a_confidential_client_unless_registered_otherwise() {
    let app = TestApp::spawn().await;
    let strict = app.client_with("rp", |reg| reg.require_pkce = true).await;
    let q = error_redirect(&app.browser(), &authz(&app, &strict, &[])).await;
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "etat-123");
    assert!(q["error_description"].contains("PKCE"), "{q:?}");

    let lax = app
        .client_with("rp-lax", |reg| reg.require_pkce = false)
        .await;
    app.user(EMAIL).await;
    let out = app
        .browser()
        .authorize(&authz(&app, &lax, &[]), EMAIL)
        .await;
    let code = code_of(&app, &out, "etat-123");
    let response = exchange_code(&app, &lax, &code, &[]).await;
    assert_eq!(response.status(), 200);
}

/// A code asked for without a challenge before its client was made to need PKCE is not
/// exchanged afterwards: the token endpoint checks the registration again.
#[tokio::test]
async fn a_code_without_challenge_is_refused_once_the_client_needs_pkce() {
    // Registrations are read again at every request here.
    let app = TestApp::spawn_with(|c| c.clients.cache_seconds = 0).await;
    let client = app.client_with("rp", |reg| reg.require_pkce = false).await;
    app.user(EMAIL).await;
    let out = app
        .browser()
        .authorize(&authz(&app, &client, &[]), EMAIL)
        .await;
    let code = code_of(&app, &out, "etat-123");
    let mut current = idp::oidc::clients::client_by_id(&app.state.db, "rp")
        .await
        .expect("db")
        .expect("client")
        .registration;
    current.require_pkce = true;
    let mut tx = app.state.db.begin().await.expect("db");
    let updated = idp::oidc::clients::update_client_in(&mut tx, &current, idp::store::now())
        .await
        .expect("db");
    tx.commit().await.expect("commit");
    assert!(updated);
    let response = exchange_code(&app, &client, &code, &[]).await;
    assert_oauth_error(response, 400, "invalid_grant").await;
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens.
// ---------------------------------------------------------------------------------------------

/// oidcc-refresh-token: a refresh rotates the refresh token and gives a new access token; a
/// spent refresh token coming back revokes the whole family, the newest token included.
#[tokio::test]
async fn refresh_rotates_and_a_reused_refresh_token_revokes_the_family() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (_, done) = logged_in(&app, &client).await;
    let rp = relying_party(&app, &client).await;
    let first_refresh = done.tokens.refresh_token().expect("refresh token").clone();

    let refreshed = rp
        .exchange_refresh_token(&first_refresh)
        .expect("token endpoint")
        .request_async(&app.http())
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.access_token().secret(),
        done.access_token().secret()
    );
    let second_refresh: RefreshToken = refreshed.refresh_token().expect("rotated").clone();
    assert_ne!(second_refresh.secret(), first_refresh.secret());
    // The spent token names its successor (on SQLite, the schema's trigger inserted it in the
    // same statement), and the successor alone is unspent.
    let (successor, spent): (Option<String>, Option<i64>) =
        sqlx::query_as("SELECT successor_hash, used_at FROM refresh_tokens WHERE token_hash = $1")
            .bind(idp::secrets::hash(first_refresh.secret()))
            .fetch_one(&app.state.db.pool)
            .await
            .expect("the spent token");
    assert_eq!(
        successor.as_deref(),
        Some(idp::secrets::hash(second_refresh.secret()).as_str())
    );
    assert!(spent.is_some());
    let (live,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NULL",
    )
    .bind(idp::secrets::hash(second_refresh.secret()))
    .fetch_one(&app.state.db.pool)
    .await
    .expect("count");
    assert_eq!(live, 1);
    // The refreshed ID token is about the same person and session.
    let id_token = refreshed.id_token().expect("ID token on refresh");
    let payload = jwt_part(&id_token.to_string(), 1);
    assert_eq!(payload["sub"], done.payload["sub"]);
    assert_eq!(payload["auth_time"], done.payload["auth_time"]);
    let new_access = refreshed.access_token().secret().clone();
    assert_eq!(userinfo_get(&app, &new_access).await.status(), 200);

    // The spent token comes back: refused, and the family is revoked.
    let reused = refresh(&app, &client, first_refresh.secret()).await;
    assert_oauth_error(reused, 400, "invalid_grant").await;
    let newest = refresh(&app, &client, second_refresh.secret()).await;
    assert_oauth_error(newest, 400, "invalid_grant").await;
    assert_eq!(userinfo_get(&app, &new_access).await.status(), 401);
}

/// A refresh may ask for fewer scopes than the grant holds (RFC 6749 §6): the answer carries
/// them, and the token is rotated like any other (its successor named on it, the successor
/// refreshing in turn). A scope beyond the grant is `invalid_scope` and spends nothing: the
/// same token refreshes afterwards.
#[tokio::test]
async fn a_refresh_for_fewer_scopes_rotates_and_one_for_more_spends_nothing() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let rp = relying_party(&app, &client).await;
    let done = code_flow(&app, &rp, &app.browser(), &["email"]).await;
    let first = done
        .tokens
        .refresh_token()
        .expect("refresh token")
        .secret()
        .clone();
    let asking = |scope: &'static str, token: String| {
        let (app, client) = (&app, &client);
        async move {
            token_request(
                app,
                client,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", token.as_str()),
                    ("scope", scope),
                ],
            )
            .await
        }
    };

    let wider = asking("openid email profile", first.clone()).await;
    assert_oauth_error(wider, 400, "invalid_scope").await;

    let narrower = asking("openid", first.clone()).await;
    assert_eq!(narrower.status(), 200);
    let body: Value = narrower.json().await.expect("json");
    assert_eq!(body["scope"], "openid");
    let second = body["refresh_token"].as_str().expect("rotated").to_owned();
    let (successor,): (Option<String>,) =
        sqlx::query_as("SELECT successor_hash FROM refresh_tokens WHERE token_hash = $1")
            .bind(idp::secrets::hash(&first))
            .fetch_one(&app.state.db.pool)
            .await
            .expect("the spent token");
    assert_eq!(successor, Some(idp::secrets::hash(&second)));
    assert_eq!(refresh(&app, &client, &second).await.status(), 200);
}

/// One refresh token sent many times at once (a client retrying, or a thief racing it): one
/// request at most gets tokens, and since the token came back spent the whole family ends, the
/// winner's new refresh token included. On PostgreSQL the rotation is one statement; this is
/// what keeps it exact.
#[tokio::test]
async fn one_refresh_token_spent_at_once_many_times_rotates_at_most_once_and_ends_the_family() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (_, done) = logged_in(&app, &client).await;
    let token = done.tokens.refresh_token().expect("refresh token").secret();
    let answers =
        futures_util::future::join_all((0..8).map(|_| refresh(&app, &client, token))).await;
    let mut rotated = Vec::new();
    for answer in answers {
        match answer.status().as_u16() {
            200 => {
                let body: serde_json::Value = answer.json().await.expect("json");
                rotated.push(body["refresh_token"].as_str().expect("rotated").to_owned());
            }
            status => assert_eq!(status, 400, "a refused refresh is invalid_grant"),
        }
    }
    assert!(
        rotated.len() <= 1,
        "{} rotations of one token",
        rotated.len()
    );
    for newest in rotated {
        let response = refresh(&app, &client, &newest).await;
        assert_oauth_error(response, 400, "invalid_grant").await;
    }
}

/// oidcc-refresh-token, negative: a refresh token presented by another client is invalid_grant,
/// and does not burn it.
#[tokio::test]
async fn a_refresh_token_presented_by_another_client_is_refused() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let other = app.client("rp-other").await;
    app.user(EMAIL).await;
    let (_, done) = logged_in(&app, &client).await;
    let token = done.tokens.refresh_token().expect("refresh token").secret();
    let response = refresh(&app, &other, token).await;
    assert_oauth_error(response, 400, "invalid_grant").await;
    let response = refresh(&app, &client, token).await;
    assert_eq!(response.status(), 200);
}

// ---------------------------------------------------------------------------------------------
// Token endpoint answers.
// ---------------------------------------------------------------------------------------------

/// oidcc-server, token endpoint headers: responses, successful or not, are never cached (RFC
/// 6749 §5.1).
#[tokio::test]
async fn token_responses_carry_no_store_and_no_cache() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let out = app
        .browser()
        .authorize(&authz(&app, &client, &[]), EMAIL)
        .await;
    let code = code_of(&app, &out, "etat-123");
    let ok = exchange_code(&app, &client, &code, &[]).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(ok.headers()[header::PRAGMA], "no-cache");
    assert!(
        ok.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("ASCII")
            .starts_with("application/json")
    );
    let refused = exchange_code(&app, &client, &code, &[]).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(refused.headers()[header::PRAGMA], "no-cache");
}

/// oidcc-server (client_secret_basic), negative: a wrong client secret is invalid_client, 401,
/// with a WWW-Authenticate challenge.
#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client_with_a_challenge() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    let wrong = TestClient {
        id: client.id.clone(),
        secret: Some("mauvais-secret".into()),
    };
    let response = exchange_code(&app, &wrong, "whatever", &[]).await;
    assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    assert_oauth_error(response, 401, "invalid_client").await;
    let unknown = TestClient {
        id: "inconnu".into(),
        secret: Some("secret".into()),
    };
    let response = exchange_code(&app, &unknown, "whatever", &[]).await;
    assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    assert_oauth_error(response, 401, "invalid_client").await;
}

// ---------------------------------------------------------------------------------------------
// Consent.
// ---------------------------------------------------------------------------------------------

async fn consent_client(app: &TestApp) -> TestClient {
    app.client_with("rp-consent", |reg| reg.skip_consent = false)
        .await
}

/// Logs in through `url` and returns the consent page's address.
async fn to_consent_page(browser: &Browser, url: &str) -> String {
    let (response, at) = browser.follow(url).await;
    assert!(location(&response).is_none());
    let at = if at.contains("/connexion") {
        let response = browser.submit_login(&at, EMAIL, PASSWORD).await;
        let next = location(&response).expect("login succeeds");
        let (response, at) = browser.follow(&next).await;
        assert!(location(&response).is_none(), "expected the consent page");
        at
    } else {
        at
    };
    assert!(
        at.contains("/consentement"),
        "expected the consent page, got {at}"
    );
    at
}

/// Consent (Core §3.1.2.4; the conformance suite consents through its browser script): the page
/// is shown; refusing is access_denied with state.
#[tokio::test]
async fn refusing_consent_is_access_denied() {
    let app = TestApp::spawn().await;
    let client = consent_client(&app).await;
    app.user(EMAIL).await;
    let browser = app.browser();
    let page_uri = to_consent_page(&browser, &authz(&app, &client, &[])).await;
    let page = browser.get(&page_uri).await.text().await.expect("page");
    assert_shows(&page, "Application rp-consent");
    assert_shows(&page, "Votre adresse e-mail");
    let response = browser
        .post_form(
            "/consentement",
            &[
                ("csrf", &csrf_of(&page)),
                ("authreq", &hidden_field(&page, "authreq").expect("authreq")),
                ("decision", "deny"),
            ],
        )
        .await;
    let out = location(&response).expect("back to the client");
    assert!(out.starts_with(REDIRECT_URI), "{out}");
    let q = query_of(&out);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "etat-123");
    assert_eq!(q["iss"], app.issuer);
    assert!(!q.contains_key("code"));
}

/// Consent (Core §3.1.2.4): allowing gives a code, and the next authorization for the same
/// scopes skips the page.
#[tokio::test]
async fn consent_given_once_is_remembered() {
    let app = TestApp::spawn().await;
    let client = consent_client(&app).await;
    app.user(EMAIL).await;
    let browser = app.browser();
    let page_uri = to_consent_page(&browser, &authz(&app, &client, &[])).await;
    let out = browser.consent(&page_uri, "allow").await;
    let code = code_of(&app, &out, "etat-123");
    assert_eq!(exchange_code(&app, &client, &code, &[]).await.status(), 200);

    let (response, at) = browser.follow(&authz(&app, &client, &[])).await;
    let out = location(&response).unwrap_or_else(|| panic!("a page again at {at}"));
    code_of(&app, &out, "etat-123");
    // A scope not consented to yet asks again.
    let url = authz(
        &app,
        &client,
        &[("scope", Some("openid email organization"))],
    );
    to_consent_page(&browser, &url).await;
}

/// Consent, prompt=consent (Core §3.1.2.1; not a module): prompt=consent shows the page even
/// after consent was given.
#[tokio::test]
async fn prompt_consent_asks_again() {
    let app = TestApp::spawn().await;
    let client = consent_client(&app).await;
    app.user(EMAIL).await;
    let browser = app.browser();
    let page_uri = to_consent_page(&browser, &authz(&app, &client, &[])).await;
    browser.consent(&page_uri, "allow").await;
    let url = authz(&app, &client, &[("prompt", Some("consent"))]);
    let page_uri = to_consent_page(&browser, &url).await;
    let out = browser.consent(&page_uri, "allow").await;
    code_of(&app, &out, "etat-123");
}

/// oidcc-prompt-none-logged-in, without consent: consent_required.
#[tokio::test]
async fn prompt_none_without_consent_is_consent_required() {
    let app = TestApp::spawn().await;
    let client = consent_client(&app).await;
    let plain = app.client("rp").await;
    app.user(EMAIL).await;
    let (browser, _) = logged_in(&app, &plain).await;
    let q = error_redirect(&browser, &authz(&app, &client, &[("prompt", Some("none"))])).await;
    assert_eq!(q["error"], "consent_required");
    assert_eq!(q["state"], "etat-123");
}

// ---------------------------------------------------------------------------------------------
// RP-Initiated Logout.
// ---------------------------------------------------------------------------------------------

fn logout_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&app.url("/logout")).expect("url");
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

/// oidcc-rp-initiated-logout: with id_token_hint, post_logout_redirect_uri and state, the
/// session ends and the person goes back to the client with its state.
#[tokio::test]
async fn rp_initiated_logout_ends_the_session_and_returns_with_state() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (browser, done) = logged_in(&app, &client).await;
    assert!(has_session(&app, &client, &browser).await);
    let response = browser
        .get(&logout_url(
            &app,
            &[
                ("id_token_hint", &done.raw_id_token),
                ("post_logout_redirect_uri", POST_LOGOUT_URI),
                ("state", "etat-deconnexion"),
            ],
        ))
        .await;
    assert!(response.status().is_redirection());
    let out = location(&response).expect("back to the client");
    assert!(out.starts_with(POST_LOGOUT_URI), "{out}");
    assert_eq!(query_of(&out)["state"], "etat-deconnexion");
    // The session cookie is cleared, and the session is gone on the server too.
    assert!(
        set_cookies(&response)
            .iter()
            .any(|c| c.starts_with("idp_session=;") && c.contains("Max-Age=0"))
    );
    let q = error_redirect(&browser, &authz(&app, &client, &[("prompt", Some("none"))])).await;
    assert_eq!(q["error"], "login_required");
}

/// oidcc-rp-initiated-logout-bad-post-logout-redirect-uri: an unregistered URI gets a page,
/// nobody is redirected and the session is not ended.
#[tokio::test]
async fn logout_with_an_unregistered_post_logout_redirect_uri_gets_a_page() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (browser, done) = logged_in(&app, &client).await;
    let response = browser
        .get(&logout_url(
            &app,
            &[
                ("id_token_hint", &done.raw_id_token),
                ("post_logout_redirect_uri", "https://attacker.example/bye"),
                ("state", "s"),
            ],
        ))
        .await;
    assert_error_page(response).await;
    assert!(has_session(&app, &client, &browser).await, "session kept");
}

/// oidcc-rp-initiated-logout-modified-id-token-hint: a tampered hint gets a page, no redirect,
/// and the session stays.
#[tokio::test]
async fn logout_with_a_modified_id_token_hint_gets_a_page() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (browser, done) = logged_in(&app, &client).await;
    let mut payload = done.payload.clone();
    payload["sub"] = json!("someone-else");
    let parts: Vec<&str> = done.raw_id_token.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(serde_json::to_vec(&payload).expect("JSON")),
        parts[2]
    );
    let response = browser
        .get(&logout_url(
            &app,
            &[
                ("id_token_hint", &tampered),
                ("post_logout_redirect_uri", POST_LOGOUT_URI),
                ("state", "s"),
            ],
        ))
        .await;
    assert_error_page(response).await;
    assert!(has_session(&app, &client, &browser).await, "session kept");
}

/// oidcc-rp-initiated-logout-bad-post-logout-redirect-uri: a URI registered for another
/// client than the hint's is not registered for this one.
#[tokio::test]
async fn logout_to_another_clients_post_logout_redirect_uri_gets_a_page() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.client_with("rp-other", |reg| {
        reg.post_logout_redirect_uris = vec!["https://other.example/bye".into()];
    })
    .await;
    app.user(EMAIL).await;
    let (browser, done) = logged_in(&app, &client).await;
    let response = browser
        .get(&logout_url(
            &app,
            &[
                ("id_token_hint", &done.raw_id_token),
                ("post_logout_redirect_uri", "https://other.example/bye"),
            ],
        ))
        .await;
    assert_error_page(response).await;
    // Naming the other client does not help: it does not match the hint.
    let response = browser
        .get(&logout_url(
            &app,
            &[
                ("id_token_hint", &done.raw_id_token),
                ("client_id", "rp-other"),
                ("post_logout_redirect_uri", "https://other.example/bye"),
            ],
        ))
        .await;
    assert_error_page(response).await;
    assert!(has_session(&app, &client, &browser).await, "session kept");
}

/// oidcc-rp-initiated-logout-no-state: back to the client without a state.
#[tokio::test]
async fn logout_without_state_returns_without_state() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (browser, done) = logged_in(&app, &client).await;
    let response = browser
        .get(&logout_url(
            &app,
            &[
                ("id_token_hint", &done.raw_id_token),
                ("post_logout_redirect_uri", POST_LOGOUT_URI),
            ],
        ))
        .await;
    let out = location(&response).expect("back to the client");
    assert_eq!(out, POST_LOGOUT_URI);
    assert!(!has_session(&app, &client, &browser).await);
}

/// oidcc-rp-initiated-logout-no-params: the person is asked to confirm; confirming ends the
/// session.
#[tokio::test]
async fn logout_without_parameters_asks_for_confirmation() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (browser, _) = logged_in(&app, &client).await;
    let response = browser.get("/logout").await;
    assert_eq!(response.status(), 200);
    assert!(location(&response).is_none());
    let page = response.text().await.expect("page");
    // Showing the page ends nothing.
    assert!(has_session(&app, &client, &browser).await);
    let response = browser
        .post_form(
            "/logout",
            &[
                ("csrf", &csrf_of(&page)),
                (
                    "client_id",
                    &hidden_field(&page, "client_id").unwrap_or_default(),
                ),
                (
                    "post_logout_redirect_uri",
                    &hidden_field(&page, "post_logout_redirect_uri").unwrap_or_default(),
                ),
                ("state", &hidden_field(&page, "state").unwrap_or_default()),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(location(&response).is_none());
    assert!(!has_session(&app, &client, &browser).await);
}

/// oidcc-rp-initiated-logout-no-params, negative: the confirmation is CSRF-protected.
#[tokio::test]
async fn a_logout_confirmation_with_a_wrong_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (browser, _) = logged_in(&app, &client).await;
    let response = browser
        .post_form("/logout", &[("csrf", "pas-le-bon-jeton")])
        .await;
    assert_eq!(response.status(), 403);
    assert!(has_session(&app, &client, &browser).await);
}

/// oidcc-rp-initiated-logout-query-with-post: the relying party may POST the logout form.
#[tokio::test]
async fn rp_initiated_logout_by_post_works() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (browser, done) = logged_in(&app, &client).await;
    let response = browser
        .post_form(
            "/logout",
            &[
                ("id_token_hint", &done.raw_id_token),
                ("post_logout_redirect_uri", POST_LOGOUT_URI),
                ("state", "etat-post"),
            ],
        )
        .await;
    let out = location(&response).expect("back to the client");
    assert!(out.starts_with(POST_LOGOUT_URI), "{out}");
    assert_eq!(query_of(&out)["state"], "etat-post");
    assert!(!has_session(&app, &client, &browser).await);
}

/// RP-Initiated Logout §2, client_id without id_token_hint (not a module): with client_id, the
/// person confirms, then goes back.
#[tokio::test]
async fn logout_with_client_id_and_no_hint_confirms_then_redirects() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (browser, _) = logged_in(&app, &client).await;
    let response = browser
        .get(&logout_url(
            &app,
            &[
                ("client_id", &client.id),
                ("post_logout_redirect_uri", POST_LOGOUT_URI),
                ("state", "etat-x"),
            ],
        ))
        .await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.expect("page");
    assert!(has_session(&app, &client, &browser).await);
    let response = browser
        .post_form(
            "/logout",
            &[
                ("csrf", &csrf_of(&page)),
                (
                    "client_id",
                    &hidden_field(&page, "client_id").expect("client_id"),
                ),
                (
                    "post_logout_redirect_uri",
                    &hidden_field(&page, "post_logout_redirect_uri").expect("uri"),
                ),
                ("state", &hidden_field(&page, "state").expect("state")),
            ],
        )
        .await;
    let out = location(&response).expect("back to the client");
    assert!(out.starts_with(POST_LOGOUT_URI), "{out}");
    assert_eq!(query_of(&out)["state"], "etat-x");
    assert!(!has_session(&app, &client, &browser).await);
}

// ---------------------------------------------------------------------------------------------
// The login page.
// ---------------------------------------------------------------------------------------------

const BAD_CREDENTIALS: &str = "Identifiant ou mot de passe incorrect.";

/// oidcc-server login step (not a module: the suite drives our page): a wrong password and an
/// unknown e-mail get the same message, and no session.
#[tokio::test]
async fn wrong_credentials_get_one_generic_message() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let mut answers = Vec::new();
    for (email, password) in [
        (EMAIL, "Mauvais-mot-de-passe-1"),
        ("personne@centre.fr", PASSWORD),
    ] {
        let browser = app.browser();
        let (_, at) = browser.follow(&authz(&app, &client, &[])).await;
        assert_shows(&at, "/connexion");
        let response = browser.submit_login(&at, email, password).await;
        assert!(location(&response).is_none(), "no redirect on failure");
        assert!(
            !set_cookies(&response)
                .iter()
                .any(|c| c.starts_with("idp_session=")),
            "no session"
        );
        let status = response.status();
        let page = response.text().await.expect("page");
        assert_shows(&page, BAD_CREDENTIALS);
        assert!(!has_session(&app, &client, &browser).await);
        answers.push(status);
    }
    assert_eq!(answers[0], answers[1], "same answer for both");
}

/// oidcc-server login step (not a module): a login POST without the CSRF field is refused with
/// 403 and starts no session.
#[tokio::test]
async fn a_login_without_the_csrf_field_is_refused() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let browser = app.browser();
    let (response, at) = browser.follow(&authz(&app, &client, &[])).await;
    assert_shows(&at, "/connexion");
    let page = response.text().await.expect("page");
    let response = browser
        .post_form(
            "/connexion",
            &[
                ("authreq", &hidden_field(&page, "authreq").expect("authreq")),
                ("email", EMAIL),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), 403);
    assert!(location(&response).is_none());
    assert!(
        !set_cookies(&response)
            .iter()
            .any(|c| c.starts_with("idp_session="))
    );
    assert!(!has_session(&app, &client, &browser).await);
}

/// oidcc-server login step (not a module): with secure cookies, the session cookie is `__Host-`
/// prefixed, Secure, HttpOnly, SameSite=Lax, Path=/ and has no Domain.
#[tokio::test]
async fn secure_cookies_use_the_host_prefix_and_every_attribute() {
    let app = TestApp::spawn_with(|c| c.session.secure_cookies = true).await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    // Plain HTTP: reqwest would not send Secure cookies back, so they go by hand.
    let http = app.http();
    let response = http
        .get(authz(&app, &client, &[]))
        .send()
        .await
        .expect("authorize");
    let login = location(&response).expect("to the login page");
    let response = http.get(app.url(&login)).send().await.expect("login page");
    let csrf_cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("__Host-idp_csrf="))
        .expect("a __Host- CSRF cookie");
    let page = response.text().await.expect("page");
    let csrf = csrf_of(&page);
    let browser_value = csrf_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.strip_prefix("__Host-idp_csrf="))
        .expect("a value");
    // The form's token is derived from the cookie, never the cookie itself.
    assert_ne!(browser_value, csrf);
    let response = http
        .post(app.url("/connexion"))
        .header(header::COOKIE, format!("__Host-idp_csrf={browser_value}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("authreq", &hidden_field(&page, "authreq").expect("authreq")),
            ("email", EMAIL),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("login");
    assert!(response.status().is_redirection(), "{}", response.status());
    let cookies = set_cookies(&response);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-idp_session="))
        .unwrap_or_else(|| panic!("a __Host- session cookie in {cookies:?}"));
    for cookie in [session.as_str(), csrf_cookie.as_str()] {
        let attributes: Vec<String> = cookie
            .split(';')
            .skip(1)
            .map(|a| a.trim().to_ascii_lowercase())
            .collect();
        for wanted in ["secure", "httponly", "samesite=lax", "path=/"] {
            assert!(
                attributes.iter().any(|a| a == wanted),
                "{wanted} in {cookie}"
            );
        }
        assert!(
            !attributes.iter().any(|a| a.starts_with("domain")),
            "no Domain in {cookie}"
        );
    }
    assert!(
        !cookies.iter().any(|c| c.starts_with("idp_session=")),
        "no unprefixed cookie"
    );
    // The session works when the browser sends it back.
    let token = session
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v.to_owned())
        .expect("value");
    let response = http
        .get(authz(&app, &client, &[("prompt", Some("none"))]))
        .header(header::COOKIE, format!("__Host-idp_session={token}"))
        .send()
        .await
        .expect("authorize");
    let out = location(&response).expect("back to the client");
    code_of(&app, &out, "etat-123");
}

/// oidcc-claims-essential (negative): a claim of a scope the client is not registered for is
/// not released through the claims parameter.
#[tokio::test]
async fn the_claims_parameter_cannot_reach_beyond_the_clients_scopes() {
    let app = TestApp::spawn().await;
    let client = app
        .client_with("rp", |reg| {
            reg.scopes = vec!["openid".into(), "email".into()]
        })
        .await;
    app.user(EMAIL).await;
    let claims =
        r#"{"userinfo":{"siret":{"essential":true},"email":null},"id_token":{"family_name":null}}"#;
    let tokens = raw_flow(
        &app,
        &client,
        &app.browser(),
        &authz(
            &app,
            &client,
            &[("scope", Some("openid")), ("claims", Some(claims))],
        ),
    )
    .await;
    let info = userinfo_json(&app, tokens["access_token"].as_str().expect("token")).await;
    assert_eq!(names(&info), ["email", "sub"]);
    let payload = jwt_part(tokens["id_token"].as_str().expect("id_token"), 1);
    assert!(payload.get("family_name").is_none(), "{payload}");
}

/// Consent covers the scope of a claim named in the claims parameter.
#[tokio::test]
async fn the_consent_page_lists_the_scope_of_a_claim_asked_for_by_name() {
    let app = TestApp::spawn().await;
    let client = app.client_with("rp", |reg| reg.skip_consent = false).await;
    app.user(EMAIL).await;
    let browser = app.browser();
    let claims = r#"{"userinfo":{"siret":null}}"#;
    let (response, at) = browser
        .follow(&authz(
            &app,
            &client,
            &[("scope", Some("openid")), ("claims", Some(claims))],
        ))
        .await;
    assert!(at.contains("/connexion"), "{at} {}", response.status());
    let response = browser.submit_login(&at, EMAIL, PASSWORD).await;
    let (page, at) = browser
        .follow(&location(&response).expect("redirect"))
        .await;
    assert_shows(&at, "/consentement");
    let html = page.text().await.expect("page");
    assert_shows(&html, "Votre organisation (SIREN, SIRET, raison sociale)");
}
