//! The id of an account.

use std::fmt;

/// An account's id: opaque and stable, the OIDC `sub`. Made by [`UserId::generate`] or read
/// back from storage; storage functions take it rather than a bare string, so a client id or
/// an e-mail address cannot be passed where an account is meant.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// A new random id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// An id as stored, or as it arrives in a token's `sub` or a page's URL. Not a check that
    /// the account exists: a look-up answers that.
    pub fn from_stored(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for UserId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
