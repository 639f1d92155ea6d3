//! « Envoyer l'invitation », the last step of the invitation wizard
//! (`POST /acces/{service}/gestion/inviter/terminer`): the account (created when new), each
//! habilitation, one invitation per establishment and their audit events, in one transaction.
//! The e-mail is the caller's, after commit.

use crate::{
    access::{
        EndDate,
        habilitations::{self, GrantedHow, NewHabilitation},
        invitations::{self, InvitedRole, NewInvitation},
        refusal::{AccessRefusal, NewAccess},
        rules,
        services::{Role, Service},
    },
    accounts::{
        Email, UserId,
        store::{self as users, NewUser},
    },
    action::Event,
    organizations::Siret,
    store::Db,
};

/// One habilitation of the wizard.
pub struct Grant {
    /// Establishment (one the manager manages).
    pub siret: String,
    /// Role code (one of the service's).
    pub role: String,
    /// Last day, `YYYY-MM-DD`, or none.
    pub end_date: Option<String>,
}

/// What the wizard collected.
pub struct FinishInvitation<'a> {
    /// The acting Responsable des accès.
    pub manager: &'a UserId,
    /// The service of the page.
    pub service: &'a Service,
    /// The address invited.
    pub email: &'a Email,
    /// The identity of a new account; `None` when the wizard found an account.
    pub new_user: Option<&'a NewUser>,
    /// The habilitations.
    pub grants: &'a [Grant],
}

/// What was done.
pub enum Finished {
    /// Invited: the account, whether it was created, the roles per establishment.
    Sent {
        /// The invited account.
        user: UserId,
        /// Created by this invitation.
        created: bool,
        /// Roles per establishment, as stored in the invitations.
        sent: Vec<(String, Vec<InvitedRole>)>,
    },
    /// The account the wizard found is gone and the identity of a new one is unknown.
    IdentityUnknown,
}

/// The rules of one habilitation of an invitation, when the wizard adds it and again at
/// « Terminer »: an open establishment the manager manages, a role of the service.
pub async fn check_grant(
    conn: &mut sqlx::AnyConnection,
    manager: &UserId,
    service: &Service,
    siret: &str,
    role: &str,
) -> Result<(Siret, Role), AccessRefusal> {
    rules::manages(conn, manager, service, siret).await?;
    let siret =
        Siret::parse(siret).map_err(|_| AccessRefusal::NotManager(service.label.clone()))?;
    rules::establishment_accepts_new_access(conn, &siret, NewAccess::Habilitation).await?;
    let role = rules::role_of_service(conn, service, role).await?;
    Ok((siret, role))
}

/// Runs the invitation in one transaction. Each habilitation is checked again (the wizard kept
/// it for a while): at least one, each for an open establishment the manager manages, with a
/// role of the service.
pub async fn finish_invitation(
    db: &Db,
    now: i64,
    input: &FinishInvitation<'_>,
) -> Result<Finished, AccessRefusal> {
    if input.grants.is_empty() {
        return Err(AccessRefusal::NoHabilitation);
    }
    let existing = users::user_by_email(db, input.email).await?;
    let mut tx = db.begin().await?;
    for g in input.grants {
        check_grant(&mut tx, input.manager, input.service, &g.siret, &g.role).await?;
    }
    let service = input.service.code.as_str();
    let Some((user, created)) = invited_account(&mut tx, db, existing, input, now).await? else {
        return Ok(Finished::IdentityUnknown);
    };
    for g in input.grants {
        let new = NewHabilitation {
            user_id: user.as_str(),
            service_code: service,
            siret: &g.siret,
            role: &g.role,
            end_date: g.end_date.as_deref().and_then(EndDate::from_stored),
            granted_by: Some(input.manager.as_str()),
            how: GrantedHow::Invitation,
        };
        habilitations::grant_in(&mut tx, &new, now).await?;
    }
    let by_siret = by_establishment(input.grants);
    for (siret, invited) in &by_siret {
        let id = invitations::create_in(
            &mut tx,
            &NewInvitation {
                email: input.email.as_str(),
                user_id: user.as_str(),
                service_code: service,
                siret,
                roles: invited,
                invited_by: input.manager.as_str(),
            },
            now,
        )
        .await?;
        let details = serde_json::json!({
            "invitation": id,
            "service": service,
            "siret": siret,
            "roles": invited,
            "new_account": created,
        });
        Event::new(input.manager.as_str(), "invitation.sent", user.as_str())
            .with(details)
            .record_in(&mut tx, now)
            .await?;
    }
    tx.commit().await?;
    Ok(Finished::Sent {
        user,
        created,
        sent: by_siret,
    })
}

/// The invited account: the one the address has, or a new one made from the wizard's identity
/// (with its `account.created` event); `None` when neither is there any more.
async fn invited_account(
    conn: &mut sqlx::AnyConnection,
    db: &Db,
    existing: Option<users::User>,
    input: &FinishInvitation<'_>,
    now: i64,
) -> Result<Option<(UserId, bool)>, AccessRefusal> {
    let new = match (existing, input.new_user) {
        (Some(user), _) => return Ok(Some((UserId::from_stored(user.id), false))),
        (None, None) => return Ok(None),
        (None, Some(new)) => new,
    };
    if let Some(id) = users::insert_user_in(conn, input.email, None, new, now).await? {
        let details = serde_json::json!({ "via": "invitation", "service": input.service.code });
        Event::new(input.manager.as_str(), "account.created", id.as_str())
            .with(details)
            .record_in(conn, now)
            .await?;
        return Ok(Some((id, true)));
    }
    // Taken meanwhile (a sign-up finished first): that account is invited.
    Ok(users::user_by_email(db, input.email)
        .await?
        .map(|user| (UserId::from_stored(user.id), false)))
}

/// The roles given, grouped by establishment (one invitation each), in the wizard's order.
fn by_establishment(grants: &[Grant]) -> Vec<(String, Vec<InvitedRole>)> {
    let mut by_siret: Vec<(String, Vec<InvitedRole>)> = Vec::new();
    for g in grants {
        let role = InvitedRole {
            role: g.role.clone(),
            end_date: g.end_date.clone(),
        };
        match by_siret.iter_mut().find(|(s, _)| *s == g.siret) {
            Some((_, list)) => list.push(role),
            None => by_siret.push((g.siret.clone(), vec![role])),
        }
    }
    by_siret
}
