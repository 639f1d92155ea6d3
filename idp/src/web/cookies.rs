//! Cookies: `__Host-` prefixed, `Secure`, `HttpOnly`, `SameSite=Lax`, `Path=/` when secure
//! cookies are on (the default); the same without prefix and `Secure` for plain-HTTP tests.

use axum::http::{HeaderMap, HeaderValue, header};

/// The provider's login session.
pub const SESSION: &str = "idp_session";
/// This browser's CSRF value, which form tokens are derived from (web/csrf.rs).
pub const CSRF: &str = "idp_csrf";
/// The password reset journey of this browser.
pub const RESET: &str = "idp_reset";
/// The origin of this browser's latest authorization request (web/security_headers.rs).
pub const RETURN_ORIGIN: &str = "idp_return";

/// The cookie's name on the wire.
pub fn wire_name(name: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

/// The value of cookie `name` in the request, if present.
pub fn get(headers: &HeaderMap, name: &str, secure: bool) -> Option<String> {
    let wanted = wire_name(name, secure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == wanted)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value; `max_age` `None` is a session cookie, `Some(0)` deletes it.
pub fn set(name: &str, value: &str, secure: bool, max_age: Option<u64>) -> HeaderValue {
    let mut cookie = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax",
        wire_name(name, secure)
    );
    if secure {
        cookie.push_str("; Secure");
    }
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&cookie).expect("cookie values are base64url")
}
