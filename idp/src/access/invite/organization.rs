//! Step 4 of the wizard: the new person's organisation, searched in the register.

use super::*;

// ---- Step 4: the organisation ----

/// The search of step 4's GET form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SearchParams {
    recherche: String,
    page: String,
}

pub(super) fn search_href(service: &str, query: &str, page: u32) -> String {
    let q: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
    format!(
        "{}?recherche={q}&page={page}",
        Step::Organization.path(service)
    )
}

/// The register's answers to `params` (or `chosen` alone) for step 4.
async fn search(
    state: &AppState,
    m: &Manager,
    params: &SearchParams,
    chosen: Option<&Siret>,
) -> Result<Picker, PageError> {
    let href = |query: &str, page: u32| search_href(&m.service.code, query, page);
    Picker::search(state, &params.recherche, &params.page, chosen, href).await
}

/// `GET /acces/{service}/gestion/inviter/organisation` (with `?recherche=…`: the register's
/// answers, as radio buttons).
pub async fn show_organization(
    page: Page,
    m: Manager,
    UrlQuery(params): UrlQuery<SearchParams>,
) -> Result<Response, PageError> {
    let w = open_or_return!(page, m, Step::Organization);
    let mut view = InvitePage {
        job: w.job.clone().unwrap_or_default(),
        register: picker::register_available(&page).await?,
        organization: w.organization.clone().unwrap_or_default(),
        typed_siret: w.siret.clone().unwrap_or_default(),
        ..InvitePage::at(&m, Step::Organization)
    };
    if view.register {
        let chosen = w.siret.as_deref().and_then(|s| Siret::parse(s).ok());
        view.picker = search(&page, &m, &params, chosen.as_ref()).await?;
    }
    show_page(&page, &m, &w, Step::Organization, view).await
}

/// Fields of step 4.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OrganizationForm {
    csrf: String,
    poste: String,
    /// Picked among the results (or typed, with an empty register).
    siret: String,
    /// Typed raison sociale (empty register).
    raison_sociale: String,
    recherche: String,
    page: String,
}

/// The organisation of the form: an open establishment picked in the register's list, or
/// (an empty register) a raison sociale typed with an optional SIRET; else the field and
/// message to show.
async fn resolve(
    state: &AppState,
    form: &OrganizationForm,
    register_on: bool,
) -> Result<Result<(Option<String>, String), (&'static str, String)>, PageError> {
    let picked = form.siret.trim();
    Ok(if register_on {
        if picked.is_empty() {
            Err((
                "siret",
                "Veuillez rechercher l'entreprise de l'utilisateur puis la sélectionner dans la liste."
                    .to_owned(),
            ))
        } else {
            match Siret::parse(picked) {
                Err(e) => Err(("siret", e.to_string())),
                Ok(siret) => {
                    let unknown = "Cet établissement est introuvable dans le répertoire SIRENE.";
                    match picker::open_establishment(state, &siret, unknown).await? {
                        Ok(e) => Ok((Some(e.siret.as_str().to_owned()), e.name)),
                        Err(message) => Err(("siret", message)),
                    }
                }
            }
        }
    } else {
        match picker::typed_label(&form.raison_sociale) {
            Err(message) => Err(("raison_sociale", message)),
            Ok(label) if picked.is_empty() => Ok((None, label)),
            Ok(label) => match Siret::parse(picked) {
                Ok(siret) => Ok((Some(siret.as_str().to_owned()), label)),
                Err(e) => Err(("siret", e.to_string())),
            },
        }
    })
}

/// `POST /acces/{service}/gestion/inviter/organisation`.
pub async fn submit_organization(
    page: Page,
    m: Manager,
    CsrfForm(form): CsrfForm<OrganizationForm>,
) -> Result<Response, PageError> {
    let mut w = open_or_return!(page, m, Step::Organization);
    let register_on = picker::register_available(&page).await?;
    let picked = form.siret.trim();
    let resolved = resolve(&page, &form, register_on).await?;
    let (field, message) = match (parse_job(&form.poste), resolved) {
        (Err(message), _) => ("poste", message),
        (_, Err(error)) => error,
        (Ok(job), Ok((siret, label))) => {
            w.job = job;
            w.siret = siret;
            w.organization = Some(label);
            return save_and_continue(&page, &m, &w).await;
        }
    };
    let mut view = InvitePage {
        job: form.poste.clone(),
        register: register_on,
        organization: form.raison_sociale.clone(),
        typed_siret: form.siret.clone(),
        ..InvitePage::at(&m, Step::Organization)
    }
    .with_error(field, message);
    if register_on {
        let params = SearchParams {
            recherche: form.recherche.clone(),
            page: form.page.clone(),
        };
        let chosen = Siret::parse(picked).ok();
        view.picker = search(&page, &m, &params, chosen.as_ref()).await?;
    }
    show_page(&page, &m, &w, Step::Organization, view).await
}

with_csrf!(OrganizationForm);
