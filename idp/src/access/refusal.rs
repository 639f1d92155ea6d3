//! Why an access action says no: one typed refusal for the whole domain, so the page, the JSON
//! API and the CLI give the same refusal for the same rule (its French message on pages, its
//! [`Refusal::code`] as the JSON `error` and as the audit's `reason`).

use crate::action::{Refusal, RefusalKind};

/// What new access a closed establishment was about to receive: the message names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewAccess {
    /// A Responsable des accès (activation code redeemed, request for access).
    Access,
    /// A habilitation.
    Habilitation,
    /// An activation code.
    Code,
}

/// A refusal of an access action.
#[derive(Debug, thiserror::Error)]
pub enum AccessRefusal {
    /// The register has the establishment closed.
    #[error("Cet établissement est fermé dans le répertoire SIRENE : il ne peut pas recevoir {}.", match .0 {
        NewAccess::Access => "de nouvel accès",
        NewAccess::Habilitation => "de nouvelle habilitation",
        NewAccess::Code => "de code d'activation",
    })]
    ClosedEstablishment(NewAccess),
    /// Service administration (`idp services …`) refused.
    #[error(transparent)]
    Service(#[from] ServiceRefusal),
    /// Storage failed.
    #[error("base de données : {0}")]
    Storage(#[from] sqlx::Error),
}

impl Refusal for AccessRefusal {
    fn code(&self) -> &'static str {
        match self {
            Self::ClosedEstablishment(_) => "closed_establishment",
            Self::Service(r) => r.code(),
            Self::Storage(_) => "server_error",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::ClosedEstablishment(_) => RefusalKind::Conflict,
            Self::Service(r) => r.kind(),
            Self::Storage(_) => RefusalKind::Internal,
        }
    }
}

// --- Service administration (helper "platform") ---

/// Why a service administration action says no.
#[derive(Debug, thiserror::Error)]
pub enum ServiceRefusal {
    /// A service or role code that is not lower-case letters, digits and `_`.
    #[error("code invalide « {0} » : lettres minuscules, chiffres et _ (40 au plus)")]
    InvalidCode(String),
    /// An empty label.
    #[error("le libellé (--label) ne peut pas être vide")]
    EmptyLabel,
    /// A home page that is not a URL.
    #[error("page d'accueil (--home-url) invalide : {0}")]
    InvalidHomeUrl(String),
    /// A document without title or text.
    #[error("le titre et le texte ne peuvent pas être vides")]
    EmptyDocument,
    /// No such service.
    #[error("introuvable : service {0}")]
    UnknownService(String),
    /// No such OIDC client.
    #[error("introuvable : client {0}")]
    UnknownClient(String),
}

impl Refusal for ServiceRefusal {
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidCode(_) => "invalid_code_name",
            Self::EmptyLabel => "empty_label",
            Self::InvalidHomeUrl(_) => "invalid_home_url",
            Self::EmptyDocument => "empty_document",
            Self::UnknownService(_) => "unknown_service",
            Self::UnknownClient(_) => "unknown_client",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::UnknownService(_) | Self::UnknownClient(_) => RefusalKind::NotFound,
            _ => RefusalKind::Invalid,
        }
    }
}
