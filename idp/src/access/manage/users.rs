//! The « Utilisateurs » tab: the people of the manager's establishments, filtered by role
//! and establishment.

use std::collections::BTreeMap;

use askama::Template;
use axum::{extract::Query, http::StatusCode, response::Response};
use serde::Deserialize;

use crate::{
    AppState,
    access::{
        habilitations,
        manager::{Establishment, Manager},
        managers, requests,
        services::{self, Role, Service},
    },
    accounts::{account::full_name, store as users},
    error::PageError,
    web::page::Page,
};

/// One line of the users list.
pub struct UserRow {
    /// Account id.
    pub id: String,
    /// « Alice Martin ».
    pub name: String,
    /// E-mail.
    pub email: String,
    /// Role labels of their live habilitations in the shown establishments.
    pub roles: Vec<String>,
    /// Responsable des accès of one of the shown establishments.
    pub is_manager: bool,
    /// SIRETs they have access for.
    pub sirets: Vec<String>,
}

#[derive(Template)]
#[template(path = "access_manage_users.html")]
struct UsersPage {
    service: Service,
    establishments: Vec<Establishment>,
    roles: Vec<Role>,
    role: String,
    siret: String,
    rows: Vec<UserRow>,
    pending: i64,
}

/// `?role=&siret=` filters of the users list.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UsersQuery {
    /// « Accès en tant que »: a role code, or `responsable`.
    role: String,
    /// « Accès pour »: one of the manager's establishments.
    siret: String,
}

/// `GET /acces/{service}/gestion`: the « Utilisateurs » tab.
pub async fn users(
    page: Page,
    m: Manager,
    Query(q): Query<UsersQuery>,
) -> Result<Response, PageError> {
    if !q.siret.is_empty() && !m.manages(&q.siret) {
        return Err(m.not_manager());
    }
    let rows = rows(&page, &m, &q).await?;
    let roles = services::roles(&page.db, &m.service.code).await?;
    let pending =
        requests::count_pending_for_manager(&page.db, &m.user.id, &m.service.code).await?;
    page.render(StatusCode::OK, |_| UsersPage {
        service: m.service,
        establishments: m.establishments,
        roles,
        role: q.role,
        siret: q.siret,
        rows,
        pending,
    })
}

/// The people of the manager's establishments that the filters keep, by name.
async fn rows(state: &AppState, m: &Manager, q: &UsersQuery) -> Result<Vec<UserRow>, PageError> {
    let mut rows: BTreeMap<String, UserRow> = BTreeMap::new();
    for e in m
        .establishments
        .iter()
        .filter(|e| q.siret.is_empty() || e.siret == q.siret)
    {
        for h in habilitations::of_establishment(&state.db, &m.service.code, &e.siret).await? {
            if !h.is_live() || (!q.role.is_empty() && q.role != "responsable" && q.role != h.role) {
                continue;
            }
            let row = row_for(state, &mut rows, &h.user_id).await?;
            if let Some(row) = row {
                row.roles.push(h.role_label.clone());
                if !row.sirets.contains(&h.siret) {
                    row.sirets.push(h.siret.clone());
                }
            }
        }
        for a in managers::of_establishment(&state.db, &m.service.code, &e.siret).await? {
            if !q.role.is_empty() && q.role != "responsable" {
                // Filtered by a role: a manager shows only if they also hold it (above).
                if let Some(row) = rows.get_mut(&a.user_id) {
                    row.is_manager = true;
                }
                continue;
            }
            if let Some(row) = row_for(state, &mut rows, &a.user_id).await? {
                row.is_manager = true;
                if !row.sirets.contains(&a.siret) {
                    row.sirets.push(a.siret.clone());
                }
            }
        }
    }
    let mut rows: Vec<UserRow> = rows
        .into_values()
        .filter(|r| q.role != "responsable" || r.is_manager)
        .collect();
    rows.sort_by_key(|r| r.name.to_lowercase());
    for r in &mut rows {
        r.roles.sort();
        r.roles.dedup();
    }
    Ok(rows)
}

async fn row_for<'a>(
    state: &AppState,
    rows: &'a mut BTreeMap<String, UserRow>,
    user_id: &str,
) -> Result<Option<&'a mut UserRow>, PageError> {
    if !rows.contains_key(user_id) {
        let Some(user) = users::user_by_id(&state.db, user_id).await? else {
            return Ok(None);
        };
        rows.insert(
            user_id.to_owned(),
            UserRow {
                id: user.id.clone(),
                name: full_name(&user).unwrap_or_else(|| user.email.clone()),
                email: user.email.clone(),
                roles: Vec::new(),
                is_manager: false,
                sirets: Vec::new(),
            },
        );
    }
    Ok(rows.get_mut(user_id))
}
