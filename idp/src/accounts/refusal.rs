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
    /// The account is disabled (by an operator): no login, no token.
    #[error(
        "Ce compte est désactivé. Pour en connaître la raison ou le faire réactiver, contactez l'assistance."
    )]
    Disabled,
    /// An administrative action names no account.
    #[error("Aucun compte ne correspond.")]
    NoSuchAccount,
    /// Disabling an account that is.
    #[error("Ce compte est déjà désactivé.")]
    AlreadyDisabled,
    /// Enabling an account that is not disabled.
    #[error("Ce compte n'est pas désactivé.")]
    NotDisabled,
    /// An administrative action that would change nothing (the message says why).
    #[error("{0}")]
    Unchanged(&'static str),
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
            Self::Disabled => "account_disabled",
            Self::NoSuchAccount => "not_found",
            Self::AlreadyDisabled => "already_disabled",
            Self::NotDisabled => "not_disabled",
            Self::Unchanged(_) => "unchanged",
            Self::Storage(_) => "server_error",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::EmailTaken
            | Self::CguOutdated
            | Self::AlreadyLinked
            | Self::AlreadyDisabled
            | Self::NotDisabled
            | Self::Unchanged(_) => RefusalKind::Conflict,
            Self::Disabled => RefusalKind::Forbidden,
            Self::NoSuchAccount => RefusalKind::NotFound,
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
