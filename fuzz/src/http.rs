//! Whole requests through the provider's router, in process: the authorization request
//! (`POST /authorize`, the same checks as `GET`), the token request (`POST /token`, with the
//! client authentication: Basic header, `client_secret_post`, `private_key_jwt` assertions)
//! and RP-initiated logout (`POST /logout`, the `id_token_hint` and the session cookie).
//!
//! One provider per process: SQLite in a temporary directory, the in-memory shared store,
//! three registered clients (see [`CLIENT_SECRET`], [`fixed_public_jwk`]).

use std::{net::SocketAddr, sync::OnceLock};

use axum::{
    Router,
    body::Body,
    extract::ConnectInfo,
    http::{HeaderValue, Method, Request, header},
};
use idp::{
    AppState,
    config::Config,
    keys::SigningAlg,
    oidc::clients::{self, AuthMethod, ClientRegistration},
};
use tower::ServiceExt;

use crate::{ISSUER, fixed_public_jwk};

/// Secret of the `fuzz-basic` client, so seeds can authenticate.
pub const CLIENT_SECRET: &str = "fuzz-secret";
/// Registered redirect URI of every fuzz client.
pub const REDIRECT_URI: &str = "https://rp.fuzz.example/callback";

struct Provider {
    runtime: tokio::runtime::Runtime,
    router: Router,
}

fn provider() -> &'static Provider {
    static PROVIDER: OnceLock<Provider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = std::env::temp_dir().join(format!("efp-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let mut config = Config {
            issuer: ISSUER.to_owned(),
            database_url: format!("sqlite://{}/idp.db?mode=rwc", dir.display()),
            ..Config::default()
        };
        config.keys.dir = dir.join("keys");
        config.mail.outbox_dir = dir.join("outbox");
        config.anti_robot.enabled = false;
        let state = runtime.block_on(async {
            let state = AppState::open(config).await.expect("provider starts");
            register(&state).await;
            state
        });
        Provider {
            runtime,
            router: idp::router(state),
        }
    })
}

async fn register(state: &AppState) {
    let scopes = [
        "openid",
        "email",
        "profile",
        "organization",
        "offline_access",
    ]
    .map(String::from)
    .to_vec();
    for (id, method, jwks) in [
        ("fuzz-basic", AuthMethod::ClientSecretBasic, None),
        ("fuzz-post", AuthMethod::ClientSecretPost, None),
        ("fuzz-public", AuthMethod::None, None),
        (
            "fuzz-jwt",
            AuthMethod::PrivateKeyJwt,
            Some(serde_json::json!({ "keys": [fixed_public_jwk()] })),
        ),
    ] {
        let reg = ClientRegistration {
            client_id: id.to_owned(),
            name: format!("Application {id}"),
            auth_method: method,
            redirect_uris: vec![REDIRECT_URI.to_owned()],
            post_logout_redirect_uris: vec!["https://rp.fuzz.example/".to_owned()],
            // Public clients may not use client_credentials.
            grant_types: ["authorization_code", "refresh_token", "client_credentials"]
                .into_iter()
                .filter(|g| method != AuthMethod::None || *g != "client_credentials")
                .map(String::from)
                .collect(),
            scopes: scopes.clone(),
            id_token_alg: SigningAlg::ES256,
            jwks,
            skip_consent: false,
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            require_mfa: false,
            require_pkce: false,
            introspects: Vec::new(),
            forwards_end_user_ip: false,
        };
        clients::insert_client(&state.db, &reg)
            .await
            .expect("database")
            .expect("valid registration");
    }
    // A known secret instead of the random one, so committed seeds authenticate.
    sqlx::query(
        "UPDATE clients SET secret_hash = $1 WHERE client_id IN ('fuzz-basic', 'fuzz-post')",
    )
    .bind(idp::secrets::hash(CLIENT_SECRET))
    .execute(&state.db.pool)
    .await
    .expect("database");
}

/// Sends one request; only a panic (or a 500 on a parse path) matters.
fn send(path: &str, headers: &[(header::HeaderName, &[u8])], body: &[u8]) -> u16 {
    let provider = provider();
    let router = provider.router.clone();
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            request = request.header(name, value);
        }
    }
    let mut request = request.body(Body::from(body.to_vec())).expect("request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40000))));
    let response = provider
        .runtime
        .block_on(router.oneshot(request))
        .expect("infallible");
    let status = response.status().as_u16();
    if std::env::var_os("IDP_FUZZ_VERBOSE").is_some() {
        eprintln!(
            "{path} -> {status} {:?}",
            response.headers().get(header::LOCATION)
        );
    }
    assert!(
        status != 500,
        "{path} answered 500 to a request (an unhandled case of the parser)"
    );
    status
}

/// Splits at the first newline: (first line, rest).
fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[], data),
    }
}

/// `POST /authorize` with the input as the form body: parameter parsing, the client and
/// redirect URI checks, `request`/`request_uri` refusal, PKCE, `prompt`, `max_age`, `claims`.
pub fn http_authorize(data: &[u8]) {
    send("/authorize", &[], data);
}

/// `POST /token`: the first line is the `Authorization` header (Basic credentials), the rest
/// the form body (grant, `client_secret_post`, `client_assertion` JWTs).
pub fn http_token(data: &[u8]) {
    let (authorization, body) = split_line(data);
    send("/token", &[(header::AUTHORIZATION, authorization)], body);
}

/// `POST /logout`: the first line is the `Cookie` header (session id, CSRF token), the rest
/// the form body (`id_token_hint`, `client_id`, `post_logout_redirect_uri`, `csrf`).
pub fn http_logout(data: &[u8]) {
    let (cookie, body) = split_line(data);
    send("/logout", &[(header::COOKIE, cookie)], body);
}
