//! What the types of `config.rs` cannot say: the bounds of every duration and limit, settings
//! that contradict each other or expose secrets ([`Problems`], refused at start-up), and the
//! development-only settings in effect ([`Warning`], one log line each at start-up). `idp config
//! check` prints both with the effective configuration, its secrets redacted ([`redacted`]).

use std::fmt;

use crate::config::{Config, ConfigError, MailTransport, Problem, Problems};

const MINUTE: u64 = 60;
const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;
/// Counters of the abuse limits: load tests raise them far, zero would refuse everyone.
const MAX_COUNT: u64 = 1_000_000_000;

/// Loading and every check of the values: here rather than in `config.rs`, so the types know
/// nothing of their checks.
impl Config {
    /// Loads defaults, then the TOML file if given, then `IDP_*` variables, and checks bounds.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let config = Self::read(file)?;
        config.validate()?;
        Ok(config)
    }

    /// The settings of the TLS connections to Redis and SMTP that cannot work together.
    fn validate_tls(&self) -> Result<(), ConfigError> {
        let pairs = [
            (
                "redis.client_cert_file et redis.client_key_file",
                &self.redis.client_cert_file,
                &self.redis.client_key_file,
            ),
            (
                "mail.smtp_client_cert_file et mail.smtp_client_key_file",
                &self.mail.smtp_client_cert_file,
                &self.mail.smtp_client_key_file,
            ),
        ];
        for (names, cert, key) in pairs {
            if cert.is_some() != key.is_some() {
                return Err(ConfigError::Invalid(format!("{names} : les deux ou aucun")));
            }
        }
        if !self.redis.sentinels.is_empty() && self.redis.sentinel_service.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "redis.sentinel_service : obligatoire avec redis.sentinels".into(),
            ));
        }
        let plain_url = self
            .redis_url
            .as_deref()
            .is_some_and(|u| u.starts_with("redis://"));
        let plain_sentinels = self
            .redis
            .sentinels
            .iter()
            .all(|s| s.starts_with("redis://"));
        let tls_files = self.redis.ca_file.is_some() || self.redis.client_cert_file.is_some();
        if tls_files && self.redis.sentinels.is_empty() && plain_url {
            return Err(ConfigError::Invalid(
                "redis.ca_file, redis.client_cert_file : pour une connexion rediss://".into(),
            ));
        }
        if tls_files && !self.redis.sentinels.is_empty() && plain_sentinels && plain_url {
            return Err(ConfigError::Invalid(
                "redis.ca_file, redis.client_cert_file : ni les sentinelles ni le maître ne sont en rediss://".into(),
            ));
        }
        Ok(())
    }

    fn validate_agents(&self) -> Result<(), ConfigError> {
        let agents = &self.agents;
        if agents.timeout_seconds == 0 || agents.login_ttl_seconds == 0 {
            return Err(ConfigError::Invalid(
                "agents.timeout_seconds, agents.login_ttl_seconds : au moins 1".into(),
            ));
        }
        for (i, u) in agents.upstreams.iter().enumerate() {
            let name_ok = !u.id.is_empty()
                && u.id.len() <= 32
                && u.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            let issuer_ok = url::Url::parse(&u.issuer)
                .is_ok_and(|x| matches!(x.scheme(), "http" | "https") && x.query().is_none());
            if !name_ok
                || !issuer_ok
                || u.client_id.is_empty()
                || u.label.trim().is_empty()
                || agents.upstreams[..i].iter().any(|o| o.id == u.id)
            {
                return Err(ConfigError::Invalid(format!(
                    "agents.upstreams[{i}] : id unique en [a-z0-9-], label, issuer (URL http(s)) et client_id obligatoires"
                )));
            }
        }
        Ok(())
    }

    /// Every check of the values; the first problem of the checks written here, or all those
    /// of `config_check.rs`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let a = &self.assurance;
        let names = [&a.acr_one_factor, &a.acr_two_factors, &a.acr_establishment];
        if names.iter().any(|n| {
            n.is_empty() || n.contains(char::is_whitespace) || ["pwd", "mfa"].contains(&n.as_str())
        }) || names[0] == names[1]
            || names[1] == names[2]
            || names[0] == names[2]
        {
            return Err(ConfigError::Invalid(
                "assurance.acr_* : trois valeurs distinctes, sans espace, autres que pwd et mfa"
                    .into(),
            ));
        }
        let issuer = url::Url::parse(&self.issuer)
            .map_err(|e| ConfigError::Invalid(format!("issuer « {} » : {e}", self.issuer)))?;
        if issuer.query().is_some() || issuer.fragment().is_some() || self.issuer.ends_with('/') {
            return Err(ConfigError::Invalid(
                "issuer : ni requête, ni fragment, ni « / » final (OpenID Connect Discovery §3)"
                    .into(),
            ));
        }
        if !(1..=60).contains(&self.tokens.code_ttl_seconds) {
            return Err(ConfigError::Invalid(
                "tokens.code_ttl_seconds : entre 1 et 60".into(),
            ));
        }
        if ![2048, 3072, 4096].contains(&self.keys.rsa_bits) {
            return Err(ConfigError::Invalid(
                "keys.rsa_bits : 2048, 3072 ou 4096".into(),
            ));
        }
        if self.keys.refresh_interval_seconds == 0 {
            return Err(ConfigError::Invalid(
                "keys.refresh_interval_seconds : au moins 1".into(),
            ));
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::Invalid(
                "mail.from : une adresse, éventuellement précédée d'un nom (Nom <adresse>)".into(),
            ));
        }
        if self.mail.transport == MailTransport::Smtp && self.mail.smtp_host.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "mail.smtp_host : obligatoire avec mail.transport = \"smtp\"".into(),
            ));
        }
        self.validate_tls()?;
        if let Some(base) = self
            .sirene
            .api_base_url
            .as_deref()
            .filter(|b| !b.is_empty())
            && url::Url::parse(base).is_err()
        {
            return Err(ConfigError::Invalid(format!(
                "sirene.api_base_url « {base} » : une URL http(s) attendue"
            )));
        }
        self.validate_agents()?;
        if self.sirene.timeout_seconds == 0 {
            return Err(ConfigError::Invalid(
                "sirene.timeout_seconds : au moins 1".into(),
            ));
        }
        if !url::Url::parse(&self.assistance.portal_url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        {
            return Err(ConfigError::Invalid(format!(
                "assistance.portal_url « {} » : une URL http(s) attendue",
                self.assistance.portal_url
            )));
        }
        if self.assistance.phone.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "assistance.phone : obligatoire (affiché en pied de chaque page)".into(),
            ));
        }
        if self.session.max_per_account == 0 {
            return Err(ConfigError::Invalid(
                "session.max_per_account : au moins 1".into(),
            ));
        }
        if self.limits.hash_concurrency == 0 {
            return Err(ConfigError::Invalid(
                "limits.hash_concurrency : au moins 1".into(),
            ));
        }
        Problems::of(self).into_result()?;
        Ok(())
    }
}

impl Problems {
    /// The problems of `config`.
    pub fn of(config: &Config) -> Self {
        let mut problems: Vec<Problem> = bounds(config)
            .into_iter()
            .filter(|b| !(b.min..=b.max).contains(&b.value))
            .map(|b| Problem::OutOfBounds {
                setting: b.setting,
                value: b.value,
                min: b.min,
                max: b.max,
            })
            .collect();
        if config.mail.outbox_viewer {
            if config.mail.transport != MailTransport::Outbox {
                problems.push(Problem::OutboxViewerWithoutOutbox);
            }
            if !is_local_issuer(&config.issuer) {
                problems.push(Problem::OutboxViewerWithPublicIssuer {
                    issuer: config.issuer.clone(),
                });
            }
        }
        Self(problems)
    }

    /// `Ok` when there is none.
    pub fn into_result(self) -> Result<(), Self> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

struct Bound {
    setting: &'static str,
    value: u64,
    min: u64,
    max: u64,
}

fn bound(setting: &'static str, value: impl TryInto<u64>, min: u64, max: u64) -> Bound {
    Bound {
        setting,
        value: value.try_into().unwrap_or(u64::MAX),
        min,
        max,
    }
}

/// Every duration and limit with its range. A new numeric setting gets its line here.
fn bounds(c: &Config) -> Vec<Bound> {
    let k = &c.keys;
    let t = &c.tokens;
    let b = &c.backchannel_logout;
    let l = &c.limits;
    vec![
        bound(
            "retention.interval_seconds",
            c.retention.interval_seconds,
            0,
            7 * DAY,
        ),
        bound("retention.history_days", c.retention.history_days, 30, 3650),
        bound("retention.outbox_days", c.retention.outbox_days, 1, 365),
        bound("retention.batch_size", c.retention.batch_size, 1, 10_000),
        // Unset: the engine's default (16 or 8), in range.
        bound(
            "database_max_connections",
            c.database_max_connections.unwrap_or(16),
            1,
            1000,
        ),
        bound(
            "shutdown_drain_seconds",
            c.shutdown_drain_seconds,
            0,
            5 * MINUTE,
        ),
        bound(
            "keys.prepublication_seconds",
            k.prepublication_seconds,
            0,
            30 * DAY,
        ),
        // 0: never rotated by the scheduler.
        bound(
            "keys.rotation_interval_seconds",
            k.rotation_interval_seconds,
            0,
            5 * 365 * DAY,
        ),
        bound(
            "keys.retention_margin_seconds",
            k.retention_margin_seconds,
            0,
            30 * DAY,
        ),
        bound(
            "keys.refresh_interval_seconds",
            k.refresh_interval_seconds,
            1,
            HOUR,
        ),
        bound("tokens.code_ttl_seconds", t.code_ttl_seconds, 1, MINUTE),
        bound(
            "tokens.access_token_ttl_seconds",
            t.access_token_ttl_seconds,
            1,
            DAY,
        ),
        bound(
            "tokens.id_token_ttl_seconds",
            t.id_token_ttl_seconds,
            1,
            DAY,
        ),
        bound(
            "tokens.refresh_token_ttl_seconds",
            t.refresh_token_ttl_seconds,
            1,
            365 * DAY,
        ),
        bound("clients.cache_seconds", c.clients.cache_seconds, 0, HOUR),
        bound(
            "backchannel_logout.timeout_seconds",
            b.timeout_seconds,
            1,
            MINUTE,
        ),
        bound("backchannel_logout.max_attempts", b.max_attempts, 1, 100),
        bound("backchannel_logout.retry_seconds", b.retry_seconds, 1, DAY),
        bound("backchannel_logout.poll_seconds", b.poll_seconds, 1, HOUR),
        bound(
            "backchannel_logout.token_ttl_seconds",
            b.token_ttl_seconds,
            1,
            HOUR,
        ),
        bound(
            "session.ttl_seconds",
            c.session.ttl_seconds,
            MINUTE,
            30 * DAY,
        ),
        bound(
            "session.max_per_account",
            c.session.max_per_account,
            1,
            100_000,
        ),
        bound(
            "limits.login_per_account",
            l.login_per_account,
            1,
            MAX_COUNT,
        ),
        bound("limits.login_per_ip", l.login_per_ip, 1, MAX_COUNT),
        bound(
            "limits.login_window_seconds",
            l.login_window_seconds,
            1,
            DAY,
        ),
        bound("limits.hash_concurrency", l.hash_concurrency, 1, 1024),
        bound("limits.hash_queue", l.hash_queue, 0, 100_000),
        bound("limits.reset_per_ip", l.reset_per_ip, 1, MAX_COUNT),
        bound(
            "limits.reset_per_address",
            l.reset_per_address,
            1,
            MAX_COUNT,
        ),
        bound(
            "limits.reset_window_seconds",
            l.reset_window_seconds,
            1,
            7 * DAY,
        ),
        bound(
            "accounts.reset_code_ttl_seconds",
            c.accounts.reset_code_ttl_seconds,
            MINUTE,
            7 * DAY,
        ),
        bound(
            "anti_robot.max_number",
            c.anti_robot.max_number,
            1,
            1_000_000_000,
        ),
        bound("anti_robot.ttl_seconds", c.anti_robot.ttl_seconds, 10, DAY),
        bound(
            "sirene.timeout_seconds",
            c.sirene.timeout_seconds,
            1,
            2 * MINUTE,
        ),
        bound(
            "access.activation_code_ttl_days",
            c.access.activation_code_ttl_days,
            1,
            3650,
        ),
        bound(
            "agents.timeout_seconds",
            c.agents.timeout_seconds,
            1,
            2 * MINUTE,
        ),
        bound(
            "agents.login_ttl_seconds",
            c.agents.login_ttl_seconds,
            10,
            DAY,
        ),
    ]
}

/// Whether `issuer` names this machine (`localhost`, `*.localhost`, a loopback address): only
/// such a provider may show the outbox.
pub fn is_local_issuer(issuer: &str) -> bool {
    let Ok(url) = url::Url::parse(issuer) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether `/outbox` is mounted: asked for, on the outbox transport, with a localhost issuer.
/// The start-up refuses the other cases ([`Problem`]); this is checked again where the routes
/// are built, for states made without [`Config::load`].
pub fn outbox_viewer_enabled(config: &Config) -> bool {
    config.mail.outbox_viewer
        && config.mail.transport == MailTransport::Outbox
        && is_local_issuer(&config.issuer)
}

/// A development-only setting in effect: allowed, but said once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// `/outbox` shows every message.
    OutboxViewer,
    /// E-mails are written to files, never delivered.
    OutboxTransport,
    /// Cookies without `Secure` nor `__Host-`.
    InsecureCookies,
    /// Forms without the anti-robot check.
    AntiRobotOff,
    /// Several nodes (a shared Redis) on one SQLite file.
    SqliteWithSeveralNodes,
    /// The key-encryption key is a local file.
    LocalKek,
    /// A plain-HTTP issuer on a name other than this machine's.
    PlainHttpIssuer,
    /// A trusted proxy network that includes every address.
    EveryoneTrusted(String),
}

impl Warning {
    /// The setting it is about, for the log field `config.setting`.
    pub fn setting(&self) -> &'static str {
        match self {
            Self::OutboxViewer => "mail.outbox_viewer",
            Self::OutboxTransport => "mail.transport",
            Self::InsecureCookies => "session.secure_cookies",
            Self::AntiRobotOff => "anti_robot.enabled",
            Self::SqliteWithSeveralNodes => "database_url",
            Self::LocalKek => "keys.kek",
            Self::PlainHttpIssuer => "issuer",
            Self::EveryoneTrusted(_) => "proxy.trusted",
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutboxViewer => f.write_str(
                "mail.outbox_viewer : /outbox montre les codes et liens de tous les comptes (démonstration seulement)",
            ),
            Self::OutboxTransport => f.write_str(
                "mail.transport = \"outbox\" : les courriels sont écrits dans un dossier, jamais envoyés",
            ),
            Self::InsecureCookies => f.write_str(
                "session.secure_cookies = false : cookies sans Secure ni préfixe __Host- (tests en HTTP seulement)",
            ),
            Self::AntiRobotOff => f.write_str(
                "anti_robot.enabled = false : connexion, inscription et réinitialisation sans contrôle anti-robot",
            ),
            Self::SqliteWithSeveralNodes => f.write_str(
                "database_url SQLite avec redis_url : plusieurs nœuds ne partagent pas un fichier SQLite (PostgreSQL attendu)",
            ),
            Self::LocalKek => f.write_str(
                "keys.kek vide : la clé de chiffrement des clés est un fichier local (keys.dir), à fournir par le déploiement",
            ),
            Self::PlainHttpIssuer => f.write_str(
                "issuer en http:// hors localhost : jetons et cookies circulent en clair",
            ),
            Self::EveryoneTrusted(net) => write!(
                f,
                "proxy.trusted contient {net} : tout client peut choisir l'adresse sous laquelle il est compté"
            ),
        }
    }
}

/// The development-only settings in effect in `config`.
pub fn warnings(config: &Config) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if outbox_viewer_enabled(config) {
        warnings.push(Warning::OutboxViewer);
    }
    if config.mail.transport == MailTransport::Outbox {
        warnings.push(Warning::OutboxTransport);
    }
    if !config.session.secure_cookies {
        warnings.push(Warning::InsecureCookies);
    }
    if !config.anti_robot.enabled {
        warnings.push(Warning::AntiRobotOff);
    }
    if config.database_url.starts_with("sqlite:")
        && config.redis_url.as_deref().is_some_and(|u| !u.is_empty())
    {
        warnings.push(Warning::SqliteWithSeveralNodes);
    }
    if config.keys.kek.as_deref().is_none_or(str::is_empty) {
        warnings.push(Warning::LocalKek);
    }
    if config.issuer.starts_with("http://") && !is_local_issuer(&config.issuer) {
        warnings.push(Warning::PlainHttpIssuer);
    }
    for net in &config.proxy.trusted {
        if net.0.prefix_len() == 0 {
            warnings.push(Warning::EveryoneTrusted(net.0.to_string()));
        }
    }
    warnings
}

/// Logs one line per [`Warning`] (start-up of `idp serve`).
pub fn log_warnings(config: &Config) {
    for warning in warnings(config) {
        tracing::warn!(config.setting = warning.setting(), "{warning}");
    }
}

/// Names of settings that hold secrets: the last part of their dotted name ends with one of
/// these (a setting added later with such a name is redacted without a change here).
const SECRET_SUFFIXES: [&str; 6] = ["secret", "password", "token", "kek", "keks", "private_key"];

/// The effective configuration as TOML, every secret replaced by `<masqué>` and the password of
/// any URL (`postgres://user:pass@…`) too.
pub fn redacted(config: &Config) -> String {
    let mut value = match toml::Value::try_from(config) {
        Ok(v) => v,
        Err(e) => return format!("# configuration non affichable : {e}\n"),
    };
    redact(&mut value, "");
    toml::to_string_pretty(&value)
        .unwrap_or_else(|e| format!("# configuration non affichable : {e}\n"))
}

fn redact(value: &mut toml::Value, key: &str) {
    match value {
        toml::Value::Table(table) => {
            for (k, v) in table.iter_mut() {
                redact(v, k);
            }
        }
        toml::Value::Array(items) => {
            for v in items {
                redact(v, key);
            }
        }
        toml::Value::String(s) => {
            if SECRET_SUFFIXES.iter().any(|suffix| key.ends_with(suffix)) {
                if !s.is_empty() {
                    *s = "<masqué>".into();
                }
            } else if let Ok(mut url) = url::Url::parse(s)
                && url.password().is_some()
                && url.set_password(Some("masque")).is_ok()
            {
                *s = url.to_string();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
