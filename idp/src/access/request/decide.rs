//! The request for its Responsables des accès: « Ajouter l'habilitation » or « Refuser la
//! demande ».

use super::*;

#[derive(Template)]
#[template(path = "access_request_manage.html")]
struct ManagePage {
    csrf: String,
    service: Service,
    request: AccessRequest,
    civilite: &'static str,
    created_at: String,
    /// What became of it, once handled.
    outcome: Option<Outcome>,
    roles: Vec<Role>,
    role: String,
    end_date: String,
    reason: String,
    max_message: usize,
    home: String,
    error: Option<String>,
    invalid: &'static str,
}

#[derive(Default)]
struct Decision<'a> {
    role: &'a str,
    end_date: &'a str,
    reason: &'a str,
    error: Option<String>,
    invalid: &'static str,
}

/// A handled request as the page tells it: to the manager who decided, what they did (« La
/// demande de Bob Durand a été acceptée : … »); to another, that it was already handled.
struct Outcome {
    /// The viewer decided it.
    own: bool,
    /// The sentence.
    text: String,
}

async fn outcome(
    db: &crate::store::Db,
    request: &AccessRequest,
    viewer: &str,
) -> Result<Option<Outcome>, sqlx::Error> {
    let verb = match request.status {
        Status::Pending => return Ok(None),
        Status::Accepted => "acceptée",
        Status::Refused => "refusée",
    };
    let when = request
        .handled_at
        .map(dates::french_date_time)
        .unwrap_or_default();
    if request.handled_by.as_deref() != Some(viewer) {
        let who = request
            .handled_by_name
            .clone()
            .unwrap_or_else(|| "un autre responsable des accès".into());
        let text = format!("Demande {verb} par {who} le {when}.");
        return Ok(Some(Outcome { own: false, text }));
    }
    let name = request.requester_name();
    let text = if request.status == Status::Accepted {
        let granted = granted_by_decision(db, request).await?;
        format!(
            "La demande de {name} a été acceptée le {when} : {}.",
            granted.join(" ; ")
        )
    } else {
        format!("La demande de {name} a été refusée le {when}. Un e-mail l'en a informé.")
    };
    Ok(Some(Outcome { own: true, text }))
}

/// « Centre agréé pour CENTRE DE FORMATION DU LAC (SIRET …), jusqu'à fin 12/2099 »: the
/// habilitations the acceptance granted, known by being granted through this request's
/// establishment, by its decider, at the very second of the decision (one transaction).
async fn granted_by_decision(
    db: &crate::store::Db,
    request: &AccessRequest,
) -> Result<Vec<String>, sqlx::Error> {
    use super::super::habilitations::{self, GrantedHow};
    let all = habilitations::of_user(db, &request.user_id, &request.service_code).await?;
    Ok(all
        .into_iter()
        .filter(|h| {
            h.granted_how == GrantedHow::Request
                && h.siret == request.siret
                && h.granted_by == request.handled_by
                && Some(h.granted_at) == request.handled_at
        })
        .map(|h| {
            let end = h
                .end_date
                .map_or("sans date de fin".to_owned(), |d| d.until());
            let place = match &h.establishment {
                Some(n) => format!("{n} (SIRET {})", h.siret),
                None => format!("SIRET {}", h.siret),
            };
            format!("{} pour {place}, {end}", h.role_label)
        })
        .collect())
}

async fn manage_page(
    page: &Page,
    service: Service,
    request: AccessRequest,
    viewer: &str,
    status: StatusCode,
    d: Decision<'_>,
) -> Result<Response, PageError> {
    let roles = services::roles(&page.db, &service.code).await?;
    let home = home(page, &service);
    let outcome = outcome(&page.db, &request, viewer).await?;
    page.render(status, |csrf| ManagePage {
        csrf,
        civilite: civilite_label(request.gender.as_deref()),
        created_at: dates::french_date_time(request.created_at),
        outcome,
        request,
        service,
        roles,
        role: d.role.to_owned(),
        end_date: d.end_date.to_owned(),
        reason: d.reason.to_owned(),
        max_message: MAX_MESSAGE_CHARS,
        home,
        error: d.error,
        invalid: d.invalid,
    })
}

/// The request of the URL, when `user` is Responsable des accès of its establishment for the
/// service and accepted the charte there: else 404, 403 or the charte page.
async fn managed_request(
    state: &AppState,
    service: &Service,
    user: &User,
    id: &str,
) -> Result<Result<AccessRequest, Response>, PageError> {
    let request = requests::by_id(&state.db, id)
        .await?
        .filter(|r| r.service_code == service.code)
        .ok_or_else(PageError::not_found)?;
    if !managers::is_manager(&state.db, &user.id, &service.code, &request.siret).await? {
        audit::record_alone(
            &state.db,
            state.clock.now(),
            &user.id,
            "access_request.forbidden",
            &request.siret,
            serde_json::json!({"service": service.code, "request_id": request.id}),
        )
        .await?;
        return Err(PageError::forbidden(format!(
            "Vous n'êtes pas responsable des accès de cet établissement pour le service numérique {}.",
            service.label
        )));
    }
    if !activation::charte_accepted(state, &user.id, service, &request.siret).await? {
        let to = pages::charte_then(
            &service.code,
            &request.siret,
            &format!("/acces/{}/demandes/{}", service.code, request.id),
        );
        return Ok(Err(Redirect::to(&to).into_response()));
    }
    Ok(Ok(request))
}

/// `GET /acces/{service}/demandes/{id}`: the request, for its managers (the e-mail's link).
pub async fn show_request(
    page: Page,
    Path((code, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let service = pages::service(&page, &code).await?;
    let here = request_path(&service.code, &id);
    let (_, user) = match pages::person(&page, page.headers(), &here).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let request = match managed_request(&page, &service, &user, &id).await? {
        Ok(r) => r,
        Err(redirect) => return Ok(redirect),
    };
    manage_page(
        &page,
        service,
        request,
        &user.id,
        StatusCode::OK,
        Decision::default(),
    )
    .await
}

/// The manager's form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DecisionForm {
    csrf: String,
    /// `accepter` or `refuser`.
    action: String,
    role: String,
    date_fin: String,
    motif: String,
}

/// `POST /acces/{service}/demandes/{id}`: « Ajouter l'habilitation » or « Refuser la demande »
/// (the action `decide_request`), then the e-mail to the requester.
pub async fn decide(
    page: Page,
    Path((code, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<DecisionForm>,
) -> Result<Response, PageError> {
    let service = pages::service(&page, &code).await?;
    let here = request_path(&service.code, &id);
    let (_, manager) = match pages::person(&page, page.headers(), &here).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let Ok(request) = managed_request(&page, &service, &manager, &id).await? else {
        let first = "Acceptez d'abord la charte du responsable des accès.";
        return Err(PageError::forbidden(first));
    };
    let viewer = manager.id.as_str();
    let again = |error: String, invalid: &'static str| Decision {
        role: &form.role,
        end_date: &form.date_fin,
        reason: form.motif.trim(),
        error: Some(error),
        invalid,
    };
    let (mut status, mut d) = (StatusCode::CONFLICT, Decision::default());
    if request.status == Status::Pending {
        if !matches!(form.action.as_str(), "accepter" | "refuser") {
            return Err(PageError::bad_request("Action inconnue."));
        }
        let decision = match decision_of(&form) {
            Ok(decision) => decision,
            Err((error, field)) => {
                let (status, d) = (StatusCode::BAD_REQUEST, again(error, field));
                return manage_page(&page, service, request, viewer, status, d).await;
            }
        };
        let by = UserId::from_stored(manager.id.clone());
        match decide_request(&page.db, &page.clock, &by, &service, &request, &decision).await {
            Ok(Decided::AlreadyHandled) => {}
            Ok(decided) => {
                notify_requester(&page, &service, &request, &decided, &decision).await;
                let decision = &form.action;
                tracing::info!(access.service = %service.code, %decision, "access request handled");
                return Ok(Redirect::to(&request_path(&service.code, &request.id)).into_response());
            }
            Err(refused) => {
                let (field, error) =
                    in_form(&refused).ok_or_else(|| PageError::refused(&refused))?;
                (status, d) = (StatusCode::BAD_REQUEST, again(error, field));
            }
        }
    }
    // Decided meanwhile (or refused above): the page as it stands now.
    let request = requests::by_id(&page.db, &request.id)
        .await?
        .ok_or_else(PageError::not_found)?;
    manage_page(&page, service, request, viewer, status, d).await
}

/// The field and message of a refusal the form shows again; `None` for the others (a page of
/// their own).
fn in_form(refused: &AccessRefusal) -> Option<(&'static str, String)> {
    match refused {
        AccessRefusal::UnknownRole(_) => {
            Some(("role", "Sélectionnez le rôle du demandeur.".into()))
        }
        AccessRefusal::ReasonTooLong(_) => Some(("motif", refused.to_string())),
        AccessRefusal::ClosedEstablishment(_) => Some(("", refused.to_string())),
        _ => None,
    }
}

/// The decision the form asks for; the message and the field of a date that does not parse.
fn decision_of(form: &DecisionForm) -> Result<verdict::Decision<'_>, (String, &'static str)> {
    match form.action.as_str() {
        "refuser" => Ok(verdict::Decision::Refuse {
            reason: form.motif.trim(),
        }),
        "accepter" => {
            let end_date = match form.date_fin.trim() {
                "" => None,
                typed => Some(
                    EndDate::parse(typed, dates::today())
                        .map_err(|e| (e.to_string(), "date_fin"))?,
                ),
            };
            Ok(verdict::Decision::Accept {
                role: &form.role,
                end_date,
            })
        }
        _ => Err(("Action inconnue.".into(), "")),
    }
}

/// After the commit: « Votre demande d'accès a été acceptée / refusée » to the requester.
async fn notify_requester(
    state: &AppState,
    service: &Service,
    request: &AccessRequest,
    decided: &Decided,
    decision: &verdict::Decision<'_>,
) {
    let requester = match store::user_by_id(&state.db, &request.user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(error.message = %e, "access request: requester not read");
            return;
        }
    };
    let Ok(to) = Email::parse(&requester.email) else {
        return;
    };
    let name = full_name(&requester);
    let (line, establishment) = (requester_line(request), request.establishment_label());
    let content = mail_of(service, &line, &establishment, "");
    let message = match (decided, decision) {
        (Decided::Accepted(role), verdict::Decision::Accept { end_date, .. }) => {
            let end = end_date.map_or("sans date de fin".to_owned(), |d| d.until());
            let home = home(state, service);
            messages::access_request_accepted(
                &to,
                name.as_deref(),
                &content,
                &role.label,
                &end,
                &home,
            )
        }
        (_, verdict::Decision::Refuse { reason }) => {
            let login = messages::absolute(&state.config.issuer, messages::LOGIN_PATH);
            messages::access_request_refused(&to, name.as_deref(), &content, reason, &login)
        }
        _ => return,
    };
    send_notice(state, message).await;
}

with_csrf!(DecisionForm);
