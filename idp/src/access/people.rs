//! Whether a person has anything in a set of establishments for a service: a habilitation, a
//! Responsable des accès right, a pending request for access, an invitation. The storage side of
//! [`super::rules::may_manage`].

use crate::accounts::UserId;

/// `true` when `person` has a habilitation, a manager right, a pending request or an invitation
/// for `service` in one of `sirets`.
pub async fn known_in(
    conn: &mut sqlx::AnyConnection,
    person: &UserId,
    service: &str,
    sirets: &[String],
) -> Result<bool, sqlx::Error> {
    if sirets.is_empty() {
        return Ok(false);
    }
    // $1 = person, $2 = service, $3.. = the SIRETs (bound, never spliced).
    let list = (0..sirets.len())
        .map(|i| format!("${}", i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT \
         (SELECT COUNT(*) FROM habilitations WHERE user_id = $1 AND service_code = $2 AND siret IN ({list})) + \
         (SELECT COUNT(*) FROM access_managers WHERE user_id = $1 AND service_code = $2 AND siret IN ({list})) + \
         (SELECT COUNT(*) FROM access_requests WHERE user_id = $1 AND service_code = $2 AND status = 'pending' AND siret IN ({list})) + \
         (SELECT COUNT(*) FROM invitations WHERE user_id = $1 AND service_code = $2 AND siret IN ({list}))"
    );
    let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
        .bind(person.as_str().to_owned())
        .bind(service.to_owned());
    for siret in sirets {
        query = query.bind(siret.clone());
    }
    Ok(query.fetch_one(conn).await? > 0)
}
