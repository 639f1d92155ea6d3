//! The provider's configuration, read once at start-up.
//!
//! Sources, later ones winning: built-in defaults, an optional TOML file (`--config FILE` or
//! `IDP_CONFIG`), then `IDP_*` environment variables where `__` separates sections
//! (`IDP_TOKENS__ACCESS_TOKEN_TTL_SECONDS=300`). Every field is documented in
//! `docs/configuration.md`; keep both in step.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

mod sections;
pub use sections::*;

/// Everything the provider reads from its environment.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Issuer identifier: the exact `iss` of every token and the base of every URL we publish.
    pub issuer: String,
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// After SIGTERM, how long the node keeps serving while `/readyz` answers 503, so that the
    /// load balancer stops sending it requests before it stops accepting them.
    pub shutdown_drain_seconds: u64,
    /// Durable storage: `sqlite://PATH?mode=rwc` (default) or `postgres://…`.
    pub database_url: String,
    /// Most connections a node keeps open to the database (default 16 on PostgreSQL, 8 on
    /// SQLite): every node's pool together must stay under the server's `max_connections`.
    pub database_max_connections: Option<u32>,
    /// Short-lived shared state. Empty: in-process (single node only); `redis://…`: shared by nodes.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key, so several deployments can share one Redis.
    pub redis_key_prefix: String,
    /// Redis over TLS (private CA, client certificate) and Redis Sentinel.
    pub redis: RedisConfig,
    /// Log format: `json` (default) or `pretty`.
    pub log_format: LogFormat,
    /// Signing keys.
    pub keys: KeysConfig,
    /// Token and code lifetimes.
    pub tokens: TokensConfig,
    /// Registered clients.
    pub clients: ClientsConfig,
    /// Delivery of logout tokens to relying parties (Back-Channel Logout).
    pub backchannel_logout: BackchannelLogoutConfig,
    /// Browser sessions.
    pub session: SessionConfig,
    /// Abuse limits.
    pub limits: LimitsConfig,
    /// Outgoing e-mail.
    pub mail: MailConfig,
    /// Account journeys.
    pub accounts: AccountsConfig,
    /// The anti-robot check of the login, sign-up and reset forms.
    pub anti_robot: AntiRobotConfig,
    /// The SIRENE register's optional INSEE API adapter.
    pub sirene: SireneConfig,
    /// Habilitations and activation codes.
    pub access: AccessConfig,
    /// The Prometheus endpoint `/metrics`.
    pub metrics: MetricsConfig,
    /// The assistance shown in every page's footer and in the activation letter.
    pub assistance: AssistanceConfig,
    /// « AGENT DU MINISTÈRE »: the upstream OpenID providers agents log in with.
    pub agents: AgentsConfig,
    /// Authentication levels (`acr`) and second-factor policies.
    pub assurance: AssuranceConfig,
    /// The reverse proxies whose forwarding headers are believed.
    pub proxy: ProxyConfig,
    /// What expired rows are removed, and when (the janitor, `idp purge`).
    pub retention: RetentionConfig,
}

/// The janitor (`retention.rs`): what has expired goes, in small batches, on one node at a
/// time; the history (audit events, decided requests, closed codes, old invitations) after
/// `history_days`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// How often a node runs it (the first node to take the turn does; 0: never in `serve`).
    pub interval_seconds: u64,
    /// How long the audit trail and other history are kept (default one year).
    pub history_days: u64,
    /// How long the local outbox keeps its messages (`mail.transport = "outbox"`).
    pub outbox_days: u64,
    /// Rows removed per statement.
    pub batch_size: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            interval_seconds: 3600,
            history_days: 365,
            outbox_days: 7,
            batch_size: 500,
        }
    }
}

/// The reverse proxies (load balancers) in front of the provider: a request whose TCP peer is
/// one of them has its client address read from `Forwarded` or `X-Forwarded-For`, right to
/// left, up to the first hop that is not one of them (`web/client_ip.rs`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// Addresses or networks, e.g. `["10.0.0.5", "10.1.0.0/16"]`. Empty (default): no proxy
    /// is trusted and every forwarding header is ignored.
    pub trusted: Vec<TrustedNet>,
}

/// One trusted proxy: an address (`10.0.0.5`, `::1`) or a network (`10.1.0.0/16`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrustedNet(pub ipnet::IpNet);

impl TryFrom<String> for TrustedNet {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let text = text.trim();
        text.parse::<ipnet::IpNet>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map(Self)
            .map_err(|_| {
                format!("proxy.trusted : « {text} » n'est ni une adresse IP ni un réseau CIDR")
            })
    }
}

impl From<TrustedNet> for String {
    fn from(net: TrustedNet) -> Self {
        net.0.to_string()
    }
}

/// Output format of the logs.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines, for a terminal.
    Pretty,
}

/// Signing keys: where the key-encryption key lives and how keys rotate.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// Key-encryption key (32 bytes, base64). Empty: read or create `<dir>/kek.key`.
    pub kek: Option<String>,
    /// Previous key-encryption keys (base64), which still open what they sealed while a change
    /// of KEK is under way, until `idp keys rewrap` has re-sealed it under `kek`
    /// (docs/operations.md, « Changing the key-encryption key »).
    pub previous_keks: Vec<String>,
    /// Folder for local key material of a fresh install.
    pub dir: PathBuf,
    /// How long a new key is published in the JWKS before it signs.
    pub prepublication_seconds: u64,
    /// Age at which the scheduler rotates the signing key of each algorithm (0: never).
    pub rotation_interval_seconds: u64,
    /// How long a key stays published after it stopped signing, on top of the longest token lifetime.
    pub retention_margin_seconds: u64,
    /// How often each node reloads the key set from the database.
    pub refresh_interval_seconds: u64,
    /// RSA modulus size for new RS256 keys: 2048, 3072 or 4096.
    pub rsa_bits: u32,
}

/// Lifetimes of what the token endpoint hands out.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokensConfig {
    /// Authorization code lifetime (at most 60 s).
    pub code_ttl_seconds: u64,
    /// Access token lifetime.
    pub access_token_ttl_seconds: u64,
    /// ID token lifetime.
    pub id_token_ttl_seconds: u64,
    /// Refresh token lifetime (each rotation starts a new one).
    pub refresh_token_ttl_seconds: u64,
}

/// Registered clients (relying parties).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientsConfig {
    /// How long a node keeps a client registration before reading it again: a change made
    /// with `idp clients` (deletion, new secret, redirect URIs) reaches every node within this
    /// time, and so does one made with `idp services` to the client's service link or the
    /// service's policy. 0 reads them at every request.
    pub cache_seconds: u64,
}

impl Default for ClientsConfig {
    fn default() -> Self {
        Self { cache_seconds: 5 }
    }
}

/// How logout tokens reach relying parties (OpenID Connect Back-Channel Logout 1.0): queued in
/// the database at logout, posted by a worker on every node.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackchannelLogoutConfig {
    /// How long one POST to a client may take before it counts as failed.
    pub timeout_seconds: u64,
    /// Attempts before the delivery is given up (logged and audited).
    pub max_attempts: u32,
    /// Wait before the second attempt; it doubles at each further attempt.
    pub retry_seconds: u64,
    /// How often each node's worker looks for due deliveries (a logout on this node wakes it
    /// at once).
    pub poll_seconds: u64,
    /// Lifetime of a logout token (its `exp`), from its signature at each attempt.
    pub token_ttl_seconds: u64,
}

impl Default for BackchannelLogoutConfig {
    fn default() -> Self {
        Self {
            timeout_seconds: 5,
            max_attempts: 5,
            retry_seconds: 30,
            poll_seconds: 10,
            token_ttl_seconds: 120,
        }
    }
}

/// Browser sessions on the provider.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Lifetime of a login session.
    pub ttl_seconds: u64,
    /// Send cookies with `Secure` and the `__Host-` prefix. Only turn off for plain-HTTP tests
    /// with clients that refuse secure cookies on `http://localhost`.
    pub secure_cookies: bool,
    /// Live sessions one account may hold; a login beyond ends the oldest.
    pub max_per_account: usize,
}

/// Abuse limits, counted in the shared store so they hold across nodes.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Attempts per account per `login_window_seconds`, on all nodes, of the account's other
    /// checks: the e-mailed code of a new browser, passkeys, the TOTP code of an enrolment.
    /// (The password and the second factor are guarded per account and address instead:
    /// `login_free_failures` and the following.)
    pub login_per_account: u64,
    /// Login attempts allowed per IP per window.
    pub login_per_ip: u64,
    /// Window of the per-IP login limit and of `login_per_account`.
    pub login_window_seconds: u64,
    /// Tries of an account's password (or second factor) from one client address before each
    /// further try from there waits a delay (default 5); a right one starts again from none.
    pub login_free_failures: u64,
    /// The first delay, seconds (default 30), doubled at each further try.
    pub login_delay_seconds: u64,
    /// The longest delay, seconds (default 900).
    pub login_max_delay_seconds: u64,
    /// Failures of an account's password (or second factor) from all addresses together past
    /// which every try on it is refused until the window ends (default 100; audited).
    pub login_failures_per_account: u64,
    /// Window of the tries per account and address and of `login_failures_per_account`,
    /// seconds (default 3600).
    pub login_failures_window_seconds: u64,
    /// Password hashes computed at once on this node (default: its cores); more wait, and past
    /// `hash_queue` get 503.
    pub hash_concurrency: usize,
    /// Password hashes allowed to wait for a slot.
    pub hash_queue: usize,
    /// Password reset requests allowed per IP per window.
    pub reset_per_ip: u64,
    /// Password reset requests allowed per address per window.
    pub reset_per_address: u64,
    /// Window of the password reset limits.
    pub reset_window_seconds: u64,
}

/// How the provider reaches Redis beyond `redis_url`: the certificates of a TLS connection
/// (`rediss://`) and Redis Sentinel. The files are read once at start-up.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// PEM file of the CA(s) the Redis servers' (and sentinels') certificates must chain to,
    /// instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate (chain) presented to Redis servers that ask for one
    /// (`tls-auth-clients`).
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of `client_cert_file`.
    pub client_key_file: Option<PathBuf>,
    /// Sentinel addresses, `redis://host:port` or `rediss://host:port` (all alike). Set: the
    /// master is the one they name for `sentinel_service`, and `redis_url`, if set, only
    /// gives the master's scheme, user, password and database.
    pub sentinels: Vec<String>,
    /// The master's name in the sentinels' configuration (`sentinel monitor NAME …`).
    pub sentinel_service: String,
}

/// Outgoing e-mail: how messages leave the provider and who sends them.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `outbox` (default: `.eml` files in `outbox_dir`, shown at `/outbox`) or `smtp`.
    pub transport: MailTransport,
    /// Folder of the outbox transport.
    pub outbox_dir: PathBuf,
    /// Serve the outbox viewer `/outbox` (default false): it shows every message, live codes
    /// included. Refused at start-up unless the transport is `outbox` and the issuer is a
    /// localhost URL; never served through a proxy. For the demo (`scripts/demo.sh`).
    pub outbox_viewer: bool,
    /// SMTP server name (also the name its certificate must carry).
    pub smtp_host: String,
    /// SMTP server port.
    pub smtp_port: u16,
    /// How the SMTP connection is protected.
    pub smtp_tls: SmtpTls,
    /// SMTP user, if the server wants authentication.
    pub smtp_username: Option<String>,
    /// SMTP password: never logged, redacted from `Debug`.
    pub smtp_password: Option<String>,
    /// PEM file of the CA(s) the SMTP server's certificate must chain to, instead of the
    /// public roots (a private CA). Empty: the public roots.
    pub smtp_ca_file: Option<PathBuf>,
    /// PEM certificate presented to an SMTP server that asks for one (the first of the file).
    pub smtp_client_cert_file: Option<PathBuf>,
    /// PEM private key of `smtp_client_cert_file`.
    pub smtp_client_key_file: Option<PathBuf>,
    /// Sender of every message, `Nom <adresse>`.
    pub from: String,
}

/// Where outgoing e-mail goes.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// Files in a local folder: the embedded default, for development and demonstrations.
    Outbox,
    /// An SMTP server.
    Smtp,
}

/// Protection of the SMTP connection.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text: only for a sink on the same machine.
    None,
    /// Plain connection upgraded with `STARTTLS` (usually port 587); refused if not offered.
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

// Hand-written so that the password never reaches a log line that prints the configuration.
impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("transport", &self.transport)
            .field("outbox_dir", &self.outbox_dir)
            .field("outbox_viewer", &self.outbox_viewer)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_username", &self.smtp_username)
            .field(
                "smtp_password",
                &self.smtp_password.as_ref().map(|_| "<redacted>"),
            )
            .field("smtp_ca_file", &self.smtp_ca_file)
            .field("smtp_client_cert_file", &self.smtp_client_cert_file)
            .field("smtp_client_key_file", &self.smtp_client_key_file)
            .field("from", &self.from)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            issuer: "http://localhost:8080".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            shutdown_drain_seconds: 1,
            database_url: "sqlite://data/idp.db?mode=rwc".into(),
            database_max_connections: None,
            redis_url: None,
            redis_key_prefix: "efp:".into(),
            redis: RedisConfig::default(),
            log_format: LogFormat::Json,
            keys: KeysConfig::default(),
            tokens: TokensConfig::default(),
            clients: ClientsConfig::default(),
            backchannel_logout: BackchannelLogoutConfig::default(),
            session: SessionConfig::default(),
            limits: LimitsConfig::default(),
            mail: MailConfig::default(),
            accounts: AccountsConfig::default(),
            anti_robot: AntiRobotConfig::default(),
            sirene: SireneConfig::default(),
            access: AccessConfig::default(),
            metrics: MetricsConfig::default(),
            assistance: AssistanceConfig::default(),
            agents: AgentsConfig::default(),
            assurance: AssuranceConfig::default(),
            proxy: ProxyConfig::default(),
            retention: RetentionConfig::default(),
        }
    }
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            kek: None,
            previous_keks: Vec::new(),
            dir: PathBuf::from("keys"),
            prepublication_seconds: 3600,
            rotation_interval_seconds: 90 * 24 * 3600,
            retention_margin_seconds: 3600,
            refresh_interval_seconds: 60,
            rsa_bits: 2048,
        }
    }
}

impl Default for TokensConfig {
    fn default() -> Self {
        Self {
            code_ttl_seconds: 60,
            access_token_ttl_seconds: 600,
            id_token_ttl_seconds: 600,
            refresh_token_ttl_seconds: 30 * 24 * 3600,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            ttl_seconds: 8 * 3600,
            secure_cookies: true,
            // Right passwords are not limited per account (only wrong ones: accounts/guard.rs):
            // this bounds the per-account index of an account logging in again and again, as
            // the cluster checker and the load bench do.
            max_per_account: 1000,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            login_per_account: 10,
            login_per_ip: 100,
            login_window_seconds: 900,
            login_free_failures: 5,
            login_delay_seconds: 30,
            login_max_delay_seconds: 900,
            login_failures_per_account: 100,
            login_failures_window_seconds: 3600,
            // argon2id is CPU- and memory-bound: more threads than cores only share the cores and
            // the caches (measured: 2 on 2 cores gave 10 % more logins/s than 4).
            hash_concurrency: std::thread::available_parallelism().map_or(2, usize::from),
            hash_queue: 64,
            reset_per_ip: 30,
            reset_per_address: 5,
            reset_window_seconds: 3600,
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            transport: MailTransport::Outbox,
            outbox_dir: PathBuf::from("data/outbox"),
            outbox_viewer: false,
            smtp_host: "localhost".into(),
            smtp_port: 587,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: None,
            smtp_password: None,
            smtp_ca_file: None,
            smtp_client_cert_file: None,
            smtp_client_key_file: None,
            // The sender the ministry's guide tells users to look for in their spam folder.
            from: "EFP Connect <no-reply@emploi.gouv.fr>".into(),
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A source could not be read or a value has the wrong type.
    #[error("configuration illisible : {0}")]
    Load(#[from] Box<figment::Error>),
    /// A value is present but out of bounds.
    #[error("configuration invalide : {0}")]
    Invalid(String),
    /// Values out of bounds or settings that contradict each other (`config_check.rs`).
    #[error("configuration invalide : {0}")]
    Checks(#[from] Problems),
}

/// One reason the configuration cannot be used; its `Display` is the French message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A number outside the range that makes sense.
    #[error("{setting} = {value} : attendu entre {min} et {max}")]
    OutOfBounds {
        /// The setting, dotted (`tokens.access_token_ttl_seconds`).
        setting: &'static str,
        /// Its value.
        value: u64,
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// The viewer has nothing to show without the outbox transport.
    #[error("mail.outbox_viewer = true demande mail.transport = \"outbox\"")]
    OutboxViewerWithoutOutbox,
    /// The viewer shows everyone's codes: never on an install the network reaches.
    #[error(
        "mail.outbox_viewer = true est refusé avec l'émetteur « {issuer} » : le visualiseur montre les codes et liens de tous les comptes, il n'existe que pour une démonstration sur localhost"
    )]
    OutboxViewerWithPublicIssuer {
        /// The configured issuer.
        issuer: String,
    },
}

/// Every [`Problem`] of a configuration, in the order of the settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems(pub Vec<Problem>);

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

impl Config {
    /// [`Config::load`] without the checks: `idp config check` reports them all itself.
    pub fn read(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let config: Config = figment
            .merge(
                Env::prefixed("IDP_")
                    // Variables of the command line and the test harness, not configuration.
                    .filter(|k| {
                        let k = k.as_str().to_ascii_lowercase();
                        !matches!(
                            k.as_str(),
                            "config" | "log" | "new_user_password" | "operator"
                        ) && !k.starts_with("test_")
                    })
                    .split("__"),
            )
            .extract()
            .map_err(Box::new)?;
        Ok(config)
    }

    /// The longest lifetime of a signed token: a key stays published at least this long after
    /// it stopped signing.
    pub fn longest_signed_token_lifetime(&self) -> Duration {
        Duration::from_secs(
            self.tokens
                .access_token_ttl_seconds
                .max(self.tokens.id_token_ttl_seconds),
        )
    }

    /// `<issuer><path>`: every absolute URL we publish is built here.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

#[cfg(test)]
mod tls_settings_tests {
    use super::*;

    fn refused(adjust: impl FnOnce(&mut Config)) -> bool {
        let mut config = Config::default();
        adjust(&mut config);
        config.validate().is_err()
    }

    #[test]
    fn tls_settings_that_cannot_work_together_are_refused() {
        assert!(!refused(|_| {}));
        assert!(refused(
            |c| c.redis.sentinels = vec!["rediss://s:26379".into()]
        ));
        assert!(!refused(|c| {
            c.redis.sentinels = vec!["rediss://s:26379".into()];
            c.redis.sentinel_service = "efp".into();
            c.redis.ca_file = Some("ca.pem".into());
        }));
        assert!(refused(|c| {
            c.redis_url = Some("redis://cache:6379".into());
            c.redis.ca_file = Some("ca.pem".into());
        }));
        assert!(!refused(|c| {
            c.redis_url = Some("rediss://cache:6379".into());
            c.redis.ca_file = Some("ca.pem".into());
        }));
        assert!(refused(|c| c.redis.client_cert_file = Some("c.pem".into())));
        assert!(refused(
            |c| c.mail.smtp_client_key_file = Some("k.pem".into())
        ));
    }
}
