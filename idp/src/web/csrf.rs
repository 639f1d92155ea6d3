//! CSRF protection for every form: a token bound to this browser and to its login session.
//!
//! The browser holds a random value in a `__Host-` cookie (which no other origin, sub-domain
//! included, can set). A form's token is `HMAC-SHA256(key, browser value ‖ session cookie)`,
//! the key derived from the KEK: it names this browser and, once someone logs in, this session.
//! A POST is accepted only when its token is the one recomputed from the request's cookies
//! (compared in constant time). So a token read before the login, or from another session,
//! is refused after it; the browser value is renewed when a session starts or ends
//! ([`renewed_cookie`]), so a token of the previous session does not come back at logout.
//! Unlike a bare double submit, a token cannot be made up by someone who managed to plant the
//! browser cookie: it also needs the HttpOnly session cookie and the key.

use aws_lc_rs::hmac;
use axum::http::{HeaderMap, HeaderValue};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};

use super::cookies;
use crate::{AppState, secrets};

/// Label of the key derived from the KEK (`Kek::derive`).
const KEY_LABEL: &str = "csrf-token-v1";

/// Length of the browser value and of a token: 32 bytes, base64url.
const TOKEN_CHARS: usize = 43;

/// The token to put in a form, and the cookie to set if the browser had none.
pub struct CsrfToken {
    /// Hidden field value.
    pub value: String,
    /// `Set-Cookie` to add to the response, when a new browser value was made.
    pub set_cookie: Option<HeaderValue>,
}

/// The key tokens are computed with.
pub struct CsrfKey(hmac::Key);

impl CsrfKey {
    /// The provider's key, derived from its KEK.
    pub fn of(state: &AppState) -> Self {
        Self::from_bytes(&state.kek.derive(KEY_LABEL))
    }

    /// A key of these bytes (the fuzz targets' fixed key).
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }
}

/// The token of `browser` (the CSRF cookie) and `session` (the session cookie, if any).
fn bound(key: &CsrfKey, browser: &str, session: Option<&str>) -> String {
    let mut context = hmac::Context::with_key(&key.0);
    context.update(browser.as_bytes());
    // A separator that neither base64url value contains: no two pairs give the same input.
    context.update(b"|");
    context.update(session.unwrap_or_default().as_bytes());
    B64.encode(context.sign().as_ref())
}

fn browser_value(headers: &HeaderMap, secure: bool) -> Option<String> {
    cookies::get(headers, cookies::CSRF, secure).filter(|v| v.len() == TOKEN_CHARS)
}

/// The token of this browser and session, making the browser's value if it had none.
pub fn token(state: &AppState, headers: &HeaderMap) -> CsrfToken {
    token_with(
        &CsrfKey::of(state),
        headers,
        state.config.session.secure_cookies,
    )
}

/// Whether the submitted field is the token of this browser and session.
pub fn verify(state: &AppState, headers: &HeaderMap, submitted: &str) -> bool {
    let key = CsrfKey::of(state);
    verify_with(
        &key,
        headers,
        submitted,
        state.config.session.secure_cookies,
    )
}

/// [`token`] with `key`, cookies `secure` (`__Host-`) or not.
pub fn token_with(key: &CsrfKey, headers: &HeaderMap, secure: bool) -> CsrfToken {
    let session = cookies::get(headers, cookies::SESSION, secure);
    let (browser, set_cookie) = match browser_value(headers, secure) {
        Some(value) => (value, None),
        None => {
            let value = secrets::random_token(32);
            let cookie = cookies::set(cookies::CSRF, &value, secure, None);
            (value, Some(cookie))
        }
    };
    CsrfToken {
        value: bound(key, &browser, session.as_deref()),
        set_cookie,
    }
}

/// [`verify`] with `key`, cookies `secure` (`__Host-`) or not.
pub fn verify_with(key: &CsrfKey, headers: &HeaderMap, submitted: &str, secure: bool) -> bool {
    let Some(browser) = browser_value(headers, secure) else {
        return false;
    };
    let session = cookies::get(headers, cookies::SESSION, secure);
    let expected = bound(key, &browser, session.as_deref());
    secrets::constant_time_eq(expected.as_bytes(), submitted.as_bytes())
}

/// A new browser value, set with every change of session (login, logout): the forms of the
/// pages shown before stop working.
pub fn renewed_cookie(secure: bool) -> HeaderValue {
    cookies::set(cookies::CSRF, &secrets::random_token(32), secure, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_browser_and_its_session() {
        let key = CsrfKey::from_bytes(&[7u8; 32]);
        let browser = secrets::random_token(32);
        let before = bound(&key, &browser, None);
        let session = bound(&key, &browser, Some("session-a"));
        assert_eq!(before.len(), TOKEN_CHARS);
        assert_eq!(before, bound(&key, &browser, None), "stable for one pair");
        assert_ne!(before, session, "the login changes it");
        assert_ne!(session, bound(&key, &browser, Some("session-b")));
        assert_ne!(before, bound(&key, &secrets::random_token(32), None));
        let other_key = CsrfKey::from_bytes(&[8u8; 32]);
        assert_ne!(before, bound(&other_key, &browser, None));
    }
}
