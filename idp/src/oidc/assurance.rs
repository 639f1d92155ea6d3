//! Authentication levels (`acr`) and methods (`amr`, RFC 8176): what a session reached, what a
//! client asks for (`acr_values`, the `claims` parameter's `acr`) or requires (policies), and
//! the `acr` the ID token states. Level names come from the configuration (eIDAS-style by
//! default); the legacy `pwd` and `mfa` are accepted as aliases of the first two.

use serde_json::Value;

use super::{clients::Client, pending::AuthorizationRequest};
use crate::{
    AppState,
    access::managers,
    accounts::{session::LoginSession, store as users},
    config::AssuranceConfig,
};

/// How strongly a person proved who they are, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// One factor: the password.
    OneFactor,
    /// Two factors: the password and a TOTP or recovery code or a passkey, or a passkey
    /// verified on its device (PIN or biometrics).
    TwoFactors,
    /// Two factors, and the person's link to an establishment was checked (a Responsable des
    /// accès who redeemed a postal activation code).
    Establishment,
}

impl Level {
    /// The configured `acr` value of this level.
    pub fn acr(self, config: &AssuranceConfig) -> &str {
        match self {
            Self::OneFactor => &config.acr_one_factor,
            Self::TwoFactors => &config.acr_two_factors,
            Self::Establishment => &config.acr_establishment,
        }
    }

    /// The level an `acr` value names, legacy aliases included; `None` when unknown.
    pub fn parse(value: &str, config: &AssuranceConfig) -> Option<Self> {
        [Self::OneFactor, Self::TwoFactors, Self::Establishment]
            .into_iter()
            .find(|l| l.acr(config) == value)
            .or(match value {
                "pwd" => Some(Self::OneFactor),
                "mfa" => Some(Self::TwoFactors),
                _ => None,
            })
    }
}

/// `acr_values_supported` of the discovery document: the configured levels, then the aliases.
pub fn values_supported(config: &AssuranceConfig) -> Vec<String> {
    [Level::OneFactor, Level::TwoFactors, Level::Establishment]
        .map(|l| l.acr(config).to_owned())
        .into_iter()
        .chain(["pwd".to_owned(), "mfa".to_owned()])
        .collect()
}

/// `amr` of a password login (RFC 8176).
pub fn amr_password() -> Vec<String> {
    vec!["pwd".into()]
}

/// `amr` of a password login completed with a TOTP or recovery code (RFC 8176).
pub fn amr_password_and_otp() -> Vec<String> {
    ["pwd", "otp", "mfa"].map(String::from).to_vec()
}

/// `amr` of a password login completed with a passkey (RFC 8176): `hwk`, the key held in
/// hardware (or a platform keychain), `user` when the authenticator verified the person (PIN or
/// biometrics, which RFC 8176 cannot tell apart), and `mfa`.
pub fn amr_password_and_passkey(user_verified: bool) -> Vec<String> {
    let mut amr = vec!["pwd".to_owned(), "hwk".to_owned()];
    if user_verified {
        amr.push("user".into());
    }
    amr.push("mfa".into());
    amr
}

/// `amr` of a login with a passkey alone (RFC 8176): the key (`hwk`) unlocked on the device by
/// its PIN or biometrics (`user`), two factors (`mfa`). Without user verification it would be
/// one factor; `webauthn-rs` requires it for passkeys, so that case does not log in.
pub fn amr_passkey() -> Vec<String> {
    ["hwk", "user", "mfa"].map(String::from).to_vec()
}

/// The factors a session proved: two when its methods include a one-time code (or it was
/// recorded as `mfa`), otherwise one.
pub fn factors(session: &LoginSession) -> Level {
    if session.acr == "mfa" || session.amr.iter().any(|m| m == "otp" || m == "mfa") {
        Level::TwoFactors
    } else {
        Level::OneFactor
    }
}

/// Whether the managers' and agents' own pages must first raise this session to two factors:
/// with `assurance.mfa_for_managers_and_agents`, the level their logins to clients need.
pub fn own_pages_need_second_factor(config: &AssuranceConfig, session: &LoginSession) -> bool {
    config.mfa_for_managers_and_agents && factors(session) < Level::TwoFactors
}

/// The level a session reaches for its person now.
pub async fn reached(state: &AppState, session: &LoginSession) -> Result<Level, sqlx::Error> {
    let factors = factors(session);
    if factors >= Level::TwoFactors && managers::link_checked(&state.db, &session.user_id).await? {
        return Ok(Level::Establishment);
    }
    Ok(factors)
}

/// What the client asked for this login.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Requested {
    /// Acceptable values, in the client's order of preference, with their level (known ones).
    pub acceptable: Vec<(String, Level)>,
    /// The `claims` parameter marks `acr` essential and none of its values is known.
    pub unknown_essential: bool,
}

impl Requested {
    /// The lowest level the client accepts, if it named one we know.
    pub fn minimum(&self) -> Option<Level> {
        self.acceptable.iter().map(|(_, l)| *l).min()
    }

    /// The `acr` to state for a session at `reached`: among the requested values it satisfies,
    /// the strongest (the first of equal ones); without any, the level reached itself.
    pub fn acr_for(&self, reached: Level, config: &AssuranceConfig) -> String {
        let mut best: Option<&(String, Level)> = None;
        for v in self.acceptable.iter().filter(|(_, l)| *l <= reached) {
            if best.is_none_or(|b| v.1 > b.1) {
                best = Some(v);
            }
        }
        best.map_or_else(|| reached.acr(config).to_owned(), |(v, _)| v.clone())
    }
}

/// Reads `acr_values` and the `claims` parameter's `id_token.acr` (`value`, `values`,
/// `essential`) of a request.
pub fn requested(request: &AuthorizationRequest, config: &AssuranceConfig) -> Requested {
    let mut names: Vec<String> = request.acr_values.clone();
    let mut essential = Vec::new();
    if let Some(acr) = request
        .claims
        .as_deref()
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .and_then(|c| c.get("id_token")?.get("acr").cloned())
    {
        let mut values: Vec<String> = Vec::new();
        if let Some(v) = acr.get("value").and_then(Value::as_str) {
            values.push(v.to_owned());
        }
        if let Some(vs) = acr.get("values").and_then(Value::as_array) {
            values.extend(vs.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        if acr.get("essential").and_then(Value::as_bool) == Some(true) {
            essential.clone_from(&values);
        }
        // Essential values come first: they are what the client must have.
        values.extend(names);
        names = values;
    }
    let mut out = Requested::default();
    for name in names {
        if let Some(level) = Level::parse(&name, config)
            && !out.acceptable.iter().any(|(n, _)| *n == name)
        {
            out.acceptable.push((name, level));
        }
    }
    if !essential.is_empty() {
        // An essential acr restricts the acceptable values to its own.
        out.acceptable.retain(|(n, _)| essential.contains(n));
        out.unknown_essential = out.acceptable.is_empty();
    }
    out
}

/// The level a policy requires of this person logging in to this client: two factors when the
/// client, its service, or (with `assurance.mfa_for_managers_and_agents`) the person's role
/// requires it (`upstream`: the login's upstream provider, which makes it an agent's).
pub async fn required_by_policy(
    state: &AppState,
    client: &Client,
    user_id: &str,
    upstream: Option<&str>,
) -> Result<Option<Level>, sqlx::Error> {
    if client.require_mfa {
        return Ok(Some(Level::TwoFactors));
    }
    if let Some(link) = state.clients.link(&state.db, &client.client_id).await?
        && link.requires_mfa
    {
        return Ok(Some(Level::TwoFactors));
    }
    if state.config.assurance.mfa_for_managers_and_agents {
        let agent = users::user_by_id(&state.db, user_id)
            .await?
            .is_some_and(|u| crate::access::rules::is_agent(&u, upstream));
        if agent || managers::manages_any(&state.db, user_id).await? {
            return Ok(Some(Level::TwoFactors));
        }
    }
    Ok(None)
}

/// The level an access token's `acr` stands for (legacy aliases included); one factor when it
/// has none or an unknown one.
pub fn of_token(acr: Option<&str>, config: &AssuranceConfig) -> Level {
    acr.and_then(|a| Level::parse(a, config))
        .unwrap_or(Level::OneFactor)
}

/// The level redeeming an activation code needs: redeeming makes the person Responsable des
/// accès, so two factors when `assurance.mfa_for_managers_and_agents` is on, or when a policy
/// requires them of this client.
pub async fn required_to_become_manager(
    state: &AppState,
    client: &Client,
    user_id: &str,
) -> Result<Option<Level>, sqlx::Error> {
    if state.config.assurance.mfa_for_managers_and_agents {
        return Ok(Some(Level::TwoFactors));
    }
    // An agent's login needs two factors only with that setting, handled above.
    required_by_policy(state, client, user_id, None).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(acr_values: &[&str], claims: Option<&str>) -> AuthorizationRequest {
        serde_json::from_value(serde_json::json!({
            "client_id": "c", "redirect_uri": "https://rp/cb", "scopes": ["openid"],
            "state": null, "nonce": null, "prompt": [], "max_age": null, "login_hint": null,
            "acr_values": acr_values, "claims": claims, "code_challenge": null, "created_at": 0,
        }))
        .unwrap()
    }

    #[test]
    fn levels_are_read_from_acr_values_and_claims() {
        let c = AssuranceConfig::default();
        let r = requested(&request(&["mfa", "pwd"], None), &c);
        assert_eq!(r.minimum(), Some(Level::OneFactor));
        let r = requested(&request(&["eidas2"], None), &c);
        assert_eq!(r.minimum(), Some(Level::TwoFactors));
        assert_eq!(r.acr_for(Level::Establishment, &c), "eidas2");
        let claims = r#"{"id_token":{"acr":{"essential":true,"values":["eidas2"]}}}"#;
        let r = requested(&request(&["eidas1"], Some(claims)), &c);
        assert_eq!(r.minimum(), Some(Level::TwoFactors));
        assert_eq!(r.acr_for(Level::OneFactor, &c), "eidas1");
        let claims = r#"{"id_token":{"acr":{"essential":true,"values":["loa-inconnu"]}}}"#;
        assert!(requested(&request(&[], Some(claims)), &c).unknown_essential);
        let r = requested(&request(&["inconnu"], None), &c);
        assert_eq!(r.minimum(), None);
        assert_eq!(r.acr_for(Level::TwoFactors, &c), "eidas2");
    }
}
