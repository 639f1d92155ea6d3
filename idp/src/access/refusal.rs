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
    /// The person has nothing in the manager's establishments for this service (no habilitation,
    /// manager right, pending request or invitation): not the manager's to see or change.
    #[error(
        "Cette personne n'a pas d'accès aux établissements dont vous êtes responsable des accès."
    )]
    NotManagedPerson,
    /// The manager asked for an establishment they do not manage for this service.
    #[error(
        "Vous n'êtes pas responsable des accès de cet établissement pour le service numérique {0}."
    )]
    NotManagerOf(String),
    /// The role is not one of the service's roles.
    #[error("Sélectionnez un rôle.")]
    UnknownRole,
    /// Only a person habilitated for the establishment may become its Responsable des accès.
    #[error(
        "Seule une personne habilitée pour cet établissement peut en devenir responsable des accès."
    )]
    NotHabilitatedThere,
    /// The person does not hold the Responsable des accès right being withdrawn.
    #[error("Cette personne n'est pas responsable des accès de cet établissement.")]
    NotHolder,
    /// Withdrawing the establishment's last Responsable des accès needs a confirmation.
    #[error(
        "Cette personne est le dernier responsable des accès de cet établissement : l'établissement n'en aurait plus. Confirmez le retrait pour continuer."
    )]
    LastManager,
    /// Storage failed.
    #[error("base de données : {0}")]
    Storage(#[from] sqlx::Error),
}

impl Refusal for AccessRefusal {
    fn code(&self) -> &'static str {
        match self {
            Self::ClosedEstablishment(_) => "closed_establishment",
            Self::NotManagedPerson => "not_managed_person",
            Self::NotManagerOf(_) => "not_manager",
            Self::UnknownRole => "unknown_role",
            Self::NotHabilitatedThere => "not_habilitated_there",
            Self::NotHolder => "not_holder",
            Self::LastManager => "last_manager",
            Self::Storage(_) => "server_error",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::ClosedEstablishment(_) => RefusalKind::Conflict,
            Self::NotManagedPerson | Self::NotManagerOf(_) => RefusalKind::Forbidden,
            Self::UnknownRole => RefusalKind::Invalid,
            Self::NotHabilitatedThere => RefusalKind::Forbidden,
            Self::NotHolder => RefusalKind::NotFound,
            Self::LastManager => RefusalKind::Conflict,
            Self::Storage(_) => RefusalKind::Internal,
        }
    }
}
