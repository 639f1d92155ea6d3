//! Add a role to a service, or change it.

use crate::{
    access::{refusal::AccessRefusal, rules, services},
    action::{self, Event},
    store::Db,
};

/// Saves `role` for the service `service` at `now` with its `service.role_saved` event, in one
/// transaction.
pub async fn save_role(
    db: &Db,
    service: &str,
    role: services::Role,
    now: i64,
    actor: &str,
) -> Result<services::Role, AccessRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        let service = rules::service_exists(tx, service).await?;
        rules::code_is_well_formed(&role.code)?;
        rules::label_is_given(&role.label)?;
        let role = services::Role {
            label: role.label.trim().to_owned(),
            ..role
        };
        services::upsert_role_in(tx, &service.code, &role).await?;
        let details = serde_json::json!({"role": role.code});
        let event = Event::new(actor, "service.role_saved", service.code).with(details);
        Ok((role, event))
    })
    .await
}
