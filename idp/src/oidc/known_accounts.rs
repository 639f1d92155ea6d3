//! Accounts as userinfo shows them, remembered per node, so that a client calling userinfo at
//! every page costs no database read while nothing changed.
//!
//! An entry is an account and the live grant of one token (`sub`, `gid`), read under one
//! loading of the node's revocation list ([`Generation`]). It is used only by a check that went
//! by that same loading: every change of an account its claims show (identity, address, agent
//! flag, standing) and every revocation publishes a new version of the list
//! ([`super::denylist::DenyList::changed`]), the next check on any node loads the list again,
//! and entries of the previous loading are unknown from then on. So an answer from here is
//! never older than the list the token was checked against: with Redis, it holds every change
//! published before the request began; without it, every change made by this server, and those
//! of the command line within [`super::denylist::RELOAD_EVERY`]. The list is also reloaded
//! every `RELOAD_EVERY`, so an entry lives that long at most.
//!
//! The generation is taken before the account is read: an account read after a change but
//! kept under the previous generation is only newer than needed, never older.

use std::sync::Arc;

use super::{denylist::Generation, grants::LiveGrantClaims};
use crate::accounts::store::User;

/// Accounts remembered at most (≈1 KiB each).
pub const CAPACITY: usize = 16_384;

/// An account and the live grant of one of its tokens (`None`: the token names none, or its
/// grant is no longer live).
pub type AccountView = (User, Option<LiveGrantClaims>);

#[derive(Clone)]
struct Entry {
    generation: Generation,
    view: Arc<AccountView>,
}

/// The node's remembered accounts, keyed by `sub` and `gid`, bounded by [`CAPACITY`].
#[derive(Clone)]
pub struct KnownAccounts(Arc<quick_cache::sync::Cache<(String, String), Entry>>);

impl Default for KnownAccounts {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

fn key(user: &str, grant: Option<&str>) -> (String, String) {
    (user.to_owned(), grant.unwrap_or_default().to_owned())
}

impl KnownAccounts {
    /// At most `capacity` accounts.
    pub fn with_capacity(capacity: usize) -> Self {
        Self(Arc::new(quick_cache::sync::Cache::new(capacity.max(1))))
    }

    /// The account `user` and grant `grant` as read under `generation`, if they were.
    pub fn get(
        &self,
        user: &str,
        grant: Option<&str>,
        generation: Generation,
    ) -> Option<Arc<AccountView>> {
        let key = key(user, grant);
        let entry = self.0.get(&key)?;
        if entry.generation == generation {
            Some(entry.view)
        } else {
            self.0.remove(&key);
            None
        }
    }

    /// Remembers `view`, the account of a token naming `grant`, read after a check that went
    /// by `generation`. Its password hash is dropped: userinfo never needs it, and memory
    /// should not hold more copies than it must.
    pub fn insert(
        &self,
        grant: Option<&str>,
        generation: Generation,
        mut view: AccountView,
    ) -> Arc<AccountView> {
        view.0.password_hash = None;
        let key = key(&view.0.id, grant);
        let view = Arc::new(view);
        self.0.insert(
            key,
            Entry {
                generation,
                view: view.clone(),
            },
        );
        view
    }

    /// How many are remembered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::store::NewUser;

    fn view(id: &str, family_name: &str) -> AccountView {
        let user = User {
            id: id.into(),
            email: format!("{id}@centre.fr"),
            email_verified: true,
            password_hash: Some("$argon2id$…".into()),
            profile: NewUser {
                family_name: family_name.into(),
                ..NewUser::default()
            },
            updated_at: 0,
            standing: crate::accounts::standing::Standing {
                disabled_at: None,
                sessions_not_before: 0,
            },
            last_login_at: None,
        };
        (user, None)
    }

    #[test]
    fn an_account_is_known_only_under_the_generation_it_was_read_in() {
        let known = KnownAccounts::with_capacity(8);
        let (g1, g2) = (Generation::for_tests(1), Generation::for_tests(2));
        let kept = known.insert(Some("g"), g1, view("u", "Martin"));
        assert!(kept.0.password_hash.is_none(), "no password hash kept");
        let found = known.get("u", Some("g"), g1).expect("known");
        assert_eq!(found.0.family_name, "Martin");
        assert!(known.get("u", None, g1).is_none(), "another token's grant");
        assert!(known.get("v", Some("g"), g1).is_none(), "another account");
        assert!(known.get("u", Some("g"), g2).is_none(), "a later loading");
        assert!(known.is_empty(), "forgotten once a later loading came");
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let known = KnownAccounts::with_capacity(100);
        let g = Generation::for_tests(1);
        for i in 0..1000 {
            known.insert(None, g, view(&format!("u{i}"), "Martin"));
        }
        assert!(known.len() <= 100, "{} entries", known.len());
    }
}
