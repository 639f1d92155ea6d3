//! Token revocation (RFC 7009, `POST /revoke`). Revoking a refresh token revokes its whole
//! grant (its access tokens included); revoking an access token revokes that token. A client
//! can only revoke its own tokens; unknown tokens get the same 200 answer.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::{
    client_auth::ClientCall,
    grants,
    tokens::{self, AccessClaims},
};
use crate::{AppState, error::OAuthError};

/// `POST /revoke`.
pub async fn revoke(State(state): State<AppState>, call: ClientCall) -> Response {
    match run(&state, &call).await {
        Ok(()) => crate::web::no_store(StatusCode::OK),
        Err(e) => e.into_response(),
    }
}

async fn run(state: &AppState, call: &ClientCall) -> Result<(), OAuthError> {
    let (client, token) = (&call.client, call.token()?);
    if let Some((_, grant)) = grants::refresh_token(&state.db, token).await? {
        if let Some(grant) = grant
            && grant.client_id == client.client_id
        {
            let why = tokens::GrantRevocation::ByClient(&client.client_id);
            tokens::revoke_grant(state, &grant.id, why).await?;
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
