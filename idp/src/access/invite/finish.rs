//! « Terminer »: the invitation as one action, then its e-mail.

use super::*;
use crate::accounts::back::Back;

/// `POST /acces/{service}/gestion/inviter/terminer`: creates the account if new, grants the
/// habilitations, stores and sends the invitation, shows the « Invitations » tab.
pub async fn finish(
    page: Page,
    m: Manager,
    CsrfForm(_): CsrfForm<PlainForm>,
) -> Result<Response, PageError> {
    let w = open_or_return!(page, m, Step::Habilitations);
    let email = Email::parse(w.email.as_deref().unwrap_or_default())
        .map_err(|e| PageError::bad_request(e.to_string()))?;
    let (new_user, grants) = (w.new_user(), w.grants_to_send());
    let input = FinishInvitation {
        manager: &m.id,
        service: &m.service,
        email: &email,
        new_user: new_user.as_ref(),
        grants: &grants,
    };
    let finished = match finish_invitation(&page.db, page.clock.now(), &input).await {
        Ok(finished) => finished,
        Err(
            refused @ (AccessRefusal::NoHabilitation
            | AccessRefusal::ClosedEstablishment(_)
            | AccessRefusal::UnknownRole(_)),
        ) => {
            let error = Some(("grants", refused.to_string()));
            return habilitations_page(&page, &m, &w, None, error).await;
        }
        Err(refused) => return Err(PageError::refused(&refused)),
    };
    let (user_id, created, sent) = match finished {
        Finished::Sent {
            user,
            created,
            sent,
        } => (user, created, sent),
        Finished::IdentityUnknown => {
            // The account the wizard found was deleted meanwhile: its identity is unknown.
            let mut w = w.clone();
            w.existing = None;
            return save_and_continue(&page, &m, &w).await;
        }
    };
    tracing::info!(user.id = %user_id.as_str(), created, "invitation sent");
    let user = users::user_by_id(&page.db, user_id.as_str())
        .await?
        .ok_or_else(PageError::not_found)?;
    let roles = services::roles(&page.db, &m.service.code).await?;
    send_invitation(&page, &m, &user, &email, &sent, &roles).await?;
    page.ephemeral.delete(&wizard_key(&m)).await?;
    let done = format!("/acces/{}/gestion/invitations?fait=envoyee", m.service.code);
    Ok(Redirect::to(&done).into_response())
}

impl Wizard {
    /// The identity typed in steps 2 to 4, when the address had no account.
    fn new_user(&self) -> Option<NewUser> {
        (self.given_name.is_some() && self.organization.is_some()).then(|| NewUser {
            given_name: self.given_name.clone().unwrap_or_default(),
            family_name: self.family_name.clone().unwrap_or_default(),
            gender: self.gender.clone(),
            job: self.job.clone(),
            siret: self.siret.clone(),
            organization_label: self.organization.clone(),
            is_agent: false,
        })
    }

    /// The habilitations of step 5, for the action.
    fn grants_to_send(&self) -> Vec<Grant> {
        self.grants
            .iter()
            .map(|g| Grant {
                siret: g.siret.clone(),
                role: g.role.clone(),
                end_date: g.end_date.clone(),
            })
            .collect()
    }
}

/// « Vous avez obtenu une nouvelle habilitation d'accès au service numérique CERES »: who
/// invited, the establishments, roles and end dates; for an account without a password, a
/// link to choose one (24 hours), else a link to the service. A failed send is logged.
pub(super) async fn send_invitation(
    state: &AppState,
    m: &Manager,
    to: &User,
    email: &Email,
    sent: &[(String, Vec<InvitedRole>)],
    roles: &[Role],
) -> Result<(), PageError> {
    let by = full_name(&m.user).unwrap_or_else(|| "Votre responsable des accès".into());
    // Guide 002 §5.1: « Un administrateur vous a donné accès au service numérique CERES en tant
    // que Centre agréé pour l'établissement … », one sentence per habilitation.
    let mut lines = Vec::new();
    for (siret, invited) in sent {
        let establishment = match m.establishment(siret) {
            Some(e) if !e.name.is_empty() => format!("{} (SIRET {siret})", e.name),
            _ => format!("SIRET {siret}"),
        };
        for r in invited {
            let label = roles
                .iter()
                .find(|x| x.code == r.role)
                .map_or(r.role.as_str(), |x| x.label.as_str());
            let end = r
                .end_date
                .as_deref()
                .and_then(EndDate::from_stored)
                .map_or("sans date de fin".to_owned(), |d| d.until());
            lines.push(format!(
                "Un administrateur vous a donné accès au service numérique {} en tant que {label} pour l'établissement {establishment}, {end}.",
                m.service.label
            ));
        }
    }
    lines.push(format!("Cette invitation vous a été envoyée par {by}."));
    let service_url = m
        .service
        .home_url
        .clone()
        .unwrap_or_else(|| absolute(&state.config.issuer, "/"));
    let (link_label, link) = if to.password_hash.is_none() {
        // The new password's page then leads to the service (« Continuer vers CERES »).
        let back = Back::of_service(&m.service.code);
        let ttl = PASSWORD_LINK_TTL;
        let request = reset::create_request(state, email, Some(&to.id), ttl, true, &back).await?;
        lines.push(format!(
            "Un compte EFP Connect a été créé pour vous avec l'adresse {}. Choisissez votre mot de passe avec le lien ci-dessous, valable 24 heures, puis connectez-vous au service numérique {}.",
            email.as_str(),
            m.service.label
        ));
        let link = format!(
            "{}?{}",
            absolute(&state.config.issuer, RESET_LINK_PATH),
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("jeton", &request.link_token)
                .finish()
        );
        ("Choisir mon mot de passe".to_owned(), link)
    } else {
        (
            format!("Accéder à {}", m.service.label),
            service_url.clone(),
        )
    };
    // Guide 002 §5.1: the service's address, then where to see one's habilitations.
    lines.push(format!(
        "Vous pouvez désormais accéder au service numérique {} en vous connectant sur {service_url}",
        m.service.label
    ));
    lines.push(format!(
        "Note : Vous pouvez consulter vos habilitations sur {}.",
        absolute(&state.config.issuer, crate::access::mine::PATH)
    ));
    let subject = format!(
        "Vous avez obtenu une nouvelle habilitation d'accès au service numérique {}",
        m.service.label
    );
    let message = notice(
        MessageKind::Invitation,
        email,
        &subject,
        full_name(to).as_deref(),
        &lines,
        &link_label,
        &link,
        "Si vous ne connaissez pas cet établissement, ignorez ce message et signalez-le à l'assistance de votre service numérique.",
    );
    send_notice(state, message).await;
    Ok(())
}
