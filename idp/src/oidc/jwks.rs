//! The published keys (`GET /jwks`): pending, active and retiring keys, never a revoked or
//! removed one.

use axum::{extract::State, response::Response};

use crate::AppState;

/// `GET /jwks`.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let body = state.keys.current().jwks_json();
    // Short caching: relying parties must see a revocation within minutes.
    super::public_document(
        "application/jwk-set+json",
        body.to_string(),
        "public, max-age=60",
    )
}
