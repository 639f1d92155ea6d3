//! Relying parties registered with the provider, their storage, and each node's cache of them.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{
    access::services::{self, ClientLink},
    keys::SigningAlg,
    secrets,
    store::{Db, now},
};

/// How a client proves itself at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with the client secret.
    ClientSecretBasic,
    /// Client secret in the form body.
    ClientSecretPost,
    /// A JWT signed with the client's registered key (RFC 7523).
    PrivateKeyJwt,
    /// Public client: no secret, PKCE required.
    None,
}

impl AuthMethod {
    /// Registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }

    /// From the registered name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    /// Whether the client holds a shared secret.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

/// Grant types a client may use.
pub const GRANT_TYPES: [&str; 3] = ["authorization_code", "refresh_token", "client_credentials"];

/// A registered relying party: its registration, and what storage adds to it.
#[derive(Clone, Debug, Serialize)]
pub struct Client {
    /// What was registered (readable through the client itself).
    #[serde(flatten)]
    pub registration: ClientRegistration,
    /// SHA-256 of the secret (secret clients only).
    #[serde(skip)]
    pub secret_hash: Option<String>,
    /// When this registration was made: tokens issued earlier were issued to a deleted
    /// client of the same id.
    #[serde(skip)]
    pub created_at: i64,
}

impl std::ops::Deref for Client {
    type Target = ClientRegistration;

    fn deref(&self) -> &ClientRegistration {
        &self.registration
    }
}

impl Client {
    /// Whether the client may use `grant_type`.
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// Whether `uri` is exactly one of the registered redirect URIs.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    /// Whether `uri` is exactly one of the registered post-logout redirect URIs.
    pub fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }

    /// Whether the client is public (no secret, no key).
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }

    /// Whether its authorization requests need a PKCE challenge: by registration, and always
    /// for a public client (nothing else binds its code to it).
    pub fn needs_pkce(&self) -> bool {
        self.require_pkce || self.is_public()
    }

    /// Whether it may introspect an access token issued to `audience`: its own, or one of the
    /// clients its registration lists.
    pub fn may_introspect(&self, audience: &str) -> bool {
        audience == self.client_id || self.introspects.iter().any(|c| c == audience)
    }
}

/// A client registration, validated.
#[derive(Clone, Debug, Serialize)]
pub struct ClientRegistration {
    /// Identifier.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Authentication method.
    pub auth_method: AuthMethod,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Grant types.
    pub grant_types: Vec<String>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Signing algorithm.
    pub id_token_alg: SigningAlg,
    /// JWKS for private_key_jwt.
    pub jwks: Option<serde_json::Value>,
    /// Skip consent.
    pub skip_consent: bool,
    /// Where the client is told that a session it logged into ended (OpenID Connect
    /// Back-Channel Logout 1.0); `None`: it is not told.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in its logout tokens (ours always carry it).
    pub backchannel_logout_session_required: bool,
    /// Every login to this client needs a second factor (step-up or enrolment first).
    #[serde(default)]
    pub require_mfa: bool,
    /// Its authorization requests must carry a PKCE challenge (RFC 7636, S256). On by default;
    /// a public client needs one whatever this says.
    pub require_pkce: bool,
    /// The clients whose access tokens (their audience) this client may introspect, as a
    /// resource server; its own tokens it always may.
    pub introspects: Vec<String>,
    /// A relying party trusted to forward the person's own address to the activation API
    /// (`end_user_ip`): the per-address limit then counts it instead of the client's server.
    pub forwards_end_user_ip: bool,
}

/// Why a registration is refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// Bad client id.
    #[error(
        "identifiant de client invalide « {0} » : 1 à 100 caractères parmi a-z, A-Z, 0-9, « - », « _ », « . »"
    )]
    ClientId(String),
    /// Bad redirect URI.
    #[error(
        "URI de redirection invalide « {0} » : URI absolue sans fragment, en https (http seulement pour localhost ou 127.0.0.1)"
    )]
    RedirectUri(String),
    /// Bad back-channel logout URI.
    #[error(
        "URI de déconnexion (backchannel_logout_uri) invalide « {0} » : URI absolue sans fragment, en https (http seulement pour localhost ou 127.0.0.1)"
    )]
    BackchannelLogoutUri(String),
    /// Unknown grant type.
    #[error(
        "type d'autorisation inconnu « {0} » (authorization_code, refresh_token, client_credentials)"
    )]
    GrantType(String),
    /// Code flow without redirect URI.
    #[error("authorization_code demande au moins une URI de redirection")]
    NoRedirectUri,
    /// private_key_jwt without keys, or bad keys.
    #[error("private_key_jwt demande un JWKS avec au moins une clé publique RSA ou EC")]
    Jwks,
    /// Public clients cannot use client_credentials.
    #[error("un client public (auth_method none) ne peut pas utiliser client_credentials")]
    PublicClientCredentials,
    /// The id is taken.
    #[error("le client « {0} » existe déjà")]
    Exists(String),
}

/// Why a client administration action says no.
#[derive(Debug, thiserror::Error)]
pub enum ClientRefusal {
    /// The registration is invalid or its id taken.
    #[error(transparent)]
    Registration(#[from] RegistrationError),
    /// No such client.
    #[error("introuvable : {0}")]
    Unknown(String),
    /// Rotating the secret of a client that has none.
    #[error("introuvable : {0} (client à secret)")]
    NoSecret(String),
    /// A client without secret cannot be given one by an update.
    #[error("passer à une méthode à secret : supprimez et recréez le client")]
    SecretMethodSwitch,
    /// Storage failed.
    #[error("base de données : {0}")]
    Storage(#[from] sqlx::Error),
}

impl crate::action::Refusal for ClientRefusal {
    fn code(&self) -> &'static str {
        match self {
            Self::Registration(RegistrationError::Exists(_)) => "client_exists",
            Self::Registration(_) => "invalid_client_metadata",
            Self::Unknown(_) | Self::NoSecret(_) => "unknown_client",
            Self::SecretMethodSwitch => "secret_method_switch",
            Self::Storage(_) => "server_error",
        }
    }

    fn kind(&self) -> crate::action::RefusalKind {
        use crate::action::RefusalKind;
        match self {
            Self::Registration(RegistrationError::Exists(_)) => RefusalKind::Conflict,
            Self::Registration(_) | Self::SecretMethodSwitch => RefusalKind::Invalid,
            Self::Unknown(_) | Self::NoSecret(_) => RefusalKind::NotFound,
            Self::Storage(_) => RefusalKind::Internal,
        }
    }
}

impl Client {
    /// The rule of an update: a client registered without secret never gets one by an update
    /// (nobody would ever see it): it is deleted and registered again.
    pub fn may_become(&self, reg: &ClientRegistration) -> Result<(), ClientRefusal> {
        if reg.auth_method.uses_secret() && !self.auth_method.uses_secret() {
            return Err(ClientRefusal::SecretMethodSwitch);
        }
        Ok(())
    }
}

/// Checks a redirect URI: absolute, no fragment, https except on loopback (RFC 8252 §7.3).
pub fn valid_redirect_uri(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    if url.fragment().is_some() || url.cannot_be_a_base() {
        return false;
    }
    match url.scheme() {
        "https" => true,
        "http" => matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
        _ => false,
    }
}

impl ClientRegistration {
    /// Validates a registration's fields.
    pub fn validate(&self) -> Result<(), RegistrationError> {
        let id_ok = |id: &str| {
            !id.is_empty()
                && id.len() <= 100
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !id_ok(&self.client_id) {
            return Err(RegistrationError::ClientId(self.client_id.clone()));
        }
        if let Some(bad) = self.introspects.iter().find(|id| !id_ok(id)) {
            return Err(RegistrationError::ClientId(bad.clone()));
        }
        for uri in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
        {
            if !valid_redirect_uri(uri) {
                return Err(RegistrationError::RedirectUri(uri.clone()));
            }
        }
        if let Some(uri) = &self.backchannel_logout_uri
            && !valid_redirect_uri(uri)
        {
            return Err(RegistrationError::BackchannelLogoutUri(uri.clone()));
        }
        for g in &self.grant_types {
            if !GRANT_TYPES.contains(&g.as_str()) {
                return Err(RegistrationError::GrantType(g.clone()));
            }
        }
        if self.grant_types.iter().any(|g| g == "authorization_code")
            && self.redirect_uris.is_empty()
        {
            return Err(RegistrationError::NoRedirectUri);
        }
        if self.auth_method == AuthMethod::None
            && self.grant_types.iter().any(|g| g == "client_credentials")
        {
            return Err(RegistrationError::PublicClientCredentials);
        }
        if self.auth_method == AuthMethod::PrivateKeyJwt {
            let keys = self.jwks.as_ref().and_then(|j| j["keys"].as_array());
            if !keys.is_some_and(|k| {
                !k.is_empty()
                    && k.iter()
                        .all(|k| jsonwebtoken::jwk::Jwk::deserialize(k).is_ok())
            }) {
                return Err(RegistrationError::Jwks);
            }
        }
        Ok(())
    }
}

fn json_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Client, sqlx::Error> {
    let method: String = row.try_get("auth_method")?;
    let alg: String = row.try_get("id_token_alg")?;
    let jwks: Option<String> = row.try_get("jwks")?;
    Ok(Client {
        registration: ClientRegistration {
            client_id: row.try_get("client_id")?,
            name: row.try_get("name")?,
            auth_method: AuthMethod::parse(&method).unwrap_or(AuthMethod::ClientSecretBasic),
            redirect_uris: json_list(&row.try_get::<String, _>("redirect_uris")?),
            post_logout_redirect_uris: json_list(
                &row.try_get::<String, _>("post_logout_redirect_uris")?,
            ),
            grant_types: json_list(&row.try_get::<String, _>("grant_types")?),
            scopes: json_list(&row.try_get::<String, _>("scopes")?),
            id_token_alg: SigningAlg::parse(&alg).unwrap_or(SigningAlg::RS256),
            jwks: jwks.and_then(|j| serde_json::from_str(&j).ok()),
            skip_consent: row.try_get::<i64, _>("skip_consent")? != 0,
            backchannel_logout_uri: row.try_get("backchannel_logout_uri")?,
            backchannel_logout_session_required: row
                .try_get::<i64, _>("backchannel_logout_session_required")?
                != 0,
            require_mfa: row.try_get::<i64, _>("require_mfa")? != 0,
            require_pkce: row.try_get::<i64, _>("require_pkce")? != 0,
            introspects: json_list(&row.try_get::<String, _>("introspects")?),
            forwards_end_user_ip: row.try_get::<i64, _>("forwards_end_user_ip")? != 0,
        },
        secret_hash: row.try_get("secret_hash")?,
        created_at: row.try_get("created_at")?,
    })
}

const COLUMNS: &str = "client_id, name, secret_hash, auth_method, redirect_uris, post_logout_redirect_uris, grant_types, scopes, id_token_alg, jwks, skip_consent, backchannel_logout_uri, backchannel_logout_session_required, require_mfa, require_pkce, introspects, forwards_end_user_ip, created_at";

/// Registrations as this node last read them, each kept for a set time.
///
/// Every token, introspection and authorization request names its client: reading it from
/// the database each time was one round trip per request. Registrations change through the
/// `idp clients` command, in another process, so a node cannot be told: it reads a client
/// again once its copy is `ttl` old. A deleted client, a rotated secret or a changed redirect
/// URI thus takes effect on every node within `ttl` (`clients.cache_seconds`; 0 reads every
/// time). Unknown ids are not kept, so made-up ids cannot fill the cache.
///
/// A client's link to its service (`access::services::of_client`: which service, whether it
/// needs a habilitation or a second factor) is kept the same way: it too changes through the
/// command line (`idp services`), and every authorization request needs it.
#[derive(Clone)]
pub struct ClientCache {
    ttl: Duration,
    clients: Arc<Kept<Client>>,
    links: Arc<Kept<Option<ClientLink>>>,
}

/// Registrations kept at most, so the cache stays small even with many clients.
const CACHE_CAPACITY: usize = 10_000;

/// Values by client id, each with when it was read.
struct Kept<V>(RwLock<HashMap<String, (V, Instant)>>);

impl<V> Default for Kept<V> {
    fn default() -> Self {
        Self(RwLock::default())
    }
}

impl<V: Clone> Kept<V> {
    /// The value for `client_id` if it was read less than `ttl` ago.
    fn fresh(&self, client_id: &str, ttl: Duration) -> Option<V> {
        // A poisoned lock only means a panic between two map operations: the map is whole.
        let entries = self.0.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(client_id)
            .filter(|(_, read_at)| read_at.elapsed() < ttl)
            .map(|(v, _)| v.clone())
    }

    /// Keeps `value` for `client_id` (`None`: forgets it), within [`CACHE_CAPACITY`].
    fn keep(&self, client_id: &str, value: Option<V>, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let mut entries = self.0.write().unwrap_or_else(|e| e.into_inner());
        let Some(value) = value else {
            entries.remove(client_id);
            return;
        };
        if entries.len() >= CACHE_CAPACITY {
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(client_id.to_owned(), (value, Instant::now()));
    }
}

impl ClientCache {
    /// A cache keeping each registration `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            clients: Arc::default(),
            links: Arc::default(),
        }
    }

    /// The client with this id, from the cache when fresh enough.
    pub async fn get(&self, db: &Db, client_id: &str) -> Result<Option<Client>, sqlx::Error> {
        if let Some(client) = self.clients.fresh(client_id, self.ttl) {
            return Ok(Some(client));
        }
        let client = client_by_id(db, client_id).await?;
        self.clients.keep(client_id, client.clone(), self.ttl);
        Ok(client)
    }

    /// The link of the registered client `client_id` to its service, from the cache when
    /// fresh enough (callers ask for clients they found registered, so made-up ids do not
    /// fill it).
    pub async fn link(&self, db: &Db, client_id: &str) -> Result<Option<ClientLink>, sqlx::Error> {
        if let Some(link) = self.links.fresh(client_id, self.ttl) {
            return Ok(link);
        }
        let link = services::of_client(db, client_id).await?;
        self.links.keep(client_id, Some(link.clone()), self.ttl);
        Ok(link)
    }
}

/// The client with this id.
pub async fn client_by_id(db: &Db, client_id: &str) -> Result<Option<Client>, sqlx::Error> {
    client_by_id_in(&mut *db.pool.acquire().await?, client_id).await
}

/// The client with this id, read on `conn` (an action's transaction).
pub async fn client_by_id_in(
    conn: &mut sqlx::AnyConnection,
    client_id: &str,
) -> Result<Option<Client>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM clients WHERE client_id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(client_id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Every client, by id.
pub async fn all_clients(db: &Db) -> Result<Vec<Client>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM clients ORDER BY client_id");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

fn to_json(v: &[String]) -> String {
    serde_json::to_string(v).expect("string lists serialise")
}

/// Registers a client; returns its secret (shown once) for secret methods. Without an audit
/// event: for tests and seeding; operators go through `oidc::actions::client_create`.
pub async fn insert_client(
    db: &Db,
    reg: &ClientRegistration,
) -> Result<Result<Option<String>, RegistrationError>, sqlx::Error> {
    if let Err(e) = reg.validate() {
        return Ok(Err(e));
    }
    let mut tx = db.begin().await?;
    let secret = insert_client_in(&mut tx, reg, now()).await?;
    tx.commit().await?;
    Ok(secret.ok_or_else(|| RegistrationError::Exists(reg.client_id.clone())))
}

/// Stores a validated registration at `at`: `Some(secret)` (shown once; `None` inside for a
/// method without secret), or `None` when the id is taken.
pub async fn insert_client_in(
    conn: &mut sqlx::AnyConnection,
    reg: &ClientRegistration,
    at: i64,
) -> Result<Option<Option<String>>, sqlx::Error> {
    let secret = reg
        .auth_method
        .uses_secret()
        .then(|| secrets::random_token(32));
    let query = sqlx::query(
        "INSERT INTO clients (client_id, name, auth_method, redirect_uris, post_logout_redirect_uris, grant_types, scopes, id_token_alg, jwks, skip_consent, backchannel_logout_uri, backchannel_logout_session_required, require_mfa, require_pkce, introspects, forwards_end_user_ip, secret_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18) ON CONFLICT (client_id) DO NOTHING",
    );
    let result = bind_registration(query, reg)
        .bind(secret.as_deref().map(secrets::hash))
        .bind(at)
        .execute(conn)
        .await?;
    Ok((result.rows_affected() == 1).then_some(secret))
}

/// Binds a registration's columns as `$1` to `$16`, in the order of the `clients` table that
/// [`insert_client_in`] and [`update_client_in`] both write: client_id, name, auth_method,
/// redirect_uris, post_logout_redirect_uris, grant_types, scopes, id_token_alg, jwks,
/// skip_consent, backchannel_logout_uri, backchannel_logout_session_required, require_mfa,
/// require_pkce, introspects, forwards_end_user_ip.
fn bind_registration<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    reg: &'q ClientRegistration,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    query
        .bind(&reg.client_id)
        .bind(&reg.name)
        .bind(reg.auth_method.as_str())
        .bind(to_json(&reg.redirect_uris))
        .bind(to_json(&reg.post_logout_redirect_uris))
        .bind(to_json(&reg.grant_types))
        .bind(to_json(&reg.scopes))
        .bind(reg.id_token_alg.as_str())
        .bind(reg.jwks.as_ref().map(|j| j.to_string()))
        .bind(i64::from(reg.skip_consent))
        .bind(reg.backchannel_logout_uri.as_deref())
        .bind(i64::from(reg.backchannel_logout_session_required))
        .bind(i64::from(reg.require_mfa))
        .bind(i64::from(reg.require_pkce))
        .bind(to_json(&reg.introspects))
        .bind(i64::from(reg.forwards_end_user_ip))
}

/// Replaces a validated registration (not its secret) at `at`. `false` when there is no such
/// client.
pub async fn update_client_in(
    conn: &mut sqlx::AnyConnection,
    reg: &ClientRegistration,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let query = sqlx::query(
        "UPDATE clients SET name = $2, auth_method = $3, redirect_uris = $4, post_logout_redirect_uris = $5, grant_types = $6, scopes = $7, id_token_alg = $8, jwks = $9, skip_consent = $10, backchannel_logout_uri = $11, backchannel_logout_session_required = $12, require_mfa = $13, require_pkce = $14, introspects = $15, forwards_end_user_ip = $16, updated_at = $17 WHERE client_id = $1",
    );
    let result = bind_registration(query, reg).bind(at).execute(conn).await?;
    Ok(result.rows_affected() == 1)
}

/// Gives a secret client a new secret (returned once) at `at`; `None` if no such secret client.
pub async fn rotate_secret_in(
    conn: &mut sqlx::AnyConnection,
    client_id: &str,
    at: i64,
) -> Result<Option<String>, sqlx::Error> {
    let secret = secrets::random_token(32);
    let result = sqlx::query("UPDATE clients SET secret_hash = $1, updated_at = $2 WHERE client_id = $3 AND auth_method IN ('client_secret_basic', 'client_secret_post')")
        .bind(secrets::hash(&secret))
        .bind(at)
        .bind(client_id)
        .execute(conn)
        .await?;
    Ok((result.rows_affected() == 1).then_some(secret))
}

/// Deletes a client and, by cascade, its consents and grants. Its access tokens are refused
/// from then on (their client is gone, or registered again after they were issued). `false`
/// if there was none. Without an audit event: for tests; operators go through
/// `oidc::actions::client_delete`.
pub async fn delete_client(db: &Db, client_id: &str) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let deleted = delete_client_in(&mut tx, client_id).await?;
    tx.commit().await?;
    Ok(deleted)
}

/// [`delete_client`] on an action's connection.
pub async fn delete_client_in(
    conn: &mut sqlx::AnyConnection,
    client_id: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("DELETE FROM clients WHERE client_id = $1")
        .bind(client_id)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}
