//! One span per request for the logs: its id (`x-request-id`, made by the router's
//! `SetRequestIdLayer` when the client sent none, and sent back in the response), the method
//! and the route template. Never the raw URI: query strings carry reset tokens, codes and
//! `id_token_hint`s, which must not reach a log line.

use std::time::Duration;

use axum::{
    body::Body,
    extract::MatchedPath,
    http::{Request, Response},
};
use tracing::Span;

/// The request's span.
pub fn span(request: &Request<Body>) -> Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::info_span!(
        "request",
        request.id = %id,
        http.method = %request.method(),
        http.route = %route,
    )
}

/// One line per answered request, inside its span.
pub fn on_response(response: &Response<Body>, latency: Duration, _: &Span) {
    tracing::info!(
        http.status = response.status().as_u16(),
        latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        "request served"
    );
}
