//! Rate limits counted in the shared store, so they hold across nodes, and the `Retry-After`
//! every refusal (429) carries.

use std::time::Duration;

use axum::{
    http::{HeaderValue, header},
    response::Response,
};

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

/// The store key of `bucket`'s counter for `subject` (hashed: no address or e-mail in the
/// store).
pub fn key(bucket: &str, subject: &str) -> String {
    format!("rl:{bucket}:{}", secrets::hash(subject))
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
    let (count, left) = store.hit(&key(bucket, subject), window).await?;
    Ok(if count > max {
        crate::metrics::rate_limited(bucket);
        Err(LimitReached { retry_after: left })
    } else {
        Ok(())
    })
}

/// The wait a 429 announces when the code that refused did not say how long its window has
/// left (the security-headers layer adds it): a client that backs off this long retries after
/// most of the provider's windows have moved on, and no 429 goes out without `Retry-After`.
pub const RETRY_AFTER_FALLBACK: Duration = Duration::from_secs(60);

/// `response` with `Retry-After: <seconds>` (RFC 9110 §10.2.3), rounded up, at least 1: a
/// client retrying then finds the window over.
pub fn with_retry_after(mut response: Response, wait: Duration) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, retry_after_value(wait));
    response
}

/// The `Retry-After` value for `wait`.
pub fn retry_after_value(wait: Duration) -> HeaderValue {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(seconds.max(1))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_value(Duration::from_millis(1)), "1");
        assert_eq!(retry_after_value(Duration::ZERO), "1");
        assert_eq!(retry_after_value(Duration::from_millis(89_001)), "90");
        assert_eq!(retry_after_value(Duration::from_secs(900)), "900");
    }
}
