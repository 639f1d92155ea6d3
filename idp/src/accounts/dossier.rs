//! Everything the provider holds about one person, for support (`idp users show`) and for a
//! GDPR access request (`idp users export`, `GET /api/v1/admin/users/{id}/export`): the account,
//! its establishments and habilitations, manager rights, requests and invitations, documents
//! accepted, second factors, known browsers, agent links, consents, grants (the sessions that
//! logged into a service) and the audit events about or by the person. Secrets never appear:
//! no password hash, TOTP secret, recovery code, token or code hash (each section names its
//! columns).

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::{Column, Row, any::AnyRow};

use super::UserId;

/// One section: its name and the query of its rows (`$1`: the account's id).
struct Section {
    name: &'static str,
    sql: &'static str,
}

/// The sections, in the order of the export.
const SECTIONS: &[Section] = &[
    Section {
        name: "habilitations",
        sql: "SELECT service_code, siret, role_code, end_date, granted_by, granted_how, granted_at \
              FROM habilitations WHERE user_id = $1 ORDER BY service_code, siret, role_code",
    },
    Section {
        name: "manager_rights",
        sql: "SELECT service_code, siret, granted_by, granted_how, granted_at \
              FROM access_managers WHERE user_id = $1 ORDER BY service_code, siret",
    },
    Section {
        name: "access_requests",
        sql: "SELECT id, service_code, siret, message, status, created_at, sent_at, handled_by, \
              handled_at FROM access_requests WHERE user_id = $1 ORDER BY created_at",
    },
    Section {
        name: "invitations",
        sql: "SELECT id, service_code, siret, roles, invited_by, created_at, sent_at, expires_at, \
              accepted_at FROM invitations WHERE user_id = $1 ORDER BY created_at",
    },
    Section {
        name: "activation_codes_redeemed",
        sql: "SELECT id, service_code, siret, issued_by, issued_at, redeemed_at \
              FROM activation_codes WHERE redeemed_by = $1 ORDER BY redeemed_at",
    },
    Section {
        name: "cgu_accepted",
        sql: "SELECT version, accepted_at FROM cgu_acceptances WHERE user_id = $1 \
              ORDER BY version",
    },
    Section {
        name: "documents_accepted",
        sql: "SELECT service_code, kind, version, siret, accepted_at FROM document_acceptances \
              WHERE user_id = $1 ORDER BY accepted_at",
    },
    Section {
        name: "totp",
        sql: "SELECT created_at, (SELECT COUNT(*) FROM totp_recovery_codes r \
              WHERE r.user_id = t.user_id) AS recovery_codes_left FROM user_totp t \
              WHERE t.user_id = $1",
    },
    Section {
        name: "passkeys",
        sql: "SELECT id, name, backup_eligible, backup_state, created_at, last_used_at \
              FROM user_passkeys WHERE user_id = $1 ORDER BY created_at",
    },
    Section {
        name: "known_browsers",
        sql: "SELECT id, label, created_at, last_seen_at FROM known_browsers WHERE user_id = $1 \
              ORDER BY created_at",
    },
    Section {
        name: "agent_links",
        sql: "SELECT issuer, subject, created_at, last_login_at FROM upstream_links \
              WHERE user_id = $1 ORDER BY created_at",
    },
    Section {
        name: "consents",
        sql: "SELECT client_id, scopes, granted_at FROM consents WHERE user_id = $1 \
              ORDER BY client_id",
    },
    Section {
        name: "last_logins",
        sql: "SELECT at, details FROM audit_events WHERE target = $1 AND action = 'login.succeeded' \
              ORDER BY at DESC LIMIT 10",
    },
    Section {
        name: "grants",
        sql: "SELECT id, client_id, scope, acr, amr, sid, auth_time, created_at, revoked_at \
              FROM grants WHERE user_id = $1 ORDER BY created_at",
    },
];

/// Columns whose text is JSON: exported as JSON, not as a string holding it.
const JSON_COLUMNS: &[&str] = &["roles", "amr", "details"];

/// The account's own row.
const ACCOUNT_SQL: &str = "SELECT id, email, email_verified, given_name, family_name, gender, job, \
     siret, organization_label, is_agent, verify_new_browsers, created_at, updated_at, \
     last_login_at, disabled_at, disabled_reason, sessions_not_before, \
     CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS has_password \
     FROM users WHERE id = $1";

/// The audit events about or by the person, oldest first.
const AUDIT_SQL: &str = "SELECT at, actor, action, target, details FROM audit_events \
     WHERE target = $1 OR actor = $1 ORDER BY at, id";

/// A person's file.
#[derive(Debug, Clone, Serialize)]
pub struct Dossier {
    /// The account.
    pub account: Map<String, Value>,
    /// Each section's rows, in [`SECTIONS`] order.
    pub sections: Vec<(String, Vec<Map<String, Value>>)>,
    /// The audit events about or by the person (only in the export).
    pub audit_events: Vec<Map<String, Value>>,
}

impl Dossier {
    /// The file as JSON: the account, then each section under its name, then the audit events.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("account".into(), Value::Object(self.account.clone()));
        for (name, rows) in &self.sections {
            let rows = rows.iter().cloned().map(Value::Object).collect();
            out.insert(name.clone(), Value::Array(rows));
        }
        let events = self.audit_events.iter().cloned().map(Value::Object);
        out.insert("audit_events".into(), Value::Array(events.collect()));
        out.insert("format".into(), Value::from("efp-connect-dossier/1"));
        Value::Object(out)
    }

    /// The rows of section `name`.
    pub fn section(&self, name: &str) -> &[Map<String, Value>] {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[], |(_, rows)| rows.as_slice())
    }
}

/// One row as a JSON object: integers, texts (JSON for [`JSON_COLUMNS`]) and nulls.
fn row_json(row: &AnyRow) -> Map<String, Value> {
    let mut out = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let name = column.name();
        let value = if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
            v.map_or(Value::Null, Value::from)
        } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
            match v {
                Some(text) if JSON_COLUMNS.contains(&name) => {
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                }
                Some(text) => Value::String(text),
                None => Value::Null,
            }
        } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
            v.map_or(Value::Null, Value::from)
        } else {
            Value::Null
        };
        out.insert(name.to_owned(), value);
    }
    out
}

async fn rows(
    conn: &mut sqlx::AnyConnection,
    sql: &'static str,
    user: &UserId,
) -> Result<Vec<Map<String, Value>>, sqlx::Error> {
    Ok(sqlx::query(sql)
        .bind(user.as_str())
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(row_json)
        .collect())
}

/// The file of `user` read in the caller's transaction (one consistent picture), with its audit
/// events if `with_audit`; `None` when there is no such account.
pub async fn read_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    with_audit: bool,
) -> Result<Option<Dossier>, sqlx::Error> {
    let Some(account) = rows(conn, ACCOUNT_SQL, user).await?.into_iter().next() else {
        return Ok(None);
    };
    let mut sections = Vec::with_capacity(SECTIONS.len());
    for section in SECTIONS {
        sections.push((
            section.name.to_owned(),
            rows(conn, section.sql, user).await?,
        ));
    }
    let audit_events = if with_audit {
        rows(conn, AUDIT_SQL, user).await?
    } else {
        Vec::new()
    };
    Ok(Some(Dossier {
        account,
        sections,
        audit_events,
    }))
}
