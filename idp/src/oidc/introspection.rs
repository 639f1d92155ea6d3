//! Token introspection (RFC 7662, `POST /introspect`), for confidential clients (resource
//! servers). A revoked, expired or unknown token is `{"active": false}`. An access token is
//! only described to the client it was issued to and to the resource servers registered to
//! see that client's tokens (`introspects`, RFC 7662 §4: a client must not learn about tokens
//! that are none of its business); to any other client it is `{"active": false}`, as if
//! unknown. Refresh tokens are only described to the client they were issued to.

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{client_auth::ClientCall, clients::Client, grants, tokens};
use crate::{AppState, error::OAuthError};

/// `POST /introspect`.
pub async fn introspect(State(state): State<AppState>, call: ClientCall) -> Response {
    match run(&state, &call).await {
        Ok(body) => crate::web::no_store(Json(body)),
        Err(e) => e.into_response(),
    }
}

async fn run(state: &AppState, call: &ClientCall) -> Result<Value, OAuthError> {
    let client = &call.client;
    if client.is_public() {
        return Err(OAuthError::invalid_client(
            "L'introspection est réservée aux clients authentifiés.",
        ));
    }
    let token = call.token()?;
    // The hint only decides which kind is looked up first: a token not found as the hinted
    // kind is looked up as the other (RFC 7662 §2.1).
    let hint = call.form.get("token_type_hint").map(String::as_str);
    let found = if hint == Some("refresh_token") {
        match refresh_token_info(state, &client.client_id, token).await? {
            Some(info) => Some(info),
            None => access_token_info(state, client, token).await?,
        }
    } else {
        match access_token_info(state, client, token).await? {
            Some(info) => Some(info),
            None => refresh_token_info(state, &client.client_id, token).await?,
        }
    };
    Ok(found.unwrap_or_else(|| json!({ "active": false })))
}

/// An active access token's introspection answer, `None` when it is not one or `client` may
/// not see it.
async fn access_token_info(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    match tokens::verify_access_token(state, token).await {
        Ok(c) if client.may_introspect(&c.aud) => {
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
            Ok(Some(out))
        }
        Ok(_) => Ok(None),
        Err(tokens::AccessTokenError::Db(e)) => Err(e.into()),
        Err(_) => Ok(None),
    }
}

/// A live refresh token of the asking client's, `None` otherwise (another client's refresh
/// token is not disclosed).
async fn refresh_token_info(
    state: &AppState,
    client_id: &str,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    if let Some((stored, Some(grant))) = grants::refresh_token(&state.db, token).await?
        && stored.used_at.is_none()
        && stored.expires_at > state.clock.now()
        && grant.client_id == client_id
    {
        return Ok(Some(json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": grant.scope,
            "client_id": grant.client_id,
            "sub": grant.user_id,
            "iss": state.config.issuer,
            "exp": stored.expires_at,
            "iat": stored.created_at,
        })));
    }
    Ok(None)
}
