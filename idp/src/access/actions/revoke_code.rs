//! An agent (`POST /agent/codes/{id}/revoquer`), a service's back office
//! (`DELETE /api/v1/codes/{id}`) or an operator revokes an activation code that was not used.

use crate::{
    access::{
        codes::{self, CodeInfo},
        refusal::AccessRefusal,
    },
    action::{self, Event},
    clock::Clock,
    store::Db,
};

/// Revokes the code `id`: in one transaction, the code looked up (a code of another service
/// than `service_code`, when one is given, is not found), revoked, and the
/// `activation_code.revoked` event. Returns the code as it was (its service and establishment).
pub async fn revoke_code(
    db: &Db,
    clock: &Clock,
    by: &str,
    id: &str,
    service_code: Option<&str>,
) -> Result<CodeInfo, AccessRefusal> {
    let now = clock.now();
    action::in_one_transaction(db, now, async |tx| {
        let code = codes::by_id_in(tx, id, now)
            .await?
            .filter(|c| service_code.is_none_or(|s| s == c.service_code))
            .ok_or(AccessRefusal::NoSuchCode)?;
        if !codes::revoke_in(tx, id, now).await? {
            return Err(AccessRefusal::NotRevocable);
        }
        let details = serde_json::json!({"service": code.service_code, "code_id": id});
        let event = Event::new(by, "activation_code.revoked", &code.siret).with(details);
        Ok((code, event))
    })
    .await
}
