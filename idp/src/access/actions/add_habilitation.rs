//! A Responsable des accès adds a habilitation to a person of their establishments
//! (`POST /acces/{service}/gestion/utilisateurs/{id}/habilitations`).

use crate::{
    access::{
        EndDate,
        habilitations::{self, GrantedHow, NewHabilitation},
        refusal::{AccessRefusal, NewAccess},
        rules, services,
    },
    accounts::UserId,
    audit,
    organizations::Siret,
    store::Db,
};

/// What the manager asks for.
pub struct AddHabilitation<'a> {
    /// The acting Responsable des accès.
    pub manager: &'a UserId,
    /// The service of the page.
    pub service: &'a str,
    /// The establishments the manager manages for it.
    pub managed: &'a [String],
    /// Who receives it.
    pub person: &'a UserId,
    /// Which establishment (one of `managed`).
    pub siret: &'a str,
    /// Which role of the service.
    pub role: &'a str,
    /// Last day, if any.
    pub end_date: Option<EndDate>,
}

/// Grants the habilitation and records `habilitation.granted`, in one transaction; returns the
/// habilitation's id.
pub async fn add_habilitation(
    db: &Db,
    now: i64,
    input: &AddHabilitation<'_>,
) -> Result<String, AccessRefusal> {
    if !input.managed.iter().any(|s| s == input.siret) {
        return Err(AccessRefusal::NotManagerOf(input.service.to_owned()));
    }
    let Some(role) = services::role(db, input.service, input.role).await? else {
        return Err(AccessRefusal::UnknownRole);
    };
    let mut tx = db.begin().await?;
    rules::may_manage(
        &mut tx,
        input.manager,
        input.service,
        input.managed,
        input.person,
    )
    .await?;
    if let Ok(siret) = Siret::parse(input.siret) {
        rules::establishment_accepts_new_access(&mut tx, &siret, NewAccess::Habilitation).await?;
    }
    let id = habilitations::grant_in(
        &mut tx,
        &NewHabilitation {
            user_id: input.person.as_str(),
            service_code: input.service,
            siret: input.siret,
            role: &role.code,
            end_date: input.end_date,
            granted_by: Some(input.manager.as_str()),
            how: GrantedHow::Manager,
        },
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        input.manager.as_str(),
        "habilitation.granted",
        input.person.as_str(),
        serde_json::json!({"service": input.service, "siret": input.siret, "role": role.code, "end_date": input.end_date.map(|d| d.iso()), "how": "manager"}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}
