//! The INSEE Sirene API (version 3.11), asked when the local register misses: `GET
//! {base}/siret/{siret}` for one establishment, `GET {base}/siret?q=…` for a name. Optional:
//! without `sirene.api_base_url` the provider only knows its local register. Answers are
//! cached into the register, so the next lookup is local.
//!
//! The token goes in `X-INSEE-Api-Key-Integration` (the portal's API keys) or as a bearer
//! token (`sirene.api_auth = "bearer"`); it is never logged.

use std::time::Duration;

use serde::Deserialize;

use super::{
    Siren, Siret,
    register::{self, Establishment},
};
use crate::{
    config::{SireneAuth, SireneConfig},
    store::{self, Db},
};

/// Header of INSEE's API keys.
pub const API_KEY_HEADER: &str = "X-INSEE-Api-Key-Integration";

/// Why the API gave no answer we can use.
#[derive(Debug, thiserror::Error)]
pub enum InseeError {
    /// Network, timeout, TLS.
    #[error("API Sirene injoignable : {0}")]
    Unreachable(#[source] reqwest::Error),
    /// An answer other than 200 or 404 (401: bad token, 429: quota).
    #[error("API Sirene : réponse HTTP {0}")]
    Status(u16),
    /// A 200 whose body is not what the API documents.
    #[error("API Sirene : réponse illisible ({0})")]
    Body(String),
    /// Caching the answer failed.
    #[error("base de données : {0}")]
    Db(#[from] sqlx::Error),
}

/// A client of the INSEE Sirene API.
#[derive(Clone)]
pub struct InseeClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    auth: SireneAuth,
}

// Hand-written: the token never reaches a log line.
impl std::fmt::Debug for InseeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InseeClient")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("auth", &self.auth)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct One {
    etablissement: Etablissement,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Many {
    #[serde(default)]
    etablissements: Vec<Etablissement>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Etablissement {
    siret: String,
    #[serde(default)]
    etablissement_siege: bool,
    #[serde(default)]
    unite_legale: Option<UniteLegale>,
    #[serde(default)]
    adresse_etablissement: Option<Adresse>,
    #[serde(default)]
    periodes_etablissement: Vec<Periode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UniteLegale {
    #[serde(default)]
    denomination_unite_legale: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
#[serde(default)]
struct Adresse {
    numero_voie_etablissement: Option<String>,
    type_voie_etablissement: Option<String>,
    libelle_voie_etablissement: Option<String>,
    code_postal_etablissement: Option<String>,
    libelle_commune_etablissement: Option<String>,
}

/// One period of the establishment's history; the current one has no `dateFin`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
#[serde(default)]
struct Periode {
    date_fin: Option<String>,
    etat_administratif_etablissement: Option<String>,
    enseigne1_etablissement: Option<String>,
    denomination_usuelle_etablissement: Option<String>,
}

impl Etablissement {
    fn into_establishment(self) -> Option<Establishment> {
        let siret = Siret::parse(&self.siret).ok()?;
        let current = self
            .periodes_etablissement
            .iter()
            .find(|p| p.date_fin.is_none())
            .or(self.periodes_etablissement.first());
        let text = |s: &Option<String>| s.as_deref().map(str::trim).unwrap_or("").to_owned();
        let name = [
            self.unite_legale
                .as_ref()
                .map(|u| text(&u.denomination_unite_legale)),
            current.map(|p| text(&p.denomination_usuelle_etablissement)),
            current.map(|p| text(&p.enseigne1_etablissement)),
        ]
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty() && s != "[ND]")
        .unwrap_or_default();
        let a = self.adresse_etablissement.unwrap_or_default();
        let address = [
            text(&a.numero_voie_etablissement),
            super::import::street_type_label(&text(&a.type_voie_etablissement)).to_owned(),
            text(&a.libelle_voie_etablissement),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
        Some(Establishment {
            siret,
            name,
            address,
            postcode: text(&a.code_postal_etablissement),
            commune: text(&a.libelle_commune_etablissement),
            active: current.and_then(|p| p.etat_administratif_etablissement.as_deref())
                != Some("F"),
            head_office: self.etablissement_siege,
        })
    }
}

impl InseeClient {
    /// The client `config` describes, or `None` when no API is configured.
    pub fn from_config(config: &SireneConfig) -> Option<Self> {
        let base = config
            .api_base_url
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())?
            .trim_end_matches('/')
            .to_owned();
        // reqwest uses the process's rustls provider: make sure there is one.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds.max(1)))
            .user_agent("EFP Connect")
            .build()
            .map_err(
                |e| tracing::error!(error.message = %e, "INSEE API client not built; API disabled"),
            )
            .ok()?;
        Some(Self {
            http,
            base,
            token: config.api_token.clone().filter(|t| !t.is_empty()),
            auth: config.api_auth,
        })
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Option<String>, InseeError> {
        let mut request = self
            .http
            .get(format!("{}{path}", self.base))
            .query(query)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = &self.token {
            request = match self.auth {
                SireneAuth::ApiKey => request.header(API_KEY_HEADER, token),
                SireneAuth::Bearer => request.bearer_auth(token),
            };
        }
        let response = request.send().await.map_err(InseeError::Unreachable)?;
        match response.status().as_u16() {
            200 => Ok(Some(
                response.text().await.map_err(InseeError::Unreachable)?,
            )),
            404 => Ok(None),
            other => Err(InseeError::Status(other)),
        }
    }

    /// The establishment `siret`, or `None` when INSEE does not know it (404).
    pub async fn siret(&self, siret: &Siret) -> Result<Option<Establishment>, InseeError> {
        let Some(body) = self.get(&format!("/siret/{siret}"), &[]).await? else {
            return Ok(None);
        };
        let one: One = serde_json::from_str(&body).map_err(|e| InseeError::Body(e.to_string()))?;
        Ok(one.etablissement.into_establishment())
    }

    /// Establishments whose raison sociale matches `name` (at most `count`).
    pub async fn search_name(
        &self,
        name: &str,
        count: u32,
    ) -> Result<Vec<Establishment>, InseeError> {
        // Folded words only: no quote or wildcard of the user's reaches the query language.
        let words = register::fold(name);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        self.search_q(&format!("raisonSociale:\"{words}\""), count)
            .await
    }

    /// The establishments of the company `siren` (at most `count`).
    pub async fn search_siren(
        &self,
        siren: &Siren,
        count: u32,
    ) -> Result<Vec<Establishment>, InseeError> {
        self.search_q(&format!("siren:{siren}"), count).await
    }

    async fn search_q(&self, q: &str, count: u32) -> Result<Vec<Establishment>, InseeError> {
        let count = count.to_string();
        let Some(body) = self
            .get("/siret", &[("q", q), ("nombre", count.as_str())])
            .await?
        else {
            return Ok(Vec::new());
        };
        let many: Many =
            serde_json::from_str(&body).map_err(|e| InseeError::Body(e.to_string()))?;
        Ok(many
            .etablissements
            .into_iter()
            .filter_map(Etablissement::into_establishment)
            .collect())
    }
}

/// The establishment `siret`: from the local register, else from the API (if configured),
/// whose answer is cached in the register. An unreachable API is logged and reads as a miss.
pub async fn lookup(
    db: &Db,
    api: Option<&InseeClient>,
    siret: &Siret,
) -> Result<Option<Establishment>, sqlx::Error> {
    if let Some(found) = register::by_siret(db, siret).await? {
        return Ok(Some(found));
    }
    let Some(api) = api else {
        return Ok(None);
    };
    match api.siret(siret).await {
        Ok(Some(found)) => {
            register::upsert(db, std::slice::from_ref(&found), store::now()).await?;
            Ok(Some(found))
        }
        Ok(None) => Ok(None),
        Err(e) => {
            tracing::warn!(error.message = %e, "INSEE API lookup failed");
            Ok(None)
        }
    }
}

/// Searches the local register; when it has nothing and the API is configured, asks the API
/// (SIRET lookup or name search), caches what it returns, and searches again.
pub async fn search(
    db: &Db,
    api: Option<&InseeClient>,
    query: &register::Query,
    page: u32,
) -> Result<register::SearchPage, sqlx::Error> {
    let local = register::search(db, query, page).await?;
    let Some(api) = api else {
        return Ok(local);
    };
    if local.total > 0 {
        return Ok(local);
    }
    let fetched: Result<Vec<Establishment>, InseeError> = match query {
        register::Query::Siret(siret) => api.siret(siret).await.map(|e| e.into_iter().collect()),
        register::Query::Siren(siren) => api.search_siren(siren, 20).await,
        register::Query::Name(name) => api.search_name(name, 20).await,
    };
    match fetched {
        Ok(found) if !found.is_empty() => {
            register::upsert(db, &found, store::now()).await?;
            register::search(db, query, page).await
        }
        Ok(_) => Ok(local),
        Err(e) => {
            tracing::warn!(error.message = %e, "INSEE API search failed");
            Ok(local)
        }
    }
}
