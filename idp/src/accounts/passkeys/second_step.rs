//! « Utiliser une clé d'accès » on the login's second step (`/connexion/code`, after the
//! password, or a step-up asked by a client): an assertion with one of the account's passkeys
//! instead of a code. The waiting second step (accounts/totp) is taken only when the passkey is
//! accepted, as with a code.

use axum::response::Response;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{PasskeyAuthentication, PublicKeyCredential};

use super::{
    SECOND_STEP_VERIFY_PATH, accept_assertion,
    actions::Use,
    ceremony::{self, AnswerForm, Mode, Run},
    count_assertion, relying_party_or_refuse, store,
};
use crate::{
    accounts::{
        login::{expired, waiting_step},
        totp::login_step::{SecondStep, second_step_key},
    },
    error::PageError,
    oidc::assurance,
    web::{
        client_ip::ClientIp,
        page::{CsrfForm, Page},
    },
};

/// The ceremony's kind in the shared store.
const KIND: &str = "second-step";

/// What waits between the options and the answer.
#[derive(Serialize, Deserialize)]
struct Waiting {
    /// The second step's token (accounts/totp), taken once the passkey is accepted.
    step: String,
    user_id: String,
    state: PasskeyAuthentication,
}

/// Fields of « Utiliser une clé d'accès ».
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StartForm {
    csrf: String,
    step: String,
}

/// `POST /connexion/code/cle-d-acces`: the assertion's options for the account's passkeys.
pub async fn start(page: Page, CsrfForm(form): CsrfForm<StartForm>) -> Result<Response, PageError> {
    let webauthn = relying_party_or_refuse(&page.config)?;
    let (_, step): (_, SecondStep) = waiting_step(&page, &form.step, second_step_key).await?;
    let passkeys: Vec<_> = store::of_account(&page.db, &step.user_id)
        .await?
        .into_iter()
        .map(|s| s.passkey)
        .collect();
    if passkeys.is_empty() {
        return Err(expired());
    }
    let (options, state) = webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(|e| PageError::internal("passkey authentication", &e))?;
    let options =
        serde_json::to_value(options).map_err(|e| PageError::internal("passkey options", &e))?;
    let waiting = Waiting {
        step: form.step,
        user_id: step.user_id,
        state,
    };
    let token = ceremony::keep(&page, KIND, &waiting).await?;
    let run = Run {
        title: "Utiliser une clé d'accès",
        explanation: "Confirmez votre connexion avec l'une des clés d'accès enregistrées sur votre compte : votre navigateur vous demandera de la déverrouiller (code, empreinte ou visage).",
        button: "Utiliser ma clé d'accès",
        mode: Mode::Get,
        action: SECOND_STEP_VERIFY_PATH,
        cancel: "/connexion".to_owned(),
    };
    ceremony::page(&page, run, &options, token)
}

/// `POST /connexion/code/cle-d-acces/verification`: the browser's assertion; accepted, the
/// session starts with two factors (`pwd`, `hwk`, `mfa`) and the login goes on.
pub async fn verify(
    page: Page,
    ip: ClientIp,
    CsrfForm(form): CsrfForm<AnswerForm>,
) -> Result<Response, PageError> {
    let webauthn = relying_party_or_refuse(&page.config)?;
    let waiting: Waiting = ceremony::take(&page, KIND, &form.ceremony).await?;
    let (key, step): (_, SecondStep) = waiting_step(&page, &waiting.step, second_step_key).await?;
    if step.user_id != waiting.user_id {
        return Err(expired());
    }
    count_assertion(&page, &ip, &step.user_id).await?;
    let answer: PublicKeyCredential = ceremony::answer(&form.credential)?;
    let outcome = webauthn.finish_passkey_authentication(&answer, &waiting.state);
    let (_, verified) =
        accept_assertion(&page, &answer, outcome, &step.user_id, Use::SecondFactor).await?;
    // Taken only now, as a code: a refused passkey leaves the step for another try.
    if page.ephemeral.take(&key).await?.is_none() {
        return Err(expired());
    }
    tracing::info!(login.outcome = "success", user.id = %step.user_id, login.step = "passkey", "login");
    let amr = assurance::amr_password_and_passkey(verified);
    crate::accounts::login::finish(&page, &step.user_id, amr, &step.authreq, &step.retour).await
}

crate::with_csrf!(StartForm);
