//! Sign-up, in five steps under `/inscription` (ministry guide `002` §3.2): e-mail, code,
//! password, identity, organisation. One file per step; this module owns the journey's state.
//!
//! The state is one JSON value in the shared store under the hash of a random id held in a
//! `__Host-` cookie, so any node serves any step. Every step reads it, checks that the steps
//! before it are done (otherwise redirects to the first missing one) and writes it back only
//! when its form is valid: refreshing, going back or submitting twice never leaves it half
//! written. "Modifier" links go back to a finished step, whose form comes back filled in.

pub mod code;
pub mod email;
pub mod identity;
pub mod organization;
pub mod password;

use std::time::Duration;

use askama::Template;
use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};

use crate::{AppState, error::PageError, secrets, web::cookies, web::csrf};

/// The cookie holding the journey's id (`__Host-` prefixed with secure cookies).
pub const JOURNEY_COOKIE: &str = "idp_signup";
/// How long an untouched journey lives (each step renews it).
pub const JOURNEY_TTL: Duration = Duration::from_secs(2 * 3600);

/// What the person has proven and typed so far.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Journey {
    /// Step 1: the address (parsed), once a code was asked for it.
    pub email: Option<String>,
    /// Step 2: the code sent to `email` was entered.
    pub code_verified: bool,
    /// Step 3: argon2id hash of the chosen password.
    pub password_hash: Option<String>,
    /// Step 3: the password sealed under the KEK ([`SEALED_PASSWORD_KID`]), base64: the guide
    /// asks the names (step 4) after the password, and the password must not contain them, so
    /// step 4 opens it to check. Gone with the journey when the account is created.
    #[serde(default)]
    pub sealed_password: Option<String>,
    /// Step 4 found the names in the password: step 3 asks for another one and says why.
    #[serde(default)]
    pub password_contains_name: bool,
    /// Step 4: `female` or `male`.
    pub gender: Option<String>,
    /// Step 4: nom.
    pub family_name: Option<String>,
    /// Step 4: prénom.
    pub given_name: Option<String>,
    /// Step 5, kept when the form comes back with an error: poste.
    pub job: Option<String>,
    /// Step 5: SIREN or SIRET as typed.
    pub siren: Option<String>,
    /// Step 5: raison sociale.
    pub organization_label: Option<String>,
    /// The authorization request that sent the person to « Créer un compte », if any: the
    /// last page's « Se connecter » resumes it, so a newcomer coming from a service goes back
    /// there.
    #[serde(default)]
    pub authreq: Option<String>,
}

/// The purpose the sign-up's sealed password is bound to.
pub const SEALED_PASSWORD_KID: &str = "signup-password";

/// The five steps and their addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// 1: e-mail.
    Email = 1,
    /// 2: code.
    Code = 2,
    /// 3: password.
    Password = 3,
    /// 4: identity.
    Identity = 4,
    /// 5: organisation.
    Organization = 5,
}

/// The sign-up journey of this browser, at step `STEP` (a [`Step`] as a number) or, when an
/// earlier step is not done yet, the redirect to it: as a handler argument, each step's
/// handlers start where the journey is and nowhere else.
pub struct At<const STEP: u8>(pub Session);

impl<const STEP: u8> At<STEP> {
    /// The journey of these headers, if it has reached `STEP`; else the redirect to its step.
    async fn of(state: &AppState, headers: &HeaderMap) -> Result<Self, Response> {
        let session = Session::load(state, headers)
            .await
            .map_err(IntoResponse::into_response)?;
        let next = session.journey.next_step();
        if STEP > next as u8 {
            return Err(session.redirect(next.path()));
        }
        Ok(Self(session))
    }
}

impl<const STEP: u8> axum::extract::FromRequestParts<AppState> for At<STEP> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        Self::of(state, &parts.headers).await
    }
}

/// A step's posted form, its CSRF token checked first (a forged form is refused whatever the
/// journey), then the journey at `STEP` as [`At`].
pub struct Posted<const STEP: u8, F>(pub Session, pub F);

impl<const STEP: u8, F> axum::extract::FromRequest<AppState> for Posted<STEP, F>
where
    F: serde::de::DeserializeOwned + crate::web::page::WithCsrf + Send,
{
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let crate::web::page::CsrfForm(form) =
            crate::web::page::CsrfForm::<F>::from_request(req, state).await?;
        let At(session) = At::<STEP>::of(state, &headers).await?;
        Ok(Self(session, form))
    }
}

impl Step {
    /// The step's page.
    pub fn path(self) -> &'static str {
        match self {
            Self::Email => "/inscription",
            Self::Code => "/inscription/code",
            Self::Password => "/inscription/mot-de-passe",
            Self::Identity => "/inscription/identite",
            Self::Organization => "/inscription/organisation",
        }
    }
}

impl Journey {
    /// The first step not done yet.
    pub fn next_step(&self) -> Step {
        if self.email.is_none() {
            Step::Email
        } else if !self.code_verified {
            Step::Code
        } else if self.password_hash.is_none() {
            Step::Password
        } else if self.gender.is_none() || self.family_name.is_none() || self.given_name.is_none() {
            Step::Identity
        } else {
            Step::Organization
        }
    }

    /// Nom and prénom, once step 4 is done (what the password must not contain).
    pub fn names(&self) -> Vec<&str> {
        [self.family_name.as_deref(), self.given_name.as_deref()]
            .into_iter()
            .flatten()
            .collect()
    }

    /// "Mme JEANNE DUPONT", as the guide shows the identity in the recap.
    pub fn identity_label(&self) -> String {
        let title = match self.gender.as_deref() {
            Some("female") => "Mme",
            _ => "M.",
        };
        let names = format!(
            "{} {}",
            self.given_name.as_deref().unwrap_or_default(),
            self.family_name.as_deref().unwrap_or_default()
        );
        format!("{title} {}", names.to_uppercase())
    }
}

/// A journey loaded for one request: its id, its state, and the cookie to set if it is new.
pub struct Session {
    id: String,
    /// The state.
    pub journey: Journey,
    set_cookie: Option<HeaderValue>,
}

fn key(id: &str) -> String {
    format!("signup:{}", secrets::hash(id))
}

impl Session {
    /// This browser's journey, or a new empty one (not stored until a step saves it).
    pub async fn load(state: &AppState, headers: &HeaderMap) -> Result<Self, PageError> {
        let secure = state.config.session.secure_cookies;
        if let Some(id) = cookies::get(headers, JOURNEY_COOKIE, secure).filter(|v| v.len() == 43)
            && let Some(raw) = state.ephemeral.get(&key(&id)).await?
            && let Ok(journey) = serde_json::from_str(&raw)
        {
            return Ok(Self {
                id,
                journey,
                set_cookie: None,
            });
        }
        let id = secrets::random_token(32);
        let set_cookie = Some(cookies::set(JOURNEY_COOKIE, &id, secure, None));
        Ok(Self {
            id,
            journey: Journey::default(),
            set_cookie,
        })
    }

    /// Writes the state back (and renews its lifetime).
    pub async fn save(&self, state: &AppState) -> Result<(), PageError> {
        let raw = serde_json::to_string(&self.journey)
            .map_err(|e| PageError::internal("signup journey", &e))?;
        state
            .ephemeral
            .put(&key(&self.id), &raw, JOURNEY_TTL)
            .await?;
        Ok(())
    }

    /// Ends the journey: its state is deleted and its cookie removed.
    pub async fn finish(self, state: &AppState) -> Result<HeaderValue, PageError> {
        state.ephemeral.delete(&key(&self.id)).await?;
        Ok(cookies::set(
            JOURNEY_COOKIE,
            "",
            state.config.session.secure_cookies,
            Some(0),
        ))
    }

    /// The address of step 1 (set once step 1 is done).
    pub fn email(&self) -> Option<crate::accounts::Email> {
        self.journey
            .email
            .as_deref()
            .and_then(|e| crate::accounts::Email::parse(e).ok())
    }

    /// A redirect (303: the browser GETs the next page) carrying the cookie if new.
    pub fn redirect(&self, to: &str) -> Response {
        let mut response = Redirect::to(to).into_response();
        if let Some(cookie) = &self.set_cookie {
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookie.clone());
        }
        response
    }

    /// The parts every step's page shares.
    pub fn frame(&self, state: &AppState, headers: &HeaderMap, step: Step) -> Frame {
        let token = csrf::token(state, headers);
        let mut set_cookies: Vec<HeaderValue> = token.set_cookie.into_iter().collect();
        set_cookies.extend(self.set_cookie.clone());
        let j = &self.journey;
        let mut recap = Vec::new();
        if step > Step::Email {
            recap.push(RecapItem {
                label: format!("E-mail : {}", j.email.as_deref().unwrap_or_default()),
                href: Some(Step::Email.path()),
            });
        }
        if step > Step::Code {
            recap.push(RecapItem {
                label: "Code de validation correct".into(),
                href: None,
            });
        }
        if step > Step::Password {
            recap.push(RecapItem {
                label: "Mot de passe enregistré".into(),
                href: Some(Step::Password.path()),
            });
        }
        if step > Step::Identity {
            recap.push(RecapItem {
                label: format!("Identité : {}", j.identity_label()),
                href: Some(Step::Identity.path()),
            });
        }
        Frame {
            csrf: token.value,
            step: step as u8,
            recap,
            error: None,
            invalid: "",
            set_cookies,
        }
    }
}

/// One finished step in the recap at the top of a page, with its "Modifier" link.
pub struct RecapItem {
    /// What was done.
    pub label: String,
    /// Where to change it.
    pub href: Option<&'static str>,
}

/// What every step's page shows around its form.
pub struct Frame {
    /// CSRF token for the form.
    pub csrf: String,
    /// 1 to 5.
    pub step: u8,
    /// Finished steps.
    pub recap: Vec<RecapItem>,
    /// The error to show, if the form came back.
    pub error: Option<String>,
    /// The field the error concerns (`""`: none).
    pub invalid: &'static str,
    set_cookies: Vec<HeaderValue>,
}

impl Frame {
    /// The same frame with an error about `field`.
    pub fn with_error(mut self, field: &'static str, message: impl Into<String>) -> Self {
        self.error = Some(message.into());
        self.invalid = field;
        self
    }
}

/// Renders a step's page (`no-store`: it may show the address).
pub fn reply<T: Template>(
    frame_cookies: Vec<HeaderValue>,
    page: &T,
) -> Result<Response, PageError> {
    reply_with(frame_cookies, page, StatusCode::OK)
}

/// Renders a page with `status`.
pub fn reply_with<T: Template>(
    frame_cookies: Vec<HeaderValue>,
    page: &T,
    status: StatusCode,
) -> Result<Response, PageError> {
    let body = page
        .render()
        .map_err(|e| PageError::internal("signup template", &e))?;
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    for cookie in frame_cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

impl Frame {
    /// The cookies the response must set (CSRF token, journey id), taken once.
    pub fn take_cookies(&mut self) -> Vec<HeaderValue> {
        std::mem::take(&mut self.set_cookies)
    }
}
