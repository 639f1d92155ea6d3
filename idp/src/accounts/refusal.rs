//! Why an accounts action says no: one typed refusal for the domain (its French message on
//! pages, its [`Refusal::code`] as the JSON `error` and as the audit's `reason`).

use crate::action::{Refusal, RefusalKind};

/// A refusal of an accounts action.
#[derive(Debug, thiserror::Error)]
pub enum AccountRefusal {
    /// Another account has the address (it got one since the code was sent).
    #[error(
        "Un compte EFP Connect existe déjà pour cette adresse e-mail. Connectez-vous ou réinitialisez votre mot de passe."
    )]
    EmailTaken,
    /// The CGU accepted are no longer the current version.
    #[error(
        "Une nouvelle version des conditions générales d'utilisation vient d'être publiée : veuillez la lire et l'accepter."
    )]
    CguOutdated,
    /// A document to publish needs a title and a text.
    #[error("Le titre et le texte sont obligatoires.")]
    EmptyDocument,
    /// The upstream subject is already linked to an account.
    #[error("Cette identité d'agent est déjà rattachée à un compte EFP Connect.")]
    AlreadyLinked,
    /// Storage failed.
    #[error("base de données : {0}")]
    Storage(#[from] sqlx::Error),
}

impl Refusal for AccountRefusal {
    fn code(&self) -> &'static str {
        match self {
            Self::EmailTaken => "email_taken",
            Self::CguOutdated => "cgu_outdated",
            Self::EmptyDocument => "empty_document",
            Self::AlreadyLinked => "already_linked",
            Self::Storage(_) => "server_error",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::EmailTaken | Self::CguOutdated | Self::AlreadyLinked => RefusalKind::Conflict,
            Self::EmptyDocument => RefusalKind::Invalid,
            Self::Storage(_) => RefusalKind::Internal,
        }
    }
}

impl From<AccountRefusal> for crate::error::PageError {
    fn from(refusal: AccountRefusal) -> Self {
        Self::refused(&refusal)
    }
}
