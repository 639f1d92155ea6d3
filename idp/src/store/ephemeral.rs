//! The short-lived shared store: browser sessions, authorization codes, pending authorization
//! requests, rate-limit counters, replay guards and the scheduler's lease.
//!
//! Two implementations behind one small interface: in-process (a single node, the embedded
//! default) and Redis (any number of nodes). Values are strings (JSON where structured); every
//! entry has a lifetime, so nothing here outlives its purpose.
//!
//! Redis is reached directly (`redis_url`, plain or TLS) or through Sentinel (`redis.sentinels`):
//! then the node asks the sentinels for the master and asks again when the master stops
//! answering or turns read-only, so a failover costs the requests of its window and no more
//! (docs/cluster.md, « Redis Sentinel »).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use redis::{
    Client, ConnectionAddr, ErrorKind, FromRedisValue, IntoConnectionInfo, RedisError, RedisResult,
    ServerErrorKind, TlsMode,
    aio::{ConnectionManager, ConnectionManagerConfig},
    sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType},
};

use crate::config::RedisConfig;

/// A failure of the shared store (Redis unreachable, mostly).
#[derive(Debug, thiserror::Error)]
#[error("stockage éphémère indisponible : {0}")]
pub struct EphemeralError(#[from] redis::RedisError);

/// The short-lived store, in-process or Redis.
#[derive(Clone)]
pub enum Ephemeral {
    /// In this process: lost on restart, invisible to other nodes.
    Memory(Arc<MemoryStore>),
    /// Redis, shared by every node; every key starts with the prefix.
    Redis(RedisStore, Arc<str>),
}

/// The in-process implementation.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, (String, Instant)>>,
}

impl MemoryStore {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, (String, Instant)>, Instant) -> R) -> R {
        let now = Instant::now();
        // A poisoned lock only means another request panicked mid-update of a cache entry:
        // the map itself is still consistent.
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Expired entries are swept when the map grows, so memory stays bounded by live data.
        if map.len() >= 4096 && map.len().is_power_of_two() {
            map.retain(|_, (_, expires)| *expires > now);
        }
        f(&mut map, now)
    }
}

fn live<'a>(
    map: &'a mut HashMap<String, (String, Instant)>,
    key: &str,
    now: Instant,
) -> Option<&'a mut (String, Instant)> {
    match map.get(key) {
        Some((_, expires)) if *expires <= now => {
            map.remove(key);
            None
        }
        _ => map.get_mut(key),
    }
}

impl Ephemeral {
    /// The in-process store.
    pub fn memory() -> Self {
        Self::Memory(Arc::new(MemoryStore::default()))
    }

    /// The store the configuration names: Redis (`redis_url`, or `redis.sentinels`), or this
    /// process's memory.
    pub async fn from_config(config: &crate::config::Config) -> Result<Self, EphemeralError> {
        let url = config.redis_url.as_deref().filter(|u| !u.is_empty());
        if url.is_some() || !config.redis.sentinels.is_empty() {
            Self::redis(url, &config.redis, &config.redis_key_prefix).await
        } else {
            Ok(Self::memory())
        }
    }

    /// Connects to Redis (`url`, or the master the sentinels of `redis` name) and checks it
    /// answers. `prefix` starts every key, so that several deployments (or test runs) can share
    /// one Redis.
    pub async fn redis(
        url: Option<&str>,
        redis: &RedisConfig,
        prefix: &str,
    ) -> Result<Self, EphemeralError> {
        let store = RedisStore::connect(url, redis).await?;
        let _: String = store.query(&redis::cmd("PING")).await?;
        Ok(Self::Redis(store, prefix.into()))
    }

    /// Stores `value` under `key` for `ttl`, replacing any previous value.
    pub async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), EphemeralError> {
        match self {
            Self::Memory(m) => {
                m.with(|map, now| map.insert(key.to_owned(), (value.to_owned(), now + ttl)));
                Ok(())
            }
            Self::Redis(r, p) => {
                let _: () = r
                    .query(
                        redis::cmd("SET")
                            .arg(format!("{p}{key}"))
                            .arg(value)
                            .arg("EX")
                            .arg(ttl.as_secs().max(1)),
                    )
                    .await?;
                Ok(())
            }
        }
    }

    /// Stores `value` under `key` for `ttl` only if the key is free; `true` when stored.
    pub async fn put_if_absent(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, EphemeralError> {
        match self {
            Self::Memory(m) => Ok(m.with(|map, now| {
                if live(map, key, now).is_some() {
                    false
                } else {
                    map.insert(key.to_owned(), (value.to_owned(), now + ttl));
                    true
                }
            })),
            Self::Redis(r, p) => {
                let stored: Option<String> = r
                    .query(
                        redis::cmd("SET")
                            .arg(format!("{p}{key}"))
                            .arg(value)
                            .arg("NX")
                            .arg("PX")
                            .arg(ttl.as_millis().max(1) as u64),
                    )
                    .await?;
                Ok(stored.is_some())
            }
        }
    }

    /// The value under `key`, if any and not expired.
    pub async fn get(&self, key: &str) -> Result<Option<String>, EphemeralError> {
        match self {
            Self::Memory(m) => Ok(m.with(|map, now| live(map, key, now).map(|(v, _)| v.clone()))),
            Self::Redis(r, p) => Ok(r.query(redis::cmd("GET").arg(format!("{p}{key}"))).await?),
        }
    }

    /// Removes and returns the value under `key` in one step: of two concurrent callers, at
    /// most one gets it. This is what makes codes single use across nodes.
    pub async fn take(&self, key: &str) -> Result<Option<String>, EphemeralError> {
        match self {
            Self::Memory(m) => Ok(m.with(|map, now| {
                let value = live(map, key, now).map(|(v, _)| v.clone());
                map.remove(key);
                value
            })),
            Self::Redis(r, p) => Ok(r
                .query(redis::cmd("GETDEL").arg(format!("{p}{key}")))
                .await?),
        }
    }

    /// [`Self::take`], and keeps what was taken under `kept` for `ttl`, in one step (one Redis
    /// round trip): an authorization code is taken and remembered as spent at once, so that a
    /// second presentation finds what the first one produced (RFC 6749 §4.1.2) and a crash in
    /// between cannot lose the memory of it.
    pub async fn take_and_keep(
        &self,
        key: &str,
        kept: &str,
        ttl: Duration,
    ) -> Result<Option<String>, EphemeralError> {
        match self {
            Self::Memory(m) => Ok(m.with(|map, now| {
                let value = live(map, key, now).map(|(v, _)| v.clone());
                map.remove(key);
                if let Some(v) = &value {
                    map.insert(kept.to_owned(), (v.clone(), now + ttl));
                }
                value
            })),
            Self::Redis(r, p) => {
                let (key, kept) = (format!("{p}{key}"), format!("{p}{kept}"));
                // No script: COPY (Redis 6.2, as GETDEL) copies nothing when the key is gone,
                // and MULTI makes the three one step for every other client.
                let (value,): (Option<String>,) = r
                    .query(
                        redis::pipe()
                            .atomic()
                            .cmd("COPY")
                            .arg(&key)
                            .arg(&kept)
                            .ignore()
                            .cmd("PEXPIRE")
                            .arg(&kept)
                            .arg(ttl.as_millis().max(1) as u64)
                            .ignore()
                            .cmd("GETDEL")
                            .arg(&key),
                    )
                    .await?;
                Ok(value)
            }
        }
    }

    /// Deletes `key`.
    pub async fn delete(&self, key: &str) -> Result<(), EphemeralError> {
        match self {
            Self::Memory(m) => {
                m.with(|map, _| map.remove(key));
                Ok(())
            }
            Self::Redis(r, p) => {
                let _: () = r.query(redis::cmd("DEL").arg(format!("{p}{key}"))).await?;
                Ok(())
            }
        }
    }

    /// Adds one to the counter under `key`, which starts a `window` on its first hit, and
    /// returns the new count and the time left in the window.
    pub async fn hit(
        &self,
        key: &str,
        window: Duration,
    ) -> Result<(u64, Duration), EphemeralError> {
        match self {
            Self::Memory(m) => Ok(m.with(|map, now| {
                let entry = match live(map, key, now) {
                    Some(entry) => entry,
                    None => {
                        map.insert(key.to_owned(), ("0".to_owned(), now + window));
                        map.get_mut(key).expect("just inserted")
                    }
                };
                let count = entry.0.parse::<u64>().unwrap_or(0) + 1;
                entry.0 = count.to_string();
                (count, entry.1.saturating_duration_since(now))
            })),
            Self::Redis(r, p) => {
                let key = format!("{p}{key}");
                let (count, ttl_ms): (u64, i64) = r
                    .query(
                        redis::pipe()
                            .atomic()
                            .cmd("SET")
                            .arg(&key)
                            .arg(0)
                            .arg("NX")
                            .arg("PX")
                            .arg(window.as_millis().max(1) as u64)
                            .ignore()
                            .incr(&key, 1)
                            .pttl(&key),
                    )
                    .await?;
                Ok((count, Duration::from_millis(ttl_ms.max(0) as u64)))
            }
        }
    }

    /// `Ok` when the store answers.
    pub async fn ping(&self) -> Result<(), EphemeralError> {
        match self {
            Self::Memory(_) => Ok(()),
            Self::Redis(r, _) => {
                let _: String = r.query(&redis::cmd("PING")).await?;
                Ok(())
            }
        }
    }

    /// `true` when entries are visible to every node.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Redis(..))
    }
}

/// Redis, reached directly or through Sentinel. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore(Arc<RedisShared>);

struct RedisShared {
    current: RwLock<Master>,
    /// Present with Sentinel: asked again for the master when it stops answering. The lock
    /// makes nodes' requests wait for one lookup instead of each making its own.
    sentinel: Option<tokio::sync::Mutex<SentinelClient>>,
}

/// The connection in use, and how many times the store moved to another master.
#[derive(Clone)]
struct Master {
    manager: ConnectionManager,
    address: String,
    moves: u64,
}

/// What the store sends: one command or one pipeline.
pub trait Query {
    /// Sends it on `connection`.
    fn send<T: FromRedisValue>(
        &self,
        connection: &mut ConnectionManager,
    ) -> impl std::future::Future<Output = RedisResult<T>> + Send;
}

impl Query for redis::Cmd {
    async fn send<T: FromRedisValue>(&self, connection: &mut ConnectionManager) -> RedisResult<T> {
        self.query_async(connection).await
    }
}

impl Query for redis::Pipeline {
    async fn send<T: FromRedisValue>(&self, connection: &mut ConnectionManager) -> RedisResult<T> {
        self.query_async(connection).await
    }
}

/// Longest wait for the sentinels to name a master that answers: a lookup happens while a
/// request waits, so it is bounded like a command.
const SENTINEL_LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

impl RedisStore {
    async fn connect(url: Option<&str>, redis: &RedisConfig) -> RedisResult<Self> {
        let certificates = tls_certificates(redis)?;
        let (manager, address, sentinel) = if redis.sentinels.is_empty() {
            let url = url.ok_or_else(|| invalid("redis_url ou redis.sentinels : l'un des deux"))?;
            let client = match &certificates {
                Some(certificates) => Client::build_with_tls(url, certificates.clone())?,
                None => Client::open(url)?,
            };
            let address = client.get_connection_info().addr().to_string();
            (manager_for(client).await?, address, None)
        } else {
            let mut sentinel = sentinel_client(url, redis, certificates)?;
            let client = master_of(&mut sentinel).await?;
            let address = client.get_connection_info().addr().to_string();
            (
                manager_for(client).await?,
                address,
                Some(tokio::sync::Mutex::new(sentinel)),
            )
        };
        Ok(Self(Arc::new(RedisShared {
            current: RwLock::new(Master {
                manager,
                address,
                moves: 0,
            }),
            sentinel,
        })))
    }

    fn master(&self) -> Master {
        // A poisoned lock means a panic between two plain assignments: the value is whole.
        self.0
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends `query`; with Sentinel, a failure that says the master is gone or demoted sends it
    /// once more to the master the sentinels name now, if that is another one.
    pub async fn query<T: FromRedisValue, Q: Query + ?Sized>(&self, query: &Q) -> RedisResult<T> {
        let master = self.master();
        let error = match query.send(&mut master.manager.clone()).await {
            Err(e) if self.0.sentinel.is_some() && master_lost(&e) => e,
            answer => return answer,
        };
        match self.follow_master(master.moves).await {
            Ok(Some(moved)) => query.send(&mut moved.manager.clone()).await,
            Ok(None) => Err(error),
            Err(lookup) => {
                tracing::warn!(error.message = %lookup, "redis: no master from the sentinels");
                Err(error)
            }
        }
    }

    /// Asks the sentinels for the master and moves to it when it is not the one in use.
    /// `Some` with the master to use when the store moved since `seen` (here or in a
    /// concurrent request), `None` when the sentinels still name the same one.
    async fn follow_master(&self, seen: u64) -> RedisResult<Option<Master>> {
        let Some(sentinel) = &self.0.sentinel else {
            return Ok(None);
        };
        let mut sentinel = sentinel.lock().await;
        let current = self.master();
        if current.moves != seen {
            return Ok(Some(current));
        }
        let client = master_of(&mut sentinel).await?;
        let address = client.get_connection_info().addr().to_string();
        if address == current.address {
            return Ok(None);
        }
        let moved = Master {
            manager: manager_for(client).await?,
            address,
            moves: current.moves + 1,
        };
        tracing::warn!(
            redis.from = %current.address,
            redis.to = %moved.address,
            "redis: the sentinels name a new master; moved to it"
        );
        *self.0.current.write().unwrap_or_else(|e| e.into_inner()) = moved.clone();
        Ok(Some(moved))
    }
}

/// Failures after which the master may be another one: no connection, or a replica's refusal
/// of a write (a demoted master).
fn master_lost(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly)
}

fn invalid(message: &'static str) -> RedisError {
    RedisError::from((ErrorKind::InvalidClientConfig, message))
}

/// The connection to one Redis server, with the store's retry and timeouts.
async fn manager_for(client: Client) -> RedisResult<ConnectionManager> {
    // Chosen, not the crate's defaults: those retry a lost connection six times with a
    // growing delay (about 9 s) inside every command, so a Redis outage made each page
    // wait that long before its error, and /readyz too; and their 500 ms response timeout
    // turned a busy machine into « Erreur technique ». One quick retry, then fail fast;
    // a generous timeout for an answer (measured by tests/cluster/faults.py).
    let config = ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(100))
        .set_max_delay(Duration::from_millis(500))
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    ConnectionManager::new_with_config(client, config).await
}

/// The master the sentinels name, checked (it answers and says it is the master).
async fn master_of(sentinel: &mut SentinelClient) -> RedisResult<Client> {
    tokio::time::timeout(SENTINEL_LOOKUP_TIMEOUT, sentinel.async_get_client())
        .await
        .map_err(|_| {
            RedisError::from((
                ErrorKind::Io,
                "sentinels: no master within the lookup timeout",
            ))
        })?
}

/// The CA and client certificate of `redis`, read once at start-up.
fn tls_certificates(redis: &RedisConfig) -> RedisResult<Option<redis::TlsCertificates>> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            RedisError::from((
                ErrorKind::InvalidClientConfig,
                "redis: certificate file unreadable",
                format!("{}: {e}", path.display()),
            ))
        })
    };
    let root_cert = redis.ca_file.as_deref().map(read).transpose()?;
    let client_tls = match (&redis.client_cert_file, &redis.client_key_file) {
        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
            client_cert: read(cert)?,
            client_key: read(key)?,
        }),
        (None, None) => None,
        _ => {
            return Err(invalid(
                "redis.client_cert_file et redis.client_key_file : les deux ou aucun",
            ));
        }
    };
    Ok(
        (root_cert.is_some() || client_tls.is_some()).then_some(redis::TlsCertificates {
            client_tls,
            root_cert,
        }),
    )
}

/// The Sentinel client of `redis`. The master is reached like `url` says (scheme, user,
/// password, database; its host is ignored), or without it in TLS when the sentinels are.
fn sentinel_client(
    url: Option<&str>,
    redis: &RedisConfig,
    certificates: Option<redis::TlsCertificates>,
) -> RedisResult<SentinelClient> {
    if redis.sentinel_service.trim().is_empty() {
        return Err(invalid(
            "redis.sentinel_service : obligatoire avec redis.sentinels",
        ));
    }
    let sentinels = redis
        .sentinels
        .iter()
        .map(|s| s.as_str().into_connection_info())
        .collect::<RedisResult<Vec<_>>>()?;
    let tls = |addr: &ConnectionAddr| matches!(addr, ConnectionAddr::TcpTls { .. });
    let sentinels_tls = tls(sentinels[0].addr());
    if sentinels.iter().any(|s| tls(s.addr()) != sentinels_tls) {
        return Err(invalid(
            "redis.sentinels : toutes en rediss:// ou toutes en redis://",
        ));
    }
    let master = url.map(|u| u.into_connection_info()).transpose()?;
    let master_tls = master.as_ref().map_or(sentinels_tls, |m| tls(m.addr()));
    let mut builder = SentinelClientBuilder::new(
        sentinels.iter().map(|s| s.addr().clone()),
        redis.sentinel_service.trim(),
        SentinelServerType::Master,
    )?;
    let to_sentinels = sentinels[0].redis_settings();
    if let Some(user) = to_sentinels.username() {
        builder = builder.set_client_to_sentinel_username(user);
    }
    if let Some(password) = to_sentinels.password() {
        builder = builder.set_client_to_sentinel_password(password);
    }
    if let Some(master) = &master {
        let settings = master.redis_settings();
        if let Some(user) = settings.username() {
            builder = builder.set_client_to_redis_username(user);
        }
        if let Some(password) = settings.password() {
            builder = builder.set_client_to_redis_password(password);
        }
        builder = builder.set_client_to_redis_db(settings.db());
    }
    if let Some(certificates) = certificates {
        if sentinels_tls {
            builder = builder.set_client_to_sentinel_certificates(certificates.clone());
        }
        if master_tls {
            builder = builder.set_client_to_redis_certificates(certificates);
        }
    }
    if master_tls {
        builder = builder.set_client_to_redis_tls_mode(TlsMode::Secure);
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_value_is_gone_for_the_next_caller() {
        let store = Ephemeral::memory();
        store.put("k", "v", Duration::from_secs(5)).await.unwrap();
        assert_eq!(store.take("k").await.unwrap().as_deref(), Some("v"));
        assert_eq!(store.take("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_value_taken_and_kept_is_gone_and_kept() {
        let store = Ephemeral::memory();
        store.put("k", "v", Duration::from_secs(5)).await.unwrap();
        let ttl = Duration::from_secs(5);
        let taken = store.take_and_keep("k", "spent", ttl).await.unwrap();
        assert_eq!(taken.as_deref(), Some("v"));
        assert_eq!(store.take_and_keep("k", "spent", ttl).await.unwrap(), None);
        assert_eq!(store.get("spent").await.unwrap().as_deref(), Some("v"));
        assert_eq!(
            store.take_and_keep("none", "other", ttl).await.unwrap(),
            None
        );
        assert_eq!(store.get("other").await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_expired_value_is_not_returned() {
        let store = Ephemeral::memory();
        store.put("k", "v", Duration::from_millis(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(store.get("k").await.unwrap(), None);
        assert!(
            store
                .put_if_absent("k", "w", Duration::from_secs(5))
                .await
                .unwrap()
        );
        assert!(
            !store
                .put_if_absent("k", "x", Duration::from_secs(5))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn hits_count_within_their_window() {
        let store = Ephemeral::memory();
        assert_eq!(store.hit("c", Duration::from_secs(5)).await.unwrap().0, 1);
        assert_eq!(store.hit("c", Duration::from_secs(5)).await.unwrap().0, 2);
    }
}
