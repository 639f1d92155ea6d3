//! Minting the tokens: access tokens (JWT, RFC 9068 profile, not recorded: revoked ones are
//! listed, see [`super::denylist`]), ID tokens, and refresh tokens under a grant.

use serde_json::{Map, Value, json};

use super::{
    claims::{self, ClaimsRequest},
    clients::Client,
    denylist::{Generation, TokenRef},
    grants::{self, AlreadySpent, Grant, Issue},
};
use crate::{
    AppState,
    access::claims as access_claims,
    accounts::store::{self as users, User},
    error::OAuthError,
    keys::SigningAlg,
    secrets,
    store::now,
};

/// What the token endpoint returns.
#[derive(Debug, serde::Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Granted scope.
    pub scope: String,
    /// ID token, for grants with `openid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Refresh token, when the client may refresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// Claims of our access tokens.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// User id, or the client id for client_credentials.
    pub sub: String,
    /// Audience: the client.
    pub aud: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// Token id.
    pub jti: String,
    /// Scope, space-separated.
    pub scope: String,
    /// When the user authenticated (user tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The grant the token was issued under (user tokens): revoking the grant revokes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// The authentication level of the login (user tokens, RFC 9068 §2.2.1): what the
    /// provider's own APIs check before acting (RFC 9470).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

fn signer(
    state: &AppState,
    alg: SigningAlg,
) -> Result<std::sync::Arc<crate::keys::keyset::SigningKey>, OAuthError> {
    state
        .keys
        .current()
        .signer(alg)
        .ok_or_else(|| OAuthError::internal("signing", &format!("no {} signing key", alg.as_str())))
}

/// Signs an access token.
pub fn access_token(
    state: &AppState,
    client: &Client,
    sub: &str,
    scope: &str,
    grant: Option<&Grant>,
) -> Result<(String, u64), OAuthError> {
    let ttl = state.config.tokens.access_token_ttl_seconds;
    let iat = now();
    let claims = AccessClaims {
        iss: state.config.issuer.clone(),
        sub: sub.to_owned(),
        aud: client.client_id.clone(),
        client_id: client.client_id.clone(),
        iat,
        exp: iat + ttl as i64,
        jti: secrets::random_token(16),
        scope: scope.to_owned(),
        auth_time: grant.map(|g| g.auth_time),
        gid: grant.map(|g| g.id.clone()),
        acr: grant.map(|g| g.acr.clone()),
    };
    let token = signer(state, client.id_token_alg)?.sign("at+jwt", &claims);
    Ok((token, ttl))
}

/// Signs an ID token for `grant`.
pub fn id_token(
    state: &AppState,
    client: &Client,
    grant: &Grant,
    user: &User,
    nonce: Option<&str>,
    access_token: &str,
    access: Map<String, Value>,
) -> Result<String, OAuthError> {
    let iat = now();
    let mut body = Map::new();
    body.insert("iss".into(), json!(state.config.issuer));
    body.insert("sub".into(), json!(user.id));
    body.insert("aud".into(), json!(client.client_id));
    body.insert("azp".into(), json!(client.client_id));
    body.insert(
        "exp".into(),
        json!(iat + state.config.tokens.id_token_ttl_seconds as i64),
    );
    body.insert("iat".into(), json!(iat));
    body.insert("auth_time".into(), json!(grant.auth_time));
    if let Some(nonce) = nonce {
        body.insert("nonce".into(), json!(nonce));
    }
    body.insert("acr".into(), json!(grant.acr));
    body.insert("amr".into(), json!(grant.amr));
    body.insert("sid".into(), json!(grant.sid));
    body.insert("at_hash".into(), json!(secrets::half_hash(access_token)));
    // User claims go to userinfo; the ID token carries only those the `claims` parameter asks
    // for there (Core §5.4, §5.5).
    if let Some(requested) = grant
        .claims
        .as_deref()
        .and_then(|c| ClaimsRequest::parse(c).ok())
    {
        for (k, v) in claims::user_claims(user, std::iter::empty(), &requested.id_token) {
            body.insert(k, v);
        }
    }
    // Habilitations are what relying parties decide on at login: the ID token carries them
    // (fresh at each token, refresh included), not only userinfo.
    body.extend(access);
    Ok(signer(state, client.id_token_alg)?.sign("JWT", &Value::Object(body)))
}

/// Issues access, ID and (if the client may refresh) refresh tokens under `grant`, and
/// records what `how` says in the same transaction as the new refresh token.
pub async fn issue(
    state: &AppState,
    client: &Client,
    grant: &Grant,
    nonce: Option<&str>,
    how: Issue<'_>,
) -> Result<TokenResponse, OAuthError> {
    let user = users::user_by_id(&state.db, &grant.user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("Le compte n'existe plus."))?;
    let signed = signed(state, client, grant, &user, nonce).await?;
    let refresh_ttl = client
        .allows_grant("refresh_token")
        .then_some(state.config.tokens.refresh_token_ttl_seconds);
    // Signed first, written last: nothing is recorded for a response that is not sent.
    let refresh_token = match grants::record_issue(&state.db, grant, how, refresh_ttl).await? {
        Ok(token) => token,
        Err(AlreadySpent) => {
            // Spent between our read and our write: a concurrent reuse. End the family.
            let why = GrantRevocation::Reuse {
                kind: "refresh_token",
                client_id: &client.client_id,
            };
            revoke_grant(state, &grant.id, why).await?;
            tracing::warn!(grant.id = %grant.id, "refresh token reused: family revoked");
            return Err(OAuthError::invalid_grant(
                "Jeton de rafraîchissement invalide, expiré ou révoqué.",
            ));
        }
    };
    Ok(TokenResponse {
        refresh_token,
        ..signed
    })
}

/// The answer to a refresh that [`grants::rotate`] recorded already, with its successor.
pub async fn issue_rotated(
    state: &AppState,
    client: &Client,
    grant: &Grant,
    user: &users::User,
    refresh_token: String,
) -> Result<TokenResponse, OAuthError> {
    let signed = signed(state, client, grant, user, None).await?;
    Ok(TokenResponse {
        refresh_token: Some(refresh_token),
        ..signed
    })
}

/// The access token and (with `openid`) the ID token of `grant` for `user`, if the account may
/// still have them; no refresh token.
async fn signed(
    state: &AppState,
    client: &Client,
    grant: &Grant,
    user: &users::User,
    nonce: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    // A disabled account gets no token, whatever the code or refresh token it comes with.
    if user.standing.may_log_in().is_err() {
        return Err(OAuthError::invalid_grant("Le compte est désactivé."));
    }
    let (access_token, expires_in) =
        access_token(state, client, &user.id, &grant.scope, Some(grant))?;
    let has_openid = grant.scope.split(' ').any(|s| s == "openid");
    let id_token = if has_openid {
        let access = if grant.scope.split(' ').any(|s| s == access_claims::SCOPE) {
            let upstream = grant.upstream.as_deref();
            let link = state.clients.link(&state.db, &client.client_id).await?;
            access_claims::for_client(&state.db, user, link.as_ref(), upstream).await?
        } else {
            Map::new()
        };
        Some(id_token(
            state,
            client,
            grant,
            user,
            nonce,
            &access_token,
            access,
        )?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        scope: grant.scope.clone(),
        id_token,
        refresh_token: None,
    })
}

/// Why an access token is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AccessTokenError {
    /// Not ours, tampered, expired, or not an access token.
    #[error("jeton d'accès invalide ou expiré")]
    Invalid,
    /// Revoked (directly or through its grant).
    #[error("jeton d'accès révoqué")]
    Revoked,
    /// Storage failure.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Verifies an access token: our signature with a published key, `typ` `at+jwt`, issuer,
/// expiry (or finds it verified already by this node's keys, [`super::verified`]), then that
/// neither it, its grant nor its client was revoked.
pub async fn verify_access_token(
    state: &AppState,
    token: &str,
) -> Result<AccessClaims, AccessTokenError> {
    verify_access_token_by(state, token).await.map(|(c, _)| c)
}

/// [`verify_access_token`], and the loading of the node's revocation list it went by (what the
/// node remembers of accounts under it is as fresh: [`super::known_accounts`]).
pub async fn verify_access_token_by(
    state: &AppState,
    token: &str,
) -> Result<(AccessClaims, Option<Generation>), AccessTokenError> {
    let keys = state.keys.current();
    let key = super::verified::TokenKey::of(token);
    let claims = match state.verified.get(key, &keys, now()) {
        Some(claims) => AccessClaims::clone(&claims),
        None => {
            let header =
                jsonwebtoken::decode_header(token).map_err(|_| AccessTokenError::Invalid)?;
            if header.typ.as_deref() != Some("at+jwt") {
                return Err(AccessTokenError::Invalid);
            }
            let claims: AccessClaims = keys
                .verify(token, &state.config.issuer, true)
                .map_err(|_| AccessTokenError::Invalid)?;
            // What the signature proved, and only that: the checks below run at every use.
            let exp = claims.exp;
            state
                .verified
                .insert(key, &keys, exp, std::sync::Arc::new(claims.clone()));
            claims
        }
    };
    // A user token names its grant; one without (issued before grants were named) cannot be
    // checked against its grant's revocation, so it is refused.
    if claims.gid.is_none() && claims.sub != claims.client_id {
        return Err(AccessTokenError::Invalid);
    }
    // Its client must still be registered, and registered before the token was issued (not
    // a new client that took a deleted one's id).
    match state.clients.get(&state.db, &claims.client_id).await? {
        Some(client) if client.created_at <= claims.iat => {}
        _ => return Err(AccessTokenError::Revoked),
    }
    let token_ref = TokenRef {
        jti: &claims.jti,
        grant: claims.gid.as_deref(),
    };
    let check = state
        .revocations
        .check(&state.db, &state.ephemeral, token_ref)
        .await?;
    if check.revoked {
        return Err(AccessTokenError::Revoked);
    }
    Ok((claims, check.generation))
}

/// Why a grant is revoked, for the audit trail.
#[derive(Debug, Clone, Copy)]
pub enum GrantRevocation<'a> {
    /// Its client asked (`/revoke`).
    ByClient(&'a str),
    /// A spent authorization code or refresh token came back (stolen, or a leaking client):
    /// the whole family ends.
    Reuse {
        /// `authorization_code` or `refresh_token`.
        kind: &'static str,
        /// The client that presented it.
        client_id: &'a str,
    },
}

/// Revokes a grant (its refresh and access tokens) with its audit event, and tells every node.
pub async fn revoke_grant(
    state: &AppState,
    id: &str,
    why: GrantRevocation<'_>,
) -> Result<(), sqlx::Error> {
    let event = match why {
        GrantRevocation::ByClient(client_id) => {
            crate::action::Event::new(client_id, "token.revoked", id)
        }
        GrantRevocation::Reuse { kind, client_id } => {
            crate::action::Event::new("system", "token.reuse_detected", id)
                .with(serde_json::json!({ "kind": kind, "client_id": client_id }))
        }
    };
    let ttl = state.config.tokens.access_token_ttl_seconds;
    grants::revoke_grant(&state.db, id, ttl, event).await?;
    state.revocations.changed(&state.db, &state.ephemeral).await
}

/// Revokes every grant of a user (password reset or change) and tells every node.
pub async fn revoke_user_grants(state: &AppState, user_id: &str) -> Result<(), sqlx::Error> {
    grants::revoke_user_grants(
        &state.db,
        user_id,
        state.config.tokens.access_token_ttl_seconds,
    )
    .await?;
    state.revocations.changed(&state.db, &state.ephemeral).await
}

/// Revokes one access token and tells every node.
pub async fn revoke_access_token(
    state: &AppState,
    claims: &AccessClaims,
) -> Result<(), sqlx::Error> {
    grants::revoke_access_token(&state.db, &claims.jti, claims.exp).await?;
    state.revocations.changed(&state.db, &state.ephemeral).await
}
