//! The last day of a habilitation changes: a Responsable des accès on a person's page
//! (« Modifier la date de fin », `POST /acces/{service}/gestion/habilitations/{id}/date-fin`),
//! an operator with `idp habilitations end-date`, or a Responsable des accès who gives again a
//! role the person already holds there (`add_habilitation`).

use crate::{
    access::{
        EndDate,
        habilitations::{self, Habilitation},
        refusal::AccessRefusal,
        rules,
        services::Service,
    },
    accounts::UserId,
    action::Event,
    clock::Clock,
    store::Db,
};

/// Who changes it.
#[derive(Clone, Copy, Debug)]
pub enum ChangedBy<'a> {
    /// A Responsable des accès, of the habilitation's establishment.
    Manager(&'a UserId),
    /// An operator (`cli`).
    Operator,
}

impl ChangedBy<'_> {
    fn actor(&self) -> &str {
        match self {
            Self::Manager(id) => id.as_str(),
            Self::Operator => "cli",
        }
    }
}

/// The habilitation before and after.
#[derive(Debug)]
pub struct EndDateChanged {
    /// As it was.
    pub before: Habilitation,
    /// As it is now.
    pub after: Habilitation,
}

impl EndDateChanged {
    /// Whether the date is another than it was (the same date changes nothing and tells
    /// nobody).
    pub fn changed(&self) -> bool {
        self.before.end_date != self.after.end_date
    }
}

/// Changes it in one transaction: the habilitation is one of the service's, a Responsable des
/// accès manages its establishment; then the date and `habilitation.end_date_changed` (none
/// when the date is the same). Returns the habilitation before and after, for the e-mail.
pub async fn change_end_date(
    db: &Db,
    clock: &Clock,
    by: ChangedBy<'_>,
    service: &Service,
    habilitation_id: &str,
    end_date: Option<EndDate>,
) -> Result<EndDateChanged, AccessRefusal> {
    let now = clock.now();
    let mut tx = db.begin().await?;
    let before = habilitations::by_id_in(&mut tx, habilitation_id)
        .await?
        .filter(|h| h.service_code == service.code)
        .ok_or(AccessRefusal::NoSuchHabilitation)?;
    if let ChangedBy::Manager(manager) = by {
        rules::manages(&mut tx, manager, service, &before.siret).await?;
    }
    let (changed, event) = set_in(&mut tx, by.actor(), before, end_date).await?;
    if let Some(event) = event {
        event.record_in(&mut tx, now).await?;
        tx.commit().await?;
    }
    Ok(changed)
}

/// What changing the date writes, inside the caller's transaction once its rules passed: the
/// date and its event (`None` when the date is the same: nothing to record).
pub(super) async fn set_in(
    conn: &mut sqlx::AnyConnection,
    actor: &str,
    before: Habilitation,
    end_date: Option<EndDate>,
) -> Result<(EndDateChanged, Option<Event>), AccessRefusal> {
    if before.end_date == end_date {
        let after = before.clone();
        return Ok((EndDateChanged { before, after }, None));
    }
    habilitations::set_end_date_in(conn, &before.id, end_date).await?;
    let after = habilitations::by_id_in(conn, &before.id)
        .await?
        .ok_or(AccessRefusal::NoSuchHabilitation)?;
    let details = serde_json::json!({
        "service": before.service_code,
        "siret": before.siret,
        "role": before.role,
        "from": before.end_date.map(|d| d.iso()),
        "to": end_date.map(|d| d.iso()),
    });
    let event = Event::new(actor, "habilitation.end_date_changed", &before.user_id).with(details);
    Ok((EndDateChanged { before, after }, Some(event)))
}
