//! An operator grants a habilitation (`idp habilitations grant`: support and bootstrapping),
//! optionally with the Responsable des accès right.

use super::HabilitationGrant;
use crate::{
    access::{habilitations::GrantedHow, managers, refusal::AccessRefusal},
    action,
    clock::Clock,
    store::Db,
};

/// Grants it, by `by` (`cli`), in one transaction: the establishment accepts new access, the
/// role is the service's; the habilitation, the Responsable des accès right when `manager`, and
/// `habilitation.granted`. Returns the habilitation's id.
pub async fn grant_habilitation(
    db: &Db,
    clock: &Clock,
    by: &str,
    input: &HabilitationGrant<'_>,
    manager: bool,
) -> Result<String, AccessRefusal> {
    let now = clock.now();
    action::in_one_transaction(db, now, async |tx| {
        input.may_be_granted(tx).await?;
        if manager {
            let service = &input.service.code;
            let how = GrantedHow::Operator;
            managers::insert_in(tx, input.person, service, input.siret, None, how, now).await?;
        }
        let new = input.to_new(None, GrantedHow::Operator);
        Ok(super::grant(tx, now, by, &new, ("operator", manager)).await?)
    })
    .await
}
