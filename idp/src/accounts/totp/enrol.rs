//! The enrolment page (`/compte/double-authentification`): a new secret and its QR code, the
//! confirming code, the recovery codes shown once; and disabling the second factor.

use super::*;
use crate::accounts::{account::password_matches, logged_in::LoggedIn, session::SessionCookies};

fn enrolment_key(sid: &str) -> String {
    format!("totp-enrol:{}", secrets::hash(sid))
}

#[derive(Template, WebTemplate)]
#[template(path = "totp_enrol.html")]
struct EnrolPage {
    csrf: String,
    enrolled: bool,
    qr: String,
    secret: String,
    recovery_codes: Vec<String>,
    continue_to: String,
    error: Option<String>,
}

impl EnrolPage {
    fn new(csrf: String) -> Self {
        Self {
            csrf,
            enrolled: false,
            qr: String::new(),
            secret: String::new(),
            recovery_codes: Vec::new(),
            continue_to: "/".into(),
            error: None,
        }
    }
}

/// A new secret for this session's enrolment (kept sealed in the shared store until the
/// confirming code), and the page showing it.
async fn new_enrolment(
    page: &Page,
    session: &LoginSession,
    account: &str,
    error: Option<String>,
) -> Result<Response, PageError> {
    let totp = Builder::new()
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| PageError::internal("totp", &e))?;
    let sealed = page.kek.seal(&session.user_id, totp.secret());
    page.ephemeral
        .put(
            &enrolment_key(&session.sid),
            &STANDARD.encode(sealed),
            ENROLMENT_TTL,
        )
        .await?;
    let qr = totp
        .to_qr_base64()
        .map_err(|e| PageError::internal("totp qr", &e))?;
    let secret = totp.secret().to_base32();
    page.render_form(error.is_some(), |csrf| EnrolPage {
        qr,
        secret,
        error,
        ..EnrolPage::new(csrf)
    })
}

/// `GET /compte/double-authentification`: the status, or a new secret to enrol.
pub async fn show(page: Page, LoggedIn { session, user }: LoggedIn) -> Result<Response, PageError> {
    if is_enrolled(&page.db, &user.id).await? {
        return page.render(StatusCode::OK, |csrf| EnrolPage {
            enrolled: true,
            ..EnrolPage::new(csrf)
        });
    }
    new_enrolment(&page, &session, &user.email, None).await
}

/// Fields of the enrolment form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EnrolForm {
    csrf: String,
    code: String,
}

/// The enrolment page again after a wrong code, with the same secret, so the app already set
/// up keeps working.
fn wrong_code(page: &Page, totp: &Totp) -> Result<Response, PageError> {
    let qr = totp
        .to_qr_base64()
        .map_err(|e| PageError::internal("totp qr", &e))?;
    let secret = totp.secret().to_base32();
    page.render(StatusCode::BAD_REQUEST, |csrf| {
        EnrolPage {
        qr,
        secret,
        error: Some("Code de vérification incorrect. Saisissez le code à 6 chiffres affiché par votre application.".into()),
        ..EnrolPage::new(csrf)
    }
    })
}

/// Stores the confirmed secret (its `step` spent) with new recovery codes; returns the codes,
/// shown once.
async fn store_enrolment(
    state: &AppState,
    user: &users::User,
    totp: &Totp,
    step: i64,
) -> Result<Vec<String>, PageError> {
    let (codes, hashes) = new_recovery_codes();
    let sealed = state.kek.seal(&user.id, totp.secret());
    let enrolment = Enrolment {
        sealed: &sealed,
        accepted_step: step,
        code_hashes: &hashes,
    };
    let id = UserId::from_stored(user.id.clone());
    enrol_totp(&state.db, state.clock.now(), &id, &enrolment).await?;
    tracing::info!(user.id = %user.id, "second factor enrolled");
    Ok(codes)
}

/// A login that needed two factors resumes with a session that now has them: where to continue,
/// and the new session's cookies.
async fn resume_login(
    page: &Page,
    session: &LoginSession,
) -> Result<(String, Option<SessionCookies>), PageError> {
    let Some(authreq) = page.ephemeral.take(&return_key(&session.sid)).await? else {
        return Ok(("/".to_owned(), None));
    };
    let amr = ["pwd", "otp", "mfa"].map(String::from).to_vec();
    let (new_session, cookies) =
        LoginSession::start(page, page.headers(), &session.user_id, amr).await?;
    let continue_to = continue_target(page, &authreq, &new_session.sid).await?;
    Ok((continue_to, Some(cookies)))
}

/// `POST /compte/double-authentification`: the code confirming the app; stores the secret and
/// shows the recovery codes once.
pub async fn enrol(
    page: Page,
    LoggedIn { session, user }: LoggedIn,
    CsrfForm(form): CsrfForm<EnrolForm>,
) -> Result<Response, PageError> {
    if is_enrolled(&page.db, &user.id).await? {
        return Err(PageError::bad_request(
            "La double authentification est déjà activée sur ce compte.",
        ));
    }
    count_account_attempt(&page, "totp-enrol", &user.id).await?;
    let key = enrolment_key(&session.sid);
    let sealed = match page.ephemeral.get(&key).await? {
        Some(encoded) => STANDARD.decode(encoded).ok(),
        None => None,
    };
    let Some(secret) = sealed.and_then(|s| page.kek.open(&user.id, &s).ok()) else {
        let late = Some("Le délai est dépassé : scannez ce nouveau QR code.".into());
        return new_enrolment(&page, &session, &user.email, late).await;
    };
    let totp = totp_for(secret, &user.email)?;
    let code = normalise(&form.code);
    let step = is_totp_code(&code).then(|| matching_step(&totp, &code));
    let Some(step) = step.flatten() else {
        return wrong_code(&page, &totp);
    };
    if page.ephemeral.take(&key).await?.is_none() {
        return Err(PageError::bad_request(
            "Cette activation a déjà été confirmée.",
        ));
    }
    let recovery_codes = store_enrolment(&page, &user, &totp, step).await?;
    let (continue_to, cookies) = resume_login(&page, &session).await?;
    // The disabling form of this page is posted with the new session.
    let shown = match &cookies {
        Some(cookies) => page.after(cookies.values()),
        None => page,
    };
    let mut response = shown.render(StatusCode::OK, |csrf| EnrolPage {
        enrolled: true,
        recovery_codes,
        continue_to,
        ..EnrolPage::new(csrf)
    })?;
    if let Some(cookies) = cookies {
        cookies.add_to(&mut response);
    }
    Ok(response)
}

/// Fields of the disabling form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DisableForm {
    csrf: String,
    password: String,
}

/// `POST /compte/double-authentification/desactivation`: removes the second factor after the
/// password is typed again.
pub async fn disable(
    page: Page,
    LoggedIn { user, .. }: LoggedIn,
    ip: ClientIp,
    CsrfForm(form): CsrfForm<DisableForm>,
) -> Result<Response, PageError> {
    if !password_matches(&page, &ip, &user, &form.password).await? {
        return page.render(StatusCode::UNAUTHORIZED, |csrf| EnrolPage {
            enrolled: true,
            error: Some("Mot de passe incorrect.".into()),
            ..EnrolPage::new(csrf)
        });
    }
    let id = UserId::from_stored(user.id.clone());
    remove_totp(&page.db, page.clock.now(), &id).await?;
    tracing::info!(user.id = %user.id, "second factor disabled");
    Ok(Redirect::to("/compte/double-authentification").into_response())
}

crate::with_csrf!(EnrolForm, DisableForm);
