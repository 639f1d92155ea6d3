//! The configuration, read from the environment in one place ([`Config::from_env`]).

use std::net::SocketAddr;

/// What the demo needs to know, each field from one environment variable.
#[derive(Clone)]
pub struct Config {
    /// `RP_ISSUER` (default `http://localhost:8080`): the provider's issuer; discovery is
    /// fetched from `{issuer}/.well-known/openid-configuration` and the API lives under
    /// `{issuer}/api/v1/`.
    pub issuer: String,
    /// `RP_CLIENT_ID` (default `ceres-demo`): this client's id at the provider.
    pub client_id: String,
    /// `RP_CLIENT_SECRET` (required): its secret (client_secret_basic). Never logged.
    pub client_secret: String,
    /// `RP_LISTEN` (default `127.0.0.1:8081`): the address to listen on.
    pub listen: SocketAddr,
    /// `RP_BASE_URL` (default `http://localhost:8081`): the public URL of the demo, without a
    /// trailing slash. The redirect URI is `{base}/callback`, the post-logout URI `{base}/`;
    /// an `https` URL turns on the `__Host-` `Secure` session cookie.
    pub base_url: String,
    /// `RP_SERVICE` (default `ceres`): the service code at the provider, for its links
    /// (`{issuer}/acces/{service}/…`).
    pub service: String,
    /// `RP_DATABASE_URL` (default `sqlite://data/ceres-demo.db?mode=rwc`): the SQLite
    /// database that keeps CGU acceptances.
    pub database_url: String,
    /// `RP_CGU_VERSION` (default `2024-01`): the version of CERES's CGU; a new version is
    /// asked again of everyone.
    pub cgu_version: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("listen", &self.listen)
            .field("base_url", &self.base_url)
            .field("service", &self.service)
            .field("database_url", &self.database_url)
            .field("cgu_version", &self.cgu_version)
            .finish()
    }
}

/// A variable that is missing or malformed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("la variable {0} est obligatoire")]
    Missing(&'static str),
    /// A variable could not be read.
    #[error("la variable {0} est invalide : {1}")]
    Invalid(&'static str, String),
}

impl Config {
    /// Reads every `RP_*` variable (see the fields for defaults).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Reads the configuration through `var` (the environment, or a map in tests).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let or = |k: &str, d: &str| var(k).unwrap_or_else(|| d.to_owned());
        let trim = |s: String| s.trim_end_matches('/').to_owned();
        let listen = or("RP_LISTEN", "127.0.0.1:8081");
        let base_url = trim(or("RP_BASE_URL", "http://localhost:8081"));
        url::Url::parse(&base_url)
            .map_err(|e| ConfigError::Invalid("RP_BASE_URL", e.to_string()))?;
        let issuer = trim(or("RP_ISSUER", "http://localhost:8080"));
        url::Url::parse(&issuer).map_err(|e| ConfigError::Invalid("RP_ISSUER", e.to_string()))?;
        Ok(Self {
            issuer,
            client_id: or("RP_CLIENT_ID", "ceres-demo"),
            client_secret: var("RP_CLIENT_SECRET")
                .ok_or(ConfigError::Missing("RP_CLIENT_SECRET"))?,
            listen: listen
                .parse()
                .map_err(|_| ConfigError::Invalid("RP_LISTEN", listen.clone()))?,
            base_url,
            service: or("RP_SERVICE", "ceres"),
            database_url: or("RP_DATABASE_URL", "sqlite://data/ceres-demo.db?mode=rwc"),
            cgu_version: or("RP_CGU_VERSION", "2024-01"),
        })
    }

    /// Whether the demo is served over HTTPS (then cookies are `Secure`, `__Host-`).
    pub fn https(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    /// The session cookie's name.
    pub fn cookie_name(&self) -> &'static str {
        if self.https() {
            "__Host-ceres_session"
        } else {
            "ceres_session"
        }
    }

    /// `{base}/callback`, registered at the provider.
    pub fn redirect_uri(&self) -> String {
        format!("{}/callback", self.base_url)
    }

    /// `{base}/`, registered at the provider as the post-logout redirect URI.
    pub fn backchannel_logout_uri(&self) -> String {
        format!("{}/backchannel-logout", self.base_url)
    }

    /// Where the provider sends people back after logout.
    pub fn post_logout_uri(&self) -> String {
        format!("{}/", self.base_url)
    }

    /// A URL of the provider: `{issuer}{path}`.
    pub fn provider_url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_the_secret_is_required() {
        let none = Config::from_lookup(|_| None);
        assert!(matches!(
            none,
            Err(ConfigError::Missing("RP_CLIENT_SECRET"))
        ));
        let c = Config::from_lookup(|k| (k == "RP_CLIENT_SECRET").then(|| "s".to_owned()))
            .expect("config");
        assert_eq!(c.issuer, "http://localhost:8080");
        assert_eq!(c.client_id, "ceres-demo");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8081");
        assert_eq!(c.redirect_uri(), "http://localhost:8081/callback");
        assert_eq!(c.cookie_name(), "ceres_session");
        assert_eq!(c.cgu_version, "2024-01");
        assert!(!format!("{c:?}").contains("\"s\""));
    }

    #[test]
    fn an_https_base_url_gets_the_host_prefixed_cookie() {
        let c = Config::from_lookup(|k| match k {
            "RP_CLIENT_SECRET" => Some("s".into()),
            "RP_BASE_URL" => Some("https://ceres.example/".into()),
            _ => None,
        })
        .expect("config");
        assert_eq!(c.base_url, "https://ceres.example");
        assert_eq!(c.cookie_name(), "__Host-ceres_session");
    }
}
