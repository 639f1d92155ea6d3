//! Thin HTTP layers shared by every domain: cookies, CSRF, security headers, rate limits,
//! client addresses, and the shared page layout.

pub mod client_ip;
pub mod cookies;
pub mod csrf;
pub mod rate_limit;
pub mod security_headers;
