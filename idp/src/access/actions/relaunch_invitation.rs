//! « Relancer l'invitation » (guide `002` §6.3): once an invitation has expired (one day after it
//! was sent) and the person has still not logged in, its Responsable des accès sends it again.
//! The e-mail goes after the commit (the caller sends it, with a new link).

use crate::{
    access::{
        invitations::{self, Invitation},
        refusal::AccessRefusal,
        rules,
        services::Service,
    },
    accounts::UserId,
    action::{self, Event},
    clock::Clock,
    store::Db,
};

/// Marks the invitation sent again with its `invitation.resent` event and returns it: only an
/// invitation of the service, to an establishment `by` manages, still waiting and expired.
pub async fn relaunch_invitation(
    db: &Db,
    clock: &Clock,
    by: &UserId,
    service: &Service,
    id: &str,
) -> Result<Invitation, AccessRefusal> {
    let now = clock.now();
    action::in_one_transaction(db, now, async |tx| {
        let invitation = invitations::by_id_in(tx, id)
            .await?
            .filter(|i| i.service_code == service.code)
            .ok_or(AccessRefusal::NoSuchRequest)?;
        rules::manages(tx, by, service, &invitation.siret).await?;
        if invitation.accepted_at.is_some() {
            return Err(AccessRefusal::AlreadyConnected);
        }
        if !invitations::resend_in(tx, &invitation.id, now).await? {
            let left = invitations::wait_label(invitation.expires_at - now);
            return Err(AccessRefusal::InvitationRelaunchTooEarly(left));
        }
        let details = serde_json::json!({
            "invitation": invitation.id, "service": service.code, "siret": invitation.siret,
        });
        let event = Event::new(by.as_str(), "invitation.resent", &invitation.user_id);
        Ok((invitation, event.with(details)))
    })
    .await
}
