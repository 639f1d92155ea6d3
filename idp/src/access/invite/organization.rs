//! Step 4 of the wizard: the new person's organisation, searched in the register.

use super::*;

// ---- Step 4: the organisation ----

/// The search of step 4's GET form.
#[derive(Deserialize, Default)]
pub struct SearchParams {
    #[serde(default)]
    recherche: String,
    #[serde(default)]
    page: String,
}

pub(super) async fn register_available(state: &AppState) -> Result<bool, PageError> {
    Ok(state.insee.is_some() || !register::is_empty(&state.db).await?)
}

pub(super) fn search_href(service: &str, query: &str, page: u32) -> String {
    let q: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
    format!(
        "{}?recherche={q}&page={page}",
        Step::Organization.path(service)
    )
}

/// Runs the search of `params` (or shows `chosen` alone) into the page.
pub(super) async fn fill_search(
    state: &AppState,
    page: &mut InvitePage,
    params: &SearchParams,
    chosen: Option<&Siret>,
) -> Result<(), PageError> {
    page.query = params.recherche.clone();
    let number = params.page.trim().parse::<u32>().unwrap_or(1).max(1);
    let found: Option<SearchPage> = if params.recherche.trim().is_empty() {
        match chosen {
            Some(siret) => Some(
                insee::search(
                    &state.db,
                    state.insee.as_ref(),
                    &SearchQuery::Siret(siret.clone()),
                    1,
                )
                .await?,
            ),
            None => None,
        }
    } else {
        match SearchQuery::parse(&params.recherche) {
            Ok(query) => {
                Some(insee::search(&state.db, state.insee.as_ref(), &query, number).await?)
            }
            Err(e) => {
                page.search_error = Some(e.to_string());
                None
            }
        }
    };
    if let Some(found) = found {
        page.searched = true;
        page.current_page = found.page;
        page.summary = found.summary();
        if found.page > 1 {
            page.previous_href = Some(search_href(
                &page.service_code,
                &params.recherche,
                found.page - 1,
            ));
        }
        if found.page < found.pages() {
            page.next_href = Some(search_href(
                &page.service_code,
                &params.recherche,
                found.page + 1,
            ));
        }
        page.results = found
            .results
            .iter()
            .map(|e| ResultRow {
                siret: e.siret.as_str().to_owned(),
                name: e.name.clone(),
                location: e.location(),
                active: e.active,
                checked: e.active && chosen == Some(&e.siret),
            })
            .collect();
    }
    Ok(())
}

/// `GET /acces/{service}/gestion/inviter/organisation` (with `?recherche=…`: the register's
/// answers, as radio buttons).
pub async fn show_organization(
    State(state): State<AppState>,
    m: Manager,
    headers: HeaderMap,
    UrlQuery(params): UrlQuery<SearchParams>,
) -> Result<Response, PageError> {
    let w = open_or_return!(state, m, Step::Organization);
    let mut page = InvitePage {
        job: w.job.clone().unwrap_or_default(),
        register: register_available(&state).await?,
        organization: w.organization.clone().unwrap_or_default(),
        typed_siret: w.siret.clone().unwrap_or_default(),
        ..InvitePage::at(&m, Step::Organization)
    };
    if page.register {
        let chosen = w.siret.as_deref().and_then(|s| Siret::parse(s).ok());
        fill_search(&state, &mut page, &params, chosen.as_ref()).await?;
    }
    show_page(&state, &headers, &m, &w, Step::Organization, page).await
}

/// Fields of step 4.
#[derive(Deserialize)]
pub struct OrganizationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    poste: String,
    /// Picked among the results (or typed, with an empty register).
    #[serde(default)]
    siret: String,
    /// Typed raison sociale (empty register).
    #[serde(default)]
    raison_sociale: String,
    #[serde(default)]
    recherche: String,
    #[serde(default)]
    page: String,
}

/// `POST /acces/{service}/gestion/inviter/organisation`.
pub async fn submit_organization(
    State(state): State<AppState>,
    m: Manager,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<OrganizationForm>,
) -> Result<Response, PageError> {
    let mut w = open_or_return!(state, m, Step::Organization);
    let register_on = register_available(&state).await?;
    let picked = form.siret.trim();
    let resolved: Result<(Option<String>, String), (&'static str, String)> = if register_on {
        if picked.is_empty() {
            Err((
                "siret",
                "Veuillez rechercher l'entreprise de l'utilisateur puis la sélectionner dans la liste."
                    .to_owned(),
            ))
        } else {
            match Siret::parse(picked) {
                Err(e) => Err(("siret", e.to_string())),
                Ok(siret) => match insee::lookup(&state.db, state.insee.as_ref(), &siret).await? {
                    None => Err((
                        "siret",
                        "Cet établissement est introuvable dans le répertoire SIRENE.".to_owned(),
                    )),
                    Some(e) if !e.active => Err((
                        "siret",
                        "Cet établissement est fermé : choisissez un établissement en activité."
                            .to_owned(),
                    )),
                    Some(e) => Ok((Some(e.siret.as_str().to_owned()), e.name)),
                },
            }
        }
    } else {
        let label = form.raison_sociale.trim();
        if label.is_empty() {
            Err((
                "raison_sociale",
                "Veuillez saisir la raison sociale de l'entreprise.".to_owned(),
            ))
        } else if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
            Err((
                "raison_sociale",
                format!("La raison sociale ne peut dépasser {MAX_LABEL_CHARS} caractères."),
            ))
        } else if picked.is_empty() {
            Ok((None, label.to_owned()))
        } else {
            match Siret::parse(picked) {
                Ok(siret) => Ok((Some(siret.as_str().to_owned()), label.to_owned())),
                Err(e) => Err(("siret", e.to_string())),
            }
        }
    };
    let job = parse_job(&form.poste);
    let error = match (&job, &resolved) {
        (Err(message), _) => Some(("poste", message.clone())),
        (_, Err((field, message))) => Some((*field, message.clone())),
        _ => None,
    };
    if let (Ok(job), Ok((siret, label))) = (job, resolved) {
        w.job = job;
        w.siret = siret;
        w.organization = Some(label);
        save(&state, &m, &w).await?;
        return Ok(Redirect::to(&w.next_step().path(&m.service.code)).into_response());
    }
    let (field, message) = error.expect("an error when not resolved");
    let mut page = InvitePage {
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
        fill_search(&state, &mut page, &params, chosen.as_ref()).await?;
    }
    show_page(&state, &headers, &m, &w, Step::Organization, page).await
}

with_csrf!(OrganizationForm);
