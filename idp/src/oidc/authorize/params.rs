//! The parameters of an authorization request, read once: until the client and its redirect
//! URI are known, a refusal is a page; after, it goes back to the client (Core §3.1.2.6).

use std::collections::HashMap;

use super::*;

const PARAMS: [&str; 19] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "acr_values",
    "claims",
    "ui_locales",
    "display",
    "code_challenge",
    "code_challenge_method",
    "request",
    "request_uri",
    "response_mode",
    "id_token_hint",
];

/// The known parameters of an authorization request, each at most once.
struct Params {
    values: HashMap<&'static str, String>,
    repeated: Option<&'static str>,
}

/// A refusal sent back to the client: its `error` and French `error_description`.
type Invalid = (&'static str, String);

fn invalid(description: &str) -> Invalid {
    ("invalid_request", description.to_owned())
}

impl Params {
    fn read(pairs: &[(String, String)]) -> Self {
        let mut values = HashMap::new();
        let mut repeated = None;
        for (k, v) in pairs {
            // Unknown parameters are ignored (Core §3.1.2.1); known ones must appear once.
            if let Some(name) = PARAMS.iter().find(|p| **p == k)
                && values.insert(*name, v.clone()).is_some()
            {
                repeated = Some(*name);
            }
        }
        Self { values, repeated }
    }

    fn get(&self, name: &str) -> Option<String> {
        self.values.get(name).filter(|v| !v.is_empty()).cloned()
    }

    /// A space-separated list (`scope`, `prompt`, `acr_values`).
    fn words(&self, name: &str) -> Vec<String> {
        self.get(name)
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// What this provider does not do: request objects, other response types and modes.
    fn supported(&self) -> Result<(), Invalid> {
        if let Some(name) = self.repeated {
            return Err(invalid(&format!("Le paramètre {name} est répété.")));
        }
        if self.get("request").is_some() {
            let d = "Les objets de requête (request) ne sont pas pris en charge.";
            return Err(("request_not_supported", d.into()));
        }
        if self.get("request_uri").is_some() {
            let d = "Le paramètre request_uri n'est pas pris en charge.";
            return Err(("request_uri_not_supported", d.into()));
        }
        match self.get("response_type").as_deref() {
            Some("code") => {}
            None => return Err(invalid("Le paramètre response_type est obligatoire.")),
            Some(_) => {
                let d = "Seul response_type=code est pris en charge.";
                return Err(("unsupported_response_type", d.into()));
            }
        }
        match self.get("response_mode").as_deref() {
            None | Some("query") => Ok(()),
            Some(_) => Err(invalid("Seul response_mode=query est pris en charge.")),
        }
    }

    /// `openid` and the scopes the client may have; others are dropped rather than refused.
    fn scopes(&self, client: &Client) -> Result<Vec<String>, Invalid> {
        let requested = self.words("scope");
        if !requested.iter().any(|s| s == "openid") {
            return Err(("invalid_scope", "Le scope openid est obligatoire.".into()));
        }
        let mut scopes: Vec<String> = Vec::new();
        for s in requested {
            if (s == "openid" || client.scopes.contains(&s)) && !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        Ok(scopes)
    }

    /// PKCE: S256 only, compulsory for public clients and for every client registered with
    /// `require_pkce` (the default).
    fn code_challenge(&self, client: &Client) -> Result<Option<String>, Invalid> {
        let challenge = self.get("code_challenge");
        let method = self.get("code_challenge_method");
        let refused = match (challenge.as_deref(), method.as_deref()) {
            (Some(_), Some("S256")) => None,
            (Some(_), None | Some("plain")) => {
                Some("Seule la méthode PKCE S256 est acceptée (code_challenge_method=S256).")
            }
            (Some(_), Some(_)) => Some("Méthode PKCE inconnue : seule S256 est acceptée."),
            (None, Some(_)) => Some("code_challenge_method sans code_challenge."),
            (None, None) if client.needs_pkce() => {
                Some("PKCE (code_challenge, S256) est obligatoire pour cette application.")
            }
            (None, None) => None,
        };
        if let Some(description) = refused {
            return Err(invalid(description));
        }
        if let Some(c) = &challenge
            && (c.len() != 43
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            return Err(invalid(
                "code_challenge doit être un SHA-256 en base64url (43 caractères).",
            ));
        }
        Ok(challenge)
    }

    /// `prompt`: known values, `none` alone.
    fn prompt(&self) -> Result<Vec<String>, Invalid> {
        let prompt = self.words("prompt");
        if prompt
            .iter()
            .any(|p| !matches!(p.as_str(), "none" | "login" | "consent" | "select_account"))
        {
            return Err(invalid("Valeur de prompt inconnue."));
        }
        if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
            return Err(invalid(
                "prompt=none ne peut être combiné à une autre valeur.",
            ));
        }
        Ok(prompt)
    }

    /// `max_age`: whole seconds.
    fn max_age(&self) -> Result<Option<i64>, Invalid> {
        match self.get("max_age") {
            None => Ok(None),
            Some(raw) => match raw.parse::<i64>() {
                Ok(v) if v >= 0 => Ok(Some(v)),
                _ => Err(invalid("max_age doit être un nombre entier de secondes.")),
            },
        }
    }

    /// `claims`: well-formed, restricted to the client's scopes; the scopes it implies.
    fn claims(&self, client: &Client) -> Result<(Option<String>, Vec<String>), Invalid> {
        let Some(raw) = self.get("claims") else {
            return Ok((None, Vec::new()));
        };
        ClaimsRequest::parse(&raw).map_err(|description| ("invalid_request", description))?;
        let (restricted, implied) = crate::oidc::claims::restrict(&raw, &client.scopes);
        Ok((Some(restricted), implied))
    }
}

/// The client and its registered redirect URI; until both are known, errors are pages (never a
/// redirect to an address nobody vouched for).
async fn trusted_client(state: &AppState, params: &Params) -> Result<(Client, String), Refusal> {
    let page = |message: &str| Refusal::Page(PageError::bad_request(message.to_owned()));
    let Some(client_id) = params.get("client_id") else {
        return Err(page(
            "La demande d'autorisation ne précise pas l'application (client_id manquant).",
        ));
    };
    let client = match state.clients.get(&state.db, &client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            return Err(page(
                "L'application qui vous a redirigé ici n'est pas enregistrée auprès d'EFP Connect.",
            ));
        }
        Err(e) => return Err(Refusal::Page(e.into())),
    };
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return Err(page(
            "La demande d'autorisation ne précise pas l'adresse de retour (redirect_uri manquant).",
        ));
    };
    if !client.has_redirect_uri(&redirect_uri) {
        return Err(page(
            "L'adresse de retour demandée n'est pas enregistrée pour cette application. Par sécurité, vous n'y avez pas été redirigé.",
        ));
    }
    if !client.allows_grant("authorization_code") {
        return Err(page(
            "Cette application n'est pas autorisée à connecter des utilisateurs.",
        ));
    }
    Ok((client, redirect_uri))
}

pub(super) async fn check(
    state: &AppState,
    pairs: Vec<(String, String)>,
) -> Result<(Client, AuthorizationRequest), Refusal> {
    let params = Params::read(&pairs);
    let (client, redirect_uri) = trusted_client(state, &params).await?;
    // From here on the redirect URI is trusted: errors go back to the client.
    let client_state = params.get("state");
    let fail = |(error, description): Invalid| {
        Refusal::Redirect(ErrorRedirect::new(
            state,
            &redirect_uri,
            client_state.as_deref(),
            error,
            &description,
        ))
    };
    params.supported().map_err(fail)?;
    let scopes = params.scopes(&client).map_err(fail)?;
    let code_challenge = params.code_challenge(&client).map_err(fail)?;
    let prompt = params.prompt().map_err(fail)?;
    let max_age = params.max_age().map_err(fail)?;
    let (claims, claim_scopes) = params.claims(&client).map_err(fail)?;
    let request = AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        scopes,
        state: client_state,
        nonce: params.get("nonce"),
        prompt,
        max_age,
        login_hint: params.get("login_hint"),
        acr_values: params.words("acr_values"),
        claims,
        code_challenge,
        created_at: now(),
        logged_in_sid: None,
        claim_scopes,
        consented: false,
    };
    Ok((client, request))
}
