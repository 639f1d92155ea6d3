//! « Un e-mail a été envoyé à votre Responsable des accès » and « Relancer ma demande ».

use super::*;

#[derive(Template)]
#[template(path = "access_request_sent.html")]
pub(super) struct SentPage {
    csrf: String,
    service: Service,
    authreq: String,
    siret: String,
    establishment: String,
    /// « 05/11/2024 à 14h28 »; empty when no e-mail could be sent.
    sent_at: String,
    days_left: i64,
    home: String,
    error: Option<String>,
}

pub(super) async fn sent_page(
    page: &Page,
    service: Service,
    authreq: String,
    request: &AccessRequest,
    error: Option<String>,
) -> Result<Response, PageError> {
    let t = page.clock.now();
    let home = home(page, &service);
    page.render_form(error.is_some(), |csrf| SentPage {
        csrf,
        service,
        authreq,
        siret: request.siret.clone(),
        establishment: request.establishment_label(),
        sent_at: if request.sent_at > 0 {
            dates::french_date_time(request.sent_at)
        } else {
            String::new()
        },
        days_left: request.days_before_resend(t),
        home,
        error,
    })
}

/// `GET /acces/{service}/demande/envoyee?siret=…`: where the person's request stands.
pub async fn show_sent(
    page: Page,
    Path(code): Path<String>,
    UrlQuery(q): UrlQuery<AccessQuery>,
) -> Result<Response, PageError> {
    let service = pages::service(&page, &code).await?;
    let here = sent_path(&service, &q.authreq, &q.siret);
    let (_, user) = match pages::person(&page, page.headers(), &here).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let Some(request) = requests::pending_for(&page.db, &user.id, &service.code, &q.siret).await?
    else {
        // Handled meanwhile (or never made): the no-access page decides what comes next.
        return Ok(Redirect::to(&pages::with_query(
            &format!("/acces/{}", service.code),
            &q.authreq,
            "",
        ))
        .into_response());
    };
    sent_page(&page, service, q.authreq, &request, None).await
}

/// « Relancer ma demande ».
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResendForm {
    csrf: String,
    authreq: String,
    siret: String,
}

/// `POST /acces/{service}/demande/relance`: e-mails the managers again (the action
/// `relaunch_request`), 30 days after the last e-mail at the earliest.
pub async fn resend(
    page: Page,
    Path(code): Path<String>,
    CsrfForm(form): CsrfForm<ResendForm>,
) -> Result<Response, PageError> {
    let service = pages::service(&page, &code).await?;
    let here = sent_path(&service, &form.authreq, &form.siret);
    let (_, user) = match pages::person(&page, page.headers(), &here).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let by = UserId::from_stored(user.id.clone());
    match relaunch_request(&page.db, &page.clock, &by, &service, &form.siret).await {
        Ok(request) => {
            mail_managers(&page, &service, &request).await;
            Ok(Redirect::to(&sent_path(&service, &form.authreq, &request.siret)).into_response())
        }
        Err(refused @ AccessRefusal::RequestRelaunchTooEarly(_)) => {
            let request = requests::pending_for(&page.db, &user.id, &service.code, &form.siret)
                .await?
                .ok_or_else(PageError::not_found)?;
            let error = Some(refused.to_string());
            sent_page(&page, service, form.authreq.clone(), &request, error).await
        }
        Err(refused) => Err(PageError::refused(&refused)),
    }
}

with_csrf!(ResendForm);
