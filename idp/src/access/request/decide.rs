//! The request for its Responsables des accès: « Ajouter l'habilitation » or « Refuser la
//! demande ».

use serde::Serialize;

use super::*;
use crate::{
    access::manager::Establishment,
    accounts::{session::LoginSession, step_up},
};

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
    /// « Nom de l'établissement »: the establishments the manager may grant in.
    establishments: Vec<Establishment>,
    roles: Vec<Role>,
    siret: String,
    role: String,
    end_date: String,
    /// « Liste des habilitations » as shown.
    listed: Vec<ListedLine>,
    /// The same list, carried by the form until « Terminer ».
    list_field: String,
    reason: String,
    max_message: usize,
    home: String,
    error: Option<String>,
    invalid: &'static str,
}

/// The form as the page shows it again.
#[derive(Default)]
struct Decision<'a> {
    siret: &'a str,
    role: &'a str,
    end_date: &'a str,
    reason: &'a str,
    listed: Vec<Listed>,
    error: Option<String>,
    invalid: &'static str,
}

/// One line of « Liste des habilitations », carried by the form from « Ajouter l'habilitation »
/// to « Terminer » (a hidden JSON field): nothing is stored before « Terminer », which grants
/// the whole list in one action, so an abandoned page leaves nothing half done. The action
/// checks every line again.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Listed {
    siret: String,
    role: String,
    /// The last day, `AAAA-MM-JJ`.
    #[serde(default)]
    fin: Option<String>,
}

impl Listed {
    fn of(grant: &verdict::RequestGrant) -> Self {
        Self {
            siret: grant.siret.as_str().to_owned(),
            role: grant.role.clone(),
            fin: grant.end_date.map(|d| d.iso()),
        }
    }

    /// The grant it stands for; `None` for a line that was not written by the page.
    fn grant(&self) -> Option<verdict::RequestGrant> {
        let end_date = match &self.fin {
            Some(fin) => Some(EndDate::from_stored(fin)?),
            None => None,
        };
        Some(verdict::RequestGrant {
            siret: Siret::parse(&self.siret).ok()?,
            role: self.role.clone(),
            end_date,
        })
    }
}

/// A line of « Liste des habilitations » in words.
struct ListedLine {
    role: String,
    establishment: String,
    end: String,
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
/// habilitations the acceptance granted, known by being granted through a request, by its
/// decider, at the very second of the decision (one transaction).
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

/// The establishments `viewer` may grant a habilitation in from a request: those they manage
/// for the service and whose charte they accepted, the request's first.
async fn grantable(
    state: &AppState,
    viewer: &str,
    service: &Service,
    request: &AccessRequest,
) -> Result<Vec<Establishment>, PageError> {
    let mut sirets = managers::establishments_of(&state.db, viewer, &service.code).await?;
    sirets.sort_by_key(|s| *s != request.siret);
    let mut all = Vec::with_capacity(sirets.len());
    for siret in sirets {
        if activation::charte_accepted(state, viewer, service, &siret).await? {
            all.push(Establishment::of(&state.db, siret).await?);
        }
    }
    Ok(all)
}

/// « NOM (SIRET …) » of one of `known`, else of the register.
async fn establishment_text(
    state: &AppState,
    known: &[Establishment],
    siret: &str,
) -> Result<String, sqlx::Error> {
    let e = match known.iter().find(|e| e.siret == siret) {
        Some(e) => e.clone(),
        None => Establishment::of(&state.db, siret.to_owned()).await?,
    };
    Ok(if e.name.is_empty() {
        format!("SIRET {siret}")
    } else {
        format!("{} (SIRET {siret})", e.name)
    })
}

/// « « Centre agréé » pour l'établissement NOM (SIRET …), jusqu'à fin 06/2027 ».
fn grant_text(role_label: &str, establishment: &str, end_date: Option<EndDate>) -> String {
    let end = end_date.map_or("sans date de fin".to_owned(), |d| d.until());
    format!("« {role_label} » pour l'établissement {establishment}, {end}")
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
    let establishments = grantable(page, viewer, &service, &request).await?;
    let mut listed = Vec::with_capacity(d.listed.len());
    for l in &d.listed {
        let role = roles
            .iter()
            .find(|r| r.code == l.role)
            .map_or(l.role.clone(), |r| r.label.clone());
        let end = l.fin.as_deref().and_then(EndDate::from_stored);
        listed.push(ListedLine {
            establishment: establishment_text(page, &establishments, &l.siret).await?,
            end: end.map_or("Sans date de fin".to_owned(), |d| format!("Fin : {d}")),
            role,
        });
    }
    let list_field = serde_json::to_string(&d.listed).unwrap_or_default();
    let siret = if d.siret.is_empty() {
        request.siret.clone()
    } else {
        d.siret.to_owned()
    };
    page.render(status, |csrf| ManagePage {
        csrf,
        civilite: civilite_label(request.gender.as_deref()),
        created_at: dates::french_date_time(request.created_at),
        outcome,
        request,
        service,
        establishments,
        roles,
        siret,
        role: d.role.to_owned(),
        end_date: d.end_date.to_owned(),
        listed,
        list_field,
        reason: d.reason.to_owned(),
        max_message: MAX_MESSAGE_CHARS,
        home,
        error: d.error,
        invalid: d.invalid,
    })
}

/// The request of the URL, when `user` is Responsable des accès of its establishment for the
/// service, with a session strong enough for the managers' pages, and accepted the charte
/// there: else 404, 403, the second factor's step-up or the charte page.
async fn managed_request(
    page: &Page,
    service: &Service,
    (session, user): (&LoginSession, &User),
    id: &str,
) -> Result<Result<AccessRequest, Response>, PageError> {
    let state: &AppState = page;
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
    let here = request_path(&service.code, &request.id);
    if let Some(step_up) = step_up::before_own_page(state, page.headers(), session, &here).await? {
        return Ok(Err(step_up));
    }
    if !activation::charte_accepted(state, &user.id, service, &request.siret).await? {
        let to = pages::charte_then(&service.code, &request.siret, &here);
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
    let (session, user) = match pages::person(&page, page.headers(), &here).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let request = match managed_request(&page, &service, (&session, &user), &id).await? {
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
    /// `ajouter`, `retirer:{n}`, `terminer` (or `accepter`, the same) or `refuser`.
    action: String,
    siret: String,
    role: String,
    date_fin: String,
    /// « Liste des habilitations » so far (JSON, see [`Listed`]).
    liste: String,
    motif: String,
}

/// What a press of one of the form's buttons asks.
enum Press {
    /// « Ajouter l'habilitation »: the line joins the list.
    Add,
    /// « Retirer » on the list's line `n`.
    Remove(usize),
    /// « Terminer »: grant the list (and the line being typed, if any).
    Finish,
    /// « Refuser la demande ».
    Refuse,
}

impl Press {
    fn of(action: &str) -> Option<Self> {
        match action {
            "ajouter" => Some(Self::Add),
            "terminer" | "accepter" => Some(Self::Finish),
            "refuser" => Some(Self::Refuse),
            other => other
                .strip_prefix("retirer:")
                .and_then(|n| n.parse().ok())
                .map(Self::Remove),
        }
    }
}

/// `POST /acces/{service}/demandes/{id}`: « Ajouter l'habilitation » and « Retirer » build
/// « Liste des habilitations »; « Terminer » or « Refuser la demande » decide (the action
/// `decide_request`), then the e-mail to the requester.
pub async fn decide(
    page: Page,
    Path((code, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<DecisionForm>,
) -> Result<Response, PageError> {
    let service = pages::service(&page, &code).await?;
    let here = request_path(&service.code, &id);
    let (session, manager) = match pages::person(&page, page.headers(), &here).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    // The second factor or the charte first: the request's page comes back afterwards, where
    // the decision is made again.
    let request = match managed_request(&page, &service, (&session, &manager), &id).await? {
        Ok(request) => request,
        Err(first) => return Ok(first),
    };
    let viewer = manager.id.as_str();
    let by = UserId::from_stored(manager.id.clone());
    let (mut status, mut d) = (StatusCode::CONFLICT, Decision::default());
    if request.status == Status::Pending {
        let press =
            Press::of(&form.action).ok_or_else(|| PageError::bad_request("Action inconnue."))?;
        let mut listed: Vec<Listed> = match form.liste.trim() {
            "" => Vec::new(),
            json => serde_json::from_str(json).map_err(|_| unreadable())?,
        };
        let mut grants = listed
            .iter()
            .map(Listed::grant)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(unreadable)?;
        let shown = |listed: Vec<Listed>| Decision {
            siret: &form.siret,
            role: &form.role,
            end_date: &form.date_fin,
            reason: form.motif.trim(),
            listed,
            ..Decision::default()
        };
        let again = |listed: Vec<Listed>, (error, invalid): (String, &'static str)| Decision {
            error: Some(error),
            invalid,
            ..shown(listed)
        };
        let decision = match press {
            Press::Remove(n) => {
                if n < listed.len() {
                    listed.remove(n);
                }
                let d = shown(listed);
                return manage_page(&page, service, request, viewer, StatusCode::OK, d).await;
            }
            Press::Add => {
                let line = match typed_line(&form, &request) {
                    Ok(line) => line,
                    Err(e) => {
                        let d = again(listed, e);
                        let status = StatusCode::BAD_REQUEST;
                        return manage_page(&page, service, request, viewer, status, d).await;
                    }
                };
                let checked = {
                    let mut conn = page.db.pool.acquire().await?;
                    verdict::may_grant(&mut conn, &by, &service, &line).await
                };
                let d = match checked {
                    Ok(_) => {
                        add_line(&mut listed, Listed::of(&line));
                        Decision {
                            siret: line.siret.as_str(),
                            listed,
                            reason: form.motif.trim(),
                            ..Decision::default()
                        }
                    }
                    Err(refused) => {
                        let e = in_form(&refused).ok_or_else(|| PageError::refused(&refused))?;
                        again(listed, e)
                    }
                };
                let status = if d.error.is_some() {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::OK
                };
                return manage_page(&page, service, request, viewer, status, d).await;
            }
            Press::Finish => {
                // The line being typed counts, as if « Ajouter l'habilitation » came first.
                if !form.role.trim().is_empty() || grants.is_empty() {
                    match typed_line(&form, &request) {
                        Ok(line) => {
                            add_line(&mut listed, Listed::of(&line));
                            grants.retain(|g| g.siret != line.siret || g.role != line.role);
                            grants.push(line);
                        }
                        Err(e) => {
                            let d = again(listed, e);
                            let status = StatusCode::BAD_REQUEST;
                            return manage_page(&page, service, request, viewer, status, d).await;
                        }
                    }
                }
                verdict::Decision::Accept { grants: &grants }
            }
            Press::Refuse => verdict::Decision::Refuse {
                reason: form.motif.trim(),
            },
        };
        match decide_request(&page.db, &page.clock, &by, &service, &request, &decision).await {
            Ok(Decided::AlreadyHandled) => {}
            Ok(decided) => {
                notify_requester(&page, &service, &request, &decided, &decision).await;
                let decision = &form.action;
                tracing::info!(access.service = %service.code, %decision, "access request handled");
                return Ok(Redirect::to(&request_path(&service.code, &request.id)).into_response());
            }
            Err(refused) => {
                let e = in_form(&refused).ok_or_else(|| PageError::refused(&refused))?;
                (status, d) = (StatusCode::BAD_REQUEST, again(listed, e));
            }
        }
    }
    // Decided meanwhile (or refused above): the page as it stands now.
    let request = requests::by_id(&page.db, &request.id)
        .await?
        .ok_or_else(PageError::not_found)?;
    manage_page(&page, service, request, viewer, status, d).await
}

fn unreadable() -> PageError {
    PageError::bad_request("Le formulaire envoyé est illisible. Rechargez la page et recommencez.")
}

/// Adds `line` to the list, in place of the line of the same establishment and role.
fn add_line(listed: &mut Vec<Listed>, line: Listed) {
    match listed
        .iter_mut()
        .find(|l| l.siret == line.siret && l.role == line.role)
    {
        Some(same) => *same = line,
        None => listed.push(line),
    }
}

/// The line typed in the form (the request's establishment when none is chosen); the message
/// and the field of what does not parse.
fn typed_line(
    form: &DecisionForm,
    request: &AccessRequest,
) -> Result<verdict::RequestGrant, (String, &'static str)> {
    let siret = match form.siret.trim() {
        "" => request.siret.as_str(),
        chosen => chosen,
    };
    let siret =
        Siret::parse(siret).map_err(|_| ("Sélectionnez l'établissement.".to_owned(), "siret"))?;
    if form.role.trim().is_empty() {
        return Err(("Sélectionnez le rôle du demandeur.".into(), "role"));
    }
    let end_date = match form.date_fin.trim() {
        "" => None,
        typed => {
            Some(EndDate::parse(typed, dates::today()).map_err(|e| (e.to_string(), "date_fin"))?)
        }
    };
    Ok(verdict::RequestGrant {
        siret,
        role: form.role.trim().to_owned(),
        end_date,
    })
}

/// The field and message of a refusal the form shows again; `None` for the others (a page of
/// their own).
fn in_form(refused: &AccessRefusal) -> Option<(String, &'static str)> {
    match refused {
        AccessRefusal::UnknownRole(_) | AccessRefusal::NoHabilitation => {
            Some(("Sélectionnez le rôle du demandeur.".into(), "role"))
        }
        AccessRefusal::ReasonTooLong(_) => Some((refused.to_string(), "motif")),
        AccessRefusal::ClosedEstablishment(_) | AccessRefusal::NotManager(_) => {
            Some((refused.to_string(), "siret"))
        }
        _ => None,
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
        (Decided::Accepted(granted), _) => {
            let mut lines = Vec::with_capacity(granted.len());
            for (grant, role) in granted {
                let place = match establishment_text(state, &[], grant.siret.as_str()).await {
                    Ok(place) => place,
                    Err(e) => {
                        tracing::error!(error.message = %e, "access request: establishment not read");
                        format!("SIRET {}", grant.siret)
                    }
                };
                lines.push(grant_text(&role.label, &place, grant.end_date));
            }
            let home = home(state, service);
            messages::access_request_accepted(&to, name.as_deref(), &content, &lines, &home)
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
