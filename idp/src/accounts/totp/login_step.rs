//! The login's second step (`/connexion/code`): after the password of an account with a second
//! factor, a TOTP or recovery code before the session starts.

use super::*;
use crate::{
    accounts::{
        UserId,
        actions::record_login::{LoginContext, login_refused},
    },
    oidc::pending::PendingAuthorization,
};

/// What is remembered between the password and the code (or the passkey, accounts/passkeys).
#[derive(Serialize, Deserialize)]
pub(crate) struct SecondStep {
    pub(crate) user_id: String,
    pub(crate) authreq: String,
    /// A local page to go back to when no client is waiting (`retour` of the login).
    #[serde(default)]
    pub(crate) retour: String,
}

pub(crate) fn second_step_key(token: &str) -> String {
    format!("login-totp:{}", secrets::hash(token))
}

#[derive(Template, WebTemplate)]
#[template(path = "totp_login.html")]
struct CodePage {
    csrf: String,
    step: String,
    authreq: String,
    error: Option<String>,
    /// The account has a TOTP (or recovery codes): the code field.
    totp: bool,
    /// The account has passkeys: « Utiliser une clé d'accès ».
    passkey: bool,
}

/// Which second factors the page offers this account: (TOTP, passkey).
async fn factors_of(page: &Page, user_id: &str) -> Result<(bool, bool), PageError> {
    let passkey = crate::accounts::passkeys::available(&page.config)
        && passkeys::has_any(&page.db, user_id).await?;
    let codes =
        is_enrolled(&page.db, user_id).await? || recovery_codes_left(&page.db, user_id).await? > 0;
    Ok((codes || !passkey, passkey))
}

/// Called by the login once the password is right for an account with a second factor:
/// remembers that for a few minutes and shows the code page. No session yet.
pub async fn ask_code(page: &Page, user_id: &str, authreq: &str) -> Result<Response, PageError> {
    ask_code_then(page, user_id, authreq, "").await
}

/// [`ask_code`], coming back to the local page `retour` (already checked by the login) when
/// no authorization request is waiting.
pub async fn ask_code_then(
    page: &Page,
    user_id: &str,
    authreq: &str,
    retour: &str,
) -> Result<Response, PageError> {
    let token = secrets::random_token(32);
    let value = serde_json::to_string(&SecondStep {
        user_id: user_id.to_owned(),
        authreq: authreq.to_owned(),
        retour: retour.to_owned(),
    })
    .expect("second step serialises");
    page.ephemeral
        .put(&second_step_key(&token), &value, SECOND_STEP_TTL)
        .await?;
    let (totp, passkey) = factors_of(page, user_id).await?;
    page.render(StatusCode::OK, |csrf| CodePage {
        csrf,
        step: token,
        authreq: authreq.to_owned(),
        error: None,
        totp,
        passkey,
    })
}

/// Fields of the code form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    step: String,
    code: String,
}

/// `POST /connexion/code`: the second factor; right → the session starts (acr `mfa`).
pub async fn submit_code(
    page: Page,
    ip: ClientIp,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    use crate::accounts::login::{expired, waiting_step};
    let (key, step): (_, SecondStep) = waiting_step(&page, &form.step, second_step_key).await?;
    let Some(user) = users::user_by_id(&page.db, &step.user_id).await? else {
        return Err(expired());
    };
    if !verify_second_factor(&page, &ip, &user.id, &user.email, &form.code).await? {
        tracing::info!(
            login.outcome = "failure",
            login.step = "totp",
            "second factor refused"
        );
        let context = LoginContext {
            client_id: PendingAuthorization::load(&page, &step.authreq)
                .await?
                .map(|p| p.request.client_id),
            ip: ip.0,
            user_agent: crate::accounts::session::user_agent(page.headers()),
        };
        let id = UserId::from_stored(user.id.clone());
        let now = page.clock.now();
        login_refused(
            &page.db,
            now,
            Some(&id),
            "bad_second_factor",
            "otp",
            &context,
        )
        .await?;
        let (totp, passkey) = factors_of(&page, &user.id).await?;
        return page.render(StatusCode::UNAUTHORIZED, |csrf| CodePage {
            csrf,
            step: form.step.clone(),
            authreq: step.authreq.clone(),
            error: Some("Code de vérification incorrect.".into()),
            totp,
            passkey,
        });
    }
    // Taken only now: a wrong code may be retried (within the rate limit), a right one once.
    if page.ephemeral.take(&key).await?.is_none() {
        return Err(expired());
    }
    let amr = ["pwd", "otp", "mfa"].map(String::from).to_vec();
    tracing::info!(login.outcome = "success", user.id = %user.id, login.step = "totp", "login");
    crate::accounts::login::finish(&page, &user.id, amr, &step.authreq, &step.retour).await
}

crate::with_csrf!(CodeForm);
