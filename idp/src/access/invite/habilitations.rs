//! Step 5 of the wizard: the habilitations, kept in the wizard until « Terminer ».

use super::*;

// ---- Step 5: the habilitations ----

/// The name step 5 speaks of: « M. Jean Dupont ».
pub(super) async fn invitee_name(state: &AppState, w: &Wizard) -> Result<String, PageError> {
    if let Some(id) = &w.existing
        && let Some(user) = users::user_by_id(&state.db, id).await?
    {
        return Ok(display_name(&user));
    }
    Ok(format!(
        "{}{} {}",
        civility(w.gender.as_deref()),
        w.given_name.as_deref().unwrap_or_default(),
        w.family_name.as_deref().unwrap_or_default()
    )
    .trim()
    .to_owned())
}

/// Step 5 with the form as typed.
pub(super) async fn habilitations_page(
    page: &Page,
    m: &Manager,
    w: &Wizard,
    form: Option<&AddForm>,
    error: Option<(&'static str, String)>,
) -> Result<Response, PageError> {
    let roles = services::roles(&page.db, &m.service.code).await?;
    let grants = w
        .grants
        .iter()
        .enumerate()
        .map(|(index, g)| GrantRow {
            index,
            establishment: m
                .establishment(&g.siret)
                .map_or_else(|| format!("SIRET {}", g.siret), Establishment::label),
            role: roles
                .iter()
                .find(|r| r.code == g.role)
                .map_or_else(|| g.role.clone(), |r| r.label.clone()),
            end: g
                .end_date
                .as_deref()
                .and_then(EndDate::from_stored)
                .map(|d| d.until()),
        })
        .collect();
    let mut view = InvitePage {
        person: invitee_name(page, w).await?,
        establishments: m.establishments.clone(),
        roles,
        grants,
        form_siret: form.map(|f| f.siret.clone()).unwrap_or_default(),
        form_role: form.map(|f| f.role.clone()).unwrap_or_default(),
        form_end: form.map(|f| f.date_fin.clone()).unwrap_or_default(),
        ..InvitePage::at(m, Step::Habilitations)
    };
    if let Some((field, message)) = error {
        view = view.with_error(field, message);
    }
    show_page(page, m, w, Step::Habilitations, view).await
}

/// `GET /acces/{service}/gestion/inviter/habilitations`.
pub async fn show_habilitations(page: Page, m: Manager) -> Result<Response, PageError> {
    let w = open_or_return!(page, m, Step::Habilitations);
    habilitations_page(&page, &m, &w, None, None).await
}

/// « Ajouter l'habilitation » of step 5.
pub use crate::access::pages::HabilitationForm as AddForm;

/// `POST /acces/{service}/gestion/inviter/habilitations`: adds one to the wizard's list.
pub async fn add_habilitation(
    page: Page,
    m: Manager,
    CsrfForm(form): CsrfForm<AddForm>,
) -> Result<Response, PageError> {
    let mut w = open_or_return!(page, m, Step::Habilitations);
    let mut conn = page.db.pool.acquire().await?;
    let (siret, role) = match check_grant(&mut conn, &m.id, &m.service, &form.siret, &form.role)
        .await
    {
        Ok(checked) => checked,
        Err(refused @ (AccessRefusal::ClosedEstablishment(_) | AccessRefusal::UnknownRole(_))) => {
            let field = match refused {
                AccessRefusal::UnknownRole(_) => "role",
                _ => "siret",
            };
            let error = Some((field, refused.to_string()));
            return habilitations_page(&page, &m, &w, Some(&form), error).await;
        }
        Err(refused) => return Err(PageError::refused(&refused)),
    };
    drop(conn);
    let end_date = if form.date_fin.trim().is_empty() {
        None
    } else {
        match EndDate::parse(&form.date_fin, dates::today()) {
            Ok(d) => Some(d.iso()),
            Err(e) => {
                let error = Some(("date_fin", e.to_string()));
                return habilitations_page(&page, &m, &w, Some(&form), error).await;
            }
        }
    };
    w.grants
        .retain(|g| !(g.siret == siret.as_str() && g.role == role.code));
    w.grants.push(WizardGrant {
        siret: siret.as_str().to_owned(),
        role: role.code,
        end_date,
    });
    save(&page, &m, &w).await?;
    Ok(Redirect::to(&Step::Habilitations.path(&m.service.code)).into_response())
}

/// « Retirer » of one habilitation of the wizard's list.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DropForm {
    csrf: String,
    index: usize,
}

/// `POST /acces/{service}/gestion/inviter/habilitations/retirer`.
pub async fn drop_habilitation(
    State(state): State<AppState>,
    m: Manager,
    CsrfForm(form): CsrfForm<DropForm>,
) -> Result<Response, PageError> {
    let mut w = open_or_return!(state, m, Step::Habilitations);
    if form.index < w.grants.len() {
        w.grants.remove(form.index);
        save(&state, &m, &w).await?;
    }
    Ok(Redirect::to(&Step::Habilitations.path(&m.service.code)).into_response())
}

with_csrf!(DropForm);
