//! The « Invitations » tab and « Relancer l'invitation ».

use super::*;

// ---- The « Invitations » tab ----

/// One card of the tab.
pub(super) struct Card {
    id: String,
    name: String,
    email: String,
    establishment: String,
    roles: Vec<String>,
    sent: String,
    can_resend: bool,
    wait: String,
}

#[derive(Template)]
#[template(path = "access_manage_invitations.html")]
pub(super) struct InvitationsPage {
    csrf: String,
    service: Service,
    pending: i64,
    cards: Vec<Card>,
    notice: Option<&'static str>,
}

/// `?fait=…` after an action.
#[derive(Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    fait: String,
}

/// `GET /acces/{service}/gestion/invitations`: the invitations waiting for a first login.
pub async fn list(
    page: Page,
    m: Manager,
    UrlQuery(q): UrlQuery<DoneQuery>,
) -> Result<Response, PageError> {
    let sirets: Vec<String> = m.establishments.iter().map(|e| e.siret.clone()).collect();
    let roles = services::roles(&page.db, &m.service.code).await?;
    let t = page.clock.now();
    let mut cards = Vec::new();
    for inv in invitations::pending(&page.db, &m.service.code, &sirets).await? {
        let user = users::user_by_id(&page.db, &inv.user_id).await?;
        cards.push(Card {
            name: user
                .as_ref()
                .map_or_else(|| inv.email.clone(), display_name),
            establishment: m
                .establishment(&inv.siret)
                .map_or_else(|| format!("SIRET {}", inv.siret), Establishment::label),
            roles: role_labels(&inv, &roles),
            sent: dates::french_date_time(inv.sent_at),
            can_resend: inv.can_resend(t),
            wait: invitations::wait_label(inv.expires_at - t),
            email: inv.email,
            id: inv.id,
        });
    }
    let pending =
        crate::access::requests::count_pending_for_manager(&page.db, &m.user.id, &m.service.code)
            .await?;
    let notice = match q.fait.as_str() {
        "envoyee" => Some("L'invitation a été envoyée."),
        "relancee" => Some("L'invitation a été relancée."),
        _ => None,
    };
    page.render(StatusCode::OK, |csrf| InvitationsPage {
        csrf,
        service: m.service,
        pending,
        cards,
        notice,
    })
}

pub(super) fn role_labels(inv: &Invitation, roles: &[Role]) -> Vec<String> {
    inv.roles
        .iter()
        .map(|r| {
            let label = roles
                .iter()
                .find(|x| x.code == r.role)
                .map_or_else(|| r.role.clone(), |x| x.label.clone());
            match r.end_date.as_deref().and_then(EndDate::from_stored) {
                Some(d) => format!("{label} ({})", d.until()),
                None => label,
            }
        })
        .collect()
}

/// `POST /acces/{service}/gestion/invitations/{id}/relancer`: sends it again (a new link),
/// only once it has expired.
pub async fn resend(
    State(state): State<AppState>,
    m: Manager,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<PlainForm>,
) -> Result<Response, PageError> {
    let inv = relaunch_invitation(&state.db, &state.clock, &m.id, &m.service, &id)
        .await
        .map_err(|refused| PageError::refused(&refused))?;
    let user = users::user_by_id(&state.db, &inv.user_id)
        .await?
        .ok_or_else(PageError::not_found)?;
    let email = Email::parse(&user.email).map_err(|e| PageError::bad_request(e.to_string()))?;
    let roles = services::roles(&state.db, &m.service.code).await?;
    let sent = [(inv.siret.clone(), inv.roles.clone())];
    send_invitation(&state, &m, &user, &email, &sent, &roles).await?;
    let done = format!(
        "/acces/{}/gestion/invitations?fait=relancee",
        m.service.code
    );
    Ok(Redirect::to(&done).into_response())
}
