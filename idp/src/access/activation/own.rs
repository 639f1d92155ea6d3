//! « Gestion de mes accès » (guide `002` §3.2): the new Responsable des accès gives themselves
//! habilitations of their establishment, then « Terminer » goes back to the service. As in the
//! guide, once one is given the page shows « Liste de vos habilitations » with « Ajouter une
//! autre habilitation » and « Terminer »; the form has « Annuler » beside « Terminer ».

use askama::Template;
use axum::{
    extract::{Path, Query},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{charte_accepted, establishment_name, manager_visit};
use crate::web::page::CsrfForm;
use crate::{
    AppState,
    access::{
        EndDate,
        actions::{HabilitationGrant, assign_own_habilitations::assign_own_habilitation},
        dates,
        habilitations::{self, Habilitation},
        pages,
        refusal::AccessRefusal,
        services::{self, Role, Service},
    },
    accounts::{UserId, store::User},
    error::PageError,
    organizations::Siret,
    web::page::Page,
};

#[derive(Template)]
#[template(path = "access_self.html")]
struct SelfPage {
    csrf: String,
    service: Service,
    authreq: String,
    siret: String,
    establishment: String,
    roles: Vec<Role>,
    mine: Vec<Habilitation>,
    role: String,
    end_date: String,
    error: Option<String>,
    invalid: &'static str,
    /// Whether the form is shown: always before the first habilitation, then after « Ajouter
    /// une autre habilitation » or with an error to correct.
    adding: bool,
    /// The page's address with the form, for « Ajouter une autre habilitation ».
    add_url: String,
}

struct SelfForm<'a> {
    role: &'a str,
    end_date: &'a str,
    error: Option<String>,
    invalid: &'static str,
    /// « Ajouter une autre habilitation » was chosen.
    adding: bool,
}

async fn self_page(
    page: &Page,
    service: Service,
    user_id: &str,
    authreq: String,
    siret: &Siret,
    form: SelfForm<'_>,
) -> Result<Response, PageError> {
    let roles = services::roles(&page.db, &service.code).await?;
    let mine = habilitations::of_user(&page.db, user_id, &service.code)
        .await?
        .into_iter()
        .filter(|h| h.siret == siret.as_str() && h.is_live())
        .collect();
    let establishment = establishment_name(page, siret).await?;
    let list_url = pages::with_query(
        &format!("/acces/{}/mes-acces", service.code),
        &authreq,
        siret.as_str(),
    );
    let add_url = format!("{list_url}&ajouter=1#role");
    let adding = form.adding || form.error.is_some() || Vec::is_empty(&mine);
    page.render_form(form.error.is_some(), |csrf| SelfPage {
        csrf,
        service,
        authreq,
        siret: siret.to_string(),
        establishment,
        roles,
        mine,
        role: form.role.to_owned(),
        end_date: form.end_date.to_owned(),
        error: form.error,
        invalid: form.invalid,
        adding,
        add_url,
    })
}

/// The page's query: [`pages::AccessQuery`]'s pending authorization and establishment, and whether
/// « Ajouter une autre habilitation » was chosen.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SelfQuery {
    authreq: String,
    siret: String,
    ajouter: String,
}

/// `GET /acces/{service}/mes-acces?siret=…`: « Gestion de mes accès ». The charte comes first.
pub async fn show_self(
    page: Page,
    Path(code): Path<String>,
    Query(q): Query<SelfQuery>,
) -> Result<Response, PageError> {
    let visit = manager_visit(&page, &code, "/mes-acces", &q.authreq, &q.siret);
    let (service, user, siret) = match visit.await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    if !charte_accepted(&page, &user.id, &service, siret.as_str()).await? {
        let to = pages::with_query(
            &format!("/acces/{}/charte", service.code),
            &q.authreq,
            siret.as_str(),
        );
        return Ok(Redirect::to(&to).into_response());
    }
    let form = SelfForm {
        role: "",
        end_date: "",
        error: None,
        invalid: "",
        adding: !q.ajouter.is_empty(),
    };
    self_page(&page, service, &user.id, q.authreq, &siret, form).await
}

/// The self-assignment form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AssignForm {
    csrf: String,
    authreq: String,
    siret: String,
    role: String,
    date_fin: String,
    /// `ajouter` (« Ajouter l'habilitation »), `annuler` (« Annuler ») or `terminer`
    /// (« Terminer »).
    action: String,
}

/// What the form asked, done; or the message and the field to show it on.
type Outcome = Result<Response, (String, &'static str)>;

/// `POST /acces/{service}/mes-acces`: « Ajouter l'habilitation » or « Terminer ».
pub async fn assign_self(
    page: Page,
    Path(code): Path<String>,
    CsrfForm(form): CsrfForm<AssignForm>,
) -> Result<Response, PageError> {
    let visit = manager_visit(&page, &code, "/mes-acces", &form.authreq, &form.siret);
    let (service, user, siret) = match visit.await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    if !charte_accepted(&page, &user.id, &service, siret.as_str()).await? {
        return Err(PageError::forbidden(
            "Acceptez d'abord la charte du responsable des accès.",
        ));
    }
    let outcome = match form.action.as_str() {
        "terminer" => finish(&page, &service, &user, &form).await?,
        "annuler" => Ok(cancel(&page, &service, &user, &siret, &form).await?),
        _ => add(&page, &service, &user, &siret, &form).await?,
    };
    let (error, invalid) = match outcome {
        Ok(done) => return Ok(done),
        Err(refused) => refused,
    };
    let again = SelfForm {
        role: &form.role,
        end_date: &form.date_fin,
        error: Some(error),
        invalid,
        adding: true,
    };
    let authreq = form.authreq.clone();
    self_page(&page, service, &user.id, authreq, &siret, again).await
}

/// « Terminer »: back to the service, once the person holds a habilitation.
async fn finish(
    state: &AppState,
    service: &Service,
    user: &User,
    form: &AssignForm,
) -> Result<Outcome, PageError> {
    if habilitations::live(&state.db, &user.id, &service.code)
        .await?
        .is_empty()
    {
        let error = "Attribuez-vous au moins une habilitation avant de terminer.";
        return Ok(Err((error.into(), "role")));
    }
    Ok(Ok(pages::finish(state, service, &form.authreq).await?))
}

/// « Annuler »: what was typed is dropped. Back to the list when there is one; before the
/// first habilitation, back to the service: the person stays Responsable des accès and can
/// come back to give themselves one.
async fn cancel(
    state: &AppState,
    service: &Service,
    user: &User,
    siret: &Siret,
    form: &AssignForm,
) -> Result<Response, PageError> {
    if habilitations::live(&state.db, &user.id, &service.code)
        .await?
        .iter()
        .any(|h| h.siret == siret.as_str())
    {
        let list = pages::with_query(
            &format!("/acces/{}/mes-acces", service.code),
            &form.authreq,
            siret.as_str(),
        );
        return Ok(Redirect::to(&list).into_response());
    }
    pages::finish(state, service, &form.authreq).await
}

/// « Ajouter l'habilitation » (the action `assign_own_habilitation`), then the page again.
async fn add(
    state: &AppState,
    service: &Service,
    user: &User,
    siret: &Siret,
    form: &AssignForm,
) -> Result<Outcome, PageError> {
    let Some(role) = services::role(&state.db, &service.code, &form.role).await? else {
        return Ok(Err(("Sélectionnez votre rôle.".into(), "role")));
    };
    let end_date = if form.date_fin.trim().is_empty() {
        None
    } else {
        match EndDate::parse(&form.date_fin, dates::today()) {
            Ok(d) => Some(d),
            Err(e) => return Ok(Err((e.to_string(), "date_fin"))),
        }
    };
    let by = UserId::from_stored(user.id.clone());
    let input = HabilitationGrant {
        person: &by,
        service,
        siret,
        role: &role.code,
        end_date,
    };
    match assign_own_habilitation(&state.db, &state.clock, &input).await {
        Ok(_) => {}
        Err(AccessRefusal::Storage(e)) => return Err(e.into()),
        Err(refused) => return Ok(Err((refused.to_string(), ""))),
    }
    let next = pages::with_query(
        &format!("/acces/{}/mes-acces", service.code),
        &form.authreq,
        siret.as_str(),
    );
    Ok(Ok(Redirect::to(&next).into_response()))
}

crate::with_csrf!(AssignForm);
