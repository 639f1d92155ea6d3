//! Security headers on every response.

use axum::{
    body::Body,
    http::{HeaderName, HeaderValue, Response, header},
};
use tower::util::MapResponseLayer;

/// Built at compile time: a response takes cheap clones of static bytes, never a check of
/// the values nor an allocation.
const HEADERS: [(HeaderName, HeaderValue); 5] = [
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self' *; base-uri 'none'",
        ),
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ),
];

/// The layer adding [`HEADERS`] to every response, unless the handler set its own. A plain
/// function mapped over the responses: no boxing of the inner service or of the future, as
/// `axum::middleware::from_fn` would do per request.
pub fn layer() -> MapResponseLayer<fn(Response<Body>) -> Response<Body>> {
    MapResponseLayer::new(add_missing)
}

fn add_missing(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    for (name, value) in HEADERS {
        headers.entry(name).or_insert(value);
    }
    response
}
