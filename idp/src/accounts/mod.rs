//! Accounts: who people are and how they prove it (e-mail, password, sessions, login page).

pub mod account;
pub mod actions;
pub mod admin_api;
pub mod back;
pub mod browsers;
pub mod cgu;
pub mod dossier;
pub mod email;
pub mod guard;
pub mod home;
pub mod import;
pub mod logged_in;
pub mod login;
pub mod login_end;
pub mod passkeys;
pub mod password;
pub mod refusal;
pub mod reset;
pub mod search;
pub mod session;
pub mod signup;
pub mod standing;
pub mod step_up;
pub mod store;
pub mod totp;
pub mod upstream;
pub mod upstream_links;
pub mod user_id;

pub use email::Email;
pub use logged_in::LoggedIn;
pub use password::{Password, PasswordHasher};
pub use user_id::UserId;

/// Counts one attempt of `kind` on `account` against the login's per-account limit: the
/// login, its second factor and the account pages that check a secret share that budget.
pub(crate) async fn count_account_attempt(
    state: &crate::AppState,
    kind: &str,
    account: &str,
) -> Result<(), crate::error::PageError> {
    let limits = &state.config.limits;
    crate::web::rate_limit::hit(
        &state.ephemeral,
        kind,
        account,
        limits.login_per_account,
        std::time::Duration::from_secs(limits.login_window_seconds),
    )
    .await??;
    Ok(())
}

/// Counts one attempt of `kind` (a second factor, a login step) from this client address,
/// against the same budget as the login's per-address limit.
pub(crate) async fn count_ip_attempt(
    state: &crate::AppState,
    kind: &str,
    ip: &crate::web::client_ip::ClientIp,
) -> Result<(), crate::error::PageError> {
    let limits = &state.config.limits;
    crate::web::rate_limit::hit(
        &state.ephemeral,
        kind,
        &ip.key(),
        limits.login_per_ip,
        std::time::Duration::from_secs(limits.login_window_seconds),
    )
    .await??;
    Ok(())
}

/// Step 1 of the sign-up and of the password reset: an address, and the anti-robot check.
#[derive(serde::Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    csrf: String,
    /// The address as typed.
    #[serde(default)]
    pub email: String,
    /// The pending authorization the journey started from (the reset's step 1, from a
    /// service's login page).
    #[serde(default)]
    pub authreq: String,
    /// The anti-robot check's fields.
    #[serde(flatten)]
    pub robot: crate::web::anti_robot::Fields,
}

crate::with_csrf!(EmailForm);

/// The account pages: login, second factor, « Mon compte », sign-up and password reset.
pub fn routes() -> axum::Router<crate::AppState> {
    use axum::routing::{get, post};
    use signup::Step;
    axum::Router::new()
        .route("/api/v1/admin/users", get(admin_api::list))
        .route(
            "/api/v1/admin/users/{id}",
            get(admin_api::show).delete(admin_api::delete),
        )
        .route("/api/v1/admin/users/{id}/export", get(admin_api::export))
        .route(
            "/api/v1/admin/users/{id}/agent",
            axum::routing::put(admin_api::set_agent_flag).delete(admin_api::unset_agent_flag),
        )
        .route("/api/v1/admin/users/{id}/{action}", post(admin_api::act))
        .route("/", get(home::show))
        .route("/connexion", get(login::show).post(login::submit))
        .route(totp::CODE_PATH, post(totp::submit_code))
        .route(totp::PATH, get(totp::show).post(totp::enrol))
        .route(totp::DISABLE_PATH, post(totp::disable))
        .route("/compte", get(account::show))
        .route(browsers::PATH, post(browsers::pages::submit))
        .route(browsers::RESEND_PATH, post(browsers::pages::resend))
        .route(browsers::ACCOUNT_PATH, get(browsers::pages::show))
        .route("/compte/navigateurs/choix", post(browsers::pages::choose))
        .route(
            "/compte/navigateurs/{id}/oublier",
            post(browsers::pages::forget),
        )
        .merge(passkeys::routes())
        .route(cgu::PATH, get(cgu::pages::show))
        .route(cgu::ACCEPT_PATH, post(cgu::pages::answer))
        .route(
            account::profile::PATH,
            get(account::profile::show).post(account::profile::submit),
        )
        .route(
            account::password::PATH,
            get(account::password::show).post(account::password::submit),
        )
        .route(
            account::email::PATH,
            get(account::email::show).post(account::email::submit),
        )
        .route(
            account::email::CODE_PATH,
            get(account::email::show_code).post(account::email::submit_code),
        )
        .route(
            account::sessions::PATH,
            get(account::sessions::show).post(account::sessions::end),
        )
        .route(
            account::delete::PATH,
            get(account::delete::show).post(account::delete::submit),
        )
        .route(
            Step::Email.path(),
            get(signup::email::show).post(signup::email::submit),
        )
        .route(
            Step::Code.path(),
            get(signup::code::show).post(signup::code::submit),
        )
        .route(signup::code::RESEND_PATH, post(signup::code::resend))
        .route(signup::code::LINK_PATH, get(signup::code::follow_link))
        .route(
            Step::Password.path(),
            get(signup::password::show).post(signup::password::submit),
        )
        .route(
            Step::Identity.path(),
            get(signup::identity::show).post(signup::identity::submit),
        )
        .route(
            Step::Organization.path(),
            get(signup::organization::show).post(signup::organization::submit),
        )
        .route(
            reset::RESET_START_PATH,
            get(reset::show_start).post(reset::submit_start),
        )
        .route(
            reset::RESET_CODE_PATH,
            get(reset::show_code).post(reset::submit_code),
        )
        .route(reset::RESET_RESEND_PATH, post(reset::resend_code))
        .route(reset::RESET_LINK_PATH, get(reset::follow_link))
        .route(
            reset::RESET_PASSWORD_PATH,
            get(reset::show_password).post(reset::submit_password),
        )
}
