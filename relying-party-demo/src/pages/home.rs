//! `GET /`: the landing page for visitors; for a logged-in person, in this order, the
//! no-access page (no CERES habilitation), the CGU (current version not yet accepted), or the
//! dashboard ("Votre tableau de bord").

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::{Query, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{HeaderUser, cgu, end_date, no_access, role_actions};
use crate::{AppState, Config, PageError, oidc};

/// `templates/landing.html`.
#[derive(Template, WebTemplate)]
#[template(path = "landing.html")]
pub struct Landing {
    /// Nobody is logged in.
    pub user: Option<HeaderUser>,
}

/// One line of the habilitations panel.
pub struct HabilitationRow {
    /// Establishment's name.
    pub establishment: String,
    /// SIRET.
    pub siret: String,
    /// Role label.
    pub role_label: String,
    /// `JJ/MM/AAAA` or "sans date de fin".
    pub end_date: String,
    /// What the role allows.
    pub actions: &'static [&'static str],
}

/// The provider's pages the profile panel links to.
pub struct ProviderLinks {
    /// `{issuer}/compte`.
    pub account: String,
    /// `{issuer}/compte/habilitations`.
    pub habilitations: String,
    /// `{issuer}/acces/{service}/gestion`.
    pub manage: String,
    /// `{issuer}/acces/{service}/gestion/demandes`.
    pub requests: String,
    /// `{issuer}/acces/{service}/demande`.
    pub request_access: String,
}

impl ProviderLinks {
    /// From the configuration.
    pub fn new(config: &Config) -> Self {
        let service = &config.service;
        Self {
            account: config.provider_url("/compte"),
            habilitations: config.provider_url("/compte/habilitations"),
            manage: config.provider_url(&format!("/acces/{service}/gestion")),
            requests: config.provider_url(&format!("/acces/{service}/gestion/demandes")),
            request_access: config.provider_url(&format!("/acces/{service}/demande")),
        }
    }
}

/// `templates/dashboard.html`.
#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
pub struct Dashboard {
    /// Header.
    pub user: Option<HeaderUser>,
    /// "Prénom Nom".
    pub name: String,
    /// Poste.
    pub job: Option<String>,
    /// Organisation of the account.
    pub organization: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Habilitations for CERES.
    pub habilitations: Vec<HabilitationRow>,
    /// Responsable des accès of at least one establishment.
    pub is_manager: bool,
    /// Requests waiting for them.
    pub pending_requests: u32,
    /// Ministry agent.
    pub is_agent: bool,
    /// Links to the provider.
    pub links: ProviderLinks,
    /// Just accepted the CGU: guide 002's « Félicitations ! ».
    pub welcome: bool,
}

/// `GET /`'s query.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct HomeQuery {
    /// Set by `POST /cgu`: the CGU were just accepted.
    bienvenue: String,
}

/// `GET /`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HomeQuery>,
) -> Result<Response, PageError> {
    let Some(person) = oidc::person(&state, &headers).await? else {
        return Ok(Landing { user: None }.into_response());
    };
    if person.profile.habilitations.is_empty() {
        return Ok(
            no_access::page(&state, &person, String::new(), String::new(), None).into_response(),
        );
    }
    if !state
        .store
        .has_accepted(&person.profile.sub, &state.config.cgu_version)
        .await?
    {
        return Ok(cgu::page(&state, &person, false).into_response());
    }
    let p = &person.profile;
    let habilitations = p
        .habilitations
        .iter()
        .map(|h| HabilitationRow {
            establishment: h.establishment.clone().unwrap_or_else(|| h.siret.clone()),
            siret: h.siret.clone(),
            role_label: h.role_label.clone().unwrap_or_else(|| h.role.clone()),
            end_date: end_date(h.expires_at.as_deref()),
            actions: role_actions(&h.role),
        })
        .collect();
    Ok(Dashboard {
        user: Some(HeaderUser::of(&person, &state.config)),
        name: p.display_name(),
        job: p.job.clone(),
        organization: p.organization_label.clone(),
        email: p.email.clone(),
        habilitations,
        is_manager: !p.access_manager_of.is_empty(),
        pending_requests: p.pending_access_requests,
        is_agent: p.ministry_agent,
        links: ProviderLinks::new(&state.config),
        welcome: !q.bienvenue.is_empty(),
    }
    .into_response())
}
