//! The e-mails of requests for access (`002` §6).

use super::common::*;
use crate::accounts::email::Email;
use crate::mail::MailError;
/// What the access-request e-mails say about the request.
#[derive(Clone, Debug)]
pub struct AccessRequestMail<'a> {
    /// The service's label (`CERES`).
    pub service_label: &'a str,
    /// « Madame Alice Martin (alice@centre.fr) ».
    pub requester: &'a str,
    /// « CENTRE DE FORMATION DU LAC (SIRET 13002526500013) ».
    pub establishment: &'a str,
    /// The requester's message, possibly empty.
    pub message: &'a str,
}

/// « Nouvelle demande d'accès au service numérique CERES », to one Responsable des accès:
/// `link` is the absolute URL of the request's page.
pub fn access_requested(
    to: &Email,
    manager_name: Option<&str>,
    request: &AccessRequestMail<'_>,
    link: &str,
) -> Result<Outgoing, MailError> {
    let subject = format!(
        "Nouvelle demande d'accès au service numérique {}",
        request.service_label
    );
    let mut lines = vec![format!(
        "{} demande un accès au service numérique {} pour l'établissement {}, dont vous êtes responsable des accès.",
        request.requester, request.service_label, request.establishment
    )];
    let message = request.message.trim();
    if !message.is_empty() {
        lines.push(format!("Message du demandeur : « {message} »"));
    }
    lines.push(
        "Vous pouvez accepter cette demande en choisissant le rôle et, si besoin, une date de fin, ou la refuser.".into(),
    );
    notice(
        MessageKind::AccessRequested,
        to,
        &subject,
        manager_name,
        &lines,
        "Traiter la demande",
        link,
        "Si vous ne connaissez pas cette personne, refusez la demande : elle n'obtiendra aucun accès.",
    )
}

/// « Votre demande d'accès au service numérique CERES a été acceptée »: the habilitations
/// granted, each « « Centre agréé » pour l'établissement …, jusqu'à fin 06/2027 », and where to
/// go (`link`).
pub fn access_request_accepted(
    to: &Email,
    name: Option<&str>,
    request: &AccessRequestMail<'_>,
    granted: &[String],
    link: &str,
) -> Result<Outgoing, MailError> {
    let subject = format!(
        "Votre demande d'accès au service numérique {} a été acceptée",
        request.service_label
    );
    let mut lines = match granted {
        [one] => vec![format!(
            "Votre responsable des accès a accepté votre demande : vous avez accès au service numérique {} en tant que {one}.",
            request.service_label
        )],
        several => {
            let mut lines = vec![format!(
                "Votre responsable des accès a accepté votre demande : vous avez accès au service numérique {} avec les habilitations suivantes :",
                request.service_label
            )];
            lines.extend(several.iter().map(|g| format!("- {g} ;")));
            lines
        }
    };
    lines.push(format!(
        "Vous pouvez désormais vous connecter au service numérique {} avec votre compte EFP Connect.",
        request.service_label
    ));
    notice(
        MessageKind::AccessRequestAccepted,
        to,
        &subject,
        name,
        &lines,
        &format!("Accéder au service numérique {}", request.service_label),
        link,
        "Si vous n'êtes pas à l'origine de cette demande, contactez l'assistance EFP Connect de votre service numérique.",
    )
}

/// « Votre demande d'accès au service numérique CERES a été refusée », with the manager's
/// `reason` when they gave one.
pub fn access_request_refused(
    to: &Email,
    name: Option<&str>,
    request: &AccessRequestMail<'_>,
    reason: &str,
    link: &str,
) -> Result<Outgoing, MailError> {
    let subject = format!(
        "Votre demande d'accès au service numérique {} a été refusée",
        request.service_label
    );
    let mut lines = vec![format!(
        "Votre responsable des accès a refusé votre demande d'accès au service numérique {} pour l'établissement {}.",
        request.service_label, request.establishment
    )];
    let reason = reason.trim();
    if !reason.is_empty() {
        lines.push(format!("Motif : « {reason} »"));
    }
    lines.push("Si vous pensez qu'il s'agit d'une erreur, rapprochez-vous du responsable des accès de votre établissement.".into());
    notice(
        MessageKind::AccessRequestRefused,
        to,
        &subject,
        name,
        &lines,
        "Se connecter à EFP Connect",
        link,
        "Ce message vous est envoyé automatiquement à la suite du traitement de votre demande.",
    )
}
