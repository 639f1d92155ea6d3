//! A Responsable des accès accepts or refuses a request for access to one of their
//! establishments (`POST /acces/{service}/demandes/{id}`): accepting grants the list of
//! habilitations built on the page (« Liste des habilitations », « Terminer »), refusing gives an
//! optional reason.

use crate::{
    access::{
        EndDate,
        habilitations::{GrantedHow, NewHabilitation},
        refusal::{AccessRefusal, NewAccess},
        requests::{self, AccessRequest},
        rules,
        services::{Role, Service},
    },
    accounts::UserId,
    action::Event,
    clock::Clock,
    organizations::Siret,
    store::Db,
};

/// One habilitation of an acceptance: an establishment the manager manages, a role of the
/// service, its last day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestGrant {
    /// The establishment (the request's, or another the manager manages).
    pub siret: Siret,
    /// A role code of the service.
    pub role: String,
    /// The last day, if any.
    pub end_date: Option<EndDate>,
}

/// The decision.
#[derive(Debug)]
pub enum Decision<'a> {
    /// Accepted with these habilitations (at least one; one per establishment and role).
    Accept {
        /// What to grant.
        grants: &'a [RequestGrant],
    },
    /// Refused, with the reason given to the requester.
    Refuse {
        /// The reason (may be empty).
        reason: &'a str,
    },
}

/// What was decided.
#[derive(Debug)]
pub enum Decided {
    /// Accepted: each habilitation granted, with its role.
    Accepted(Vec<(RequestGrant, Role)>),
    /// Refused.
    Refused,
    /// Someone decided first: nothing changed.
    AlreadyHandled,
}

/// The rules one habilitation of an acceptance passes, read-only: `by` manages its
/// establishment, the establishment accepts new access, the role is the service's. The page
/// checks each line with it when it is added to the list; the action checks them all again.
pub async fn may_grant(
    conn: &mut sqlx::AnyConnection,
    by: &UserId,
    service: &Service,
    grant: &RequestGrant,
) -> Result<Role, AccessRefusal> {
    rules::manages(conn, by, service, grant.siret.as_str()).await?;
    rules::establishment_accepts_new_access(conn, &grant.siret, NewAccess::Habilitation).await?;
    rules::role_of_service(conn, service, &grant.role).await
}

/// Decides in one transaction: the manager manages the request's establishment; a refusal's
/// reason is within the limit; an acceptance has at least one habilitation, each passing
/// [`may_grant`]; then the request's status, the habilitations and the events
/// (`habilitation.granted` for each with `access_request.accepted`, or
/// `access_request.refused`).
pub async fn decide_request(
    db: &Db,
    clock: &Clock,
    by: &UserId,
    service: &Service,
    request: &AccessRequest,
    decision: &Decision<'_>,
) -> Result<Decided, AccessRefusal> {
    match decision {
        Decision::Refuse { reason } => {
            rules::refusal_reason(reason)?;
        }
        Decision::Accept { grants: [] } => {
            return Err(AccessRefusal::NoHabilitation);
        }
        Decision::Accept { .. } => {}
    }
    let now = clock.now();
    let mut tx = db.begin().await?;
    rules::manages(&mut tx, by, service, &request.siret).await?;
    let details = serde_json::json!({
        "service": service.code, "siret": request.siret, "request_id": request.id,
    });
    let decided = match decision {
        Decision::Refuse { reason } => {
            if !requests::decide_in(&mut tx, &request.id, by.as_str(), "refused", now).await? {
                return Ok(Decided::AlreadyHandled);
            }
            let mut details = details;
            details["reason"] = (*reason).into();
            Event::new(by.as_str(), "access_request.refused", &request.user_id)
                .with(details)
                .record_in(&mut tx, now)
                .await?;
            Decided::Refused
        }
        Decision::Accept { grants } => {
            let mut checked = Vec::with_capacity(grants.len());
            for grant in *grants {
                let role = may_grant(&mut tx, by, service, grant).await?;
                checked.push((grant.clone(), role));
            }
            if !requests::decide_in(&mut tx, &request.id, by.as_str(), "accepted", now).await? {
                return Ok(Decided::AlreadyHandled);
            }
            let mut granted = Vec::with_capacity(checked.len());
            for (grant, role) in &checked {
                let new = NewHabilitation {
                    user_id: &request.user_id,
                    service_code: &service.code,
                    siret: grant.siret.as_str(),
                    role: &role.code,
                    end_date: grant.end_date,
                    granted_by: Some(by.as_str()),
                    how: GrantedHow::Request,
                };
                let (id, event) =
                    super::grant(&mut tx, now, by.as_str(), &new, ("request", false)).await?;
                event.record_in(&mut tx, now).await?;
                granted.push(serde_json::json!({
                    "habilitation_id": id,
                    "siret": grant.siret.as_str(),
                    "role": role.code,
                    "end_date": grant.end_date.map(|d| d.iso()),
                }));
            }
            let mut details = details;
            details["habilitations"] = granted.into();
            Event::new(by.as_str(), "access_request.accepted", &request.user_id)
                .with(details)
                .record_in(&mut tx, now)
                .await?;
            Decided::Accepted(checked)
        }
    };
    tx.commit().await?;
    Ok(decided)
}
