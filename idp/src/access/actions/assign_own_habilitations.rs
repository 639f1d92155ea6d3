//! A new Responsable des accès gives themselves a habilitation of their establishment
//! (« Gestion de mes accès », `POST /acces/{service}/mes-acces`).

use crate::{
    access::{
        EndDate,
        habilitations::{GrantedHow, NewHabilitation},
        refusal::{AccessRefusal, NewAccess},
        rules,
    },
    accounts::UserId,
    clock::Clock,
    organizations::Siret,
    store::Db,
};

/// The habilitation a Responsable des accès gives themselves.
#[derive(Debug)]
pub struct OwnHabilitation<'a> {
    /// Who (and for whom).
    pub by: &'a UserId,
    /// The service.
    pub service_code: &'a str,
    /// The establishment they manage (checked by the caller).
    pub siret: &'a Siret,
    /// A role of the service (checked by the caller against the service's roles).
    pub role: &'a str,
    /// The last day, if any.
    pub end_date: Option<EndDate>,
}

/// Grants it: in one transaction, the rule that the establishment accepts new access, the
/// habilitation, the `habilitation.granted` event. Returns the habilitation's id.
pub async fn assign_own_habilitation(
    db: &Db,
    clock: &Clock,
    input: &OwnHabilitation<'_>,
) -> Result<String, AccessRefusal> {
    let now = clock.now();
    let mut tx = db.begin().await?;
    rules::establishment_accepts_new_access(&mut tx, input.siret, NewAccess::Habilitation).await?;
    let new = NewHabilitation {
        user_id: input.by.as_str(),
        service_code: input.service_code,
        siret: input.siret.as_str(),
        role: input.role,
        end_date: input.end_date,
        granted_by: Some(input.by.as_str()),
        how: GrantedHow::Manager,
    };
    let id =
        super::grant_and_record(&mut tx, now, input.by.as_str(), &new, ("self", false)).await?;
    tx.commit().await?;
    Ok(id)
}
