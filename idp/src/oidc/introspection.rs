//! Token introspection (RFC 7662, `POST /introspect`), for confidential clients (resource
//! servers). A revoked, expired or unknown token is `{"active": false}`. Refresh tokens are
//! only described to the client they were issued to.

use axum::{
    Json,
    extract::{RawForm, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{client_auth, grants, token::parse_form, tokens};
use crate::{AppState, error::OAuthError, store::now};

/// `POST /introspect`.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    match run(&state, &headers, &body).await {
        Ok(body) => {
            let mut response = Json(body).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn run(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Value, OAuthError> {
    let form = parse_form(body)?;
    let client =
        client_auth::authenticate(state, headers, &form, &state.config.url("/introspect")).await?;
    if client.is_public() {
        return Err(OAuthError::invalid_client(
            "L'introspection est réservée aux clients authentifiés.",
        ));
    }
    let token = form
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("Le paramètre token est obligatoire."))?;
    let hint = form.get("token_type_hint").map(String::as_str);
    if hint != Some("refresh_token") {
        match tokens::verify_access_token(state, token).await {
            Ok(c) => {
                let mut out = json!({
                    "active": true,
                    "token_type": "Bearer",
                    "scope": c.scope,
                    "client_id": c.client_id,
                    "sub": c.sub,
                    "aud": c.aud,
                    "iss": c.iss,
                    "exp": c.exp,
                    "iat": c.iat,
                    "jti": c.jti,
                });
                if let Some(t) = c.auth_time {
                    out["auth_time"] = json!(t);
                }
                return Ok(out);
            }
            Err(tokens::AccessTokenError::Db(e)) => return Err(e.into()),
            Err(_) => {}
        }
    }
    if let Some(stored) = grants::refresh_token(&state.db, token).await?
        && stored.used_at.is_none()
        && stored.expires_at > now()
        && let Some(grant) = grants::live_grant(&state.db, &stored.grant_id).await?
        && grant.client_id == client.client_id
    {
        return Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": grant.scope,
            "client_id": grant.client_id,
            "sub": grant.user_id,
            "iss": state.config.issuer,
            "exp": stored.expires_at,
            "iat": stored.created_at,
        }));
    }
    Ok(json!({ "active": false }))
}
