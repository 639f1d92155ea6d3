//! Add a role to a service, or change it.

use crate::{
    access::{refusal::AccessRefusal, rules, services},
    audit,
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
    let mut tx = db.begin().await?;
    let service = rules::service_exists(&mut tx, service).await?;
    rules::code_is_well_formed(&role.code)?;
    rules::label_is_given(&role.label)?;
    let role = services::Role {
        label: role.label.trim().to_owned(),
        ..role
    };
    services::upsert_role_in(&mut tx, &service.code, &role).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "service.role_saved",
        &service.code,
        serde_json::json!({"role": role.code}),
    )
    .await?;
    tx.commit().await?;
    Ok(role)
}
