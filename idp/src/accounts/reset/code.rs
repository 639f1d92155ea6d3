//! Step 2 of the reset: the e-mailed code (`/mot-de-passe-oublie/code`).

use super::*;

#[derive(Template, WebTemplate)]
#[template(path = "reset_code.html")]
struct CodePage {
    csrf: String,
    email: String,
    error: Option<String>,
}

/// `GET /mot-de-passe-oublie/code`: step 2, the e-mailed code.
pub async fn show_code(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some((_, flow)) = load_flow(&state, &headers).await? else {
        return Ok(see_other(RESET_START_PATH, None));
    };
    Ok(page(&state, &headers, StatusCode::OK, |csrf| {
        CodePage {
            csrf,
            email: flow.email,
            error: None,
        }
        .into_response()
    }))
}

/// Fields of step 2.
#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// `POST /mot-de-passe-oublie/code`: checks the code, 5 wrong tries at most.
pub async fn submit_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    csrf_ok(&state, &headers, &form.csrf)?;
    let Some((token, mut flow)) = load_flow(&state, &headers).await? else {
        return Ok(see_other(RESET_START_PATH, None));
    };
    let again = |error: &str, status: StatusCode| {
        page(&state, &headers, status, |csrf| {
            CodePage {
                csrf,
                email: flow.email.clone(),
                error: Some(error.to_owned()),
            }
            .into_response()
        })
    };
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(again(
            "Le code doit comporter 6 chiffres.",
            StatusCode::BAD_REQUEST,
        ));
    }
    let key = request_key(&flow.email);
    let Some(request) = state
        .ephemeral
        .get(&key)
        .await?
        .and_then(|raw| serde_json::from_str::<ResetRequest>(&raw).ok())
    else {
        return Ok(again(CODE_EXPIRED, StatusCode::GONE));
    };
    // Counted before the comparison, atomically: concurrent guesses cannot exceed the limit.
    let (tries, _) = state
        .ephemeral
        .hit(&format!("reset:tries:{}", request.rid), ttl(&state))
        .await?;
    if tries > MAX_CODE_TRIES {
        state.ephemeral.delete(&key).await?;
        return Ok(again(CODE_DEAD, StatusCode::GONE));
    }
    let right = secrets::constant_time_eq(
        code_hash(&request.rid, &code).as_bytes(),
        request.code_hash.as_bytes(),
    );
    match request.user_id {
        Some(user_id) if right => {
            flow.verified = Some(Verified {
                user_id,
                rid: request.rid,
                via: "code".into(),
            });
            save_flow(&state, &token, &flow).await?;
            Ok(see_other(RESET_PASSWORD_PATH, None))
        }
        _ => {
            let left = MAX_CODE_TRIES - tries;
            if left == 0 {
                state.ephemeral.delete(&key).await?;
                return Ok(again(CODE_DEAD, StatusCode::BAD_REQUEST));
            }
            let message = if left == 1 {
                format!("{CODE_INCORRECT} Il vous reste 1 essai.")
            } else {
                format!("{CODE_INCORRECT} Il vous reste {left} essais.")
            };
            Ok(again(&message, StatusCode::BAD_REQUEST))
        }
    }
}
