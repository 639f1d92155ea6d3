//! « Inviter un utilisateur » and the « Invitations » tab (guide `002` §6.2–6.3).
//!
//! A wizard of five steps under `/acces/{service}/gestion/inviter`: the e-mail; for a new
//! person the type of account, the identity and the organisation; then the habilitations,
//! kept in the wizard until « Terminer ». An address that already has an account jumps from
//! step 1 to step 5: the person just gets the habilitations. « Terminer » creates the new
//! account without a password, grants the habilitations (origin « Habilité par … »), stores
//! one invitation per establishment and e-mails the person: for a new account, a link to
//! choose a password (the password reset journey's link, valid 24 hours); otherwise a link
//! to the service.
//!
//! The wizard lives in the shared store, keyed by the manager's login session, for
//! [`WIZARD_TTL`]. Every step goes through [`manage::manager`]: the same rules as the other
//! manager pages (logged in, Responsable des accès with the charte accepted), and each
//! habilitation is checked against the manager's own open establishments, when added and
//! again at « Terminer ».

use std::{collections::HashMap, time::Duration};

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query as UrlQuery, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};

use super::actions::finish_invitation::{FinishInvitation, Finished, Grant, finish_invitation};
use super::{
    EndDate,
    actions::look_up_invitee,
    dates,
    invitations::{self, Invitation, InvitedRole},
    manage::{Establishment, Manager, manager, not_manager},
    services::{self, Role, Service},
};
use crate::{
    AppState,
    accounts::{
        Email, UserId,
        account::{full_name, send_notice},
        reset,
        signup::{
            identity::{gender_of, parse_identity},
            organization::{MAX_LABEL_CHARS, parse_job},
        },
        store::{self as users, NewUser, User},
    },
    audit,
    error::PageError,
    mail::messages::{MessageKind, RESET_LINK_PATH, absolute, notice},
    organizations::{
        Query as SearchQuery, Siret, insee,
        register::{self, SearchPage},
    },
    secrets,
    store::now,
    web::page::{check_csrf, render},
};

/// How long an unfinished wizard is kept.
pub const WIZARD_TTL: Duration = Duration::from_secs(2 * 3600);
/// How long the link to choose a password of an invitation is valid: 24 hours.
pub const PASSWORD_LINK_TTL: Duration = Duration::from_secs(24 * 3600);

const NO_HABILITATION: &str = "Ajoutez au moins une habilitation avant de terminer l'invitation.";
const CLOSED: &str = "Cet établissement est fermé dans le répertoire SIRENE : il ne peut pas recevoir de nouvelle habilitation.";

/// One habilitation added in the wizard.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct WizardGrant {
    siret: String,
    role: String,
    /// `YYYY-MM-DD`, or none.
    end_date: Option<String>,
}

/// What was typed so far.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Wizard {
    email: Option<String>,
    /// The account of the address, when it already had one.
    existing: Option<String>,
    /// `professionnel`.
    account_type: Option<String>,
    gender: Option<String>,
    family_name: Option<String>,
    given_name: Option<String>,
    job: Option<String>,
    siret: Option<String>,
    organization: Option<String>,
    grants: Vec<WizardGrant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Email = 1,
    Type = 2,
    Identity = 3,
    Organization = 4,
    Habilitations = 5,
}

impl Step {
    fn path(self, service: &str) -> String {
        let tail = match self {
            Self::Email => "",
            Self::Type => "/type",
            Self::Identity => "/identite",
            Self::Organization => "/organisation",
            Self::Habilitations => "/habilitations",
        };
        format!("/acces/{service}/gestion/inviter{tail}")
    }
}

impl Wizard {
    /// The first step not done yet.
    fn next_step(&self) -> Step {
        if self.email.is_none() {
            Step::Email
        } else if self.existing.is_some() {
            Step::Habilitations
        } else if self.account_type.is_none() {
            Step::Type
        } else if self.given_name.is_none() {
            Step::Identity
        } else if self.organization.is_none() {
            Step::Organization
        } else {
            Step::Habilitations
        }
    }

    /// Where to go instead of `step`, when it cannot be shown yet (or at all: steps 2–4 of
    /// an existing account).
    fn guard(&self, step: Step, service: &str) -> Option<Response> {
        let next = self.next_step();
        let skipped = self.existing.is_some() && step > Step::Email && step < Step::Habilitations;
        (step > next || skipped).then(|| Redirect::to(&next.path(service)).into_response())
    }
}

fn wizard_key(m: &Manager) -> String {
    format!("invite:{}:{}", m.service.code, secrets::hash(&m.sid))
}

async fn load(state: &AppState, m: &Manager) -> Result<Wizard, PageError> {
    Ok(state
        .ephemeral
        .get(&wizard_key(m))
        .await?
        .and_then(|raw| serde_json::from_str(&raw).ok())
        .unwrap_or_default())
}

async fn save(state: &AppState, m: &Manager, w: &Wizard) -> Result<(), PageError> {
    let value = serde_json::to_string(w).expect("wizard serialises");
    state
        .ephemeral
        .put(&wizard_key(m), &value, WIZARD_TTL)
        .await?;
    Ok(())
}

/// « M. », « Mme ».
fn civility(gender: Option<&str>) -> &'static str {
    match gender {
        Some("female") => "Mme ",
        Some("male") => "M. ",
        _ => "",
    }
}

/// « M. Jean Dupont », or the address when the account has no name.
fn display_name(user: &User) -> String {
    match full_name(user) {
        Some(name) => format!("{}{name}", civility(user.gender.as_deref())),
        None => user.email.clone(),
    }
}

/// One finished step in the recap, with its « Modifier » link.
struct RecapItem {
    label: String,
    href: Option<String>,
}

/// One search result of step 4.
struct ResultRow {
    siret: String,
    name: String,
    location: String,
    active: bool,
    checked: bool,
}

/// One habilitation of step 5's list.
struct GrantRow {
    index: usize,
    establishment: String,
    role: String,
    end: Option<String>,
}

#[derive(Template, Default)]
#[template(path = "access_invite.html")]
struct InvitePage {
    csrf: String,
    service_code: String,
    service_label: String,
    step: u8,
    recap: Vec<RecapItem>,
    error: Option<String>,
    /// The field in error.
    invalid: &'static str,
    email: String,
    gender: String,
    family_name: String,
    given_name: String,
    job: String,
    register: bool,
    query: String,
    search_error: Option<String>,
    searched: bool,
    summary: String,
    results: Vec<ResultRow>,
    current_page: u32,
    previous_href: Option<String>,
    next_href: Option<String>,
    organization: String,
    typed_siret: String,
    person: String,
    establishments: Vec<Establishment>,
    roles: Vec<Role>,
    grants: Vec<GrantRow>,
    form_siret: String,
    form_role: String,
    form_end: String,
}

impl InvitePage {
    fn at(m: &Manager, step: Step) -> Self {
        Self {
            service_code: m.service.code.clone(),
            service_label: m.service.label.clone(),
            step: step as u8,
            current_page: 1,
            ..Self::default()
        }
    }

    fn with_error(mut self, field: &'static str, message: impl Into<String>) -> Self {
        self.invalid = field;
        self.error = Some(message.into());
        self
    }
}

/// The recap of the steps before `step`.
async fn recap(
    state: &AppState,
    m: &Manager,
    w: &Wizard,
    step: Step,
) -> Result<Vec<RecapItem>, PageError> {
    let code = &m.service.code;
    let mut items = Vec::new();
    if step > Step::Email
        && let Some(email) = &w.email
    {
        items.push(RecapItem {
            label: format!("E-mail : {email}"),
            href: Some(Step::Email.path(code)),
        });
    }
    if let Some(id) = &w.existing {
        if step == Step::Habilitations
            && let Some(user) = users::user_by_id(&state.db, id).await?
        {
            items.push(RecapItem {
                label: "Type de compte : Professionnel".into(),
                href: None,
            });
            items.push(RecapItem {
                label: format!("Identité : {}", display_name(&user)),
                href: None,
            });
            if let Some(org) = user.organization_label.filter(|o| !o.is_empty()) {
                items.push(RecapItem {
                    label: format!("Organisation de rattachement de l'utilisateur : {org}"),
                    href: None,
                });
            }
        }
        return Ok(items);
    }
    if step > Step::Type && w.account_type.is_some() {
        items.push(RecapItem {
            label: "Type de compte : Professionnel".into(),
            href: Some(Step::Type.path(code)),
        });
    }
    if step > Step::Identity
        && let (Some(given), Some(family)) = (&w.given_name, &w.family_name)
    {
        items.push(RecapItem {
            label: format!(
                "Identité : {}{given} {family}",
                civility(w.gender.as_deref())
            ),
            href: Some(Step::Identity.path(code)),
        });
    }
    if step > Step::Organization
        && let Some(org) = &w.organization
    {
        items.push(RecapItem {
            label: format!("Organisation de rattachement de l'utilisateur : {org}"),
            href: Some(Step::Organization.path(code)),
        });
    }
    Ok(items)
}

async fn show_page(
    state: &AppState,
    headers: &HeaderMap,
    m: &Manager,
    w: &Wizard,
    step: Step,
    mut page: InvitePage,
) -> Result<Response, PageError> {
    page.recap = recap(state, m, w, step).await?;
    let status = if page.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(state, headers, status, |csrf| InvitePage { csrf, ..page })
}

/// The acting manager and their wizard, or where to go first.
async fn open(
    state: &AppState,
    headers: &HeaderMap,
    code: &str,
    step: Step,
) -> Result<Result<(Manager, Wizard), Response>, PageError> {
    let here = step.path(code);
    let m = match manager(state, headers, code, &here).await? {
        Ok(m) => m,
        Err(redirect) => return Ok(Err(redirect)),
    };
    let w = load(state, &m).await?;
    if let Some(redirect) = w.guard(step, &m.service.code) {
        return Ok(Err(redirect));
    }
    Ok(Ok((m, w)))
}

macro_rules! open_or_return {
    ($state:expr, $headers:expr, $code:expr, $step:expr) => {
        match open(&$state, &$headers, &$code, $step).await? {
            Ok(found) => found,
            Err(redirect) => return Ok(redirect),
        }
    };
}

// ---- Step 1: the e-mail ----

/// `GET /acces/{service}/gestion/inviter`: step 1 (`?nouveau` starts over).
pub async fn show_email(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    UrlQuery(q): UrlQuery<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let (m, mut w) = open_or_return!(state, headers, code, Step::Email);
    if q.contains_key("nouveau") {
        w = Wizard::default();
        save(&state, &m, &w).await?;
    }
    let page = InvitePage {
        email: w.email.clone().unwrap_or_default(),
        ..InvitePage::at(&m, Step::Email)
    };
    show_page(&state, &headers, &m, &w, Step::Email, page).await
}

/// Fields of step 1.
#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

/// `POST /acces/{service}/gestion/inviter`: an existing account goes to step 5.
pub async fn submit_email(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<EmailForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let (m, mut w) = open_or_return!(state, headers, code, Step::Email);
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => {
            let page = InvitePage {
                email: form.email.clone(),
                ..InvitePage::at(&m, Step::Email)
            }
            .with_error("email", e.to_string());
            return show_page(&state, &headers, &m, &w, Step::Email, page).await;
        }
    };
    if w.email.as_deref() != Some(email.as_str()) {
        // Another person: nothing typed for the previous one applies.
        w = Wizard {
            email: Some(email.as_str().to_owned()),
            ..Wizard::default()
        };
    }
    let by = UserId::from_stored(m.user.id.clone());
    w.existing = look_up_invitee::look_up_invitee(
        &state.db,
        &state.ephemeral,
        &state.clock,
        &by,
        &m.service,
        &email,
    )
    .await
    .map_err(|refused| PageError::refused(&refused))?
    .map(|id| id.as_str().to_owned());
    save(&state, &m, &w).await?;
    Ok(Redirect::to(&w.next_step().path(&m.service.code)).into_response())
}

// ---- Step 2: the type of account ----

/// `GET /acces/{service}/gestion/inviter/type`.
pub async fn show_type(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    let (m, w) = open_or_return!(state, headers, code, Step::Type);
    let page = InvitePage::at(&m, Step::Type);
    show_page(&state, &headers, &m, &w, Step::Type, page).await
}

/// Fields of step 2.
#[derive(Deserialize)]
pub struct TypeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    type_compte: String,
}

/// `POST /acces/{service}/gestion/inviter/type`.
pub async fn submit_type(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<TypeForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let (m, mut w) = open_or_return!(state, headers, code, Step::Type);
    if form.type_compte != "professionnel" {
        let page = InvitePage::at(&m, Step::Type)
            .with_error("type_compte", "Veuillez choisir le type de compte.");
        return show_page(&state, &headers, &m, &w, Step::Type, page).await;
    }
    w.account_type = Some(form.type_compte);
    save(&state, &m, &w).await?;
    Ok(Redirect::to(&w.next_step().path(&m.service.code)).into_response())
}

// ---- Step 3: the identity ----

/// `GET /acces/{service}/gestion/inviter/identite`.
pub async fn show_identity(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    let (m, w) = open_or_return!(state, headers, code, Step::Identity);
    let page = InvitePage {
        gender: w.gender.clone().unwrap_or_default(),
        family_name: w.family_name.clone().unwrap_or_default(),
        given_name: w.given_name.clone().unwrap_or_default(),
        ..InvitePage::at(&m, Step::Identity)
    };
    show_page(&state, &headers, &m, &w, Step::Identity, page).await
}

/// Fields of step 3.
#[derive(Deserialize)]
pub struct IdentityForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    civilite: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    prenom: String,
}

/// `POST /acces/{service}/gestion/inviter/identite`: the sign-up's rules.
pub async fn submit_identity(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<IdentityForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let (m, mut w) = open_or_return!(state, headers, code, Step::Identity);
    match parse_identity(&form.civilite, &form.nom, &form.prenom) {
        Ok(identity) => {
            w.gender = Some(identity.gender.to_owned());
            w.family_name = Some(identity.family_name);
            w.given_name = Some(identity.given_name);
            save(&state, &m, &w).await?;
            Ok(Redirect::to(&w.next_step().path(&m.service.code)).into_response())
        }
        Err((field, message)) => {
            // The sign-up speaks to the person; here the manager speaks of someone else.
            let message = message
                .replace("votre civilité", "la civilité de l'utilisateur")
                .replace("votre nom", "le nom de l'utilisateur")
                .replace("votre prénom", "le prénom de l'utilisateur");
            let page = InvitePage {
                gender: gender_of(&form.civilite).unwrap_or_default().into(),
                family_name: form.nom.clone(),
                given_name: form.prenom.clone(),
                ..InvitePage::at(&m, Step::Identity)
            }
            .with_error(field, message);
            show_page(&state, &headers, &m, &w, Step::Identity, page).await
        }
    }
}

// ---- Step 4: the organisation ----

/// The search of step 4's GET form.
#[derive(Deserialize, Default)]
pub struct SearchParams {
    #[serde(default)]
    recherche: String,
    #[serde(default)]
    page: String,
}

async fn register_available(state: &AppState) -> Result<bool, PageError> {
    Ok(state.insee.is_some() || !register::is_empty(&state.db).await?)
}

fn search_href(service: &str, query: &str, page: u32) -> String {
    let q: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
    format!(
        "{}?recherche={q}&page={page}",
        Step::Organization.path(service)
    )
}

/// Runs the search of `params` (or shows `chosen` alone) into the page.
async fn fill_search(
    state: &AppState,
    page: &mut InvitePage,
    params: &SearchParams,
    chosen: Option<&Siret>,
) -> Result<(), PageError> {
    page.query = params.recherche.clone();
    let number = params.page.trim().parse::<u32>().unwrap_or(1).max(1);
    let found: Option<SearchPage> = if params.recherche.trim().is_empty() {
        match chosen {
            Some(siret) => Some(
                insee::search(
                    &state.db,
                    state.insee.as_ref(),
                    &SearchQuery::Siret(siret.clone()),
                    1,
                )
                .await?,
            ),
            None => None,
        }
    } else {
        match SearchQuery::parse(&params.recherche) {
            Ok(query) => {
                Some(insee::search(&state.db, state.insee.as_ref(), &query, number).await?)
            }
            Err(e) => {
                page.search_error = Some(e.to_string());
                None
            }
        }
    };
    if let Some(found) = found {
        page.searched = true;
        page.current_page = found.page;
        page.summary = found.summary();
        if found.page > 1 {
            page.previous_href = Some(search_href(
                &page.service_code,
                &params.recherche,
                found.page - 1,
            ));
        }
        if found.page < found.pages() {
            page.next_href = Some(search_href(
                &page.service_code,
                &params.recherche,
                found.page + 1,
            ));
        }
        page.results = found
            .results
            .iter()
            .map(|e| ResultRow {
                siret: e.siret.as_str().to_owned(),
                name: e.name.clone(),
                location: e.location(),
                active: e.active,
                checked: e.active && chosen == Some(&e.siret),
            })
            .collect();
    }
    Ok(())
}

/// `GET /acces/{service}/gestion/inviter/organisation` (with `?recherche=…`: the register's
/// answers, as radio buttons).
pub async fn show_organization(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    UrlQuery(params): UrlQuery<SearchParams>,
) -> Result<Response, PageError> {
    let (m, w) = open_or_return!(state, headers, code, Step::Organization);
    let mut page = InvitePage {
        job: w.job.clone().unwrap_or_default(),
        register: register_available(&state).await?,
        organization: w.organization.clone().unwrap_or_default(),
        typed_siret: w.siret.clone().unwrap_or_default(),
        ..InvitePage::at(&m, Step::Organization)
    };
    if page.register {
        let chosen = w.siret.as_deref().and_then(|s| Siret::parse(s).ok());
        fill_search(&state, &mut page, &params, chosen.as_ref()).await?;
    }
    show_page(&state, &headers, &m, &w, Step::Organization, page).await
}

/// Fields of step 4.
#[derive(Deserialize)]
pub struct OrganizationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    poste: String,
    /// Picked among the results (or typed, with an empty register).
    #[serde(default)]
    siret: String,
    /// Typed raison sociale (empty register).
    #[serde(default)]
    raison_sociale: String,
    #[serde(default)]
    recherche: String,
    #[serde(default)]
    page: String,
}

/// `POST /acces/{service}/gestion/inviter/organisation`.
pub async fn submit_organization(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<OrganizationForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let (m, mut w) = open_or_return!(state, headers, code, Step::Organization);
    let register_on = register_available(&state).await?;
    let picked = form.siret.trim();
    let resolved: Result<(Option<String>, String), (&'static str, String)> = if register_on {
        if picked.is_empty() {
            Err((
                "siret",
                "Veuillez rechercher l'entreprise de l'utilisateur puis la sélectionner dans la liste."
                    .to_owned(),
            ))
        } else {
            match Siret::parse(picked) {
                Err(e) => Err(("siret", e.to_string())),
                Ok(siret) => match insee::lookup(&state.db, state.insee.as_ref(), &siret).await? {
                    None => Err((
                        "siret",
                        "Cet établissement est introuvable dans le répertoire SIRENE.".to_owned(),
                    )),
                    Some(e) if !e.active => Err((
                        "siret",
                        "Cet établissement est fermé : choisissez un établissement en activité."
                            .to_owned(),
                    )),
                    Some(e) => Ok((Some(e.siret.as_str().to_owned()), e.name)),
                },
            }
        }
    } else {
        let label = form.raison_sociale.trim();
        if label.is_empty() {
            Err((
                "raison_sociale",
                "Veuillez saisir la raison sociale de l'entreprise.".to_owned(),
            ))
        } else if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
            Err((
                "raison_sociale",
                format!("La raison sociale ne peut dépasser {MAX_LABEL_CHARS} caractères."),
            ))
        } else if picked.is_empty() {
            Ok((None, label.to_owned()))
        } else {
            match Siret::parse(picked) {
                Ok(siret) => Ok((Some(siret.as_str().to_owned()), label.to_owned())),
                Err(e) => Err(("siret", e.to_string())),
            }
        }
    };
    let job = parse_job(&form.poste);
    let error = match (&job, &resolved) {
        (Err(message), _) => Some(("poste", message.clone())),
        (_, Err((field, message))) => Some((*field, message.clone())),
        _ => None,
    };
    if let (Ok(job), Ok((siret, label))) = (job, resolved) {
        w.job = job;
        w.siret = siret;
        w.organization = Some(label);
        save(&state, &m, &w).await?;
        return Ok(Redirect::to(&w.next_step().path(&m.service.code)).into_response());
    }
    let (field, message) = error.expect("an error when not resolved");
    let mut page = InvitePage {
        job: form.poste.clone(),
        register: register_on,
        organization: form.raison_sociale.clone(),
        typed_siret: form.siret.clone(),
        ..InvitePage::at(&m, Step::Organization)
    }
    .with_error(field, message);
    if register_on {
        let params = SearchParams {
            recherche: form.recherche.clone(),
            page: form.page.clone(),
        };
        let chosen = Siret::parse(picked).ok();
        fill_search(&state, &mut page, &params, chosen.as_ref()).await?;
    }
    show_page(&state, &headers, &m, &w, Step::Organization, page).await
}

// ---- Step 5: the habilitations ----

/// The name step 5 speaks of: « M. Jean Dupont ».
async fn invitee_name(state: &AppState, w: &Wizard) -> Result<String, PageError> {
    if let Some(id) = &w.existing
        && let Some(user) = users::user_by_id(&state.db, id).await?
    {
        return Ok(display_name(&user));
    }
    Ok(format!(
        "{}{} {}",
        civility(w.gender.as_deref()),
        w.given_name.as_deref().unwrap_or_default(),
        w.family_name.as_deref().unwrap_or_default()
    )
    .trim()
    .to_owned())
}

/// Step 5 with the form as typed.
async fn habilitations_page(
    state: &AppState,
    headers: &HeaderMap,
    m: &Manager,
    w: &Wizard,
    form: Option<&AddForm>,
    error: Option<(&'static str, String)>,
) -> Result<Response, PageError> {
    let roles = services::roles(&state.db, &m.service.code).await?;
    let grants = w
        .grants
        .iter()
        .enumerate()
        .map(|(index, g)| GrantRow {
            index,
            establishment: m
                .establishment(&g.siret)
                .map_or_else(|| format!("SIRET {}", g.siret), Establishment::label),
            role: roles
                .iter()
                .find(|r| r.code == g.role)
                .map_or_else(|| g.role.clone(), |r| r.label.clone()),
            end: g
                .end_date
                .as_deref()
                .and_then(EndDate::from_stored)
                .map(|d| d.french()),
        })
        .collect();
    let mut page = InvitePage {
        person: invitee_name(state, w).await?,
        establishments: m.establishments.clone(),
        roles,
        grants,
        form_siret: form.map(|f| f.siret.clone()).unwrap_or_default(),
        form_role: form.map(|f| f.role.clone()).unwrap_or_default(),
        form_end: form.map(|f| f.date_fin.clone()).unwrap_or_default(),
        ..InvitePage::at(m, Step::Habilitations)
    };
    if let Some((field, message)) = error {
        page = page.with_error(field, message);
    }
    show_page(state, headers, m, w, Step::Habilitations, page).await
}

/// `GET /acces/{service}/gestion/inviter/habilitations`.
pub async fn show_habilitations(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    let (m, w) = open_or_return!(state, headers, code, Step::Habilitations);
    habilitations_page(&state, &headers, &m, &w, None, None).await
}

/// « Ajouter l'habilitation » of step 5.
#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    siret: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    date_fin: String,
}

/// `POST /acces/{service}/gestion/inviter/habilitations`: adds one to the wizard's list.
pub async fn add_habilitation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<AddForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let (m, mut w) = open_or_return!(state, headers, code, Step::Habilitations);
    let Some(establishment) = m.establishment(&form.siret).cloned() else {
        return Err(not_manager(&m.service));
    };
    if !establishment.active {
        return habilitations_page(
            &state,
            &headers,
            &m,
            &w,
            Some(&form),
            Some(("siret", CLOSED.into())),
        )
        .await;
    }
    let Some(role) = services::role(&state.db, &m.service.code, &form.role).await? else {
        let error = Some(("role", "Sélectionnez un rôle.".to_owned()));
        return habilitations_page(&state, &headers, &m, &w, Some(&form), error).await;
    };
    let end_date = if form.date_fin.trim().is_empty() {
        None
    } else {
        match EndDate::parse(&form.date_fin, dates::today()) {
            Ok(d) => Some(d.iso()),
            Err(e) => {
                let error = Some(("date_fin", e.to_string()));
                return habilitations_page(&state, &headers, &m, &w, Some(&form), error).await;
            }
        }
    };
    w.grants
        .retain(|g| !(g.siret == establishment.siret && g.role == role.code));
    w.grants.push(WizardGrant {
        siret: establishment.siret,
        role: role.code,
        end_date,
    });
    save(&state, &m, &w).await?;
    Ok(Redirect::to(&Step::Habilitations.path(&m.service.code)).into_response())
}

/// « Retirer » of one habilitation of the wizard's list.
#[derive(Deserialize)]
pub struct DropForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    index: usize,
}

/// `POST /acces/{service}/gestion/inviter/habilitations/retirer`.
pub async fn drop_habilitation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<DropForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let (m, mut w) = open_or_return!(state, headers, code, Step::Habilitations);
    if form.index < w.grants.len() {
        w.grants.remove(form.index);
        save(&state, &m, &w).await?;
    }
    Ok(Redirect::to(&Step::Habilitations.path(&m.service.code)).into_response())
}

/// A form with only the CSRF token.
#[derive(Deserialize)]
pub struct PlainForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /acces/{service}/gestion/inviter/terminer`: creates the account if new, grants the
/// habilitations, stores and sends the invitation, shows the « Invitations » tab.
pub async fn finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<PlainForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let (m, w) = open_or_return!(state, headers, code, Step::Habilitations);
    if w.grants.is_empty() {
        let error = Some(("grants", NO_HABILITATION.to_owned()));
        return habilitations_page(&state, &headers, &m, &w, None, error).await;
    }
    // Checked again: the manager's rights or the register may have changed since.
    let roles = services::roles(&state.db, &m.service.code).await?;
    for g in &w.grants {
        let Some(establishment) = m.establishment(&g.siret) else {
            return Err(not_manager(&m.service));
        };
        if !establishment.active {
            let error = Some(("grants", CLOSED.to_owned()));
            return habilitations_page(&state, &headers, &m, &w, None, error).await;
        }
        if !roles.iter().any(|r| r.code == g.role) {
            let error = Some(("grants", "Sélectionnez un rôle.".to_owned()));
            return habilitations_page(&state, &headers, &m, &w, None, error).await;
        }
    }
    let email = Email::parse(w.email.as_deref().unwrap_or_default())
        .map_err(|e| PageError::bad_request(e.to_string()))?;
    let new_user = (w.given_name.is_some() && w.organization.is_some()).then(|| NewUser {
        given_name: w.given_name.clone().unwrap_or_default(),
        family_name: w.family_name.clone().unwrap_or_default(),
        gender: w.gender.clone(),
        job: w.job.clone(),
        siret: w.siret.clone(),
        organization_label: w.organization.clone(),
        is_agent: false,
    });
    let grants: Vec<Grant> = w
        .grants
        .iter()
        .map(|g| Grant {
            siret: g.siret.clone(),
            role: g.role.clone(),
            end_date: g.end_date.clone(),
        })
        .collect();
    let finished = finish_invitation(
        &state.db,
        state.clock.now(),
        &FinishInvitation {
            manager: &UserId::from_stored(m.user.id.clone()),
            service: &m.service.code,
            email: &email,
            new_user: new_user.as_ref(),
            grants: &grants,
        },
    )
    .await
    .map_err(|r| PageError::refused(&r))?;
    let (user_id, created, sent) = match finished {
        Finished::Sent {
            user,
            created,
            sent,
        } => (user, created, sent),
        Finished::IdentityUnknown => {
            // The account the wizard found was deleted meanwhile: its identity is unknown.
            let mut w = w.clone();
            w.existing = None;
            save(&state, &m, &w).await?;
            return Ok(Redirect::to(&w.next_step().path(&m.service.code)).into_response());
        }
    };
    if created {
        tracing::info!(user.id = %user_id.as_str(), "account created by invitation");
    }
    let user = users::user_by_id(&state.db, user_id.as_str())
        .await?
        .ok_or_else(PageError::not_found)?;
    send_invitation(&state, &m, &user, &email, &sent, &roles).await?;
    state.ephemeral.delete(&wizard_key(&m)).await?;
    Ok(Redirect::to(&format!(
        "/acces/{}/gestion/invitations?fait=envoyee",
        m.service.code
    ))
    .into_response())
}

/// « Vous avez obtenu une nouvelle habilitation d'accès au service numérique CERES »: who
/// invited, the establishments, roles and end dates; for an account without a password, a
/// link to choose one (24 hours), else a link to the service. A failed send is logged.
async fn send_invitation(
    state: &AppState,
    m: &Manager,
    to: &User,
    email: &Email,
    sent: &[(String, Vec<InvitedRole>)],
    roles: &[Role],
) -> Result<(), PageError> {
    let by = full_name(&m.user).unwrap_or_else(|| "Votre responsable des accès".into());
    let mut lines = vec![format!(
        "{by} vous a invité à utiliser le service numérique {} et vous a attribué :",
        m.service.label
    )];
    for (siret, invited) in sent {
        let establishment = match m.establishment(siret) {
            Some(e) if !e.name.is_empty() => format!("{} (SIRET {siret})", e.name),
            _ => format!("SIRET {siret}"),
        };
        for r in invited {
            let label = roles
                .iter()
                .find(|x| x.code == r.role)
                .map_or(r.role.as_str(), |x| x.label.as_str());
            let end = r
                .end_date
                .as_deref()
                .and_then(EndDate::from_stored)
                .map_or("sans date de fin".to_owned(), |d| format!("jusqu'au {d}"));
            lines.push(format!(
                "- l'habilitation « {label} » pour l'établissement {establishment}, {end} ;"
            ));
        }
    }
    let (link_label, link) = if to.password_hash.is_none() {
        let request = reset::create_request(state, email, Some(&to.id), PASSWORD_LINK_TTL).await?;
        lines.push(format!(
            "Un compte EFP Connect a été créé pour vous avec l'adresse {}. Choisissez votre mot de passe avec le lien ci-dessous, valable 24 heures, puis connectez-vous au service numérique {}.",
            email.as_str(),
            m.service.label
        ));
        let link = format!(
            "{}?{}",
            absolute(&state.config.issuer, RESET_LINK_PATH),
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("jeton", &request.link_token)
                .finish()
        );
        ("Choisir mon mot de passe".to_owned(), link)
    } else {
        lines.push(format!(
            "Vous pouvez dès maintenant vous connecter au service numérique {} avec votre compte EFP Connect.",
            m.service.label
        ));
        let link = m
            .service
            .home_url
            .clone()
            .unwrap_or_else(|| absolute(&state.config.issuer, "/"));
        (format!("Accéder à {}", m.service.label), link)
    };
    let subject = format!(
        "Vous avez obtenu une nouvelle habilitation d'accès au service numérique {}",
        m.service.label
    );
    let message = notice(
        MessageKind::Invitation,
        email,
        &subject,
        full_name(to).as_deref(),
        &lines,
        &link_label,
        &link,
        "Si vous ne connaissez pas cet établissement, ignorez ce message et signalez-le à l'assistance de votre service numérique.",
    );
    send_notice(state, message).await;
    Ok(())
}

// ---- The « Invitations » tab ----

/// One card of the tab.
struct Card {
    id: String,
    name: String,
    email: String,
    establishment: String,
    roles: Vec<String>,
    sent: String,
    can_resend: bool,
    wait: String,
}

#[derive(Template)]
#[template(path = "access_manage_invitations.html")]
struct InvitationsPage {
    csrf: String,
    service: Service,
    pending: i64,
    cards: Vec<Card>,
    notice: Option<&'static str>,
}

/// `?fait=…` after an action.
#[derive(Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    fait: String,
}

/// `GET /acces/{service}/gestion/invitations`: the invitations waiting for a first login.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    UrlQuery(q): UrlQuery<DoneQuery>,
) -> Result<Response, PageError> {
    let here = format!("/acces/{code}/gestion/invitations");
    let m = match manager(&state, &headers, &code, &here).await? {
        Ok(m) => m,
        Err(redirect) => return Ok(redirect),
    };
    let sirets: Vec<String> = m.establishments.iter().map(|e| e.siret.clone()).collect();
    let roles = services::roles(&state.db, &m.service.code).await?;
    let t = now();
    let mut cards = Vec::new();
    for inv in invitations::pending(&state.db, &m.service.code, &sirets).await? {
        let user = users::user_by_id(&state.db, &inv.user_id).await?;
        cards.push(Card {
            name: user
                .as_ref()
                .map_or_else(|| inv.email.clone(), display_name),
            establishment: m
                .establishment(&inv.siret)
                .map_or_else(|| format!("SIRET {}", inv.siret), Establishment::label),
            roles: role_labels(&inv, &roles),
            sent: dates::french_date_time(inv.sent_at),
            can_resend: inv.can_resend(t),
            wait: invitations::wait_label(inv.expires_at - t),
            email: inv.email,
            id: inv.id,
        });
    }
    let pending =
        super::requests::count_pending_for_manager(&state.db, &m.user.id, &m.service.code).await?;
    let notice = match q.fait.as_str() {
        "envoyee" => Some("L'invitation a été envoyée."),
        "relancee" => Some("L'invitation a été relancée."),
        _ => None,
    };
    render(&state, &headers, StatusCode::OK, |csrf| InvitationsPage {
        csrf,
        service: m.service,
        pending,
        cards,
        notice,
    })
}

fn role_labels(inv: &Invitation, roles: &[Role]) -> Vec<String> {
    inv.roles
        .iter()
        .map(|r| {
            let label = roles
                .iter()
                .find(|x| x.code == r.role)
                .map_or_else(|| r.role.clone(), |x| x.label.clone());
            match r.end_date.as_deref().and_then(EndDate::from_stored) {
                Some(d) => format!("{label} (jusqu'au {d})"),
                None => label,
            }
        })
        .collect()
}

/// `POST /acces/{service}/gestion/invitations/{id}/relancer`: sends it again (a new link),
/// only once it has expired.
pub async fn resend(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((code, id)): Path<(String, String)>,
    Form(form): Form<PlainForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let here = format!("/acces/{code}/gestion/invitations");
    let m = match manager(&state, &headers, &code, &here).await? {
        Ok(m) => m,
        Err(redirect) => return Ok(redirect),
    };
    let Some(inv) = invitations::by_id(&state.db, &id).await? else {
        return Err(PageError::not_found());
    };
    if inv.service_code != m.service.code || !m.manages(&inv.siret) {
        return Err(not_manager(&m.service));
    }
    if inv.accepted_at.is_some() {
        return Err(PageError::bad_request(
            "Cette personne s'est déjà connectée : l'invitation n'est plus en attente.",
        ));
    }
    if !invitations::resend(&state.db, &inv.id).await? {
        return Err(PageError::bad_request(format!(
            "Vous pourrez relancer cette invitation dans {}.",
            invitations::wait_label(inv.expires_at - now())
        )));
    }
    let Some(user) = users::user_by_id(&state.db, &inv.user_id).await? else {
        return Err(PageError::not_found());
    };
    let email = Email::parse(&user.email).map_err(|e| PageError::bad_request(e.to_string()))?;
    audit::record_on_pool(
        &state.db,
        &m.user.id,
        "invitation.resent",
        &user.id,
        serde_json::json!({"invitation": inv.id, "service": m.service.code, "siret": inv.siret}),
    )
    .await?;
    let roles = services::roles(&state.db, &m.service.code).await?;
    send_invitation(
        &state,
        &m,
        &user,
        &email,
        &[(inv.siret.clone(), inv.roles.clone())],
        &roles,
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/acces/{}/gestion/invitations?fait=relancee",
        m.service.code
    ))
    .into_response())
}
