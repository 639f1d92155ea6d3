//! « Gérer les accès de mon entreprise » (guide `002` §6): the Responsable des accès lists
//! the users of their establishments, opens one, adds and removes habilitations, designates
//! or removes a Responsable des accès. Everything is limited to the establishments the
//! person manages for this service, with the current charte accepted: anything else is 403
//! and changes nothing.

use std::collections::BTreeMap;

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    EndDate, activation, dates,
    habilitations::{self, Habilitation},
    managers::{self, AccessManager},
    notices, pages,
    services::{self, Role, Service},
};
use super::{
    actions::{
        add_habilitation::{AddHabilitation, add_habilitation},
        designate_manager::designate_manager,
        remove_habilitation::remove_habilitation,
        withdraw_manager::withdraw_manager,
    },
    refusal::AccessRefusal,
    rules,
};
use crate::{
    AppState,
    accounts::{
        UserId,
        account::full_name,
        store::{self as users, User},
    },
    error::PageError,
    organizations::{Siret, register},
    web::page::{check_csrf, render},
};

/// One of the manager's establishments.
#[derive(Clone, Debug)]
pub struct Establishment {
    /// SIRET.
    pub siret: String,
    /// Name in the register, or empty.
    pub name: String,
    /// Open (a closed one gets no new habilitation).
    pub active: bool,
}

impl Establishment {
    /// « CENTRE DU LAC — SIRET 130… » for lists.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            format!("SIRET {}", self.siret)
        } else {
            format!("{} — SIRET {}", self.name, self.siret)
        }
    }
}

/// Who is acting: their account and the establishments they manage (charte accepted).
pub(super) struct Manager {
    pub(super) user: User,
    pub(super) service: Service,
    pub(super) establishments: Vec<Establishment>,
    /// The login session's public id (keys per-session state such as the invitation wizard).
    pub(super) sid: String,
}

impl Manager {
    pub(super) fn manages(&self, siret: &str) -> bool {
        self.establishments.iter().any(|e| e.siret == siret)
    }

    pub(super) fn establishment(&self, siret: &str) -> Option<&Establishment> {
        self.establishments.iter().find(|e| e.siret == siret)
    }
}

pub(super) fn not_manager(service: &Service) -> PageError {
    PageError::forbidden(format!(
        "Vous n'êtes pas responsable des accès de cet établissement pour le service numérique {}.",
        service.label
    ))
}

/// The acting manager, or the page to go to first (login, or the charte of an establishment
/// whose current version they have not accepted yet).
pub(super) async fn manager(
    state: &AppState,
    headers: &HeaderMap,
    service_code: &str,
    here: &str,
) -> Result<Result<Manager, Response>, PageError> {
    let service = pages::service(state, service_code).await?;
    let (session, user) = match pages::person(state, headers, here).await? {
        Ok(found) => found,
        Err(login) => return Ok(Err(login)),
    };
    let sirets = managers::establishments_of(&state.db, &user.id, &service.code).await?;
    if sirets.is_empty() {
        return Err(PageError::forbidden(format!(
            "Vous n'êtes responsable des accès d'aucun établissement pour le service numérique {}.",
            service.label
        )));
    }
    let mut establishments = Vec::with_capacity(sirets.len());
    for siret in sirets {
        if !activation::charte_accepted(state, &user.id, &service, &siret).await? {
            let to = pages::charte_then(&service.code, &siret, here);
            return Ok(Err(Redirect::to(&to).into_response()));
        }
        let found = match Siret::parse(&siret) {
            Ok(s) => register::by_siret(&state.db, &s).await?,
            Err(_) => None,
        };
        establishments.push(Establishment {
            name: found.as_ref().map(|e| e.name.clone()).unwrap_or_default(),
            active: found.as_ref().is_none_or(|e| e.active),
            siret,
        });
    }
    Ok(Ok(Manager {
        user,
        service,
        establishments,
        sid: session.sid,
    }))
}

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
pub struct UsersQuery {
    /// « Accès en tant que »: a role code, or `responsable`.
    #[serde(default)]
    role: String,
    /// « Accès pour »: one of the manager's establishments.
    #[serde(default)]
    siret: String,
}

/// `GET /acces/{service}/gestion`: the « Utilisateurs » tab.
pub async fn users(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<UsersQuery>,
) -> Result<Response, PageError> {
    let here = format!("/acces/{code}/gestion");
    let m = match manager(&state, &headers, &code, &here).await? {
        Ok(m) => m,
        Err(redirect) => return Ok(redirect),
    };
    if !q.siret.is_empty() && !m.manages(&q.siret) {
        return Err(not_manager(&m.service));
    }
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
            let row = row_for(&state, &mut rows, &h.user_id).await?;
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
            if let Some(row) = row_for(&state, &mut rows, &a.user_id).await? {
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
    let roles = services::roles(&state.db, &m.service.code).await?;
    let pending =
        super::requests::count_pending_for_manager(&state.db, &m.user.id, &m.service.code).await?;
    render(&state, &headers, StatusCode::OK, |_| UsersPage {
        service: m.service,
        establishments: m.establishments,
        roles,
        role: q.role,
        siret: q.siret,
        rows,
        pending,
    })
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

#[derive(Template)]
#[template(path = "access_manage_user.html")]
struct UserPage {
    csrf: String,
    service: Service,
    person: User,
    name: String,
    /// The person's Responsable des accès rights in the manager's establishments.
    rights: Vec<AccessManager>,
    /// The manager's establishments where the person is not Responsable des accès yet.
    can_designate: Vec<Establishment>,
    habilitations: Vec<Habilitation>,
    establishments: Vec<Establishment>,
    roles: Vec<Role>,
    form_siret: String,
    form_role: String,
    form_end: String,
    error: Option<String>,
    confirm_last: Option<String>,
}

/// What a user page shows of the form, the error and a pending confirmation.
#[derive(Default)]
struct UserPageState {
    siret: String,
    role: String,
    end: String,
    error: Option<String>,
    confirm_last: Option<String>,
}

/// The person's rights and habilitations within the manager's establishments; `None` when
/// the person has nothing there (then the manager may not see them).
async fn user_page(
    state: &AppState,
    headers: &HeaderMap,
    m: Manager,
    person: User,
    page: UserPageState,
) -> Result<Response, PageError> {
    let rights: Vec<AccessManager> = {
        let mut all = Vec::new();
        for e in &m.establishments {
            all.extend(
                managers::of_establishment(&state.db, &m.service.code, &e.siret)
                    .await?
                    .into_iter()
                    .filter(|a| a.user_id == person.id),
            );
        }
        all
    };
    let habilitations: Vec<Habilitation> =
        habilitations::of_user(&state.db, &person.id, &m.service.code)
            .await?
            .into_iter()
            .filter(|h| h.is_live() && m.manages(&h.siret))
            .collect();
    let can_designate = m
        .establishments
        .iter()
        .filter(|e| !rights.iter().any(|r| r.siret == e.siret))
        .filter(|e| habilitations.iter().any(|h| h.siret == e.siret))
        .cloned()
        .collect();
    let roles = services::roles(&state.db, &m.service.code).await?;
    let status = if page.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let name = full_name(&person).unwrap_or_else(|| person.email.clone());
    render(state, headers, status, |csrf| UserPage {
        csrf,
        service: m.service,
        name,
        rights,
        can_designate,
        habilitations,
        establishments: m.establishments,
        roles,
        form_siret: page.siret,
        form_role: page.role,
        form_end: page.end,
        error: page.error,
        confirm_last: page.confirm_last,
        person,
    })
}

async fn person(state: &AppState, id: &str) -> Result<User, PageError> {
    users::user_by_id(&state.db, id)
        .await?
        .ok_or_else(PageError::not_found)
}

fn managed_sirets(m: &Manager) -> Vec<String> {
    m.establishments.iter().map(|e| e.siret.clone()).collect()
}

/// The person, if the manager may see and change them ([`rules::may_manage`]): 404 for no
/// account, 403 for someone with nothing in the manager's establishments.
async fn managed_person(state: &AppState, m: &Manager, id: &str) -> Result<User, PageError> {
    let p = person(state, id).await?;
    let sirets = managed_sirets(m);
    let mut conn = state.db.pool.acquire().await?;
    rules::may_manage(
        &mut conn,
        &UserId::from_stored(m.user.id.clone()),
        &m.service.code,
        &sirets,
        &UserId::from_stored(p.id.clone()),
    )
    .await
    .map_err(|r| PageError::refused(&r))?;
    Ok(p)
}

/// `GET /acces/{service}/gestion/utilisateurs/{id}`: « Coordonnées », the Responsable des
/// accès right, the habilitations.
pub async fn user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((code, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let here = format!("/acces/{code}/gestion/utilisateurs/{id}");
    let m = match manager(&state, &headers, &code, &here).await? {
        Ok(m) => m,
        Err(redirect) => return Ok(redirect),
    };
    let p = managed_person(&state, &m, &id).await?;
    user_page(&state, &headers, m, p, UserPageState::default()).await
}

fn back_to(service: &Service, user_id: &str) -> Response {
    Redirect::to(&format!(
        "/acces/{}/gestion/utilisateurs/{user_id}",
        service.code
    ))
    .into_response()
}

/// « Ajouter l'habilitation » on a user page.
#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    siret: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    date_fin: String,
}

/// `POST /acces/{service}/gestion/utilisateurs/{id}/habilitations`.
pub async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((code, id)): Path<(String, String)>,
    Form(form): Form<AddForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let here = format!("/acces/{code}/gestion/utilisateurs/{id}");
    let m = match manager(&state, &headers, &code, &here).await? {
        Ok(m) => m,
        Err(redirect) => return Ok(redirect),
    };
    let p = person(&state, &id).await?;
    let again = |error: String| UserPageState {
        siret: form.siret.clone(),
        role: form.role.clone(),
        end: form.date_fin.clone(),
        error: Some(error),
        confirm_last: None,
    };
    let end_date = if form.date_fin.trim().is_empty() {
        None
    } else {
        match EndDate::parse(&form.date_fin, dates::today()) {
            Ok(d) => Some(d),
            Err(e) => return user_page(&state, &headers, m, p, again(e.to_string())).await,
        }
    };
    let sirets = managed_sirets(&m);
    let added = add_habilitation(
        &state.db,
        state.clock.now(),
        &AddHabilitation {
            manager: &UserId::from_stored(m.user.id.clone()),
            service: &m.service.code,
            managed: &sirets,
            person: &UserId::from_stored(p.id.clone()),
            siret: &form.siret,
            role: &form.role,
            end_date,
        },
    )
    .await;
    let hid = match added {
        Ok(hid) => hid,
        Err(r @ (AccessRefusal::ClosedEstablishment(_) | AccessRefusal::UnknownRole)) => {
            return user_page(&state, &headers, m, p, again(r.to_string())).await;
        }
        Err(r) => return Err(PageError::refused(&r)),
    };
    if p.id != m.user.id
        && let Some(h) = habilitations::by_id(&state.db, &hid).await?
    {
        notices::habilitation_granted(&state, &m.service, &p, &h, &m.user).await;
    }
    Ok(back_to(&m.service, &p.id))
}

/// A form with only the CSRF token.
#[derive(Deserialize)]
pub struct PlainForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /acces/{service}/gestion/habilitations/{id}/retirer`.
pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((code, hid)): Path<(String, String)>,
    Form(form): Form<PlainForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let here = format!("/acces/{code}/gestion");
    let m = match manager(&state, &headers, &code, &here).await? {
        Ok(m) => m,
        Err(redirect) => return Ok(redirect),
    };
    let Some(h) = habilitations::by_id(&state.db, &hid).await? else {
        return Err(PageError::not_found());
    };
    if h.service_code != m.service.code || !m.manages(&h.siret) {
        return Err(not_manager(&m.service));
    }
    remove_habilitation(
        &state.db,
        state.clock.now(),
        &UserId::from_stored(m.user.id.clone()),
        &h,
    )
    .await
    .map_err(|r| PageError::refused(&r))?;
    if h.user_id != m.user.id
        && let Some(p) = users::user_by_id(&state.db, &h.user_id).await?
    {
        notices::habilitation_removed(&state, &m.service, &p, &h).await;
    }
    Ok(back_to(&m.service, &h.user_id))
}

/// The Responsable des accès forms: which establishment, and the confirmation of removing
/// the last one.
#[derive(Deserialize)]
pub struct RightForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    siret: String,
    #[serde(default)]
    confirmer: Option<String>,
}

/// `POST /acces/{service}/gestion/utilisateurs/{id}/responsable`: designates a colleague who
/// has a habilitation there as Responsable des accès of one of the manager's establishments.
pub async fn designate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((code, id)): Path<(String, String)>,
    Form(form): Form<RightForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let here = format!("/acces/{code}/gestion/utilisateurs/{id}");
    let m = match manager(&state, &headers, &code, &here).await? {
        Ok(m) => m,
        Err(redirect) => return Ok(redirect),
    };
    if !m.manages(&form.siret) {
        return Err(not_manager(&m.service));
    }
    let p = managed_person(&state, &m, &id).await?;
    designate_manager(
        &state.db,
        state.clock.now(),
        &UserId::from_stored(m.user.id.clone()),
        &m.service.code,
        &managed_sirets(&m),
        &UserId::from_stored(p.id.clone()),
        &form.siret,
    )
    .await
    .map_err(|r| PageError::refused(&r))?;
    notices::manager_granted(&state, &m.service, &p, &form.siret, &m.user).await;
    Ok(back_to(&m.service, &p.id))
}

/// `POST /acces/{service}/gestion/utilisateurs/{id}/responsable/retirer`: removes the right
/// (« Retirer »); removing the establishment's last one asks to confirm first.
pub async fn withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((code, id)): Path<(String, String)>,
    Form(form): Form<RightForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let here = format!("/acces/{code}/gestion/utilisateurs/{id}");
    let m = match manager(&state, &headers, &code, &here).await? {
        Ok(m) => m,
        Err(redirect) => return Ok(redirect),
    };
    if !m.manages(&form.siret) {
        return Err(not_manager(&m.service));
    }
    let p = managed_person(&state, &m, &id).await?;
    let withdrawn = withdraw_manager(
        &state.db,
        state.clock.now(),
        &UserId::from_stored(m.user.id.clone()),
        &m.service.code,
        &managed_sirets(&m),
        &UserId::from_stored(p.id.clone()),
        &form.siret,
        form.confirmer.is_some(),
    )
    .await;
    match withdrawn {
        Ok(()) => {}
        Err(AccessRefusal::LastManager) => {
            let page = UserPageState {
                confirm_last: Some(form.siret.clone()),
                ..UserPageState::default()
            };
            return user_page(&state, &headers, m, p, page).await;
        }
        Err(r) => return Err(PageError::refused(&r)),
    }
    if p.id != m.user.id {
        notices::manager_removed(&state, &m.service, &p, &form.siret).await;
        return Ok(back_to(&m.service, &p.id));
    }
    // Removing one's own right: the manager's pages may no longer be theirs.
    Ok(Redirect::to(&format!("/acces/{}", m.service.code)).into_response())
}

#[derive(Template)]
#[template(path = "access_manage_requests.html")]
struct RequestsPage {
    service: Service,
    requests: Vec<super::requests::AccessRequest>,
    pending: i64,
}

impl RequestsPage {
    fn date(&self, t: &i64) -> String {
        dates::french_date_time(*t)
    }
}

/// `GET /acces/{service}/gestion/demandes`: the « Demandes d'accès » tab: the pending
/// requests of the manager's establishments, oldest first, each opening its decision page.
pub async fn requests(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    let here = format!("/acces/{code}/gestion/demandes");
    let m = match manager(&state, &headers, &code, &here).await? {
        Ok(m) => m,
        Err(redirect) => return Ok(redirect),
    };
    let requests =
        super::requests::pending_for_manager(&state.db, &m.user.id, &m.service.code).await?;
    let pending = i64::try_from(requests.len()).unwrap_or(i64::MAX);
    render(&state, &headers, StatusCode::OK, |_| RequestsPage {
        service: m.service,
        requests,
        pending,
    })
}
