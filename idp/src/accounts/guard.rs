//! Guessing an account's secrets (its password, its second factor) is bounded without handing
//! anyone the power to lock the account out (docs/accounts.md, « Login limits »).
//!
//! A blunt per-account counter let anyone who knows an address keep its owner out: ten wrong
//! passwords from anywhere, and nobody could log in for a quarter of an hour. Here tries are
//! counted per account **and** client address: a few are free, then each further try from that
//! address waits a delay that doubles up to a cap, and a right secret starts the count again.
//! One address thus guesses a dozen times an hour at most, and the owner, from their own
//! address, is not held back by it. What many addresses together may try is bounded by a
//! ceiling of failures per account (much higher than one person's typos): reaching it refuses
//! every try on the account until the window ends, and is recorded in the audit trail. That
//! ceiling is the one lockout left, the price of bounding a distributed guess; it takes
//! `login_failures_per_account` failures from several addresses, each slowed down as above.
//!
//! The counters are keyed by what was typed (the e-mail address for a password), never by
//! whether it names an account: an unknown address is counted, delayed and refused the same
//! way. They live in the shared store, so they hold across nodes.

use std::time::Duration;

use serde_json::json;

use crate::{
    AppState,
    error::PageError,
    secrets,
    store::{Ephemeral, ephemeral::EphemeralError},
    web::{client_ip::ClientIp, rate_limit::LimitReached},
};

/// One try of a secret of `account` from `ip`: [`Guard::check`] before checking it, then
/// [`Guard::failed`] or [`Guard::succeeded`].
pub(crate) struct Guard<'a> {
    state: &'a AppState,
    kind: &'static str,
    account: &'a str,
    /// The pair's key part (hashed: no address or e-mail in the store).
    pair: String,
    /// The account's key part.
    whole: String,
}

impl<'a> Guard<'a> {
    /// Tries of the secret `kind` (`login`: the password, `login-totp`: the second factor) of
    /// `account` (what identifies it: the typed e-mail, or the account's id) from `ip`.
    pub(crate) fn new(
        state: &'a AppState,
        kind: &'static str,
        account: &'a str,
        ip: &ClientIp,
    ) -> Self {
        Self {
            state,
            kind,
            account,
            pair: secrets::hash(&format!("{account}\n{}", ip.key())),
            whole: secrets::hash(account),
        }
    }

    fn key(&self, what: &str, subject: &str) -> String {
        format!("guard:{}:{what}:{subject}", self.kind)
    }

    /// Before the secret is checked: refused while the account is past its ceiling, or while
    /// this address waits out its delay for the account; otherwise the try is counted (before
    /// the check, so tries sent at once cannot all pass as the first).
    pub(crate) async fn check(&self) -> Result<(), PageError> {
        let limits = &self.state.config.limits;
        let store = &self.state.ephemeral;
        if let Some(until) = store.get(&self.key("ceiling", &self.whole)).await? {
            return Err(refused("login-account", &until).into());
        }
        let wait_key = self.key("wait", &self.pair);
        if let Some(until) = store.get(&wait_key).await? {
            return Err(refused("login-delay", &until).into());
        }
        let window = Duration::from_secs(limits.login_failures_window_seconds);
        let (tries, _) = store.hit(&self.key("tries", &self.pair), window).await?;
        if tries >= limits.login_free_failures {
            // From then on, one try per delay: the next one waits it out. Two tries racing
            // for the same turn: the one that does not claim it is refused.
            let delay = delay_after(tries, limits);
            let until = crate::store::now() + delay.as_secs() as i64;
            if !store
                .put_if_absent(&wait_key, &until.to_string(), delay)
                .await?
            {
                return Err(refused("login-delay", &until.to_string()).into());
            }
        }
        Ok(())
    }

    /// The secret was wrong: one more failure against the account's ceiling; reaching it closes
    /// the account to every try until the window ends, recorded once in the audit trail.
    pub(crate) async fn failed(&self) -> Result<(), PageError> {
        let limits = &self.state.config.limits;
        let store = &self.state.ephemeral;
        let window = Duration::from_secs(limits.login_failures_window_seconds);
        let (failures, left) = store
            .hit(&self.key("failures", &self.whole), window)
            .await?;
        if failures >= limits.login_failures_per_account {
            let until = crate::store::now() + left.as_secs().max(1) as i64;
            let closed = store
                .put_if_absent(
                    &self.key("ceiling", &self.whole),
                    &until.to_string(),
                    left.max(Duration::from_secs(1)),
                )
                .await?;
            if closed {
                tracing::warn!(
                    guard.kind = self.kind,
                    "an account's failures reached their ceiling: tries refused until the window ends"
                );
                crate::audit::record_alone(
                    &self.state.db,
                    self.state.clock.now(),
                    "system",
                    "account.guessing_ceiling",
                    self.account,
                    json!({ "secret": self.kind, "failures": failures, "until": until }),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// The secret was right: this address's tries on the account start again from none.
    pub(crate) async fn succeeded(&self) -> Result<(), PageError> {
        let store = &self.state.ephemeral;
        store.delete(&self.key("tries", &self.pair)).await?;
        store.delete(&self.key("wait", &self.pair)).await?;
        Ok(())
    }
}

/// The per-account limits of the other login steps ([`crate::accounts::count_account_attempt`]),
/// keyed by the account's id.
const ACCOUNT_STEP_LIMITS: [&str; 3] = ["login-passkey", "totp-enrol", "browser-code"];

/// An operator's unlock: the account's ceilings and failure counts go — its password's
/// (counted by its address `email`), its second factor's (by its id) — with the per-account
/// limits of its other login steps. The waits of single addresses cannot be found (their keys
/// hash the address with the account) and end by themselves, at most
/// `limits.login_max_delay_seconds` later. Returns how many counters were there.
pub async fn unlock(
    store: &Ephemeral,
    email: &str,
    user_id: &str,
) -> Result<usize, EphemeralError> {
    let mut keys = Vec::new();
    for (kind, account) in [("login", email), ("login-totp", user_id)] {
        for what in ["ceiling", "failures"] {
            keys.push(format!("guard:{kind}:{what}:{}", secrets::hash(account)));
        }
    }
    for bucket in ACCOUNT_STEP_LIMITS {
        keys.push(crate::web::rate_limit::key(bucket, user_id));
    }
    let mut found = 0;
    for key in keys {
        found += usize::from(store.take(&key).await?.is_some());
    }
    Ok(found)
}

/// The wait after the `tries`-th try of one address (from `login_free_failures` on): the first
/// delay, doubled at each further try, at most the cap.
fn delay_after(tries: u64, limits: &crate::config::LimitsConfig) -> Duration {
    let doublings = u32::try_from(tries - limits.login_free_failures)
        .unwrap_or(u32::MAX)
        .min(20);
    let seconds = limits
        .login_delay_seconds
        .saturating_mul(1 << doublings)
        .min(limits.login_max_delay_seconds)
        .max(1);
    Duration::from_secs(seconds)
}

/// A refusal until `until` (seconds, as stored), counted in the metrics under `bucket`.
fn refused(bucket: &str, until: &str) -> LimitReached {
    crate::metrics::rate_limited(bucket);
    let left = until.parse::<i64>().unwrap_or(0) - crate::store::now();
    LimitReached {
        retry_after: Duration::from_secs(left.max(1) as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LimitsConfig;

    #[test]
    fn delays_double_from_the_first_and_stop_at_the_cap() {
        let limits = LimitsConfig {
            login_free_failures: 5,
            login_delay_seconds: 30,
            login_max_delay_seconds: 900,
            ..LimitsConfig::default()
        };
        let delays: Vec<u64> = (5..=12)
            .map(|n| delay_after(n, &limits).as_secs())
            .collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(delay_after(u64::MAX, &limits).as_secs(), 900);
    }
}
