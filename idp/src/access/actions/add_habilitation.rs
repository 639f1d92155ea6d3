//! A Responsable des accès adds a habilitation to a person of their establishments
//! (« Ajouter l'habilitation », `POST /acces/{service}/gestion/utilisateurs/{id}/habilitations`).

use super::{
    HabilitationGrant,
    change_end_date::{self, EndDateChanged},
};
use crate::{
    access::{
        habilitations::{self, GrantedHow, Habilitation},
        refusal::AccessRefusal,
        rules,
    },
    accounts::UserId,
    clock::Clock,
    store::Db,
};

/// What adding did.
#[derive(Debug)]
pub enum Added {
    /// A habilitation the person did not hold: « Vous avez obtenu une nouvelle habilitation ».
    New(Box<Habilitation>),
    /// The person already held that role there: only its last day changed (or nothing, when
    /// it is the same), which is told as such, not as a new habilitation.
    EndDateChanged(Box<EndDateChanged>),
}

/// Grants it, by the Responsable des accès `by`, in one transaction: `by` manages the
/// establishment, may manage that person, the establishment accepts new access, the role is the
/// service's; then the habilitation and its `habilitation.granted` event, or, for a role the
/// person holds there already, its new last day (`change_end_date`). Returns what was done, for
/// the e-mail.
pub async fn add_habilitation(
    db: &Db,
    clock: &Clock,
    by: &UserId,
    input: &HabilitationGrant<'_>,
) -> Result<Added, AccessRefusal> {
    let now = clock.now();
    let mut tx = db.begin().await?;
    rules::manages(&mut tx, by, input.service, input.siret.as_str()).await?;
    rules::may_manage(&mut tx, by, input.service, input.person).await?;
    input.may_be_granted(&mut tx).await?;
    let held = habilitations::live_in(&mut tx, input.person, &input.service.code)
        .await?
        .into_iter()
        .find(|h| h.siret == input.siret.as_str() && h.role == input.role);
    let (added, event) = match held {
        Some(held) => {
            let (changed, event) =
                change_end_date::set_in(&mut tx, by.as_str(), held, input.end_date).await?;
            (Added::EndDateChanged(Box::new(changed)), event)
        }
        None => {
            let new = input.to_new(Some(by.as_str()), GrantedHow::Manager);
            let (id, event) =
                super::grant(&mut tx, now, by.as_str(), &new, ("manager", false)).await?;
            let granted = habilitations::by_id_in(&mut tx, &id)
                .await?
                .ok_or(AccessRefusal::NoSuchHabilitation)?;
            (Added::New(Box::new(granted)), Some(event))
        }
    };
    if let Some(event) = event {
        event.record_in(&mut tx, now).await?;
        tx.commit().await?;
    }
    Ok(added)
}
