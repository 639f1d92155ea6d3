//! Step 5 of sign-up: the organisation (poste, SIREN or SIRET, raison sociale) and the terms
//! of use; then the account is created.
//!
//! Until the register search arrives (a later issue), the raison sociale is typed and the
//! number is only checked (digits, Luhn). What is stored: a 14-digit SIRET goes to the
//! account's `siret` column; a 9-digit SIREN names a company, not an establishment, so
//! `siret` stays empty (the head office will be looked up in the register later) and the
//! raison sociale goes to `organization_label` in both cases.

use askama::Template;
use axum::{
    Form,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use serde::Deserialize;

use super::{Frame, Session, Step, check_csrf, reply, reply_with};
use crate::{
    AppState,
    accounts::store::{self, NewUser},
    audit,
    error::PageError,
    mail::messages,
    organizations::{Siren, SirenError, Siret},
};

/// Longest poste or raison sociale accepted.
pub const MAX_LABEL_CHARS: usize = 200;

#[derive(Template)]
#[template(path = "signup_organization.html")]
struct OrganizationPage {
    f: Frame,
    job: String,
    siren: String,
    organization_label: String,
}

#[derive(Template)]
#[template(path = "signup_done.html")]
struct DonePage {
    email: String,
}

/// `GET /inscription/organisation`: step 5.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let session = Session::load(&state, &headers).await?;
    if let Some(redirect) = session.guard(Step::Organization) {
        return Ok(redirect);
    }
    let j = &session.journey;
    let mut page = OrganizationPage {
        f: session.frame(&state, &headers, Step::Organization),
        job: j.job.clone().unwrap_or_default(),
        siren: j.siren.clone().unwrap_or_default(),
        organization_label: j.organization_label.clone().unwrap_or_default(),
    };
    reply(page.f.take_cookies(), &page)
}

/// Fields of step 5.
#[derive(Deserialize)]
pub struct OrganizationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    poste: String,
    #[serde(default)]
    siren: String,
    #[serde(default)]
    raison_sociale: String,
    /// The terms-of-use box: present (`on`) only when ticked.
    #[serde(default)]
    cgu: Option<String>,
}

/// The company number as typed: a SIRET (14 digits) or a SIREN (9).
enum Number {
    Siren(Siren),
    Siret(Siret),
}

fn parse_number(input: &str) -> Result<Number, SirenError> {
    let digits = input.chars().filter(|c| !c.is_whitespace()).count();
    if digits == 14 {
        Siret::parse(input).map(Number::Siret)
    } else {
        Siren::parse(input).map(Number::Siren)
    }
}

/// `POST /inscription/organisation`: creates the account.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<OrganizationForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let mut session = Session::load(&state, &headers).await?;
    if let Some(redirect) = session.guard(Step::Organization) {
        return Ok(redirect);
    }
    let job = form.poste.trim();
    let label = form.raison_sociale.trim();
    let number = parse_number(&form.siren);
    let error = if job.chars().count() > MAX_LABEL_CHARS {
        Some((
            "poste",
            format!("Le poste ne peut dépasser {MAX_LABEL_CHARS} caractères."),
        ))
    } else if let Err(e) = &number {
        Some(("siren", e.to_string()))
    } else if label.is_empty() {
        Some((
            "raison_sociale",
            "Veuillez saisir la raison sociale de l'entreprise.".to_owned(),
        ))
    } else if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        Some((
            "raison_sociale",
            format!("La raison sociale ne peut dépasser {MAX_LABEL_CHARS} caractères."),
        ))
    } else if form.cgu.as_deref() != Some("on") {
        Some((
            "cgu",
            "Veuillez accepter les conditions générales d'utilisation pour créer votre compte."
                .to_owned(),
        ))
    } else {
        None
    };
    // What was typed survives a "Modifier" trip to an earlier step.
    session.journey.job = Some(form.poste.clone());
    session.journey.siren = Some(form.siren.clone());
    session.journey.organization_label = Some(form.raison_sociale.clone());
    session.save(&state).await?;
    if let Some((field, message)) = error {
        let mut page = OrganizationPage {
            f: session
                .frame(&state, &headers, Step::Organization)
                .with_error(field, message),
            job: form.poste.clone(),
            siren: form.siren.clone(),
            organization_label: form.raison_sociale.clone(),
        };
        return reply_with(page.f.take_cookies(), &page, StatusCode::BAD_REQUEST);
    }
    let (Some(email), Some(phc), Ok(number)) = (
        session.email(),
        session.journey.password_hash.clone(),
        number,
    ) else {
        return Ok(session.redirect(session.journey.next_step().path()));
    };
    let j = &session.journey;
    let (siret, siren) = match &number {
        Number::Siret(siret) => (Some(siret.as_str().to_owned()), siret.siren()),
        Number::Siren(siren) => (None, siren.clone()),
    };
    let new = NewUser {
        given_name: j.given_name.clone().unwrap_or_default(),
        family_name: j.family_name.clone().unwrap_or_default(),
        gender: j.gender.clone(),
        job: (!job.is_empty()).then(|| job.to_owned()),
        siret,
        organization_label: Some(label.to_owned()),
        is_agent: false,
    };
    let Some(user) = store::insert_user(&state.db, &email, Some(&phc), &new).await? else {
        // The address got an account since its code was sent (another journey finished first).
        session.finish(&state).await?;
        return Err(PageError::bad_request(
            "Un compte EFP Connect existe déjà pour cette adresse e-mail. Connectez-vous ou réinitialisez votre mot de passe.",
        ));
    };
    audit::record(
        &state.db,
        &user.id,
        "account.created",
        &user.id,
        serde_json::json!({ "via": "signup", "siren": siren.as_str() }),
    )
    .await?;
    tracing::info!(user.id = %user.id, "account created by sign-up");
    let name = format!("{} {}", new.given_name, new.family_name);
    // The account exists: a failed notification must not make the page say otherwise.
    match messages::account_created(&state.config.issuer, &email, Some(&name)) {
        Ok(message) => {
            if let Err(e) = state.mailer.send(&message).await {
                tracing::warn!(error.message = %e, user.id = %user.id, "account-created e-mail not sent");
            }
        }
        Err(e) => tracing::warn!(error.message = %e, "account-created e-mail not composed"),
    }
    let clear = session.finish(&state).await?;
    let mut response = reply(
        Vec::new(),
        &DonePage {
            email: email.as_str().to_owned(),
        },
    )?;
    response.headers_mut().append(header::SET_COOKIE, clear);
    Ok(response)
}
