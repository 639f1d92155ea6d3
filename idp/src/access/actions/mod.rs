//! The access use cases, one file each (see `crate::action`).

pub mod accept_charte;
pub mod add_habilitation;
pub mod assign_own_habilitations;
pub mod decide_request;
pub mod designate_manager;
pub mod finish_invitation;
pub mod grant_habilitation;
pub mod issue_code;
pub mod look_up_invitee;
pub mod redeem_code;
pub mod relaunch_invitation;
pub mod relaunch_request;
pub mod remove_habilitation;
pub mod request_access;
pub mod revoke_code;
pub mod withdraw_manager;

// --- Service administration ---
pub mod service_add_role;
pub mod service_create;
pub mod service_link_client;
pub mod service_publish;

use crate::{
    access::habilitations::{self, NewHabilitation},
    audit,
};

/// What every way of granting a habilitation writes once its rules passed: the habilitation and
/// its `habilitation.granted` event (`how`: `self`, `manager`, `operator`, …; `manager`: whether
/// the Responsable des accès right came with it), inside the action's transaction. Returns the
/// habilitation's id.
async fn grant_and_record(
    conn: &mut sqlx::AnyConnection,
    now: i64,
    actor: &str,
    new: &NewHabilitation<'_>,
    (how, manager): (&str, bool),
) -> Result<String, sqlx::Error> {
    let id = habilitations::grant_in(conn, new, now).await?;
    let details = serde_json::json!({
        "service": new.service_code,
        "siret": new.siret,
        "role": new.role,
        "end_date": new.end_date.map(|d| d.iso()),
        "how": how,
        "manager": manager,
    });
    audit::record(
        conn,
        now,
        actor,
        "habilitation.granted",
        new.user_id,
        details,
    )
    .await?;
    Ok(id)
}
