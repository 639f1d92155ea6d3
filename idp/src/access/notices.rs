//! The e-mails a person receives when a Responsable des accès changes their access (guide
//! `002` §6): a habilitation given or removed, the Responsable des accès right given or
//! removed. Sent after the change is stored; a failure is logged, never undoes the change.

use super::{habilitations::Habilitation, services::Service};
use crate::{
    AppState,
    accounts::{Email, account::send_notice, store::User},
    mail::messages::{MessageKind, absolute, notice},
};

fn recipient(user: &User) -> Option<Email> {
    Email::parse(&user.email).ok()
}

fn name(user: &User) -> Option<String> {
    crate::accounts::account::full_name(user)
}

fn service_link(state: &AppState, service: &Service) -> String {
    service
        .home_url
        .clone()
        .unwrap_or_else(|| absolute(&state.config.issuer, "/"))
}

fn establishment(h: &Habilitation) -> String {
    match &h.establishment {
        Some(n) => format!("{n} (SIRET {})", h.siret),
        None => format!("SIRET {}", h.siret),
    }
}

/// « Vous avez obtenu une nouvelle habilitation d'accès au service numérique CERES ».
pub async fn habilitation_granted(
    state: &AppState,
    service: &Service,
    to: &User,
    h: &Habilitation,
    by: &User,
) {
    let Some(email) = recipient(to) else { return };
    let end = h
        .end_date
        .map_or("sans date de fin".to_owned(), |d| d.until());
    let subject = format!(
        "Vous avez obtenu une nouvelle habilitation d'accès au service numérique {}",
        service.label
    );
    let message = notice(
        MessageKind::HabilitationGranted,
        &email,
        &subject,
        name(to).as_deref(),
        &[
            // Guide 002 §5.1: the e-mail's own words, then who gave it.
            format!(
                "Un administrateur vous a donné accès au service numérique {} en tant que {} pour l'établissement {}, {end}.",
                service.label,
                h.role_label,
                establishment(h)
            ),
            format!(
                "Cette habilitation vous a été attribuée par {}.",
                name(by).unwrap_or_else(|| "votre responsable des accès".into())
            ),
            format!(
                "Vous pouvez désormais accéder au service numérique {} en vous connectant sur {}",
                service.label,
                service_link(state, service)
            ),
            format!(
                "Note : Vous pouvez consulter vos habilitations sur {}.",
                absolute(&state.config.issuer, crate::access::mine::PATH)
            ),
        ],
        &format!("Accéder à {}", service.label),
        &service_link(state, service),
        "Si vous ne connaissez pas cet établissement, signalez-le à l'assistance de votre service numérique.",
    );
    send_notice(state, message).await;
}

/// « Votre habilitation au service numérique CERES a été modifiée »: its last day changed.
pub async fn habilitation_end_date_changed(
    state: &AppState,
    service: &Service,
    to: &User,
    before: &Habilitation,
    after: &Habilitation,
) {
    let Some(email) = recipient(to) else { return };
    let end = |h: &Habilitation| {
        h.end_date
            .map_or("sans date de fin".to_owned(), |d| d.until())
    };
    let subject = format!(
        "Votre habilitation au service numérique {} a été modifiée",
        service.label
    );
    let message = notice(
        MessageKind::HabilitationChanged,
        &email,
        &subject,
        name(to).as_deref(),
        &[
            format!(
                "Le responsable des accès de l'établissement {} a modifié la date de fin de votre habilitation « {} » au service numérique {} : vous y avez désormais accès {}.",
                establishment(after),
                after.role_label,
                service.label,
                end(after)
            ),
            format!("Auparavant : {}.", end(before)),
        ],
        "Consulter mes habilitations",
        &absolute(&state.config.issuer, crate::access::mine::PATH),
        "Si vous pensez qu'il s'agit d'une erreur, adressez-vous au responsable des accès de votre établissement.",
    );
    send_notice(state, message).await;
}

/// A habilitation was removed.
pub async fn habilitation_removed(
    state: &AppState,
    service: &Service,
    to: &User,
    h: &Habilitation,
) {
    let Some(email) = recipient(to) else { return };
    let subject = format!(
        "Votre habilitation au service numérique {} a été retirée",
        service.label
    );
    let message = notice(
        MessageKind::HabilitationRemoved,
        &email,
        &subject,
        name(to).as_deref(),
        &[format!(
            "Le responsable des accès de l'établissement {} vous a retiré l'habilitation « {} » du service numérique {}.",
            establishment(h),
            h.role_label,
            service.label
        )],
        "Mon compte EFP Connect",
        &absolute(&state.config.issuer, "/compte"),
        "Si vous pensez qu'il s'agit d'une erreur, adressez-vous au responsable des accès de votre établissement.",
    );
    send_notice(state, message).await;
}

/// The person was made Responsable des accès by a colleague.
pub async fn manager_granted(
    state: &AppState,
    service: &Service,
    to: &User,
    siret: &str,
    by: &User,
) {
    let Some(email) = recipient(to) else { return };
    let subject = format!(
        "Vous êtes responsable des accès du service numérique {}",
        service.label
    );
    let message = notice(
        MessageKind::ManagerGranted,
        &email,
        &subject,
        name(to).as_deref(),
        &[
            format!(
                "{} vous a désigné responsable des accès de l'établissement SIRET {siret} pour le service numérique {}.",
                name(by).unwrap_or_else(|| "Un responsable des accès".into()),
                service.label
            ),
            "Vous pourrez attribuer et retirer les habilitations de vos collègues et traiter leurs demandes d'accès, après avoir accepté la charte du responsable des accès.".into(),
        ],
        "Gérer les accès de mon entreprise",
        &absolute(&state.config.issuer, &format!("/acces/{}/gestion", service.code)),
        "Si vous ne connaissez pas cet établissement, signalez-le à l'assistance de votre service numérique.",
    );
    send_notice(state, message).await;
}

/// The person's Responsable des accès right was removed.
pub async fn manager_removed(state: &AppState, service: &Service, to: &User, siret: &str) {
    let Some(email) = recipient(to) else { return };
    let subject = format!(
        "Vous n'êtes plus responsable des accès du service numérique {}",
        service.label
    );
    let message = notice(
        MessageKind::ManagerRemoved,
        &email,
        &subject,
        name(to).as_deref(),
        &[format!(
            "Votre rôle de responsable des accès de l'établissement SIRET {siret} pour le service numérique {} vous a été retiré. Vos habilitations personnelles ne changent pas.",
            service.label
        )],
        "Mon compte EFP Connect",
        &absolute(&state.config.issuer, "/compte"),
        "Si vous pensez qu'il s'agit d'une erreur, adressez-vous à un autre responsable des accès de votre établissement.",
    );
    send_notice(state, message).await;
}
