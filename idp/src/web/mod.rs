//! Thin HTTP layers shared by every domain: cookies, CSRF, security headers, rate limits,
//! client addresses, the shared page layout and the design system's files.

pub mod anti_robot;
pub mod assets;
pub mod client_ip;
pub mod cookies;
pub mod csrf;
pub mod page;
pub mod rate_limit;
pub mod request_id;
pub mod security_headers;
