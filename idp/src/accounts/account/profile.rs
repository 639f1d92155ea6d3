//! `/compte/identite`: civilité, nom, prénom (the sign-up rules, `signup::identity`) and
//! poste (optional, as at sign-up, `signup::organization::parse_job`).

use askama::Template;
use axum::{http::StatusCode, response::Response};
use serde::Deserialize;

use super::{Page, back_to_overview};
use crate::web::page::CsrfForm;
use crate::{
    accounts::logged_in::LoggedIn,
    accounts::{
        UserId,
        actions::update_profile::update_profile,
        signup::{identity, organization},
        store::Identity,
    },
    error::PageError,
};

/// The page.
pub const PATH: &str = "/compte/identite";

#[derive(Template)]
#[template(path = "account_identity.html")]
struct IdentityPage {
    csrf: String,
    /// `female`, `male` or empty.
    gender: String,
    family_name: String,
    given_name: String,
    job: String,
    error: Option<String>,
    /// The field the error concerns (`""`: none).
    invalid: &'static str,
}

/// `GET /compte/identite`: the form, filled in with the account's values.
pub async fn show(page: Page, LoggedIn { user, .. }: LoggedIn) -> Result<Response, PageError> {
    page.render(StatusCode::OK, |csrf| IdentityPage {
        csrf,
        gender: user.gender.clone().unwrap_or_default(),
        family_name: user.family_name.clone(),
        given_name: user.given_name.clone(),
        job: user.job.clone().unwrap_or_default(),
        error: None,
        invalid: "",
    })
}

/// Fields of the form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct IdentityForm {
    csrf: String,
    /// `madame` or `monsieur`.
    civilite: String,
    nom: String,
    prenom: String,
    poste: String,
}

/// `POST /compte/identite`: saves, or shows the form again with what was typed.
pub async fn submit(
    page: Page,
    LoggedIn { user, .. }: LoggedIn,
    CsrfForm(form): CsrfForm<IdentityForm>,
) -> Result<Response, PageError> {
    let parsed = identity::parse_identity(&form.civilite, &form.nom, &form.prenom).and_then(|id| {
        Ok((
            id,
            organization::parse_job(&form.poste).map_err(|m| ("poste", m))?,
        ))
    });
    let (id, job) = match parsed {
        Ok(parsed) => parsed,
        Err((field, message)) => {
            return page.render(StatusCode::BAD_REQUEST, |csrf| IdentityPage {
                csrf,
                gender: identity::gender_of(&form.civilite)
                    .unwrap_or_default()
                    .into(),
                family_name: form.nom.clone(),
                given_name: form.prenom.clone(),
                job: form.poste.clone(),
                error: Some(message),
                invalid: field,
            });
        }
    };
    let identity = Identity {
        gender: id.gender,
        family_name: &id.family_name,
        given_name: &id.given_name,
        job: job.as_deref(),
    };
    let user_id = UserId::from_stored(user.id.clone());
    update_profile(&page.db, page.clock.now(), &user_id, &identity).await?;
    // Userinfo on every node shows the new identity from the next request.
    page.revocations.changed(&page.db, &page.ephemeral).await?;
    tracing::info!(user.id = %user.id, "identity changed");
    Ok(back_to_overview("identite"))
}

crate::with_csrf!(IdentityForm);
