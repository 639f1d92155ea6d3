//! A stand-in for CERES: logs people in through EFP Connect with the `openidconnect` crate
//! (discovery, authorization code + PKCE, `state` and `nonce` checked, ID token verified
//! against the provider's JWKS, userinfo) and logs them out through the provider.
//!
//! Configuration (environment): `RP_ISSUER` (default `http://localhost:8080`), `RP_CLIENT_ID`
//! (`ceres-demo`), `RP_CLIENT_SECRET` (required), `RP_LISTEN` (`127.0.0.1:8081`), `RP_BASE_URL`
//! (`http://localhost:8081`).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    extract::{Query, State},
    http::{HeaderMap, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
    core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims},
};

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// One browser's state on the relying party.
#[derive(Default, Clone)]
struct Session {
    pending: Option<(String, String, String)>, // state, nonce, PKCE verifier
    id_token: Option<String>,
    claims: Option<serde_json::Value>,
}

#[derive(Clone)]
struct Rp {
    client: Client,
    http: reqwest::Client,
    end_session: Option<String>,
    base: String,
    sessions: Arc<Mutex<HashMap<String, Session>>>,
}

const COOKIE: &str = "ceres_demo_session";

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{title} - CERES (démo)</title></head>\
         <body><header><p>République française · <strong>CERES</strong> (démonstration)</p></header><main>{body}</main></body></html>"
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn home(State(rp): State<Rp>, headers: HeaderMap) -> Response {
    let session = session_id(&headers).and_then(|id| rp.sessions.lock().ok()?.get(&id).cloned());
    match session.and_then(|s| s.claims) {
        Some(claims) => {
            let name = format!(
                "{} {}",
                claims["given_name"].as_str().unwrap_or_default(),
                claims["family_name"].as_str().unwrap_or_default()
            );
            let pretty = serde_json::to_string_pretty(&claims).unwrap_or_default();
            page(
                "Votre tableau de bord",
                &format!(
                    "<h1>Votre tableau de bord</h1><p>Bonjour {}.</p><h2>Informations transmises par EFP Connect</h2><pre>{}</pre><p><a href=\"/logout\">Me déconnecter</a></p>",
                    escape(name.trim()),
                    escape(&pretty)
                ),
            )
            .into_response()
        }
        None => page("Accueil", "<h1>CERES</h1><p>Application de gestion des titres professionnels (démonstration).</p><p><a href=\"/login\">Se connecter avec EFP Connect</a></p>").into_response(),
    }
}

async fn login(State(rp): State<Rp>, headers: HeaderMap) -> Response {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("organization".into()))
        .set_pkce_challenge(challenge)
        .url();
    let id = session_id(&headers).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(mut sessions) = rp.sessions.lock() {
        sessions.entry(id.clone()).or_default().pending = Some((
            state.secret().clone(),
            nonce.secret().clone(),
            verifier.secret().clone(),
        ));
    }
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax");
    ([(header::SET_COOKIE, cookie)], Redirect::to(url.as_str())).into_response()
}

fn error_page(message: &str) -> Response {
    page(
        "Erreur",
        &format!(
            "<h1>Connexion impossible</h1><p>{}</p><p><a href=\"/\">Retour à l'accueil</a></p>",
            escape(message)
        ),
    )
    .into_response()
}

async fn callback(
    State(rp): State<Rp>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(id) = session_id(&headers) else {
        return error_page("Session expirée : veuillez recommencer.");
    };
    let pending = rp
        .sessions
        .lock()
        .ok()
        .and_then(|mut s| s.get_mut(&id).and_then(|s| s.pending.take()));
    let Some((state, nonce, verifier)) = pending else {
        return error_page("Session expirée : veuillez recommencer.");
    };
    if let Some(error) = q.get("error") {
        return error_page(&format!("EFP Connect a répondu : {error}."));
    }
    if q.get("state") != Some(&state) {
        return error_page("Réponse inattendue (state) : veuillez recommencer.");
    }
    let Some(code) = q.get("code") else {
        return error_page("Réponse sans code d'autorisation.");
    };
    let request = match rp
        .client
        .exchange_code(AuthorizationCode::new(code.clone()))
    {
        Ok(r) => r,
        Err(e) => return error_page(&e.to_string()),
    };
    let token = match request
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&rp.http)
        .await
    {
        Ok(t) => t,
        Err(e) => return error_page(&format!("Échange du code refusé : {e}")),
    };
    let Some(id_token) = token.id_token() else {
        return error_page("Pas de jeton d'identité.");
    };
    if let Err(e) = id_token.claims(&rp.client.id_token_verifier(), &Nonce::new(nonce)) {
        return error_page(&format!("Jeton d'identité invalide : {e}"));
    }
    let userinfo: CoreUserInfoClaims = match rp.client.user_info(token.access_token().clone(), None)
    {
        Ok(r) => match r.request_async(&rp.http).await {
            Ok(u) => u,
            Err(e) => return error_page(&format!("userinfo : {e}")),
        },
        Err(e) => return error_page(&e.to_string()),
    };
    // Extra claims (job, siret…) are kept as the provider sent them.
    let raw: serde_json::Value = match rp
        .http
        .get(
            rp.client
                .user_info_url()
                .map(|u| u.url().to_string())
                .unwrap_or_default(),
        )
        .bearer_auth(token.access_token().secret())
        .send()
        .await
    {
        Ok(r) => r
            .json()
            .await
            .unwrap_or_else(|_| serde_json::to_value(&userinfo).unwrap_or_default()),
        Err(_) => serde_json::to_value(&userinfo).unwrap_or_default(),
    };
    if let Ok(mut sessions) = rp.sessions.lock() {
        let s = sessions.entry(id).or_default();
        s.id_token = Some(id_token.to_string());
        s.claims = Some(raw);
    }
    Redirect::to("/").into_response()
}

async fn logout(State(rp): State<Rp>, headers: HeaderMap) -> Response {
    let session = session_id(&headers).and_then(|id| rp.sessions.lock().ok()?.remove(&id));
    let (Some(end_session), Some(id_token)) =
        (rp.end_session.clone(), session.and_then(|s| s.id_token))
    else {
        return Redirect::to("/").into_response();
    };
    let mut url = match reqwest::Url::parse(&end_session) {
        Ok(u) => u,
        Err(_) => return Redirect::to("/").into_response(),
    };
    url.query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", &format!("{}/", rp.base))
        .append_pair("state", &uuid::Uuid::new_v4().to_string());
    Redirect::to(url.as_str()).into_response()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    let issuer = var("RP_ISSUER", "http://localhost:8080");
    let base = var("RP_BASE_URL", "http://localhost:8081");
    let secret = std::env::var("RP_CLIENT_SECRET").map_err(|_| "RP_CLIENT_SECRET manquant")?;
    // The relying party must not follow redirects from the provider's endpoints (SSRF).
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer)?, &http).await?;
    let discovery: serde_json::Value = http
        .get(format!(
            "{}/.well-known/openid-configuration",
            metadata.issuer().as_str()
        ))
        .send()
        .await?
        .json()
        .await?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(var("RP_CLIENT_ID", "ceres-demo")),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(format!("{base}/callback"))?);
    let rp = Rp {
        client,
        http,
        end_session: discovery["end_session_endpoint"]
            .as_str()
            .map(str::to_owned),
        base: base.clone(),
        sessions: Arc::default(),
    };
    let app = Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", get(logout))
        .with_state(rp);
    let listener = tokio::net::TcpListener::bind(var("RP_LISTEN", "127.0.0.1:8081")).await?;
    println!("CERES (démo) : {base}");
    axum::serve(listener, app).await?;
    Ok(())
}
