//! Revoked access tokens: which unexpired tokens must be refused although their signature,
//! issuer and expiry hold.
//!
//! Access tokens are not recorded when issued: recording each one cost a write per token and
//! a read per check, and the table only grew. What is recorded is the exception, in
//! `revoked_tokens`: a token's `jti` (revoked at `/revoke`) or a grant (refresh token reuse,
//! code replay, revocation of a refresh token, password change or reset, account deletion).
//! A deleted client's tokens are refused on another ground: the client is gone, or was
//! registered again after they were issued (`tokens::verify_access_token`).
//! A row is kept while a token it names can still be presented (`until`), so the list stays
//! as small as the revocations of one access-token lifetime.
//!
//! Each node keeps that list in memory and checks tokens against it without a round trip to
//! the database. Staleness is bounded:
//! - a revocation made on this node reloads the list before it returns;
//! - with Redis (several nodes), a revocation also writes a fresh random value under one key,
//!   and every check reads that key (one Redis round trip, no database): a value other than
//!   the one the list was loaded with reloads it first. The key is read before the database,
//!   so a list tagged with a value holds every revocation committed before that value was set.
//!   Checks made at once share one read ([`VersionReads`]): a check uses a read that *started*
//!   after the check did, never an older one, so it sees every revocation whose version was
//!   published before it began, as if it had read the key itself. When Redis cannot be read,
//!   the check asks the database directly;
//! - the list is reloaded at least every [`RELOAD_EVERY`], for revocations written by another
//!   process without Redis (the `idp` command line on an embedded database).
//!
//! The same version also tells the nodes that an account changed (its identity, address, agent
//! flag or standing: [`DenyList::changed`] after those commits too). Each loading of the list
//! has a [`Generation`]; a check says which one it went by, and what a node remembers of an
//! account under a generation ([`super::known_accounts`]) is exactly as fresh as the list.

use std::{
    collections::HashSet,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sqlx::Row;

use crate::{
    secrets,
    store::{Db, Ephemeral, now},
};

/// Longest a node goes without reloading the list.
pub const RELOAD_EVERY: Duration = Duration::from_secs(10);

/// The shared key whose value changes at every revocation.
const VERSION_KEY: &str = "revocations:version";

/// How long the version key lives (any value, even none, is a valid version).
const VERSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// What an access token is checked against.
#[derive(Debug, Clone, Copy)]
pub struct TokenRef<'a> {
    /// Its `jti`.
    pub jti: &'a str,
    /// Its grant (user tokens).
    pub grant: Option<&'a str>,
}

/// Key of a revoked token in `revoked_tokens`.
pub fn jti_key(jti: &str) -> String {
    format!("jti:{jti}")
}

/// Key of a revoked grant.
pub fn grant_key(grant: &str) -> String {
    format!("grant:{grant}")
}

/// One loading of a node's list: a check that went by it saw every revocation and account
/// change published before the check began (or, without Redis, made on this node, and those of
/// other processes up to [`RELOAD_EVERY`] before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

#[cfg(test)]
impl Generation {
    /// The generation numbered `n`, for other modules' tests.
    pub(crate) fn for_tests(n: u64) -> Self {
        Self(n)
    }
}

/// What a check found.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Whether the token is revoked.
    pub revoked: bool,
    /// The loading it went by; `None` when Redis could not be read and the database was asked.
    pub generation: Option<Generation>,
}

#[derive(Default)]
struct Snapshot {
    jtis: HashSet<String>,
    grants: HashSet<String>,
    /// The shared version this was loaded under (`None`: the key was absent or unused).
    version: Option<String>,
    loaded: Option<Instant>,
    generation: u64,
}

impl Snapshot {
    fn names(&self, token: TokenRef<'_>) -> bool {
        self.jtis.contains(token.jti) || token.grant.is_some_and(|g| self.grants.contains(g))
    }

    fn fresh(&self, version: Option<&Option<String>>) -> bool {
        self.loaded.is_some_and(|at| at.elapsed() < RELOAD_EVERY)
            && version.is_none_or(|v| *v == self.version)
    }
}

/// The in-memory list of revocations, shared by the handlers of one node.
#[derive(Clone, Default)]
pub struct DenyList {
    snapshot: Arc<RwLock<Arc<Snapshot>>>,
    // One reload at a time: a burst of checks after a revocation waits for one query.
    reloading: Arc<tokio::sync::Mutex<()>>,
    version_reads: Arc<VersionReads>,
    generations: Arc<AtomicU64>,
}

/// Reads of the shared version, shared by the checks that wait for one: under load, one Redis
/// round trip answers every check that arrived while the previous one was on its way, instead
/// of one per check. Reads are numbered as they start; a check takes the result of a read
/// numbered at least what the next read's number was when the check began.
#[derive(Default)]
struct VersionReads {
    state: std::sync::Mutex<Reads>,
    done: tokio::sync::Notify,
}

#[derive(Default)]
struct Reads {
    /// The number the next read will have.
    next: u64,
    /// Whether a read is on its way.
    in_flight: bool,
    /// The latest read to finish: its number and what it found (an error as text).
    last: Option<(u64, Result<Option<String>, String>)>,
}

/// Ends a read even when the check that made it is dropped midway (its client went away):
/// the checks waiting for it then start one of their own.
struct ReadTurn<'a>(&'a VersionReads);

impl Drop for ReadTurn<'_> {
    fn drop(&mut self) {
        self.0.lock().in_flight = false;
        self.0.done.notify_waiters();
    }
}

impl VersionReads {
    fn lock(&self) -> std::sync::MutexGuard<'_, Reads> {
        // A poisoned lock only means a panic between two field writes: the numbers hold.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The shared version as read by a read that started after this call did.
    async fn read(&self, ephemeral: &Ephemeral) -> Result<Option<String>, String> {
        self.read_with(|| async { ephemeral.get(VERSION_KEY).await.map_err(|e| e.to_string()) })
            .await
    }

    /// [`Self::read`], reading with `fetch`.
    async fn read_with<F, Fut>(&self, fetch: F) -> Result<Option<String>, String>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<String>, String>>,
    {
        let mine = self.lock().next;
        loop {
            // Registered before looking, so that a read ending in between still wakes us.
            let finished = self.done.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            let number = {
                let mut reads = self.lock();
                if let Some((n, found)) = &reads.last
                    && *n >= mine
                {
                    return found.clone();
                }
                if reads.in_flight {
                    None
                } else {
                    reads.in_flight = true;
                    reads.next += 1;
                    Some(reads.next - 1)
                }
            };
            let Some(number) = number else {
                finished.await;
                continue;
            };
            let turn = ReadTurn(self);
            let found = fetch().await;
            {
                let mut reads = self.lock();
                if reads.last.as_ref().is_none_or(|(n, _)| *n < number) {
                    reads.last = Some((number, found.clone()));
                }
            }
            drop(turn);
            return found;
        }
    }
}

impl DenyList {
    /// The list as the database holds it now.
    pub async fn load(db: &Db) -> Result<Self, sqlx::Error> {
        let list = Self::default();
        list.reload(db, None, true).await?;
        Ok(list)
    }

    fn current(&self) -> Arc<Snapshot> {
        // A poisoned lock only means a panic while swapping an Arc: the value is whole.
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn reload(
        &self,
        db: &Db,
        version: Option<Option<String>>,
        force: bool,
    ) -> Result<Arc<Snapshot>, sqlx::Error> {
        let _one = self.reloading.lock().await;
        let current = self.current();
        if !force && current.fresh(version.as_ref()) {
            return Ok(current);
        }
        let rows = sqlx::query("SELECT key FROM revoked_tokens WHERE until >= $1")
            .bind(now())
            .fetch_all(&db.pool)
            .await?;
        let mut next = Snapshot {
            version: version.unwrap_or_else(|| current.version.clone()),
            loaded: Some(Instant::now()),
            generation: self.generations.fetch_add(1, Ordering::Relaxed) + 1,
            ..Snapshot::default()
        };
        for row in rows {
            let key: String = row.try_get("key")?;
            if let Some(jti) = key.strip_prefix("jti:") {
                next.jtis.insert(jti.to_owned());
            } else if let Some(grant) = key.strip_prefix("grant:") {
                next.grants.insert(grant.to_owned());
            }
        }
        let next = Arc::new(next);
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = next.clone();
        Ok(next)
    }

    /// Whether `token` is revoked, and the loading of the list that said so.
    pub async fn check(
        &self,
        db: &Db,
        ephemeral: &Ephemeral,
        token: TokenRef<'_>,
    ) -> Result<Check, sqlx::Error> {
        let version = match ephemeral {
            Ephemeral::Memory(_) => None,
            Ephemeral::Redis(..) => match self.version_reads.read(ephemeral).await {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::warn!(error = %e, "revocation version unreadable: checking the database");
                    let revoked = revoked_in_db(db, token).await?;
                    return Ok(Check {
                        revoked,
                        generation: None,
                    });
                }
            },
        };
        let snapshot = self.current();
        let snapshot = if snapshot.fresh(version.as_ref()) {
            snapshot
        } else {
            self.reload(db, version, false).await?
        };
        Ok(Check {
            revoked: snapshot.names(token),
            generation: Some(Generation(snapshot.generation)),
        })
    }

    /// To call once revocations or changes of an account are committed: reloads this node's
    /// list and tells the others.
    pub async fn changed(&self, db: &Db, ephemeral: &Ephemeral) -> Result<(), sqlx::Error> {
        let version = match ephemeral {
            Ephemeral::Memory(_) => None,
            Ephemeral::Redis(..) => {
                let v = secrets::random_token(12);
                if let Err(e) = ephemeral.put(VERSION_KEY, &v, VERSION_TTL).await {
                    // The revocation is committed; other nodes see it at their next periodic
                    // reload, or at once if they cannot read Redis either (they ask the
                    // database).
                    tracing::warn!(error = %e, "revocation version not published");
                }
                Some(Some(v))
            }
        };
        self.reload(db, version, true).await?;
        Ok(())
    }
}

/// The slow path, when the shared version cannot be read.
async fn revoked_in_db(db: &Db, token: TokenRef<'_>) -> Result<bool, sqlx::Error> {
    let grant = token.grant.map(grant_key).unwrap_or_default();
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM revoked_tokens WHERE key IN ($1, $2) AND until >= $3",
    )
    .bind(jti_key(token.jti))
    .bind(grant)
    .bind(now())
    .fetch_one(&db.pool)
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// Removes rows no token can need any more.
pub async fn purge(db: &Db) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM revoked_tokens WHERE until < $1")
        .bind(now())
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            jtis: ["j1".to_owned()].into(),
            grants: ["g1".to_owned()].into(),
            version: Some("v1".into()),
            loaded: Some(Instant::now()),
            generation: 1,
        }
    }

    #[test]
    fn a_token_is_refused_by_its_jti_or_its_grant() {
        let s = snapshot();
        let ok = TokenRef {
            jti: "j2",
            grant: Some("g2"),
        };
        assert!(!s.names(ok));
        assert!(s.names(TokenRef { jti: "j1", ..ok }));
        assert!(s.names(TokenRef {
            grant: Some("g1"),
            ..ok
        }));
        assert!(!s.names(TokenRef { grant: None, ..ok }));
    }

    #[tokio::test]
    async fn a_version_read_is_never_one_that_started_before_the_check() {
        let store = Ephemeral::memory();
        let reads = VersionReads::default();
        let ttl = Duration::from_secs(60);
        store.put(VERSION_KEY, "v1", ttl).await.expect("put");
        assert_eq!(reads.read(&store).await, Ok(Some("v1".into())));
        store.put(VERSION_KEY, "v2", ttl).await.expect("put");
        // The read that found v1 is over: this check reads again.
        assert_eq!(reads.read(&store).await, Ok(Some("v2".into())));
    }

    #[tokio::test]
    async fn checks_made_at_once_share_a_read() {
        let reads = VersionReads::default();
        let fetched = std::sync::atomic::AtomicUsize::new(0);
        let fetch = || async {
            fetched.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // A round trip: the other checks come in meanwhile.
            tokio::task::yield_now().await;
            Ok(Some("v1".to_owned()))
        };
        let all = futures_util::future::join_all((0..50).map(|_| reads.read_with(fetch))).await;
        assert!(all.iter().all(|v| *v == Ok(Some("v1".into()))));
        // The first check reads alone; the 49 that came during its read share the next one.
        assert_eq!(fetched.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_check_whose_read_is_dropped_midway_does_not_hold_the_others() {
        let reads = VersionReads::default();
        let never = || std::future::pending::<Result<Option<String>, String>>();
        let dropped = tokio::time::timeout(Duration::from_millis(10), reads.read_with(never)).await;
        assert!(dropped.is_err());
        let found = reads
            .read_with(|| async { Ok(Some("v2".to_owned())) })
            .await;
        assert_eq!(found, Ok(Some("v2".into())));
    }

    #[test]
    fn another_shared_version_or_age_makes_the_list_stale() {
        let mut s = snapshot();
        assert!(s.fresh(None));
        assert!(s.fresh(Some(&Some("v1".into()))));
        assert!(!s.fresh(Some(&Some("v2".into()))));
        // The key vanished (Redis restarted empty): reload, the list may predate anything.
        assert!(!s.fresh(Some(&None)));
        s.loaded = Some(Instant::now() - RELOAD_EVERY);
        assert!(!s.fresh(None));
    }
}
