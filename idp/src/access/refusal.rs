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
    // Activation codes.
    /// No code of that service is this one.
    #[error(
        "Ce code d'activation n'est pas valide. Vérifiez le code indiqué dans le courrier que vous avez reçu."
    )]
    UnknownCode,
    /// The code is for another establishment than the SIRET typed with it.
    #[error(
        "Ce code d'activation ne correspond pas au SIRET indiqué. Vérifiez le SIRET de l'établissement destinataire du courrier."
    )]
    WrongSiret,
    /// The code is past its expiry.
    #[error(
        "Ce code d'activation a expiré. Demandez un nouveau courrier d'activation à votre DREETS ou DDETS."
    )]
    ExpiredCode,
    /// The code was revoked or replaced by a newer one.
    #[error(
        "Ce code d'activation a été révoqué ou remplacé par un code plus récent. Utilisez le code du dernier courrier reçu."
    )]
    RevokedCode,
    /// Someone redeemed the code already.
    #[error(
        "Ce code d'activation a déjà été utilisé. Adressez-vous au responsable des accès de votre établissement ou demandez un nouveau code."
    )]
    UsedCode,
    /// A code is issued only for an establishment the register holds.
    #[error(
        "Aucun établissement du répertoire SIRENE ne porte ce SIRET : un code d'activation n'est édité que pour un établissement ouvert du répertoire."
    )]
    UnknownEstablishment,
    /// No code of this service has that id.
    #[error("Aucun code de ce service ne porte cet identifiant.")]
    NoSuchCode,
    /// The code was used or revoked already: nothing to revoke.
    #[error("Ce code a déjà été utilisé ou révoqué.")]
    NotRevocable,
    /// The service has no charte to accept.
    #[error("Ce service numérique n'a pas de charte du responsable des accès.")]
    NoCharte,
    // « Gérer les accès de mon entreprise ».
    /// The person does not manage that establishment for the service (its label).
    #[error(
        "Vous n'êtes pas responsable des accès de cet établissement pour le service numérique {0}."
    )]
    NotManager(String),
    /// The person acted upon has nothing in the manager's establishments.
    #[error(
        "Cette personne n'a pas d'accès aux établissements dont vous êtes responsable des accès."
    )]
    NotYourPerson,
    /// The role is not one of the service's.
    #[error("{}", if .0.is_empty() { "Sélectionnez un rôle.".to_owned() } else { format!("Sélectionnez un rôle : ce service numérique n'a pas de rôle « {} ».", .0) })]
    UnknownRole(String),
    /// No such habilitation (or none of this service).
    #[error("La page demandée n'existe pas.")]
    NoSuchHabilitation,
    /// Only a person habilitated for the establishment may become its Responsable des accès.
    #[error(
        "Seule une personne habilitée pour cet établissement peut en devenir responsable des accès."
    )]
    NotHabilitated,
    /// The person does not hold the right that was to be withdrawn.
    #[error("Cette personne n'est pas responsable des accès de cet établissement.")]
    NotAManager,
    /// Withdrawing the establishment's last Responsable des accès needs a confirmation.
    #[error(
        "Cette personne est le dernier responsable des accès de cet établissement : l'établissement n'en aurait plus. Confirmez le retrait pour continuer."
    )]
    LastManager,
    /// Too many attempts (address look-ups in the invitation wizard, requests for access).
    #[error("Trop de tentatives. Veuillez réessayer dans {}.", crate::web::rate_limit::french_duration(*.0))]
    TooManyAttempts(std::time::Duration),
    // Requests for access and invitations.
    /// The message to the Responsables des accès is too long (the limit).
    #[error("Le message ne doit pas dépasser {0} caractères.")]
    MessageTooLong(usize),
    /// The reason of a refusal given to the requester is too long (the limit).
    #[error("Le motif ne doit pas dépasser {0} caractères.")]
    ReasonTooLong(usize),
    /// « Terminer » an invitation without any habilitation.
    #[error("Ajoutez au moins une habilitation avant de terminer l'invitation.")]
    NoHabilitation,
    /// No pending request or invitation of this person, service and establishment.
    #[error("La page demandée n'existe pas.")]
    NoSuchRequest,
    /// « Relancer ma demande » before 30 days: the whole days left.
    #[error("Vous pourrez relancer la demande dans {days} jour{plural}.", days = .0, plural = if *.0 > 1 { "s" } else { "" })]
    RequestRelaunchTooEarly(i64),
    /// « Relancer l'invitation » before it expired: how long is left, in words.
    #[error("Vous pourrez relancer cette invitation dans {0}.")]
    InvitationRelaunchTooEarly(String),
    /// The invited person logged in already.
    #[error("Cette personne s'est déjà connectée : l'invitation n'est plus en attente.")]
    AlreadyConnected,
    /// The shared store (rate limits) failed.
    #[error("stockage partagé : {0}")]
    Unavailable(String),
    /// Storage failed.
    #[error("base de données : {0}")]
    Storage(#[from] sqlx::Error),
}

impl Refusal for AccessRefusal {
    fn code(&self) -> &'static str {
        match self {
            Self::ClosedEstablishment(_) => "closed_establishment",
            Self::Service(r) => r.code(),
            Self::UnknownCode => "invalid_code",
            Self::WrongSiret => "wrong_siret",
            Self::ExpiredCode => "expired_code",
            Self::RevokedCode => "revoked_code",
            Self::UsedCode => "used_code",
            Self::UnknownEstablishment => "unknown_establishment",
            Self::NoSuchCode => "not_found",
            Self::NotRevocable => "not_revocable",
            Self::NoCharte => "no_charte",
            Self::NotManager(_) => "not_manager",
            Self::NotYourPerson => "not_your_person",
            Self::UnknownRole(_) => "unknown_role",
            Self::NoSuchHabilitation => "not_found",
            Self::NotHabilitated => "not_habilitated",
            Self::NotAManager => "not_a_manager",
            Self::LastManager => "last_manager",
            Self::TooManyAttempts(_) => "too_many_requests",
            Self::MessageTooLong(_) => "message_too_long",
            Self::ReasonTooLong(_) => "reason_too_long",
            Self::NoHabilitation => "no_habilitation",
            Self::NoSuchRequest => "not_found",
            Self::RequestRelaunchTooEarly(_) | Self::InvitationRelaunchTooEarly(_) => "too_early",
            Self::AlreadyConnected => "already_connected",
            Self::Unavailable(_) | Self::Storage(_) => "server_error",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::Service(r) => r.kind(),
            Self::ClosedEstablishment(_) | Self::NotRevocable => RefusalKind::Conflict,
            Self::UnknownCode
            | Self::WrongSiret
            | Self::ExpiredCode
            | Self::RevokedCode
            | Self::UsedCode => RefusalKind::Invalid,
            Self::UnknownEstablishment
            | Self::NoSuchCode
            | Self::NoCharte
            | Self::NoSuchHabilitation
            | Self::NotAManager
            | Self::UnknownRole(_) => RefusalKind::NotFound,
            Self::NotManager(_) | Self::NotYourPerson | Self::NotHabilitated => {
                RefusalKind::Forbidden
            }
            Self::LastManager => RefusalKind::Conflict,
            Self::TooManyAttempts(_) => RefusalKind::TooMany,
            Self::MessageTooLong(_) | Self::ReasonTooLong(_) | Self::NoHabilitation => {
                RefusalKind::Invalid
            }
            Self::NoSuchRequest => RefusalKind::NotFound,
            Self::RequestRelaunchTooEarly(_)
            | Self::InvitationRelaunchTooEarly(_)
            | Self::AlreadyConnected => RefusalKind::Invalid,
            Self::Unavailable(_) => RefusalKind::Internal,
            Self::Storage(_) => RefusalKind::Internal,
        }
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::TooManyAttempts(wait) => Some(*wait),
            _ => None,
        }
    }
}

// --- Service administration ---

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
