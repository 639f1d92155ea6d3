//! The short-lived shared store: browser sessions, authorization codes, pending authorization
//! requests, rate-limit counters, replay guards and the scheduler's lease.
//!
//! Two implementations behind one small interface: in-process (a single node, the embedded
//! default) and Redis (any number of nodes). Values are strings (JSON where structured); every
//! entry has a lifetime, so nothing here outlives its purpose.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use redis::{
    AsyncCommands,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

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
    Redis(ConnectionManager, Arc<str>),
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

    /// Connects to Redis and checks it answers. `prefix` starts every key, so that several
    /// deployments (or test runs) can share one Redis.
    pub async fn redis(url: &str, prefix: &str) -> Result<Self, EphemeralError> {
        let client = redis::Client::open(url)?;
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
        let mut manager = ConnectionManager::new_with_config(client, config).await?;
        let _: String = redis::cmd("PING").query_async(&mut manager).await?;
        Ok(Self::Redis(manager, prefix.into()))
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
                    .clone()
                    .set_ex(format!("{p}{key}"), value, ttl.as_secs().max(1))
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
                let stored: Option<String> = redis::cmd("SET")
                    .arg(format!("{p}{key}"))
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl.as_millis().max(1) as u64)
                    .query_async(&mut r.clone())
                    .await?;
                Ok(stored.is_some())
            }
        }
    }

    /// The value under `key`, if any and not expired.
    pub async fn get(&self, key: &str) -> Result<Option<String>, EphemeralError> {
        match self {
            Self::Memory(m) => Ok(m.with(|map, now| live(map, key, now).map(|(v, _)| v.clone()))),
            Self::Redis(r, p) => Ok(r.clone().get(format!("{p}{key}")).await?),
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
            Self::Redis(r, p) => Ok(r.clone().get_del(format!("{p}{key}")).await?),
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
                let _: () = r.clone().del(format!("{p}{key}")).await?;
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
                let (count, ttl_ms): (u64, i64) = redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg(&key)
                    .arg(0)
                    .arg("NX")
                    .arg("PX")
                    .arg(window.as_millis().max(1) as u64)
                    .ignore()
                    .incr(&key, 1)
                    .pttl(&key)
                    .query_async(&mut r.clone())
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
                let _: String = redis::cmd("PING").query_async(&mut r.clone()).await?;
                Ok(())
            }
        }
    }

    /// `true` when entries are visible to every node.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Redis(..))
    }
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
