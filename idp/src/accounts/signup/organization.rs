//! Step 5 of sign-up: the organisation (poste, establishment) and the terms of use; then the
//! account is created.
//!
//! As the guide asks it: « Poste occupé » (optional), then « Raison sociale ou SIREN (9
//! chiffres) de l'entreprise », then the establishment. With a SIRENE register (`idp sirene
//! import`, or the INSEE API configured), « Rechercher » posts the form, which keeps the poste
//! in the journey and comes back as the GET page of results (`?recherche=…&page=…`, no script
//! needed); the person picks one of the results, listed as radio buttons ("3 résultats
//! affichés sur 3"); closed establishments are shown "fermé" and cannot be picked. The chosen
//! SIRET goes to the account's `siret` column and the register's name to
//! `organization_label`.
//!
//! With an empty register (a fresh install that imported nothing), the raison sociale is typed
//! and the number only checked (digits, Luhn): a 14-digit SIRET goes to `siret`; a 9-digit
//! SIREN names a company, not an establishment, so `siret` stays empty. In both cases the
//! raison sociale goes to `organization_label`.

use askama::Template;
use axum::{
    extract::{Query as UrlQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use serde::Deserialize;

use super::{At, Frame, Posted, Session, Step, reply, reply_with};
use crate::{
    AppState,
    accounts::{Email, UserId, actions::sign_up::sign_up, refusal::AccountRefusal, store::NewUser},
    error::PageError,
    mail::messages,
    oidc::pending::PendingAuthorization,
    organizations::{
        Query, Siren, SirenError, Siret, insee,
        picker::{self, Picker},
    },
};

/// Longest poste or raison sociale accepted.
pub use crate::organizations::picker::MAX_LABEL_CHARS;

#[derive(Template)]
#[template(path = "signup_organization.html")]
struct OrganizationPage {
    f: Frame,
    job: String,
    siren: String,
    organization_label: String,
    /// Whether the register can be searched (otherwise: the typed form).
    register: bool,
    /// The register's answers.
    picker: Picker,
}

#[derive(Template)]
#[template(path = "signup_done.html")]
struct DonePage {
    email: String,
    /// « Se connecter »: the login page, resuming the authorization request that led to the
    /// sign-up while it is still waiting.
    login_href: String,
}

/// The search of the GET form (also sent back with the POST, to redraw the results).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SearchParams {
    recherche: String,
    page: String,
}

fn search_href(query: &str, page: u32) -> String {
    let q: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
    format!("/inscription/organisation?recherche={q}&page={page}")
}

/// The register's answers to `params`, or `chosen` alone.
async fn search(
    state: &AppState,
    params: &SearchParams,
    chosen: Option<&Siret>,
) -> Result<Picker, PageError> {
    Picker::search(state, &params.recherche, &params.page, chosen, search_href).await
}

/// `GET /inscription/organisation`: step 5 (with `?recherche=…`: the register's answers).
pub async fn show(
    State(state): State<AppState>,
    At(session): At<{ Step::Organization as u8 }>,
    headers: HeaderMap,
    UrlQuery(params): UrlQuery<SearchParams>,
) -> Result<Response, PageError> {
    let j = &session.journey;
    let mut page = OrganizationPage {
        f: session.frame(&state, &headers, Step::Organization),
        job: j.job.clone().unwrap_or_default(),
        siren: j.siren.clone().unwrap_or_default(),
        organization_label: j.organization_label.clone().unwrap_or_default(),
        register: picker::register_available(&state).await?,
        picker: Picker::default(),
    };
    if page.register {
        let chosen = j.siren.as_deref().and_then(|s| Siret::parse(s).ok());
        page.picker = search(&state, &params, chosen.as_ref()).await?;
    }
    reply(page.f.take_cookies(), &page)
}

/// Fields of step 5.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OrganizationForm {
    csrf: String,
    poste: String,
    /// The establishment picked among the register's results.
    siret: String,
    /// Typed number (empty register).
    siren: String,
    /// Typed raison sociale (empty register).
    raison_sociale: String,
    /// The search the results came from, to show them again if the form comes back.
    recherche: String,
    page: String,
    /// The terms-of-use box: present (`on`) only when ticked.
    cgu: Option<String>,
    /// « Rechercher » was pressed: a search, not the account's creation.
    rechercher: String,
}

/// The poste as typed: trimmed, empty → none, at most [`MAX_LABEL_CHARS`] characters (also
/// used by the account page).
pub fn parse_job(input: &str) -> Result<Option<String>, String> {
    let job = input.trim();
    if job.chars().count() > MAX_LABEL_CHARS {
        return Err(format!(
            "Le poste ne peut dépasser {MAX_LABEL_CHARS} caractères."
        ));
    }
    Ok((!job.is_empty()).then(|| job.to_owned()))
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

/// What the organisation part of the form resolves to, or the field and message to show.
type Resolved = Result<(Number, String), (&'static str, String)>;

/// An establishment picked (or typed) while the register is searchable: it must be known
/// (locally or by the API) and open.
async fn resolve_in_register(state: &AppState, siret: &Siret) -> Result<Resolved, PageError> {
    let unknown = "Cet établissement est introuvable dans le répertoire SIRENE : vérifiez le SIRET ou recherchez par raison sociale.";
    Ok(picker::open_establishment(state, siret, unknown)
        .await?
        .map(|e| (Number::Siret(e.siret), e.name))
        .map_err(|message| ("siret", message)))
}

/// The typed form of an empty register: number checked, raison sociale typed.
fn resolve_typed(form: &OrganizationForm) -> Resolved {
    let number = parse_number(&form.siren).map_err(|e| ("siren", e.to_string()))?;
    let label = picker::typed_label(&form.raison_sociale).map_err(|m| ("raison_sociale", m))?;
    Ok((number, label))
}

/// The establishment of the form: picked in the register's list, typed while the register is
/// searchable (an older form: the register still decides), or typed without the register.
async fn resolve(
    state: &AppState,
    form: &OrganizationForm,
    register_on: bool,
) -> Result<Resolved, PageError> {
    let picked = form.siret.trim();
    if !picked.is_empty() {
        return match Siret::parse(picked) {
            Ok(siret) => resolve_in_register(state, &siret).await,
            Err(e) => Ok(Err(("siret", e.to_string()))),
        };
    }
    if !register_on {
        return Ok(resolve_typed(form));
    }
    if form.siren.trim().is_empty() {
        return Ok(Err((
            "siret",
            "Veuillez rechercher votre établissement puis le sélectionner dans la liste."
                .to_owned(),
        )));
    }
    match parse_number(&form.siren) {
        Ok(Number::Siret(siret)) => resolve_in_register(state, &siret).await,
        Ok(Number::Siren(siren)) => resolve_siren_in_register(state, form, siren).await,
        Err(e) => Ok(Err(("siren", e.to_string()))),
    }
}

/// A SIREN typed while the register is searchable: it must be in the register; the label is
/// the one typed, or the register's.
async fn resolve_siren_in_register(
    state: &AppState,
    form: &OrganizationForm,
    siren: Siren,
) -> Result<Resolved, PageError> {
    let query = Query::Siren(siren.clone());
    let found = insee::search(&state.db, state.insee.as_ref(), &query, 1).await?;
    let Some(first) = found.results.first() else {
        return Ok(Err((
            "siren",
            "Ce SIREN est introuvable dans le répertoire SIRENE.".to_owned(),
        )));
    };
    let typed = form.raison_sociale.trim();
    let label = if typed.is_empty() || typed.chars().count() > MAX_LABEL_CHARS {
        first.name.clone()
    } else {
        typed.to_owned()
    };
    Ok(Ok((Number::Siren(siren), label)))
}

/// The first thing wrong with the form, as (field, message).
fn first_error(
    job: &Result<Option<String>, String>,
    resolved: &Resolved,
    form: &OrganizationForm,
) -> Option<(&'static str, String)> {
    if let Err(message) = job {
        Some(("poste", message.clone()))
    } else if let Err((field, message)) = resolved {
        Some((*field, message.clone()))
    } else if form.cgu.as_deref() != Some("on") {
        Some((
            "cgu",
            "Veuillez accepter les conditions générales d'utilisation pour créer votre compte."
                .to_owned(),
        ))
    } else {
        None
    }
}

/// Keeps what was typed or picked, so it survives a "Modifier" trip to an earlier step.
fn remember(
    session: &mut Session,
    form: &OrganizationForm,
    resolved: &Resolved,
    register_on: bool,
) {
    let picked = form.siret.trim();
    let journey = &mut session.journey;
    journey.job = Some(form.poste.clone());
    match resolved {
        Ok((Number::Siret(siret), label)) if register_on => {
            journey.siren = Some(siret.as_str().to_owned());
            journey.organization_label = Some(label.clone());
        }
        _ if !picked.is_empty() => {
            journey.siren = Some(picked.to_owned());
        }
        _ => {
            journey.siren = Some(form.siren.clone());
            journey.organization_label = Some(form.raison_sociale.clone());
        }
    }
}

/// The step again, with `message` on `field` and what was typed.
async fn show_again(
    state: &AppState,
    headers: &HeaderMap,
    session: &Session,
    form: &OrganizationForm,
    register_on: bool,
    (field, message): (&'static str, String),
) -> Result<Response, PageError> {
    let mut page = OrganizationPage {
        f: session
            .frame(state, headers, Step::Organization)
            .with_error(field, message),
        job: form.poste.clone(),
        siren: form.siren.clone(),
        organization_label: form.raison_sociale.clone(),
        register: register_on,
        picker: Picker::default(),
    };
    if register_on {
        let params = SearchParams {
            recherche: form.recherche.clone(),
            page: form.page.clone(),
        };
        let chosen = Siret::parse(form.siret.trim()).ok();
        page.picker = search(state, &params, chosen.as_ref()).await?;
    }
    reply_with(page.f.take_cookies(), &page, StatusCode::BAD_REQUEST)
}

/// The account to create from the journey and this step.
fn new_user(
    session: &Session,
    number: Number,
    label: String,
    job: Option<String>,
) -> (NewUser, Siren) {
    let j = &session.journey;
    let (siret, siren) = match &number {
        Number::Siret(siret) => (Some(siret.as_str().to_owned()), siret.siren()),
        Number::Siren(siren) => (None, siren.clone()),
    };
    let new = NewUser {
        given_name: j.given_name.clone().unwrap_or_default(),
        family_name: j.family_name.clone().unwrap_or_default(),
        gender: j.gender.clone(),
        job,
        siret,
        organization_label: Some(label),
        is_agent: false,
    };
    (new, siren)
}

/// `POST /inscription/organisation`: creates the account.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Posted(mut session, form): Posted<{ Step::Organization as u8 }, OrganizationForm>,
) -> Result<Response, PageError> {
    let job = parse_job(&form.poste);
    let register_on = picker::register_available(&state).await?;
    if register_on && !form.rechercher.is_empty() {
        if let Err(message) = &job {
            let error = ("poste", message.clone());
            return show_again(&state, &headers, &session, &form, register_on, error).await;
        }
        session.journey.job = Some(form.poste.clone());
        session.save(&state).await?;
        return Ok(session.redirect(&search_href(&form.recherche, 1)));
    }
    let resolved = resolve(&state, &form, register_on).await?;
    let error = first_error(&job, &resolved, &form);
    remember(&mut session, &form, &resolved, register_on);
    session.save(&state).await?;
    if let Some(error) = error {
        return show_again(&state, &headers, &session, &form, register_on, error).await;
    }
    let (Some(email), Some(phc), Ok((number, label)), Ok(job)) = (
        session.email(),
        session.journey.password_hash.clone(),
        resolved,
        job,
    ) else {
        return Ok(session.redirect(session.journey.next_step().path()));
    };
    let (new, siren) = new_user(&session, number, label, job);
    let user = match sign_up(&state.db, state.clock.now(), &email, &phc, &new, &siren).await {
        Ok(user) => user,
        Err(refusal @ AccountRefusal::EmailTaken) => {
            // The address got an account since its code was sent (another journey finished first).
            session.finish(&state).await?;
            return Err(PageError::bad_request(refusal.to_string()));
        }
        Err(refusal) => return Err(refusal.into()),
    };
    tracing::info!(user.id = %user, "account created by sign-up");
    let name = format!("{} {}", new.given_name, new.family_name);
    welcome(&state, &email, &name, &user).await;
    done(&state, session, &email).await
}

/// The account-created e-mail: the account exists, so a failed notification must not make the
/// page say otherwise.
async fn welcome(state: &AppState, email: &Email, name: &str, user: &UserId) {
    match messages::account_created(&state.config.issuer, email, Some(name)) {
        Ok(message) => {
            if let Err(e) = state.mailer.send(&message).await {
                tracing::warn!(error.message = %e, user.id = %user, "account-created e-mail not sent");
            }
        }
        Err(e) => tracing::warn!(error.message = %e, "account-created e-mail not composed"),
    }
}

/// The journey ends: the page saying the account is created, with the way to log in (back to
/// the service's request when one is waiting).
async fn done(state: &AppState, session: Session, email: &Email) -> Result<Response, PageError> {
    let login_href = match session.journey.authreq.clone() {
        Some(authreq) if PendingAuthorization::load(state, &authreq).await?.is_some() => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("authreq", &authreq)
                .finish();
            format!("/connexion?{query}")
        }
        _ => "/connexion".to_owned(),
    };
    let clear = session.finish(state).await?;
    let mut response = reply(
        Vec::new(),
        &DonePage {
            email: email.as_str().to_owned(),
            login_href,
        },
    )?;
    response.headers_mut().append(header::SET_COOKIE, clear);
    Ok(response)
}

crate::with_csrf!(OrganizationForm);
