//! Thin HTTP layers shared by every domain: cookies, CSRF, security headers, rate limits,
//! client addresses, the shared page layout and the design system's files.

pub mod anti_robot;
pub mod client_ip;
pub mod cookies;
pub mod csrf;
pub mod footer;
pub mod page;
pub mod rate_limit;
pub mod request_id;
pub mod security_headers;

/// `response` with `Cache-Control: no-store`: pages with a CSRF token or personal data, and
/// every answer that carries a token or a code (RFC 6749 §5.1).
pub fn no_store(response: impl axum::response::IntoResponse) -> axum::response::Response {
    let mut response = response.into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}
