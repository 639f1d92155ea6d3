//! « Clés d'accès » on « Mon compte »: adding one (its name, then the browser's registration
//! ceremony; only shortly after a login) and removing one (after a confirmation). The list is
//! on the overview (`/compte`).

use askama::Template;
use axum::{
    extract::Query,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

use super::{
    MAX_PER_ACCOUNT, NEW_PATH, RECENT_LOGIN_SECONDS, REGISTER_PATH, actions,
    ceremony::{self, AnswerForm, Mode, Run},
    relying_party_or_refuse, store, user_handle,
};
use crate::{
    accounts::{LoggedIn, UserId, session::LoginSession, totp},
    error::PageError,
    mail::messages::ACCOUNT_PATH,
    web::page::{CsrfForm, Page, login_then},
};

/// The ceremony's kind in the shared store.
const KIND: &str = "register";

/// The name a person gives a passkey: 1 to 60 characters, trimmed, none of them a control.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyName(String);

impl PasskeyName {
    /// Longest name, in characters.
    pub const MAX_CHARS: usize = 60;

    /// The name as typed, or the French reason it is refused.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let name = input.trim();
        if name.is_empty() {
            return Err(
                "Donnez un nom à cette clé d'accès, par exemple « Téléphone » ou « Clé USB ».",
            );
        }
        if name.chars().count() > Self::MAX_CHARS || name.chars().any(char::is_control) {
            return Err(
                "Le nom de la clé d'accès doit faire au plus 60 caractères, sans retour à la ligne.",
            );
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether the session's login is recent enough to add a passkey.
fn recent(page: &Page, session: &LoginSession) -> bool {
    page.clock.now() - session.auth_time <= RECENT_LOGIN_SECONDS
}

#[derive(Template, askama_web::WebTemplate)]
#[template(path = "passkey_new.html")]
struct NewPage {
    csrf: String,
    name: String,
    error: Option<String>,
    full: bool,
}

/// `GET /compte/cles-d-acces/nouvelle`: the name of the new passkey. A login older than a few
/// minutes is asked again first.
pub async fn show_new(
    page: Page,
    LoggedIn { session, user }: LoggedIn,
) -> Result<Response, PageError> {
    if !recent(&page, &session) {
        return Ok(login_then(NEW_PATH));
    }
    relying_party_or_refuse(&page.config)?;
    let full = store::list(&page.db, &user.id).await?.len() >= MAX_PER_ACCOUNT;
    page.render(StatusCode::OK, |csrf| NewPage {
        csrf,
        name: String::new(),
        error: None,
        full,
    })
}

/// Fields of the name form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewForm {
    csrf: String,
    name: String,
}

/// What waits between the options and the answer.
#[derive(Serialize, Deserialize)]
struct Waiting {
    user_id: String,
    name: String,
    state: PasskeyRegistration,
}

/// `POST /compte/cles-d-acces/nouvelle`: the registration's options, for a passkey that
/// browsers can offer without an e-mail typed (a discoverable credential) and that verifies
/// its holder (PIN or biometrics).
pub async fn start(
    page: Page,
    LoggedIn { session, user }: LoggedIn,
    CsrfForm(form): CsrfForm<NewForm>,
) -> Result<Response, PageError> {
    if !recent(&page, &session) {
        return Ok(login_then(NEW_PATH));
    }
    let webauthn = relying_party_or_refuse(&page.config)?;
    let name = match PasskeyName::parse(&form.name) {
        Ok(name) => name,
        Err(message) => {
            return page.render(StatusCode::BAD_REQUEST, |csrf| NewPage {
                csrf,
                name: form.name.clone(),
                error: Some(message.to_owned()),
                full: false,
            });
        }
    };
    let existing = store::of_account(&page.db, &user.id).await?;
    if existing.len() >= MAX_PER_ACCOUNT {
        return Err(actions::PasskeyRefusal::TooMany.into());
    }
    let exclude = existing
        .iter()
        .map(|s| s.passkey.cred_id().clone())
        .collect();
    let display = format!("{} {}", user.given_name, user.family_name);
    let display = if display.trim().is_empty() {
        user.email.clone()
    } else {
        display.trim().to_owned()
    };
    let (options, state) = webauthn
        .start_passkey_registration(user_handle(&user.id), &user.email, &display, Some(exclude))
        .map_err(|e| PageError::internal("passkey registration", &e))?;
    let mut options =
        serde_json::to_value(options).map_err(|e| PageError::internal("passkey options", &e))?;
    // webauthn-rs leaves the credential's residence to the authenticator; the passwordless
    // login needs one the browser can offer before anyone is named: asked for here.
    if let Some(selection) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(serde_json::Value::as_object_mut)
    {
        selection.insert("residentKey".into(), "required".into());
        selection.insert("requireResidentKey".into(), true.into());
    }
    let waiting = Waiting {
        user_id: user.id.clone(),
        name: name.as_str().to_owned(),
        state,
    };
    let token = ceremony::keep(&page, KIND, &waiting).await?;
    let run = Run {
        title: "Ajouter une clé d'accès",
        explanation: "Votre navigateur va créer une clé d'accès pour EFP Connect, sur cet appareil, dans votre gestionnaire de mots de passe ou sur une clé de sécurité : suivez ses instructions (code, empreinte ou visage).",
        button: "Créer la clé d'accès",
        mode: Mode::Create,
        action: REGISTER_PATH,
        cancel: ACCOUNT_PATH.to_owned(),
    };
    ceremony::page(&page, run, &options, token)
}

/// `POST /compte/cles-d-acces/enregistrement`: the browser's new credential; checked, it is
/// stored under its name.
pub async fn register(
    page: Page,
    LoggedIn { user, .. }: LoggedIn,
    CsrfForm(form): CsrfForm<AnswerForm>,
) -> Result<Response, PageError> {
    let webauthn = relying_party_or_refuse(&page.config)?;
    let waiting: Waiting = ceremony::take(&page, KIND, &form.ceremony).await?;
    if waiting.user_id != user.id {
        return Err(PageError::form_expired());
    }
    let answer: RegisterPublicKeyCredential = ceremony::answer(&form.credential)?;
    let passkey = webauthn
        .finish_passkey_registration(&answer, &waiting.state)
        .map_err(|e| {
            tracing::info!(error.message = %e, user.id = %user.id, "passkey registration refused");
            PageError::bad_request(
                "Cette clé d'accès n'a pas pu être enregistrée : elle doit vérifier votre identité (code, empreinte ou visage). Veuillez recommencer, ou essayer avec une autre clé.",
            )
        })?;
    // An account without any way back if its keys are lost gets recovery codes with its first
    // passkey, as with a TOTP enrolment; shown once.
    let (codes, hashes) = if totp::is_enrolled(&page.db, &user.id).await?
        || totp::recovery_codes_left(&page.db, &user.id).await? > 0
    {
        (Vec::new(), Vec::new())
    } else {
        totp::new_recovery_codes()
    };
    let id = UserId::from_stored(user.id.clone());
    let now = page.clock.now();
    actions::register_passkey(&page.db, now, &id, &waiting.name, &passkey, &hashes).await?;
    tracing::info!(user.id = %user.id, "passkey registered");
    if codes.is_empty() {
        return Ok(Redirect::to(&format!("{ACCOUNT_PATH}?fait=cle-d-acces")).into_response());
    }
    page.render(StatusCode::OK, |_| CodesPage {
        name: waiting.name.clone(),
        recovery_codes: codes,
    })
}

#[derive(Template, askama_web::WebTemplate)]
#[template(path = "passkey_codes.html")]
struct CodesPage {
    name: String,
    recovery_codes: Vec<String>,
}

#[derive(Template, askama_web::WebTemplate)]
#[template(path = "passkey_remove.html")]
struct RemovePage {
    csrf: String,
    passkey: store::Listed,
    last: bool,
}

/// Query and fields of the removal.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RemoveForm {
    csrf: String,
    /// The passkey's id.
    cle: String,
}

/// `GET /compte/cles-d-acces/suppression?cle=…`: « Supprimer la clé d'accès … ? ».
pub async fn show_remove(
    page: Page,
    LoggedIn { user, .. }: LoggedIn,
    Query(q): Query<RemoveForm>,
) -> Result<Response, PageError> {
    let listed = store::list(&page.db, &user.id).await?;
    let last = listed.len() == 1;
    let Some(passkey) = listed.into_iter().find(|p| p.id == q.cle) else {
        return Err(actions::PasskeyRefusal::NotFound.into());
    };
    page.render(StatusCode::OK, |csrf| RemovePage {
        csrf,
        passkey,
        last,
    })
}

/// `POST /compte/cles-d-acces/suppression`: removes the passkey.
pub async fn remove(
    page: Page,
    LoggedIn { user, .. }: LoggedIn,
    CsrfForm(form): CsrfForm<RemoveForm>,
) -> Result<Response, PageError> {
    let id = UserId::from_stored(user.id.clone());
    actions::remove_passkey(&page.db, page.clock.now(), &id, &form.cle).await?;
    tracing::info!(user.id = %user.id, "passkey removed");
    Ok(Redirect::to(&format!("{ACCOUNT_PATH}?fait=cle-d-acces-supprimee")).into_response())
}

crate::with_csrf!(NewForm, RemoveForm);
