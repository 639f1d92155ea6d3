//! The access use cases, one file each (see `crate::action`).

pub mod accept_charte;
pub mod add_habilitation;
pub mod assign_own_habilitations;
pub mod change_end_date;
pub mod decide_request;
pub mod designate_manager;
pub mod finish_invitation;
pub mod grant_habilitation;
pub mod issue_code;
pub mod look_up_invitee;
pub mod redeem_code;
pub mod relaunch_invitation;
pub mod relaunch_request;
pub mod remove_habilitation;
pub mod request_access;
pub mod revoke_code;
pub mod withdraw_manager;

// --- Service administration ---
pub mod service_add_role;
pub mod service_create;
pub mod service_link_client;
pub mod service_publish;

use std::time::Duration;

use crate::{
    access::{
        EndDate,
        habilitations::{self, GrantedHow, NewHabilitation},
        refusal::{AccessRefusal, NewAccess},
        rules,
        services::Service,
    },
    accounts::UserId,
    action::Event,
    organizations::Siret,
    store::Ephemeral,
    web::rate_limit,
};

/// A habilitation to give: by a Responsable des accès from a person's page
/// ([`add_habilitation`](add_habilitation::add_habilitation)) or to themselves
/// ([`assign_own_habilitation`](assign_own_habilitations::assign_own_habilitation)), or by an
/// operator ([`grant_habilitation`](grant_habilitation::grant_habilitation)).
#[derive(Debug)]
pub struct HabilitationGrant<'a> {
    /// The person who receives it.
    pub person: &'a UserId,
    /// The service.
    pub service: &'a Service,
    /// The establishment.
    pub siret: &'a Siret,
    /// A role of the service.
    pub role: &'a str,
    /// The last day, if any.
    pub end_date: Option<EndDate>,
}

impl HabilitationGrant<'_> {
    /// The rules it passes whoever gives it: the establishment accepts new access, the role is
    /// one of the service's.
    async fn may_be_granted(&self, conn: &mut sqlx::AnyConnection) -> Result<(), AccessRefusal> {
        rules::establishment_accepts_new_access(conn, self.siret, NewAccess::Habilitation).await?;
        rules::role_of_service(conn, self.service, self.role).await?;
        Ok(())
    }

    /// The habilitation to store, given by `granted_by` in the way `how`.
    fn to_new<'a>(&'a self, granted_by: Option<&'a str>, how: GrantedHow) -> NewHabilitation<'a> {
        NewHabilitation {
            user_id: self.person.as_str(),
            service_code: &self.service.code,
            siret: self.siret.as_str(),
            role: self.role,
            end_date: self.end_date,
            granted_by,
            how,
        }
    }
}

/// What every way of granting a habilitation writes once its rules passed, inside the action's
/// transaction: the habilitation. Returns its id and its `habilitation.granted` event (`how`:
/// `self`, `manager`, `operator`, …; `manager`: whether the Responsable des accès right came
/// with it).
async fn grant(
    conn: &mut sqlx::AnyConnection,
    now: i64,
    actor: &str,
    new: &NewHabilitation<'_>,
    (how, manager): (&str, bool),
) -> Result<(String, Event), sqlx::Error> {
    let id = habilitations::grant_in(conn, new, now).await?;
    let details = serde_json::json!({
        "service": new.service_code,
        "siret": new.siret,
        "role": new.role,
        "end_date": new.end_date.map(|d| d.iso()),
        "how": how,
        "manager": manager,
    });
    let event = Event::new(actor, "habilitation.granted", new.user_id).with(details);
    Ok((id, event))
}

/// Counts one more try of `by` in `bucket`, refused past `max` in `window`.
async fn within_limit(
    ephemeral: &Ephemeral,
    bucket: &str,
    by: &UserId,
    max: u64,
    window: Duration,
) -> Result<(), AccessRefusal> {
    rate_limit::hit(ephemeral, bucket, by.as_str(), max, window)
        .await
        .map_err(|e| AccessRefusal::Unavailable(e.to_string()))?
        .map_err(|reached| AccessRefusal::TooManyAttempts(reached.retry_after))
}
