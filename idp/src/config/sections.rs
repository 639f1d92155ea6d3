//! The sections of the configuration about the people's journeys and the outside services they
//! reach: the agents' upstream providers, assurance (second factor, passkeys), the assistance
//! line, the access journeys, the SIRENE register, the anti-robot check, the account journeys,
//! and the metrics listener. Re-exported by `config`, where the whole `Config` is read.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// The upstream OpenID providers of the ministry's agents (the State's agents' federation…):
/// the login page shows « AGENT DU MINISTÈRE » when at least one is configured.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentsConfig {
    /// The upstream providers (default: none, no button).
    pub upstreams: Vec<UpstreamConfig>,
    /// Timeout of one call to an upstream (discovery, keys, token, userinfo), seconds (default 5).
    pub timeout_seconds: u64,
    /// How long a login may stay at the upstream before it comes back (`state` and `nonce`
    /// kept in the shared store), seconds (default 600).
    pub login_ttl_seconds: u64,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        Self {
            upstreams: Vec::new(),
            timeout_seconds: 5,
            login_ttl_seconds: 600,
        }
    }
}

/// One upstream OpenID provider.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Short name in URLs and audit events (`[a-z0-9-]`, unique), e.g. `agentconnect`.
    pub id: String,
    /// What the button and the pages call it, e.g. « la fédération des agents de l'État ».
    pub label: String,
    /// Its issuer identifier: discovery is read at `<issuer>/.well-known/openid-configuration`
    /// and must name this exact issuer.
    pub issuer: String,
    /// Our client id there.
    pub client_id: String,
    /// Our client secret there (`client_secret_basic`): never logged, redacted from `Debug`.
    pub client_secret: String,
    /// The e-mail domains whose agents may get an account on their first login, e.g.
    /// `["travail.gouv.fr", "dreets.gouv.fr"]` (exact domains, lower case).
    pub allowed_domains: Vec<String>,
}

// Hand-written so that the secret never reaches a log line that prints the configuration.
impl std::fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("id", &self.id)
            .field("label", &self.label)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("allowed_domains", &self.allowed_domains)
            .finish()
    }
}

/// Authentication levels published as `acr` (eIDAS-style names by default, as the State's
/// federations use them) and the second-factor policies that do not depend on a client.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssuranceConfig {
    /// `acr` of a login with one factor (the password).
    pub acr_one_factor: String,
    /// `acr` of a login with two factors (password and TOTP or recovery code).
    pub acr_two_factors: String,
    /// `acr` of a two-factor login by a person whose link to an establishment was checked: a
    /// Responsable des accès who redeemed a postal activation code.
    pub acr_establishment: String,
    /// Every Responsable des accès and every agent must use a second factor to log in to a
    /// client.
    pub mfa_for_managers_and_agents: bool,
    /// Whether a login from a browser the account has not used yet is confirmed by a code
    /// e-mailed to the account (accounts without a second factor only).
    pub verify_new_browsers: NewBrowsers,
}

/// Which accounts confirm a new browser with an e-mailed code (`assurance.verify_new_browsers`).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NewBrowsers {
    /// Never.
    Off,
    /// The accounts whose owner turned it on in « Mon compte ».
    Optional,
    /// Every account without a second factor.
    Required,
}

impl Default for AssuranceConfig {
    fn default() -> Self {
        Self {
            acr_one_factor: "eidas1".into(),
            acr_two_factors: "eidas2".into(),
            acr_establishment: "eidas2-etablissement".into(),
            mfa_for_managers_and_agents: false,
            verify_new_browsers: NewBrowsers::Optional,
        }
    }
}

/// The support desk a person reaches from every page and from the activation letter (guide
/// 002 gives the N°Vert and its hours).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssistanceConfig {
    /// The telephone number, written as it is shown (default « 0 805 032 430 », the guide's
    /// N°Vert: service and call free).
    pub phone: String,
    /// When the line answers (default « du lundi au vendredi de 9h à 18h »).
    pub hours: String,
    /// The assistance portal (default `https://travail-emploi.gouv.fr/assistance-efp-connect`:
    /// the ministry's site; set the real portal of the deployment).
    pub portal_url: String,
}

impl Default for AssistanceConfig {
    fn default() -> Self {
        Self {
            phone: "0 805 032 430".into(),
            hours: "du lundi au vendredi de 9h à 18h".into(),
            portal_url: "https://travail-emploi.gouv.fr/assistance-efp-connect".into(),
        }
    }
}

/// Where and to whom `/metrics` is served. With neither setting (the default), nowhere: the
/// main listener faces the load balancer, and a reverse proxy on the same machine would make
/// every visitor look local.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A bearer token the scraper sends (`Authorization: Bearer …`), compared in constant
    /// time: `/metrics` is then served on the main listener to requests carrying it (and the
    /// dedicated listener asks for it too). Empty (default): no token. Redacted from `Debug`.
    pub token: Option<String>,
    /// A second address serving `/metrics` alone (e.g. `10.0.0.5:9090`, an address only the
    /// monitoring network reaches), without token unless `token` is set. Empty (default): no
    /// second listener.
    pub listen: Option<SocketAddr>,
}

// Hand-written so that the token never reaches a log line that prints the configuration.
impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("listen", &self.listen)
            .finish()
    }
}

/// Habilitations and activation codes.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessConfig {
    /// How long an activation code stays valid, days (default 90: the post takes days, and
    /// the centre may not open the letter at once).
    pub activation_code_ttl_days: u32,
    /// Tries of activation codes allowed per relying party through `POST /api/v1/activation`
    /// per hour, all its users together (default 500). Each person has 10 an hour, so a few
    /// accounts guessing cannot stop the client's other users, and the calling server's address
    /// (shared by all its users) is not what is counted.
    pub activation_attempts_per_client: u64,
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self {
            activation_code_ttl_days: 90,
            activation_attempts_per_client: 500,
        }
    }
}

/// The INSEE Sirene API, asked when the local register (`idp sirene import`) misses.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SireneConfig {
    /// Base URL of the API, e.g. `https://api.insee.fr/api-sirene/3.11`. Empty (default): no
    /// API, the local register only.
    pub api_base_url: Option<String>,
    /// The API key or token: never logged, redacted from `Debug`.
    pub api_token: Option<String>,
    /// How the token is sent: `api_key` (default, header `X-INSEE-Api-Key-Integration`) or
    /// `bearer` (`Authorization: Bearer`).
    pub api_auth: SireneAuth,
    /// Timeout of one API call, seconds (default 5).
    pub timeout_seconds: u64,
}

/// How the INSEE API token is sent.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SireneAuth {
    /// Header `X-INSEE-Api-Key-Integration` (the API portal's keys).
    ApiKey,
    /// `Authorization: Bearer` (OAuth tokens of the former portal).
    Bearer,
}

impl Default for SireneConfig {
    fn default() -> Self {
        Self {
            api_base_url: None,
            api_token: None,
            api_auth: SireneAuth::ApiKey,
            timeout_seconds: 5,
        }
    }
}

// Hand-written so that the token never reaches a log line that prints the configuration.
impl std::fmt::Debug for SireneConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SireneConfig")
            .field("api_base_url", &self.api_base_url)
            .field("api_token", &self.api_token.as_ref().map(|_| "<redacted>"))
            .field("api_auth", &self.api_auth)
            .field("timeout_seconds", &self.timeout_seconds)
            .finish()
    }
}

/// The anti-robot check (« Je ne suis pas un robot ») of the login form, sign-up step 1 and
/// reset step 1: a proof of work solved by the page's script, or a question without script.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AntiRobotConfig {
    /// Whether the forms are checked (default true).
    pub enabled: bool,
    /// Difficulty: the secret number lies in `[0, max_number]` (default 50000: well under a
    /// second in a browser).
    pub max_number: u64,
    /// Lifetime of a challenge or question, seconds (default 600).
    pub ttl_seconds: u64,
}

impl Default for AntiRobotConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_number: 50_000,
            ttl_seconds: 600,
        }
    }
}

/// Account journeys (password reset).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsConfig {
    /// Lifetime of a password reset code and link, seconds (default 86400: the 24 hours the
    /// e-mail announces).
    pub reset_code_ttl_seconds: u64,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            reset_code_ttl_seconds: 24 * 3600,
        }
    }
}
