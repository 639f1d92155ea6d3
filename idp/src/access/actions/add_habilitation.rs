//! A Responsable des accès adds a habilitation to a person of their establishments
//! (« Ajouter l'habilitation », `POST /acces/{service}/gestion/utilisateurs/{id}/habilitations`).

use super::HabilitationGrant;
use crate::{
    access::{
        habilitations::{self, GrantedHow, Habilitation},
        refusal::AccessRefusal,
        rules,
    },
    accounts::UserId,
    action,
    clock::Clock,
    store::Db,
};

/// Grants it, by the Responsable des accès `by`, in one transaction: `by` manages the
/// establishment, may manage that person, the establishment accepts new access, the role is the
/// service's; then the habilitation and its `habilitation.granted` event. Returns the
/// habilitation, for the e-mail.
pub async fn add_habilitation(
    db: &Db,
    clock: &Clock,
    by: &UserId,
    input: &HabilitationGrant<'_>,
) -> Result<Habilitation, AccessRefusal> {
    let now = clock.now();
    action::in_one_transaction(db, now, async |tx| {
        rules::manages(tx, by, input.service, input.siret.as_str()).await?;
        rules::may_manage(tx, by, input.service, input.person).await?;
        input.may_be_granted(tx).await?;
        let new = input.to_new(Some(by.as_str()), GrantedHow::Manager);
        let (id, event) = super::grant(tx, now, by.as_str(), &new, ("manager", false)).await?;
        let granted = habilitations::by_id_in(tx, &id)
            .await?
            .ok_or(AccessRefusal::NoSuchHabilitation)?;
        Ok((granted, event))
    })
    .await
}
