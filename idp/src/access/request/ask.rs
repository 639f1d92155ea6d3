//! The requester's form: the establishment searched in the register, the message, « Demander
//! l'accès ».

use super::*;

/// A pending request of the person, linked from the form.
struct PendingRow {
    label: String,
    href: String,
}

#[derive(Template)]
#[template(path = "access_request.html")]
struct RequestPage {
    csrf: String,
    service: Service,
    authreq: String,
    back: String,
    pending: Vec<PendingRow>,
    error: Option<String>,
    invalid: &'static str,
    register: bool,
    picker: Picker,
    typed_siret: String,
    message: String,
    max_message: usize,
}

/// `?authreq=…&recherche=…&page=…`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SearchParams {
    authreq: String,
    recherche: String,
    page: String,
}

/// The request form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RequestForm {
    csrf: String,
    authreq: String,
    recherche: String,
    page: String,
    siret: String,
    message: String,
}

struct Draft<'a> {
    query: &'a str,
    page: &'a str,
    siret: &'a str,
    message: &'a str,
    error: Option<String>,
    invalid: &'static str,
}

async fn request_page(
    page: &Page,
    service: Service,
    user: &User,
    authreq: String,
    draft: Draft<'_>,
) -> Result<Response, PageError> {
    let register_on = picker::register_available(page).await?;
    let pending = requests::pending_of_user(&page.db, &user.id, &service.code)
        .await?
        .iter()
        .map(|r| PendingRow {
            label: r.establishment_label(),
            href: sent_path(&service, &authreq, &r.siret),
        })
        .collect();
    // The SIRET chosen, else the person's own organisation's.
    let chosen = Siret::parse(draft.siret)
        .ok()
        .or_else(|| user.siret.as_deref().and_then(|s| Siret::parse(s).ok()));
    let picker = if register_on {
        let href = |query: &str, number: u32| search_href(&service, &authreq, query, number);
        Picker::search(page, draft.query, draft.page, chosen.as_ref(), href).await?
    } else {
        Picker::default()
    };
    let view = RequestPage {
        csrf: String::new(),
        back: pages::with_query(&format!("/acces/{}", service.code), &authreq, ""),
        service,
        authreq,
        pending,
        error: draft.error,
        invalid: draft.invalid,
        register: register_on,
        picker,
        typed_siret: if draft.siret.is_empty() {
            user.siret.clone().unwrap_or_default()
        } else {
            draft.siret.to_owned()
        },
        message: draft.message.to_owned(),
        max_message: MAX_MESSAGE_CHARS,
    };
    page.render_form(view.error.is_some(), |csrf| RequestPage { csrf, ..view })
}

/// `GET /acces/{service}/demande`: « Vous souhaitez demander un accès au service numérique … ».
pub async fn show(
    page: Page,
    Path(code): Path<String>,
    UrlQuery(q): UrlQuery<SearchParams>,
) -> Result<Response, PageError> {
    let service = pages::service(&page, &code).await?;
    let here = if q.recherche.is_empty() {
        pages::with_query(&form_path(&service), &q.authreq, "")
    } else {
        search_href(
            &service,
            &q.authreq,
            &q.recherche,
            q.page.parse().unwrap_or(1),
        )
    };
    let (_, user) = match pages::person(&page, page.headers(), &here).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    request_page(
        &page,
        service,
        &user,
        q.authreq,
        Draft {
            query: &q.recherche,
            page: &q.page,
            siret: "",
            message: "",
            error: None,
            invalid: "",
        },
    )
    .await
}

#[derive(Template)]
#[template(path = "access_request_no_manager.html")]
struct NoManagerPage {
    service: Service,
    establishment: String,
    code_href: String,
    back: String,
}

/// « Votre établissement n'a pas de responsable des accès »: the activation code is the way in.
async fn no_manager(
    page: &Page,
    service: Service,
    siret: &Siret,
    authreq: &str,
) -> Result<Response, PageError> {
    let found = register::by_siret(&page.db, siret).await?;
    let view = NoManagerPage {
        establishment: establishment_label(siret, found.as_ref()),
        code_href: pages::with_query(&format!("/acces/{}", service.code), authreq, ""),
        back: pages::with_query(&form_path(&service), authreq, ""),
        service,
    };
    page.render(StatusCode::OK, |_| view)
}

/// `POST /acces/{service}/demande`: « Demander l'accès » (the action `request_access`), then the
/// e-mails to the establishment's Responsables des accès.
pub async fn submit(
    page: Page,
    Path(code): Path<String>,
    CsrfForm(form): CsrfForm<RequestForm>,
) -> Result<Response, PageError> {
    let service = pages::service(&page, &code).await?;
    let here = pages::with_query(&form_path(&service), &form.authreq, "");
    let (_, user) = match pages::person(&page, page.headers(), &here).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let again = |error: String, invalid: &'static str| Draft {
        query: &form.recherche,
        page: &form.page,
        siret: form.siret.trim(),
        message: form.message.trim(),
        error: Some(error),
        invalid,
    };
    let Ok(siret) = Siret::parse(&form.siret) else {
        let e = "Recherchez puis sélectionnez votre établissement (SIRET à 14 chiffres).";
        let d = again(e.into(), "siret");
        return request_page(&page, service, &user, form.authreq.clone(), d).await;
    };
    let by = UserId::from_stored(user.id.clone());
    let (db, ephemeral, clock) = (&page.db, &page.ephemeral, &page.clock);
    let done = request_access(db, ephemeral, clock, &by, &service, &siret, &form.message);
    let sent = sent_path(&service, &form.authreq, siret.as_str());
    match done.await {
        Ok(Requested::Created(request)) => {
            let mails = mail_managers(&page, &service, &request).await;
            tracing::info!(access.service = %service.code, mails, "access request created");
            Ok(Redirect::to(&sent).into_response())
        }
        Ok(Requested::AlreadyPending) => Ok(Redirect::to(&sent).into_response()),
        Ok(Requested::NoManager) => no_manager(&page, service, &siret, &form.authreq).await,
        Err(
            refused @ (AccessRefusal::MessageTooLong(_) | AccessRefusal::ClosedEstablishment(_)),
        ) => {
            let field = match refused {
                AccessRefusal::MessageTooLong(_) => "message",
                _ => "siret",
            };
            let d = again(refused.to_string(), field);
            request_page(&page, service, &user, form.authreq.clone(), d).await
        }
        Err(refused) => Err(PageError::refused(&refused)),
    }
}

with_csrf!(RequestForm);
