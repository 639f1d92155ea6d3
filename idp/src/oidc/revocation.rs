//! Token revocation (RFC 7009, `POST /revoke`). Revoking a refresh token revokes its whole
//! grant (its access tokens included); revoking an access token revokes that token. A client
//! can only revoke its own tokens; unknown tokens get the same 200 answer.

use axum::{
    extract::{RawForm, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};

use super::{
    client_auth, grants,
    token::parse_form,
    tokens::{self, AccessClaims},
};
use crate::{AppState, error::OAuthError};

/// `POST /revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    match run(&state, &headers, &body).await {
        Ok(()) => crate::web::no_store(StatusCode::OK),
        Err(e) => e.into_response(),
    }
}

async fn run(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), OAuthError> {
    let form = parse_form(body)?;
    let client =
        client_auth::authenticate(state, headers, &form, &state.config.url("/revoke")).await?;
    let token = form
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("Le paramètre token est obligatoire."))?;
    if let Some(stored) = grants::refresh_token(&state.db, token).await? {
        if let Some(grant) = grants::live_grant(&state.db, &stored.grant_id).await?
            && grant.client_id == client.client_id
        {
            tokens::revoke_grant(state, &grant.id).await?;
        }
        return Ok(());
    }
    // An access token: ours if it verifies (expired or not); the client's if issued to it.
    if let Ok(claims) =
        state
            .keys
            .current()
            .verify::<AccessClaims>(token, &state.config.issuer, false)
        && claims.client_id == client.client_id
    {
        tokens::revoke_access_token(state, &claims).await?;
    }
    Ok(())
}
