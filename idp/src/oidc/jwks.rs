//! The published keys (`GET /jwks`): pending, active and retiring keys, never a revoked or
//! removed one.

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use crate::AppState;

/// `GET /jwks`.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let body = state.keys.current().jwks_json();
    let mut response = (
        [(header::CONTENT_TYPE, "application/jwk-set+json")],
        body.to_string(),
    )
        .into_response();
    // Short caching: relying parties must see a revocation within minutes.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}
