//! CSRF protection for every form: a double-submit token. A random value lives in a
//! `__Host-` cookie (which no other origin, sub-domain included, can set) and in a hidden field
//! of each form; a POST is accepted only when both are present and equal (constant time).

use axum::http::{HeaderMap, HeaderValue};

use super::cookies;
use crate::secrets;

/// The token to put in a form, and the cookie to set if the browser had none.
pub struct CsrfToken {
    /// Hidden field value.
    pub value: String,
    /// `Set-Cookie` to add to the response, when a new token was made.
    pub set_cookie: Option<HeaderValue>,
}

/// Reads the browser's token or makes one.
pub fn token(headers: &HeaderMap, secure: bool) -> CsrfToken {
    match cookies::get(headers, cookies::CSRF, secure).filter(|v| v.len() == 43) {
        Some(value) => CsrfToken {
            value,
            set_cookie: None,
        },
        None => {
            let value = secrets::random_token(32);
            let set_cookie = Some(cookies::set(cookies::CSRF, &value, secure, None));
            CsrfToken { value, set_cookie }
        }
    }
}

/// Whether the submitted field matches the browser's cookie.
pub fn verify(headers: &HeaderMap, submitted: &str, secure: bool) -> bool {
    match cookies::get(headers, cookies::CSRF, secure) {
        Some(cookie) if !submitted.is_empty() => {
            secrets::constant_time_eq(cookie.as_bytes(), submitted.as_bytes())
        }
        _ => false,
    }
}
