//! OpenID Connect Back-Channel Logout 1.0: registration, discovery, and logout tokens posted to
//! a real local receiver by the provider's worker, with retries and giving up.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Form, Router, extract::State, http::StatusCode, routing::post};
use idp::oidc::clients::{self, RegistrationError};
use idp_tests::*;
use serde_json::Value;

const EMAIL: &str = "alice@centre.fr";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A relying party's back-channel logout endpoint: answers 500 to the first `failures` posts,
/// then 200, and keeps every `logout_token` it was sent.
#[derive(Clone)]
struct Receiver {
    tokens: Arc<Mutex<Vec<String>>>,
    failures: usize,
}

async fn receive(
    State(r): State<Receiver>,
    Form(mut form): Form<HashMap<String, String>>,
) -> StatusCode {
    let mut tokens = r.tokens.lock().unwrap();
    tokens.push(form.remove("logout_token").unwrap_or_default());
    if tokens.len() <= r.failures {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

impl Receiver {
    /// Listens on a free local port: the receiver and its URI.
    async fn start(failures: usize) -> (Self, String) {
        let receiver = Self {
            tokens: Arc::default(),
            failures,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/backchannel-logout", post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (
            receiver,
            format!("http://127.0.0.1:{}/backchannel-logout", addr.port()),
        )
    }

    fn tokens(&self) -> Vec<String> {
        self.tokens.lock().unwrap().clone()
    }
}

/// A provider retrying after 1 s, its worker looking every second.
async fn provider(max_attempts: u32) -> TestApp {
    TestApp::spawn_with(|c| {
        c.backchannel_logout.retry_seconds = 1;
        c.backchannel_logout.poll_seconds = 1;
        c.backchannel_logout.max_attempts = max_attempts;
    })
    .await
}

/// Logs `EMAIL` into `client` with a new browser: the browser and the ID token.
async fn logged_in(app: &TestApp, client: &TestClient) -> (Browser, String) {
    let browser = app.browser();
    let tokens = browser
        .tokens(app, client, &auth_url(app, client, &[]), EMAIL)
        .await;
    (browser, string(&tokens, "id_token"))
}

/// The claims of `token` once its RS256 signature checks against the provider's JWKS, and its
/// header's `typ`.
async fn verified(app: &TestApp, token: &str, aud: &str) -> (Value, Option<String>) {
    let header = jsonwebtoken::decode_header(token).expect("a JWS");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let jwks = app.get_json("/jwks").await;
    let key = served_key(&jwks, header.kid.as_deref().expect("kid"));
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[aud]);
    validation.set_issuer(&[&app.issuer]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).expect("valid signature");
    (data.claims, header.typ)
}

fn unverified_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON claims")
}

async fn queued(app: &TestApp) -> i64 {
    app.count(
        "SELECT count(*) FROM logout_deliveries WHERE client_id <> $1",
        "",
    )
    .await
}

#[tokio::test]
async fn discovery_advertises_back_channel_logout() {
    let app = TestApp::spawn().await;
    let doc = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(doc["backchannel_logout_supported"], true);
    assert_eq!(doc["backchannel_logout_session_supported"], true);
}

#[tokio::test]
async fn a_back_channel_logout_uri_must_be_https_or_loopback_without_fragment() {
    let app = TestApp::spawn().await;
    for (i, bad) in [
        "http://rp.example/logout",
        "https://rp.example/logout#x",
        "/logout",
        "javascript:alert(1)",
    ]
    .into_iter()
    .enumerate()
    {
        let mut reg = registration(&format!("bad-{i}"));
        reg.backchannel_logout_uri = Some(bad.to_owned());
        let refused = clients::insert_client(&app.state.db, &reg)
            .await
            .expect("db");
        assert!(
            matches!(refused, Err(RegistrationError::BackchannelLogoutUri(ref u)) if u == bad),
            "{bad}: {refused:?}"
        );
    }
    let mut reg = registration("good");
    reg.backchannel_logout_uri = Some("https://rp.example/logout?from=idp".into());
    reg.backchannel_logout_session_required = true;
    clients::insert_client(&app.state.db, &reg)
        .await
        .expect("db")
        .expect("accepted");
    let stored = clients::client_by_id(&app.state.db, "good")
        .await
        .expect("db")
        .expect("stored");
    assert_eq!(
        stored.backchannel_logout_uri.as_deref(),
        Some("https://rp.example/logout?from=idp")
    );
    assert!(stored.backchannel_logout_session_required);
}

fn registration(id: &str) -> clients::ClientRegistration {
    clients::ClientRegistration {
        client_id: id.to_owned(),
        name: id.to_owned(),
        auth_method: clients::AuthMethod::ClientSecretBasic,
        redirect_uris: vec![REDIRECT_URI.to_owned()],
        post_logout_redirect_uris: vec![],
        grant_types: vec!["authorization_code".into()],
        scopes: vec!["openid".into()],
        id_token_alg: idp::keys::SigningAlg::RS256,
        jwks: None,
        skip_consent: true,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        require_mfa: false,
        require_pkce: false,
        introspects: Vec::new(),
        forwards_end_user_ip: false,
    }
}

/// The first POST fails, the worker tries again and the second succeeds; the token is a
/// signed logout token for this client and session, never an ID token.
#[tokio::test]
async fn logout_posts_a_logout_token_and_retries_a_failed_post() {
    let (receiver, uri) = Receiver::start(1).await;
    let app = provider(5).await;
    let told = app
        .client_with("rp", |r| r.backchannel_logout_uri = Some(uri.clone()))
        .await;
    // A client without a back-channel URI, logged into by the same session: not told.
    let silent = app.client("silent").await;
    app.user(EMAIL).await;
    let (browser, id_token) = logged_in(&app, &told).await;
    browser
        .tokens(&app, &silent, &auth_url(&app, &silent, &[]), EMAIL)
        .await;
    let response = browser
        .get(&format!("{}?id_token_hint={id_token}", app.url("/logout")))
        .await;
    assert_eq!(response.status(), 200, "the logout page, at once");

    assert!(
        eventually(Duration::from_secs(15), || async {
            receiver.tokens().len() == 2 && queued(&app).await == 0
        })
        .await,
        "two posts, then nothing queued: {:?}",
        receiver.tokens().len()
    );
    let tokens = receiver.tokens();
    let (claims, typ) = verified(&app, &tokens[1], "rp").await;
    assert_eq!(typ.as_deref(), Some("logout+jwt"));
    let id_claims = unverified_claims(&id_token);
    assert_eq!(claims["sub"], id_claims["sub"]);
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert!(claims["events"][EVENT].is_object(), "{claims}");
    assert!(claims.get("nonce").is_none(), "{claims}");
    assert!(claims["exp"].as_i64() > claims["iat"].as_i64());
    // The retry is the same token signed again: one jti.
    assert_eq!(unverified_claims(&tokens[0])["jti"], claims["jti"]);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE action = 'session.logout_queued' AND actor = $1",
            &string(&id_claims, "sub"),
        )
        .await,
        1
    );
}

/// A client that never answers well is given up after `max_attempts`, with an audit event.
#[tokio::test]
async fn a_delivery_that_keeps_failing_is_given_up_and_audited() {
    let (receiver, uri) = Receiver::start(usize::MAX).await;
    let app = provider(2).await;
    let client = app
        .client_with("rp", |r| r.backchannel_logout_uri = Some(uri.clone()))
        .await;
    app.user(EMAIL).await;
    let (browser, id_token) = logged_in(&app, &client).await;
    browser
        .get(&format!("{}?id_token_hint={id_token}", app.url("/logout")))
        .await;
    assert!(
        eventually(Duration::from_secs(15), || async {
            app.count(
                "SELECT count(*) FROM audit_events WHERE action = 'backchannel_logout.abandoned' AND target = $1",
                "rp",
            )
            .await
                == 1
        })
        .await
    );
    assert_eq!(receiver.tokens().len(), 2);
    assert_eq!(queued(&app).await, 0);
}

/// A session that logged into no client with a back-channel URI queues nothing.
#[tokio::test]
async fn a_session_without_such_clients_queues_nothing() {
    let app = provider(5).await;
    let client = app.client("rp").await;
    app.user(EMAIL).await;
    let (browser, id_token) = logged_in(&app, &client).await;
    browser
        .get(&format!("{}?id_token_hint={id_token}", app.url("/logout")))
        .await;
    assert_eq!(queued(&app).await, 0);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE action = 'session.logout_queued' AND target <> $1",
            "",
        )
        .await,
        0
    );
}

/// A provider as [`provider`] keeping at most `max_sessions` sessions per account, with a
/// client `rp` told at the receiver's URI (`sid` required, as the demo CERES registers).
async fn provider_and_rp(max_sessions: usize) -> (TestApp, TestClient, Receiver) {
    let (receiver, uri) = Receiver::start(0).await;
    let app = TestApp::spawn_with(|c| {
        c.backchannel_logout.retry_seconds = 1;
        c.backchannel_logout.poll_seconds = 1;
        c.session.max_per_account = max_sessions;
    })
    .await;
    let client = app
        .client_with("rp", |r| {
            r.backchannel_logout_uri = Some(uri.clone());
            r.backchannel_logout_session_required = true;
        })
        .await;
    app.user(EMAIL).await;
    (app, client, receiver)
}

/// The `(sub, sid)` the receiver was told, sorted, once `count` tokens arrived and nothing is
/// left queued; each token checked as a logout token for `rp`.
async fn told(app: &TestApp, receiver: &Receiver, count: usize) -> Vec<(String, String)> {
    assert!(
        eventually(Duration::from_secs(15), || async {
            receiver.tokens().len() >= count && queued(app).await == 0
        })
        .await,
        "{count} logout tokens expected, {} received",
        receiver.tokens().len()
    );
    let mut named = Vec::new();
    for token in receiver.tokens() {
        let (claims, typ) = verified(app, &token, "rp").await;
        assert_eq!(typ.as_deref(), Some("logout+jwt"));
        named.push((string(&claims, "sub"), string(&claims, "sid")));
    }
    named.sort();
    named
}

/// The `(sub, sid)` of an ID token.
fn session_of(id_token: &str) -> (String, String) {
    let claims = unverified_claims(id_token);
    (string(&claims, "sub"), string(&claims, "sid"))
}

/// A login past `session.max_per_account` pushes the oldest session out: its clients are told,
/// the newer session's are not.
#[tokio::test]
async fn a_session_pushed_out_by_the_per_account_cap_is_told() {
    let (app, client, receiver) = provider_and_rp(1).await;
    let (_, oldest) = logged_in(&app, &client).await;
    let (_, newest) = logged_in(&app, &client).await;
    assert_eq!(told(&app, &receiver, 1).await, [session_of(&oldest)]);
    assert_ne!(session_of(&newest).1, session_of(&oldest).1);
}

/// A session ended from « Mes sessions » on another browser: its clients are told, and only
/// for that session.
#[tokio::test]
async fn a_session_ended_from_my_sessions_is_told() {
    let (app, client, receiver) = provider_and_rp(10).await;
    let (_, phone) = logged_in(&app, &client).await;
    let (laptop, _) = logged_in(&app, &client).await;
    let (_, sid) = session_of(&phone);
    let answer = laptop.post_to("/compte/sessions", &[("sid", &sid)]).await;
    assert_redirect(&answer, "/compte/sessions");
    assert_eq!(told(&app, &receiver, 1).await, [session_of(&phone)]);
}

/// Account deletion: every live session of the person is told to the clients it logged into,
/// though the grants they are found from go with the account (queued in the same transaction).
#[tokio::test]
async fn account_deletion_tells_the_clients_of_every_session() {
    let (app, client, receiver) = provider_and_rp(10).await;
    let (_, phone) = logged_in(&app, &client).await;
    let (laptop, on_laptop) = logged_in(&app, &client).await;
    let answer = laptop
        .post_to(
            "/compte/suppression",
            &[("password", PASSWORD), ("confirmation", "on")],
        )
        .await;
    assert_eq!(answer.status(), 200, "« Votre compte a été supprimé »");
    let mut expected = vec![session_of(&phone), session_of(&on_laptop)];
    expected.sort();
    assert_eq!(told(&app, &receiver, 2).await, expected);
    let (sub, _) = session_of(&phone);
    assert_eq!(app.rows_of_user("grants", &sub).await, 0, "the grants went");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_events WHERE action = 'session.logout_queued' AND actor = $1",
            &sub,
        )
        .await,
        2
    );
}
