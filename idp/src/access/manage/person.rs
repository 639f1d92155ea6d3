//! A person's page in « Gérer les accès de mon entreprise »: « Coordonnées », the Responsable
//! des accès right and the habilitations, with the forms that change them (each one action).

use askama::Template;
use axum::{
    extract::{Path, Query as UrlQuery, State},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use crate::{
    AppState,
    access::{
        EndDate,
        actions::{
            HabilitationGrant,
            add_habilitation::{self, Added},
            change_end_date::{self, ChangedBy},
            designate_manager, remove_habilitation, withdraw_manager,
        },
        dates,
        habilitations::{self, Habilitation},
        manager::{Establishment, Manager},
        managers::{self, AccessManager},
        notices,
        refusal::AccessRefusal,
        rules,
        services::{self, Role, Service},
    },
    accounts::{
        UserId,
        account::full_name,
        store::{self as users, User},
    },
    error::PageError,
    organizations::Siret,
    web::page::{CsrfForm, Page, PlainForm},
    with_csrf,
};

#[derive(Template)]
#[template(path = "access_manage_user.html")]
struct UserPage {
    csrf: String,
    service: Service,
    person: User,
    name: String,
    /// « Société »: the manager's establishments the person has a right or habilitation in.
    companies: Vec<String>,
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
    /// The habilitation « Retirer » asks to confirm removing.
    confirm_remove: Option<Habilitation>,
    /// The habilitation whose end date « Modifier la date de fin » opened, and the date shown
    /// in its field.
    edit_end: Option<(Habilitation, String)>,
    /// The DSFR success message after a change.
    notice: Option<&'static str>,
}

/// What a user page shows of the form, the error and a pending confirmation.
#[derive(Default)]
struct UserPageState {
    siret: String,
    role: String,
    end: String,
    error: Option<String>,
    confirm_last: Option<String>,
    /// Id of the habilitation to confirm removing (`?retirer=`).
    confirm_remove: String,
    /// Id of the habilitation whose end date to change (`?modifier=`), and what was typed.
    edit_end: String,
    edit_end_typed: Option<String>,
    notice: Option<&'static str>,
}

/// The person's rights and habilitations within the manager's establishments; `None` when
/// the person has nothing there (then the manager may not see them).
async fn user_page(
    page: &Page,
    m: Manager,
    person: User,
    view: UserPageState,
) -> Result<Response, PageError> {
    let rights: Vec<AccessManager> = {
        let mut all = Vec::new();
        for e in &m.establishments {
            all.extend(
                managers::of_establishment(&page.db, &m.service.code, &e.siret)
                    .await?
                    .into_iter()
                    .filter(|a| a.user_id == person.id),
            );
        }
        all
    };
    let habilitations: Vec<Habilitation> =
        habilitations::of_user(&page.db, &person.id, &m.service.code)
            .await?
            .into_iter()
            .filter(|h| h.is_live() && m.manages(&h.siret))
            .collect();
    // Whom the view shows is whom the actions may change: the same rule.
    rules::may_manage(
        &mut *page.db.pool.acquire().await?,
        &m.id,
        &m.service,
        &UserId::from_stored(person.id.clone()),
    )
    .await
    .map_err(|refused| PageError::refused(&refused))?;
    let can_designate = m
        .establishments
        .iter()
        .filter(|e| !rights.iter().any(|r| r.siret == e.siret))
        .filter(|e| habilitations.iter().any(|h| h.siret == e.siret))
        .cloned()
        .collect();
    let companies = m
        .establishments
        .iter()
        .filter(|e| {
            rights.iter().any(|r| r.siret == e.siret)
                || habilitations.iter().any(|h| h.siret == e.siret)
        })
        .map(Establishment::label)
        .collect();
    let roles = services::roles(&page.db, &m.service.code).await?;
    let name = full_name(&person).unwrap_or_else(|| person.email.clone());
    // Only a habilitation the page shows may be confirmed for removal.
    let confirm_remove = habilitations
        .iter()
        .find(|h| h.id == view.confirm_remove)
        .cloned();
    let edit_end = habilitations
        .iter()
        .find(|h| h.id == view.edit_end)
        .map(|h| {
            let shown = view
                .edit_end_typed
                .clone()
                .unwrap_or_else(|| h.end_date.map(|d| d.french()).unwrap_or_default());
            (h.clone(), shown)
        });
    page.render_form(view.error.is_some(), |csrf| UserPage {
        csrf,
        service: m.service,
        name,
        companies,
        rights,
        can_designate,
        habilitations,
        establishments: m.establishments,
        roles,
        form_siret: view.siret,
        form_role: view.role,
        form_end: view.end,
        error: view.error,
        confirm_last: view.confirm_last,
        confirm_remove,
        edit_end,
        notice: view.notice,
        person,
    })
}

async fn person(state: &AppState, id: &str) -> Result<User, PageError> {
    users::user_by_id(&state.db, id)
        .await?
        .ok_or_else(PageError::not_found)
}

/// `?fait=…` after a change, `?retirer={habilitation}` to confirm a removal,
/// `?modifier={habilitation}` to change an end date.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UserQuery {
    fait: String,
    retirer: String,
    modifier: String,
}

/// What was just changed on a user page, named in the redirect after the change.
#[derive(Clone, Copy)]
enum Done {
    Added,
    EndDateChanged,
    Unchanged,
    Removed,
    ManagerGranted,
    ManagerRemoved,
}

impl Done {
    const ALL: [Done; 6] = [
        Done::Added,
        Done::EndDateChanged,
        Done::Unchanged,
        Done::Removed,
        Done::ManagerGranted,
        Done::ManagerRemoved,
    ];

    fn code(self) -> &'static str {
        match self {
            Done::Added => "habilitation-ajoutee",
            Done::EndDateChanged => "date-fin-modifiee",
            Done::Unchanged => "inchangee",
            Done::Removed => "habilitation-retiree",
            Done::ManagerGranted => "responsable-attribue",
            Done::ManagerRemoved => "responsable-retire",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Done::Added => {
                "L'habilitation a été enregistrée. La personne en est informée par e-mail."
            }
            Done::EndDateChanged => {
                "La date de fin de l'habilitation a été modifiée. La personne en est informée par e-mail."
            }
            Done::Unchanged => "Cette habilitation avait déjà cette date de fin : rien n'a changé.",
            Done::Removed => {
                "L'habilitation a été retirée. La personne en est informée par e-mail."
            }
            Done::ManagerGranted => {
                "Le droit de responsable des accès a été attribué. La personne en est informée par e-mail."
            }
            Done::ManagerRemoved => {
                "Le droit de responsable des accès a été retiré. La personne en est informée par e-mail."
            }
        }
    }
}

/// `GET /acces/{service}/gestion/utilisateurs/{id}`: « Coordonnées », the Responsable des
/// accès right, the habilitations.
pub async fn user(
    page: Page,
    m: Manager,
    Path((_, id)): Path<(String, String)>,
    UrlQuery(q): UrlQuery<UserQuery>,
) -> Result<Response, PageError> {
    let p = person(&page, &id).await?;
    let view = UserPageState {
        confirm_remove: q.retirer,
        edit_end: q.modifier,
        notice: Done::ALL
            .into_iter()
            .find(|d| d.code() == q.fait)
            .map(Done::message),
        ..UserPageState::default()
    };
    user_page(&page, m, p, view).await
}

fn back_to(service: &Service, user_id: &str, done: Done) -> Response {
    Redirect::to(&format!(
        "/acces/{}/gestion/utilisateurs/{user_id}?fait={}",
        service.code,
        done.code()
    ))
    .into_response()
}

/// « Ajouter l'habilitation » on a user page.
pub use crate::access::pages::HabilitationForm as AddForm;

/// `POST /acces/{service}/gestion/utilisateurs/{id}/habilitations`.
pub async fn add(
    page: Page,
    m: Manager,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<AddForm>,
) -> Result<Response, PageError> {
    let p = person(&page, &id).await?;
    let again = |error: String| UserPageState {
        siret: form.siret.clone(),
        role: form.role.clone(),
        end: form.date_fin.clone(),
        error: Some(error),
        ..UserPageState::default()
    };
    let siret = Siret::parse(&form.siret).map_err(|_| m.not_manager())?;
    let end_date = match form.date_fin.trim() {
        "" => None,
        typed => match EndDate::parse(typed, dates::today()) {
            Ok(d) => Some(d),
            Err(e) => return user_page(&page, m, p, again(e.to_string())).await,
        },
    };
    let input = HabilitationGrant {
        person: &UserId::from_stored(p.id.clone()),
        service: &m.service,
        siret: &siret,
        role: &form.role,
        end_date,
    };
    match add_habilitation::add_habilitation(&page.db, &page.clock, &m.id, &input).await {
        Ok(Added::New(h)) => {
            if p.id != m.user.id {
                notices::habilitation_granted(&page, &m.service, &p, &h, &m.user).await;
            }
            Ok(back_to(&m.service, &p.id, Done::Added))
        }
        Ok(Added::EndDateChanged(changed)) => Ok(end_date_told(&page, &m, &p, &changed).await),
        Err(refused @ (AccessRefusal::ClosedEstablishment(_) | AccessRefusal::UnknownRole(_))) => {
            user_page(&page, m, p, again(refused.to_string())).await
        }
        Err(refused) => Err(PageError::refused(&refused)),
    }
}

/// After a change of end date: the e-mail to the person (not to oneself), and the page saying
/// what was done.
async fn end_date_told(
    state: &AppState,
    m: &Manager,
    p: &User,
    changed: &change_end_date::EndDateChanged,
) -> Response {
    if !changed.changed() {
        return back_to(&m.service, &p.id, Done::Unchanged);
    }
    if p.id != m.user.id {
        let (before, after) = (&changed.before, &changed.after);
        notices::habilitation_end_date_changed(state, &m.service, p, before, after).await;
    }
    back_to(&m.service, &p.id, Done::EndDateChanged)
}

/// « Modifier la date de fin »: the new date (empty: no end).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EndDateForm {
    csrf: String,
    date_fin: String,
}

/// `POST /acces/{service}/gestion/habilitations/{id}/date-fin` (the action `change_end_date`).
pub async fn change_end_date(
    page: Page,
    m: Manager,
    Path((_, hid)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<EndDateForm>,
) -> Result<Response, PageError> {
    let h = habilitations::by_id(&page.db, &hid)
        .await?
        .filter(|h| h.service_code == m.service.code && m.manages(&h.siret))
        .ok_or_else(PageError::not_found)?;
    let p = person(&page, &h.user_id).await?;
    let end_date = match form.date_fin.trim() {
        "" => None,
        typed => match EndDate::parse(typed, dates::today()) {
            Ok(d) => Some(d),
            Err(e) => {
                let view = UserPageState {
                    edit_end: h.id.clone(),
                    edit_end_typed: Some(form.date_fin.clone()),
                    error: Some(e.to_string()),
                    ..UserPageState::default()
                };
                return user_page(&page, m, p, view).await;
            }
        },
    };
    let by = ChangedBy::Manager(&m.id);
    let changed =
        change_end_date::change_end_date(&page.db, &page.clock, by, &m.service, &h.id, end_date)
            .await
            .map_err(|refused| PageError::refused(&refused))?;
    Ok(end_date_told(&page, &m, &p, &changed).await)
}

/// `POST /acces/{service}/gestion/habilitations/{id}/retirer`.
pub async fn remove(
    State(state): State<AppState>,
    m: Manager,
    Path((_, hid)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<PlainForm>,
) -> Result<Response, PageError> {
    let h =
        remove_habilitation::remove_habilitation(&state.db, &state.clock, &m.id, &m.service, &hid)
            .await
            .map_err(|refused| PageError::refused(&refused))?;
    if h.user_id != m.user.id
        && let Some(p) = users::user_by_id(&state.db, &h.user_id).await?
    {
        notices::habilitation_removed(&state, &m.service, &p, &h).await;
    }
    Ok(back_to(&m.service, &h.user_id, Done::Removed))
}

/// The Responsable des accès forms: which establishment, and the confirmation of removing
/// the last one.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RightForm {
    csrf: String,
    siret: String,
    confirmer: Option<String>,
}

/// `POST /acces/{service}/gestion/utilisateurs/{id}/responsable`: designates a colleague who
/// has a habilitation there as Responsable des accès of one of the manager's establishments.
pub async fn designate(
    State(state): State<AppState>,
    m: Manager,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<RightForm>,
) -> Result<Response, PageError> {
    let siret = Siret::parse(&form.siret).map_err(|_| m.not_manager())?;
    let p = person(&state, &id).await?;
    let whom = UserId::from_stored(p.id.clone());
    designate_manager::designate_manager(&state.db, &state.clock, &m.id, &m.service, &whom, &siret)
        .await
        .map_err(|refused| PageError::refused(&refused))?;
    notices::manager_granted(&state, &m.service, &p, siret.as_str(), &m.user).await;
    Ok(back_to(&m.service, &p.id, Done::ManagerGranted))
}

/// `POST /acces/{service}/gestion/utilisateurs/{id}/responsable/retirer`: removes the right
/// (« Retirer »); removing the establishment's last one asks to confirm first.
pub async fn withdraw(
    page: Page,
    m: Manager,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<RightForm>,
) -> Result<Response, PageError> {
    let p = person(&page, &id).await?;
    let whom = UserId::from_stored(p.id.clone());
    let confirmed = form.confirmer.is_some();
    let done = withdraw_manager::withdraw_manager(
        &page.db,
        &page.clock,
        &m.id,
        &m.service,
        &whom,
        &form.siret,
        confirmed,
    )
    .await;
    match done {
        Ok(()) => {}
        Err(AccessRefusal::LastManager) => {
            let view = UserPageState {
                confirm_last: Some(form.siret.clone()),
                ..UserPageState::default()
            };
            return user_page(&page, m, p, view).await;
        }
        Err(refused) => return Err(PageError::refused(&refused)),
    }
    if p.id != m.user.id {
        notices::manager_removed(&page, &m.service, &p, &form.siret).await;
        return Ok(back_to(&m.service, &p.id, Done::ManagerRemoved));
    }
    // Removing one's own right: the manager's pages may no longer be theirs.
    Ok(Redirect::to(&format!("/acces/{}", m.service.code)).into_response())
}

with_csrf!(RightForm);
with_csrf!(EndDateForm);
