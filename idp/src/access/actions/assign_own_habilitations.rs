//! A new Responsable des accès gives themselves a habilitation of their establishment
//! (« Gestion de mes accès », `POST /acces/{service}/mes-acces`).

use super::HabilitationGrant;
use crate::{
    access::{habilitations::GrantedHow, refusal::AccessRefusal},
    action,
    clock::Clock,
    store::Db,
};

/// Grants `input` to its person, by themselves, in one transaction: the establishment (one they
/// manage, checked by the caller) accepts new access, the role is the service's; then the
/// habilitation and its `habilitation.granted` event. Returns the habilitation's id.
pub async fn assign_own_habilitation(
    db: &Db,
    clock: &Clock,
    input: &HabilitationGrant<'_>,
) -> Result<String, AccessRefusal> {
    let now = clock.now();
    action::in_one_transaction(db, now, async |tx| {
        input.may_be_granted(tx).await?;
        let by = input.person.as_str();
        let new = input.to_new(Some(by), GrantedHow::Manager);
        Ok(super::grant(tx, now, by, &new, ("self", false)).await?)
    })
    .await
}
