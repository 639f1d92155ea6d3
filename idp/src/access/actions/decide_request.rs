//! A Responsable des accès accepts or refuses a request for access to one of their
//! establishments (`POST /acces/{service}/demandes/{id}`, « Accepter » / « Refuser »).

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

/// The decision.
#[derive(Debug)]
pub enum Decision<'a> {
    /// Accepted with this role and last day.
    Accept {
        /// A role of the service.
        role: &'a str,
        /// The last day, if any.
        end_date: Option<EndDate>,
    },
    /// Refused, with the reason given to the requester.
    Refuse {
        /// The reason (may be empty).
        reason: &'a str,
    },
}

/// What was decided: `None` when the request was no longer pending (decided meanwhile).
#[derive(Debug)]
pub enum Decided {
    /// Accepted: the role granted.
    Accepted(Role),
    /// Refused.
    Refused,
    /// Someone decided first: nothing changed.
    AlreadyHandled,
}

/// Decides in one transaction (a refusal's reason within the limit): the manager manages the request's establishment; for an
/// acceptance the establishment accepts new access and the role is the service's, then the
/// habilitation; the request's status and the events (`access_request.accepted` with
/// `habilitation.granted`, or `access_request.refused`).
pub async fn decide_request(
    db: &Db,
    clock: &Clock,
    by: &UserId,
    service: &Service,
    request: &AccessRequest,
    decision: &Decision<'_>,
) -> Result<Decided, AccessRefusal> {
    if let Decision::Refuse { reason } = decision {
        rules::refusal_reason(reason)?;
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
        Decision::Accept { role, end_date } => {
            let siret =
                Siret::parse(&request.siret).map_err(|_| AccessRefusal::NoSuchHabilitation)?;
            rules::establishment_accepts_new_access(&mut tx, &siret, NewAccess::Habilitation)
                .await?;
            let role = rules::role_of_service(&mut tx, service, role).await?;
            if !requests::decide_in(&mut tx, &request.id, by.as_str(), "accepted", now).await? {
                return Ok(Decided::AlreadyHandled);
            }
            let new = NewHabilitation {
                user_id: &request.user_id,
                service_code: &service.code,
                siret: &request.siret,
                role: &role.code,
                end_date: *end_date,
                granted_by: Some(by.as_str()),
                how: GrantedHow::Request,
            };
            let (id, granted) =
                super::grant(&mut tx, now, by.as_str(), &new, ("request", false)).await?;
            granted.record_in(&mut tx, now).await?;
            let mut details = details;
            details["role"] = role.code.clone().into();
            details["end_date"] = end_date.map(|d| d.iso()).into();
            details["habilitation_id"] = id.into();
            Event::new(by.as_str(), "access_request.accepted", &request.user_id)
                .with(details)
                .record_in(&mut tx, now)
                .await?;
            Decided::Accepted(role)
        }
    };
    tx.commit().await?;
    Ok(decided)
}
