//! The OpenID Connect protocol: discovery, keys, authorization, tokens, userinfo, revocation,
//! introspection and logout. Pages (login, consent) only hand back to it.

pub mod actions;
pub mod assurance;
pub mod authorize;
pub mod backchannel;
pub mod claims;
pub mod client_auth;
pub mod clients;
pub mod consent;
pub mod denylist;
pub mod discovery;
pub mod end_session;
pub mod grants;
pub mod introspection;
pub mod jwks;
pub mod known_accounts;
pub mod pending;
pub mod revocation;
pub mod token;
pub mod tokens;
pub mod userinfo;
pub mod verified;

/// A document published to relying parties (discovery, keys): any origin may read it, and
/// caches keep it for `cache_control`.
fn public_document(
    content_type: &'static str,
    body: String,
    cache_control: &'static str,
) -> axum::response::Response {
    use axum::http::header;
    axum::response::IntoResponse::into_response((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache_control),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    ))
}

/// Scopes the provider knows. Others are ignored in requests.
pub const SUPPORTED_SCOPES: [&str; 6] = [
    "openid",
    "email",
    "profile",
    "organization",
    "habilitations",
    "offline_access",
];

/// The protocol's endpoints that people's browsers visit (they may answer a page).
pub fn routes() -> axum::Router<crate::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/authorize", get(authorize::get).post(authorize::post))
        .route("/authorize/continue", get(authorize::resume))
        .route("/logout", get(end_session::get).post(end_session::post))
        .route(
            crate::accounts::upstream::LOGOUT_RETURN_PATH,
            get(end_session::back_from_upstream),
        )
        .route("/consentement", get(consent::show).post(consent::submit))
}

/// The endpoints that only machines call and that answer JSON (or a bare status), never a
/// page: no page scope around them (lib.rs), the busiest requests of the provider.
pub fn api_routes() -> axum::Router<crate::AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::discovery),
        )
        .route("/jwks", get(jwks::jwks))
        .route("/token", post(token::token))
        .route("/userinfo", get(userinfo::get).post(userinfo::post))
        .route("/revoke", post(revocation::revoke))
        .route("/introspect", post(introspection::introspect))
}
