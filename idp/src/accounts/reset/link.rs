//! Step 2 of the reset by the e-mailed link (`/mot-de-passe-oublie/lien?jeton=…`), in place
//! of typing the code.

use super::*;

/// Query of the e-mailed link.
#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    jeton: String,
}

/// `GET /mot-de-passe-oublie/lien?jeton=…`: the e-mailed link, in place of typing the code.
/// It checks the token without spending it (mail scanners open links), the password change does.
pub async fn follow_link(
    State(state): State<AppState>,
    Query(q): Query<LinkQuery>,
) -> Result<Response, PageError> {
    let expired = || {
        let mut response = MessagePage {
            success: false,
            message: LINK_EXPIRED.into(),
            title: RESET_TITLE,
            next: None,
        }
        .into_response();
        *response.status_mut() = StatusCode::GONE;
        response
    };
    if q.jeton.is_empty() {
        return Ok(expired());
    }
    let Some(email) = state.ephemeral.get(&link_key(&q.jeton)).await? else {
        return Ok(expired());
    };
    let request = state
        .ephemeral
        .get(&request_key(&email))
        .await?
        .and_then(|raw| ResetRequest::read(&raw, state.clock.now()));
    let Some(request) = request else {
        return Ok(expired());
    };
    // A newer request replaced the one this link belonged to.
    let current = secrets::constant_time_eq(
        secrets::hash(&q.jeton).as_bytes(),
        request.link_hash.as_bytes(),
    );
    let Some(user_id) = request.user_id.filter(|_| current) else {
        return Ok(expired());
    };
    let cookie = start_flow(
        &state,
        &Flow {
            email,
            verified: Some(Verified {
                user_id,
                rid: request.rid,
                via: "link".into(),
            }),
            first_password: request.first_password,
            back: request.back,
        },
    )
    .await?;
    Ok(see_other(RESET_PASSWORD_PATH, Some(cookie)))
}
