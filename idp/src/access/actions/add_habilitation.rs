//! A Responsable des accès adds a habilitation to a person of their establishments
//! (« Ajouter l'habilitation », `POST /acces/{service}/gestion/utilisateurs/{id}/habilitations`).

use crate::{
    access::{
        EndDate,
        habilitations::{self, GrantedHow, Habilitation, NewHabilitation},
        refusal::{AccessRefusal, NewAccess},
        rules,
        services::Service,
    },
    accounts::UserId,
    clock::Clock,
    organizations::Siret,
    store::Db,
};

/// What the manager asked for.
#[derive(Debug)]
pub struct AddHabilitation<'a> {
    /// The Responsable des accès.
    pub by: &'a UserId,
    /// The person who receives it.
    pub person: &'a UserId,
    /// The service.
    pub service: &'a Service,
    /// One of the manager's establishments.
    pub siret: &'a Siret,
    /// A role of the service.
    pub role: &'a str,
    /// The last day, if any.
    pub end_date: Option<EndDate>,
}

/// Grants it in one transaction: the manager manages the establishment, may manage that
/// person, the establishment accepts new access, the role is the service's; then the
/// habilitation and its `habilitation.granted` event. Returns the habilitation, for the e-mail.
pub async fn add_habilitation(
    db: &Db,
    clock: &Clock,
    input: &AddHabilitation<'_>,
) -> Result<Habilitation, AccessRefusal> {
    let now = clock.now();
    let mut tx = db.begin().await?;
    rules::manages(&mut tx, input.by, input.service, input.siret.as_str()).await?;
    rules::may_manage(&mut tx, input.by, input.service, input.person).await?;
    rules::establishment_accepts_new_access(&mut tx, input.siret, NewAccess::Habilitation).await?;
    let role = rules::role_of_service(&mut tx, input.service, input.role).await?;
    let new = NewHabilitation {
        user_id: input.person.as_str(),
        service_code: &input.service.code,
        siret: input.siret.as_str(),
        role: &role.code,
        end_date: input.end_date,
        granted_by: Some(input.by.as_str()),
        how: GrantedHow::Manager,
    };
    let id =
        super::grant_and_record(&mut tx, now, input.by.as_str(), &new, ("manager", false)).await?;
    let granted = habilitations::by_id_in(&mut tx, &id)
        .await?
        .ok_or(AccessRefusal::NoSuchHabilitation)?;
    tx.commit().await?;
    Ok(granted)
}
