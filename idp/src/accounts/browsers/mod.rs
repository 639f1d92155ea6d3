//! Verification of new browsers (as the State's professional identity provider does): for an
//! account without a second factor, a login from a browser the account has not confirmed yet
//! is finished only with a 6-digit code e-mailed to the account; the browser is then
//! remembered by a long-lived `__Host-idp_browser` cookie holding a random token, known to
//! the account by its SHA-256 (`known_browsers`). `assurance.verify_new_browsers` says who is
//! asked (docs/accounts.md, « Navigateurs reconnus »).

pub mod pages;
pub mod store;

pub use pages::ask;

use std::time::Duration;

use axum::http::HeaderMap;

use crate::{AppState, config::NewBrowsers, secrets, web::cookies};

/// The login's step: the code typed.
pub const PATH: &str = "/connexion/navigateur";
/// The login's step: « Renvoyer le code ».
pub const RESEND_PATH: &str = "/connexion/navigateur/renvoyer";
/// « Navigateurs reconnus » in « Mon compte ».
pub const ACCOUNT_PATH: &str = "/compte/navigateurs";

/// The cookie that makes a browser known (`__Host-` on https).
pub const COOKIE: &str = "idp_browser";
/// How long a browser stays known without logging in again: a year, renewed at each login.
pub const COOKIE_MAX_AGE: u64 = 365 * 24 * 3600;
/// How long an e-mailed code is valid.
pub const CODE_TTL: Duration = Duration::from_secs(10 * 60);

/// The rule: whether a login from an unknown browser must be confirmed by an e-mailed code.
/// Accounts with a second factor (TOTP or passkey) never are (it already proves more than a mailbox does);
/// otherwise the setting decides, or with `optional` the person's own choice.
pub fn must_verify(setting: NewBrowsers, opted_in: bool, has_second_factor: bool) -> bool {
    match setting {
        _ if has_second_factor => false,
        NewBrowsers::Off => false,
        NewBrowsers::Optional => opted_in,
        NewBrowsers::Required => true,
    }
}

/// Whether the person may choose in « Mon compte » (the setting lets them, and they have no
/// second factor that makes the question moot).
pub fn may_choose(setting: NewBrowsers, has_second_factor: bool) -> bool {
    setting == NewBrowsers::Optional && !has_second_factor
}

/// Whether the account has a second factor, TOTP or passkey (then new browsers are never
/// asked about).
pub async fn has_second_factor(state: &AppState, user_id: &str) -> Result<bool, sqlx::Error> {
    super::totp::has_second_factor(state, user_id).await
}

/// The SHA-256 of this browser's cookie token, if it has one.
pub fn token_hash(state: &AppState, headers: &HeaderMap) -> Option<String> {
    cookies::get(headers, COOKIE, state.config.session.secure_cookies).map(|t| secrets::hash(&t))
}

/// Whether the login of `user_id` from this browser must first be confirmed by a code: the
/// rule says so and the browser is not one the account confirmed (a known one is seen now).
pub async fn needs_code(
    state: &AppState,
    headers: &HeaderMap,
    user_id: &str,
) -> Result<bool, sqlx::Error> {
    let setting = state.config.assurance.verify_new_browsers;
    if setting == NewBrowsers::Off {
        return Ok(false);
    }
    let opted_in = store::opted_in(&state.db, user_id).await?;
    if !must_verify(setting, opted_in, has_second_factor(state, user_id).await?) {
        return Ok(false);
    }
    Ok(match token_hash(state, headers) {
        Some(hash) => !store::seen(&state.db, user_id, &hash, state.clock.now()).await?,
        None => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_accounts_without_a_second_factor_are_asked_as_the_setting_says() {
        use NewBrowsers::*;
        for opted_in in [false, true] {
            assert!(!must_verify(Off, opted_in, false));
            assert!(!must_verify(Required, opted_in, true));
            assert!(!must_verify(Optional, opted_in, true));
            assert!(must_verify(Required, opted_in, false));
            assert_eq!(must_verify(Optional, opted_in, false), opted_in);
        }
        assert!(may_choose(Optional, false));
        assert!(!may_choose(Optional, true) && !may_choose(Required, false));
    }
}
