//! One span per request for the logs: its id (`x-request-id`, made by the router's
//! `SetRequestIdLayer` when the client sent none, and sent back in the response), the client's
//! address (through the trusted proxies, `client_ip.rs`), the method and the route template.
//! Never the raw URI: query strings carry reset tokens, codes and `id_token_hint`s, which must
//! not reach a log line.

use std::time::Duration;

use axum::{
    body::Bytes,
    extract::MatchedPath,
    http::{HeaderValue, Request, Response},
};
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Span;

/// Random version-4 UUIDs for requests that came without an id.
///
/// The id names log lines and must be unique, not secret: a thread-local fast generator
/// (`fastrand`) rather than `Uuid::new_v4`, which asks the kernel (`getrandom`) per request.
#[derive(Clone, Copy, Default)]
pub struct MakeRequestUuid;

impl MakeRequestId for MakeRequestUuid {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let uuid = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid();
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        uuid.hyphenated().encode_lower(&mut text);
        // One allocation, shared by the request header, its extension and the response header.
        HeaderValue::from_maybe_shared(Bytes::from_owner(text))
            .ok()
            .map(RequestId::new)
    }
}

/// The request's span.
pub fn span<B>(request: &Request<B>) -> Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let client = request
        .extensions()
        .get::<super::client_ip::RealClient>()
        .and_then(|c| c.ip)
        .map(tracing::field::display);
    tracing::info_span!(
        "request",
        request.id = %id,
        client.ip = client,
        client.id = tracing::field::Empty,
        http.method = %request.method(),
        http.route = %route,
    )
}

/// Names the relying party (or back office) a request is from in its log span, once known:
/// an authenticated client at the token, revocation and introspection endpoints, the
/// `client_id` of an authorization request, the client of a bearer token at the APIs.
pub fn record_client(client_id: &str) {
    Span::current().record("client.id", client_id);
}

/// One line per answered request, inside its span.
pub fn on_response<B>(response: &Response<B>, latency: Duration, _: &Span) {
    tracing::info!(
        http.status = response.status().as_u16(),
        latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        "request served"
    );
}
