//! `POST /backchannel-logout` (OpenID Connect Back-Channel Logout 1.0): the provider tells
//! CERES that a session ended there; the CERES sessions it names are forgotten, so the
//! person's next page shows them logged out.

use axum::{
    Form,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;

const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The form the provider posts.
#[derive(Deserialize)]
pub struct LogoutForm {
    logout_token: String,
}

/// What a valid logout token names.
#[derive(Debug, PartialEq, Eq)]
pub struct Named {
    /// The person, if named.
    pub sub: Option<String>,
    /// The provider session, if named.
    pub sid: Option<String>,
}

/// The `sid` of an ID token already verified at login (its payload, read again).
pub fn sid_of(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims["sid"].as_str().map(str::to_owned)
}

/// Checks a logout token (§2.6) against the provider's `jwks`: RS256 signature, `iss`, `aud`
/// (this client), `iat` and `exp`, the logout event, no `nonce`, and a `sub` or a `sid`.
pub fn validate(
    token: &str,
    jwks: &jsonwebtoken::jwk::JwkSet,
    issuer: &str,
    client_id: &str,
) -> Result<Named, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    // Explicit typing (§2.4) keeps an ID token from passing for a logout token.
    if header.typ.as_deref().is_some_and(|t| t != "logout+jwt") {
        return Err("typ".into());
    }
    let jwk = header
        .kid
        .as_deref()
        .and_then(|kid| jwks.find(kid))
        .ok_or("unknown key")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["iss", "aud", "exp", "iat"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|e| e.to_string())?
        .claims;
    if !claims["events"][LOGOUT_EVENT].is_object() {
        return Err("events".into());
    }
    if claims.get("nonce").is_some() {
        return Err("nonce".into());
    }
    let named = Named {
        sub: claims["sub"].as_str().map(str::to_owned),
        sid: claims["sid"].as_str().map(str::to_owned),
    };
    if named.sub.is_none() && named.sid.is_none() {
        return Err("neither sub nor sid".into());
    }
    Ok(named)
}

/// `POST /backchannel-logout`: 200 once the named sessions are forgotten, 400 for a token
/// that does not hold (§2.8), `Cache-Control: no-store` either way.
pub async fn receive(State(state): State<AppState>, Form(form): Form<LogoutForm>) -> Response {
    let jwks = match state.provider.current().jwks_uri.clone() {
        Some(uri) => match state.http.get(uri).send().await {
            Ok(r) => r.json::<jsonwebtoken::jwk::JwkSet>().await.ok(),
            Err(_) => None,
        },
        None => None,
    };
    let Some(jwks) = jwks else {
        return (StatusCode::SERVICE_UNAVAILABLE, "jwks").into_response();
    };
    match validate(
        &form.logout_token,
        &jwks,
        &state.config.issuer,
        &state.config.client_id,
    ) {
        Ok(named) => {
            let ended = state
                .sessions
                .end_logins(named.sub.as_deref(), named.sid.as_deref());
            tracing::info!(ended, "back-channel logout");
            ([(header::CACHE_CONTROL, "no-store")], StatusCode::OK).into_response()
        }
        Err(reason) => {
            tracing::info!(reason, "logout token refused");
            (
                StatusCode::BAD_REQUEST,
                [(header::CACHE_CONTROL, "no-store")],
                "invalid_request",
            )
                .into_response()
        }
    }
}
