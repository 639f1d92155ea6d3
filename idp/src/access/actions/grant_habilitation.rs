//! An operator grants a habilitation (`idp habilitations grant`: support and bootstrapping),
//! optionally with the Responsable des accès right.

use crate::{
    access::{
        EndDate,
        habilitations::{GrantedHow, NewHabilitation},
        managers,
        refusal::{AccessRefusal, NewAccess},
        rules,
        services::Service,
    },
    accounts::UserId,
    clock::Clock,
    organizations::Siret,
    store::Db,
};

/// What the operator asked for.
#[derive(Debug)]
pub struct OperatorGrant<'a> {
    /// Who acts (`cli`).
    pub by: &'a str,
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
    /// Also Responsable des accès of the establishment.
    pub manager: bool,
}

/// Grants it in one transaction: the establishment accepts new access, the role is the
/// service's; the habilitation, the right when asked, and `habilitation.granted`. Returns the
/// habilitation's id.
pub async fn grant_habilitation(
    db: &Db,
    clock: &Clock,
    input: &OperatorGrant<'_>,
) -> Result<String, AccessRefusal> {
    let now = clock.now();
    let mut tx = db.begin().await?;
    rules::establishment_accepts_new_access(&mut tx, input.siret, NewAccess::Habilitation).await?;
    let role = rules::role_of_service(&mut tx, input.service, input.role).await?;
    let new = NewHabilitation {
        user_id: input.person.as_str(),
        service_code: &input.service.code,
        siret: input.siret.as_str(),
        role: &role.code,
        end_date: input.end_date,
        granted_by: None,
        how: GrantedHow::Operator,
    };
    if input.manager {
        let (service, how) = (&input.service.code, GrantedHow::Operator);
        managers::insert_in(&mut tx, input.person, service, input.siret, None, how, now).await?;
    }
    let how = ("operator", input.manager);
    let id = super::grant_and_record(&mut tx, now, input.by, &new, how).await?;
    tx.commit().await?;
    Ok(id)
}
