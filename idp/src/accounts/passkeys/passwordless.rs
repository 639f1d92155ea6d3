//! « Se connecter avec une clé d'accès »: a login without e-mail or password. The browser
//! offers the passkeys it holds for this site (discoverable credentials); the one chosen names
//! its account (its user handle), and its signature, verified on the device by PIN or
//! biometrics, is the login: two factors, as a password and a code would be.

use axum::response::Response;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{DiscoverableAuthentication, DiscoverableKey, PublicKeyCredential};

use super::{
    LOGIN_VERIFY_PATH, accept_assertion,
    actions::Use,
    ceremony::{self, AnswerForm, Mode, Run},
    count_assertion, count_from_ip, not_verified, relying_party_or_refuse, store, user_handle,
};
use crate::{
    error::PageError,
    oidc::assurance,
    web::{
        client_ip::ClientIp,
        page::{CsrfForm, Page, safe_return},
    },
};

/// The ceremony's kind in the shared store.
const KIND: &str = "login";

/// What waits between the options and the answer.
#[derive(Serialize, Deserialize)]
struct Waiting {
    /// The authorization request waiting for this login, if any.
    authreq: String,
    /// The local page to go back to when none is waiting.
    retour: String,
    state: DiscoverableAuthentication,
}

/// Fields of « Se connecter avec une clé d'accès » on the login page.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StartForm {
    csrf: String,
    authreq: String,
    retour: String,
}

/// The login page of this request (« Annuler »).
fn back_to_login(authreq: &str, retour: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if !authreq.is_empty() {
        query.append_pair("authreq", authreq);
    }
    if !retour.is_empty() {
        query.append_pair("retour", retour);
    }
    format!("/connexion?{}", query.finish())
}

/// `POST /connexion/cle-d-acces`: a challenge for any passkey of this site.
pub async fn start(
    page: Page,
    ip: ClientIp,
    CsrfForm(form): CsrfForm<StartForm>,
) -> Result<Response, PageError> {
    let webauthn = relying_party_or_refuse(&page.config)?;
    // No account is known yet: the address is what limits the challenges asked.
    count_from_ip(&page, &ip).await?;
    let (options, state) = webauthn
        .start_discoverable_authentication()
        .map_err(|e| PageError::internal("passkey authentication", &e))?;
    let mut options =
        serde_json::to_value(options).map_err(|e| PageError::internal("passkey options", &e))?;
    // webauthn-rs marks it for conditional UI (the e-mail field's autofill); this login is a
    // button, so the browser's own passkey dialog is asked for instead.
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    let retour = safe_return(&form.retour).unwrap_or_default().to_owned();
    let cancel = back_to_login(&form.authreq, &retour);
    let waiting = Waiting {
        authreq: form.authreq,
        retour,
        state,
    };
    let token = ceremony::keep(&page, KIND, &waiting).await?;
    let run = Run {
        title: "Se connecter avec une clé d'accès",
        explanation: "Votre navigateur va vous proposer les clés d'accès enregistrées pour EFP Connect : choisissez la vôtre et déverrouillez-la (code, empreinte ou visage).",
        button: "Utiliser ma clé d'accès",
        mode: Mode::Get,
        action: LOGIN_VERIFY_PATH,
        cancel,
    };
    ceremony::page(&page, run, &options, token)
}

/// `POST /connexion/cle-d-acces/verification`: the browser's assertion; accepted, the session
/// starts (`hwk`, `user`, `mfa`) and the login goes on (CGU, the waiting client).
pub async fn verify(
    page: Page,
    ip: ClientIp,
    CsrfForm(form): CsrfForm<AnswerForm>,
) -> Result<Response, PageError> {
    let webauthn = relying_party_or_refuse(&page.config)?;
    let waiting: Waiting = ceremony::take(&page, KIND, &form.ceremony).await?;
    let answer: PublicKeyCredential = ceremony::answer(&form.credential)?;
    let (handle, credential) = webauthn
        .identify_discoverable_authentication(&answer)
        .map_err(|_| not_verified())?;
    let Some(stored) = store::by_credential_id(&page.db, &store::base64url(credential)).await?
    else {
        count_from_ip(&page, &ip).await?;
        return Err(not_verified());
    };
    if user_handle(&stored.user_id) != handle {
        return Err(not_verified());
    }
    count_assertion(&page, &ip, &stored.user_id).await?;
    let key = DiscoverableKey::from(&stored.passkey);
    let outcome = webauthn.finish_discoverable_authentication(&answer, waiting.state, &[key]);
    // webauthn-rs refuses a passkey assertion without user verification (its policy for
    // passkeys is `Required`): an accepted one proved the key and the PIN or biometrics.
    accept_assertion(&page, &answer, outcome, &stored.user_id, Use::Passwordless).await?;
    tracing::info!(login.outcome = "success", user.id = %stored.user_id, login.step = "passkey", "login");
    crate::metrics::login("success");
    crate::accounts::login::finish(
        &page,
        &stored.user_id,
        assurance::amr_passkey(),
        &waiting.authreq,
        &waiting.retour,
    )
    .await
}

crate::with_csrf!(StartForm);
