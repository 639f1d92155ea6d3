//! Rate limits counted in the shared store, so they hold across nodes.

use std::time::Duration;

use crate::{
    secrets,
    store::{Ephemeral, ephemeral::EphemeralError},
};

/// A limit was reached: retry after this long.
#[derive(Debug, Clone, Copy)]
pub struct LimitReached {
    /// Time left in the window.
    pub retry_after: Duration,
}

/// Counts one attempt in `bucket` for `subject` (hashed: no address or e-mail in the store)
/// and refuses past `max` in `window`.
pub async fn hit(
    store: &Ephemeral,
    bucket: &str,
    subject: &str,
    max: u64,
    window: Duration,
) -> Result<Result<(), LimitReached>, EphemeralError> {
    let key = format!("rl:{bucket}:{}", secrets::hash(subject));
    let (count, left) = store.hit(&key, window).await?;
    Ok(if count > max {
        crate::metrics::rate_limited(bucket);
        Err(LimitReached { retry_after: left })
    } else {
        Ok(())
    })
}

/// "3 minutes", "45 secondes": a wait time for a French message.
pub fn french_duration(d: Duration) -> String {
    let s = d.as_secs().max(1);
    if s >= 120 {
        format!("{} minutes", s.div_ceil(60))
    } else if s >= 60 {
        "1 minute".to_owned()
    } else if s == 1 {
        "1 seconde".to_owned()
    } else {
        format!("{s} secondes")
    }
}
