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
//! [`WIZARD_TTL`]. Every step goes through [`Manager`]: the same rules as the other
//! manager pages (logged in, Responsable des accès with the charte accepted), and each
//! habilitation is checked against the manager's own open establishments, when added and
//! again at « Terminer ».

use std::{collections::HashMap, time::Duration};

use askama::Template;
use axum::{
    extract::{Path, Query as UrlQuery, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};

use super::actions::{
    finish_invitation::{FinishInvitation, Finished, Grant, check_grant, finish_invitation},
    relaunch_invitation::relaunch_invitation,
};
use super::{
    EndDate,
    actions::look_up_invitee,
    dates,
    invitations::{self, Invitation, InvitedRole},
    manager::{Establishment, Manager},
    refusal::AccessRefusal,
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
            organization::parse_job,
        },
        store::{self as users, NewUser, User},
    },
    error::PageError,
    mail::messages::{MessageKind, RESET_LINK_PATH, absolute, notice},
    organizations::{
        Siret,
        picker::{self, Picker},
    },
    secrets,
    web::page::{CsrfForm, Page, PlainForm},
    with_csrf,
};

/// How long an unfinished wizard is kept.
pub const WIZARD_TTL: Duration = Duration::from_secs(2 * 3600);
/// How long the link to choose a password of an invitation is valid: 24 hours.
pub const PASSWORD_LINK_TTL: Duration = Duration::from_secs(24 * 3600);

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

/// Saves the wizard and goes on to its next step (the first one not done yet).
async fn save_and_continue(
    state: &AppState,
    m: &Manager,
    w: &Wizard,
) -> Result<Response, PageError> {
    save(state, m, w).await?;
    Ok(Redirect::to(&w.next_step().path(&m.service.code)).into_response())
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
    picker: Picker,
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
            if let Some(org) = user.profile.organization_label.filter(|o| !o.is_empty()) {
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
    page: &Page,
    m: &Manager,
    w: &Wizard,
    step: Step,
    mut view: InvitePage,
) -> Result<Response, PageError> {
    view.recap = recap(page, m, w, step).await?;
    page.render_form(view.error.is_some(), |csrf| InvitePage { csrf, ..view })
}

/// The acting manager's wizard, or where to go first (an earlier step not done yet).
async fn open(
    state: &AppState,
    m: &Manager,
    step: Step,
) -> Result<Result<Wizard, Response>, PageError> {
    let w = load(state, m).await?;
    if let Some(redirect) = w.guard(step, &m.service.code) {
        return Ok(Err(redirect));
    }
    Ok(Ok(w))
}

macro_rules! open_or_return {
    ($state:expr, $m:expr, $step:expr) => {
        match open(&$state, &$m, $step).await? {
            Ok(found) => found,
            Err(redirect) => return Ok(redirect),
        }
    };
}

pub mod finish;
pub mod habilitations;
pub mod organization;
pub mod steps;
pub mod tab;

use {finish::send_invitation, habilitations::habilitations_page};
