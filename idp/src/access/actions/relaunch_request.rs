//! « Relancer ma demande » (guide `002` §4): the requester e-mails the Responsables des accès
//! again, [`requests::RESEND_AFTER`] after the last e-mail at the earliest. The e-mails go after
//! the commit (the caller sends them).

use crate::{
    access::{
        refusal::AccessRefusal,
        requests::{self, AccessRequest},
        services::Service,
    },
    accounts::UserId,
    action::{self, Event},
    clock::Clock,
    store::Db,
};

/// Marks the person's pending request for this establishment sent again, with its
/// `access_request.resent` event, and returns it; refused when there is none or it is too early.
pub async fn relaunch_request(
    db: &Db,
    clock: &Clock,
    by: &UserId,
    service: &Service,
    siret: &str,
) -> Result<AccessRequest, AccessRefusal> {
    let now = clock.now();
    action::in_one_transaction(db, now, async |tx| {
        let Some(request) = requests::pending_for_in(tx, by, &service.code, siret).await? else {
            return Err(AccessRefusal::NoSuchRequest);
        };
        if !request.can_resend(now) || !requests::mark_resent_in(tx, &request.id, now).await? {
            return Err(AccessRefusal::RequestRelaunchTooEarly(
                request.days_before_resend(now).max(1),
            ));
        }
        let details = serde_json::json!({"service": service.code, "request_id": request.id});
        let event = Event::new(by.as_str(), "access_request.resent", &request.siret);
        Ok((request, event.with(details)))
    })
    .await
}
