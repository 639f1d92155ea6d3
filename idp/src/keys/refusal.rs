//! Why a key action says no.

use super::{kek::KekError, keyset::KeyError, rules::KeyState};
use crate::action::{Refusal, RefusalKind};

/// A lifecycle operation that cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// Database failure.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// Key material failure.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Sealed key that does not open.
    #[error(transparent)]
    Kek(#[from] KekError),
    /// No such key.
    #[error("aucune clé « {0} »")]
    UnknownKey(String),
    /// The key is past the state the operation needs.
    #[error("la clé « {kid} » est déjà {state:?}")]
    WrongState {
        /// Key id.
        kid: String,
        /// Its state.
        state: KeyState,
    },
    /// Retiring would leave an algorithm without signer.
    #[error("la clé « {0} » est la seule à signer en {1} : lancez d'abord « idp keys rotate »")]
    LastSigner(String, &'static str),
}

impl Refusal for RotationError {
    fn code(&self) -> &'static str {
        match self {
            Self::Db(_) | Self::Key(_) | Self::Kek(_) => "server_error",
            Self::UnknownKey(_) => "unknown_key",
            Self::WrongState { .. } => "wrong_key_state",
            Self::LastSigner(..) => "last_signer",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::Db(_) | Self::Key(_) | Self::Kek(_) => RefusalKind::Internal,
            Self::UnknownKey(_) => RefusalKind::NotFound,
            Self::WrongState { .. } | Self::LastSigner(..) => RefusalKind::Conflict,
        }
    }
}
