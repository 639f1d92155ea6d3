//! Step 4 of sign-up: civilité, nom, prénom — all required, trimmed, at most
//! [`MAX_NAME_CHARS`] characters.

use askama::Template;
use axum::{extract::State, http::HeaderMap, http::StatusCode, response::Response};
use serde::Deserialize;

use super::{At, Frame, Posted, Step, reply, reply_with};
use crate::{AppState, error::PageError};

/// Longest nom or prénom accepted.
pub const MAX_NAME_CHARS: usize = 100;

#[derive(Template)]
#[template(path = "signup_identity.html")]
struct IdentityPage {
    f: Frame,
    /// `female`, `male` or empty.
    gender: String,
    family_name: String,
    given_name: String,
}

/// `GET /inscription/identite`: step 4, filled in with what was typed before.
pub async fn show(
    State(state): State<AppState>,
    At(session): At<{ Step::Identity as u8 }>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let j = &session.journey;
    let mut page = IdentityPage {
        f: session.frame(&state, &headers, Step::Identity),
        gender: j.gender.clone().unwrap_or_default(),
        family_name: j.family_name.clone().unwrap_or_default(),
        given_name: j.given_name.clone().unwrap_or_default(),
    };
    reply(page.f.take_cookies(), &page)
}

/// Fields of step 4 (also step 3 of an invitation, about someone else).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct IdentityForm {
    pub(crate) csrf: String,
    /// `madame` or `monsieur`.
    pub(crate) civilite: String,
    pub(crate) nom: String,
    pub(crate) prenom: String,
}

/// A required name: trimmed, not empty, bounded.
fn name(input: &str, missing: &str, what: &str) -> Result<String, String> {
    let s = input.trim();
    if s.is_empty() {
        Err(missing.to_owned())
    } else if s.chars().count() > MAX_NAME_CHARS {
        Err(format!(
            "Le {what} ne peut dépasser {MAX_NAME_CHARS} caractères."
        ))
    } else if s.chars().any(char::is_control) {
        Err(format!("Le {what} contient des caractères non autorisés."))
    } else {
        Ok(s.to_owned())
    }
}

/// Civilité, nom and prénom as checked at sign-up (step 4) and on the account page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `female` (Madame) or `male` (Monsieur).
    pub gender: &'static str,
    /// Nom, trimmed.
    pub family_name: String,
    /// Prénom, trimmed.
    pub given_name: String,
}

/// The civilité of a form (`madame`, `monsieur`) as an OIDC gender, if it is one.
pub fn gender_of(civilite: &str) -> Option<&'static str> {
    match civilite {
        "madame" => Some("female"),
        "monsieur" => Some("male"),
        _ => None,
    }
}

/// Parses the civilité (`madame` or `monsieur`), nom and prénom typed in a form; on error,
/// the field in error (`civilite`, `nom`, `prenom`) and the French message.
pub fn parse_identity(
    civilite: &str,
    nom: &str,
    prenom: &str,
) -> Result<Identity, (&'static str, String)> {
    let Some(gender) = gender_of(civilite) else {
        return Err(("civilite", "Veuillez indiquer votre civilité.".to_owned()));
    };
    let family_name = name(nom, "Veuillez saisir votre nom.", "nom").map_err(|m| ("nom", m))?;
    let given_name =
        name(prenom, "Veuillez saisir votre prénom.", "prénom").map_err(|m| ("prenom", m))?;
    Ok(Identity {
        gender,
        family_name,
        given_name,
    })
}

/// `POST /inscription/identite`: goes to step 5.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Posted(mut session, form): Posted<{ Step::Identity as u8 }, IdentityForm>,
) -> Result<Response, PageError> {
    match parse_identity(&form.civilite, &form.nom, &form.prenom) {
        Ok(identity) => {
            session.journey.gender = Some(identity.gender.to_owned());
            session.journey.family_name = Some(identity.family_name);
            session.journey.given_name = Some(identity.given_name);
            let j = &session.journey;
            if super::password::sealed_contains_names(
                &state,
                j.sealed_password.as_deref(),
                &j.names(),
            ) {
                // Back to step 3, which says why.
                session.journey.password_hash = None;
                session.journey.sealed_password = None;
                session.journey.password_contains_name = true;
            }
            session.save(&state).await?;
            Ok(session.redirect(session.journey.next_step().path()))
        }
        Err((field, message)) => {
            let mut page = IdentityPage {
                f: session
                    .frame(&state, &headers, Step::Identity)
                    .with_error(field, message),
                gender: gender_of(&form.civilite).unwrap_or_default().into(),
                family_name: form.nom.clone(),
                given_name: form.prenom.clone(),
            };
            reply_with(page.f.take_cookies(), &page, StatusCode::BAD_REQUEST)
        }
    }
}

crate::with_csrf!(IdentityForm);
