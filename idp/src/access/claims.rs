//! The claims of the `habilitations` scope (docs/claims.md): a person's live habilitations
//! for the requesting client's service only, the establishments they manage there and how many
//! access requests wait for them, and whether they are a ministry agent.

use serde_json::{Map, Value, json};

use super::{habilitations, managers, requests, services::ClientLink};
use crate::{accounts::store::User, store::Db};

/// The scope that releases these claims.
pub const SCOPE: &str = "habilitations";

/// The claim names of that scope.
pub const CLAIMS: [&str; 4] = [
    "habilitations",
    "access_manager_of",
    "pending_access_requests",
    "ministry_agent",
];

/// The claims of the scope for `user` as seen by a client of the service `link` names (its
/// [`super::services::of_client`]). A client that belongs to no
/// service sees empty lists and no pending request: never another service's rights.
/// `ministry_agent` is the standing of the login (`upstream`: the upstream provider it came
/// through), the same for every service: relying parties open their agents' areas on it, by
/// the rule of the provider's own `/agent` ([`super::rules::is_agent`]).
pub async fn for_client(
    db: &Db,
    user: &User,
    link: Option<&ClientLink>,
    upstream: Option<&str>,
) -> Result<Map<String, Value>, sqlx::Error> {
    let mut out = Map::new();
    let user_id = user.id.as_str();
    let (list, managed, pending) = match link {
        Some(ClientLink { service, .. }) => {
            let managed = managers::establishments_of(db, user_id, &service.code).await?;
            let pending = if managed.is_empty() {
                0
            } else {
                requests::count_pending_for_manager(db, user_id, &service.code).await?
            };
            (
                habilitations::live(db, user_id, &service.code).await?,
                managed,
                pending,
            )
        }
        None => (Vec::new(), Vec::new(), 0),
    };
    let list: Vec<Value> = list
        .iter()
        .map(|h| {
            json!({
                "siret": h.siret,
                "establishment": h.establishment,
                "role": h.role,
                "role_label": h.role_label,
                "expires_at": h.end_date.map(|d| d.iso()),
            })
        })
        .collect();
    out.insert("habilitations".into(), Value::Array(list));
    out.insert("access_manager_of".into(), json!(managed));
    out.insert("pending_access_requests".into(), json!(pending));
    out.insert(
        "ministry_agent".into(),
        json!(super::rules::is_agent(user, upstream)),
    );
    Ok(out)
}
