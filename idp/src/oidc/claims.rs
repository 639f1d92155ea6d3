//! Which claims a client gets: by scope in userinfo, and through the `claims` request
//! parameter (OpenID Connect Core §5.5) in userinfo or the ID token. Names are documented in
//! docs/claims.md and stay stable.

use serde_json::{Map, Value, json};

use crate::accounts::store::User;

/// Claims released by each scope.
pub fn claims_of_scope(scope: &str) -> &'static [&'static str] {
    match scope {
        "email" => &["email", "email_verified"],
        "profile" => &[
            "name",
            "given_name",
            "family_name",
            "gender",
            "job",
            "updated_at",
        ],
        "organization" => &["siren", "siret", "organization_label"],
        _ => &[],
    }
}

/// Every user claim we can release (besides `sub`).
pub const USER_CLAIMS: [&str; 11] = [
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "gender",
    "job",
    "updated_at",
    "siren",
    "siret",
    "organization_label",
];

/// A parsed `claims` request parameter.
#[derive(Clone, Debug, Default)]
pub struct ClaimsRequest {
    /// Claims asked for in userinfo.
    pub userinfo: Vec<String>,
    /// Claims asked for in the ID token.
    pub id_token: Vec<String>,
    /// Values asked for `acr` in the ID token (essential or voluntary).
    pub acr_values: Vec<String>,
}

impl ClaimsRequest {
    /// Parses the JSON parameter; `Err` with a French description when it is not an object of
    /// the §5.5 shape.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(raw)
            .map_err(|_| "Le paramètre claims n'est pas un JSON valide.".to_owned())?;
        let Value::Object(root) = value else {
            return Err("Le paramètre claims doit être un objet JSON.".into());
        };
        let mut out = Self::default();
        for (section, target) in [
            ("userinfo", &mut out.userinfo),
            ("id_token", &mut out.id_token),
        ] {
            match root.get(section) {
                None | Some(Value::Null) => {}
                Some(Value::Object(members)) => {
                    for (name, spec) in members {
                        if !(spec.is_null() || spec.is_object()) {
                            return Err(format!(
                                "claims.{section}.{name} doit valoir null ou un objet."
                            ));
                        }
                        target.push(name.clone());
                    }
                }
                Some(_) => return Err(format!("claims.{section} doit être un objet.")),
            }
        }
        if let Some(acr) = root.get("id_token").and_then(|t| t.get("acr")) {
            if let Some(v) = acr.get("value").and_then(Value::as_str) {
                out.acr_values.push(v.to_owned());
            }
            if let Some(vs) = acr.get("values").and_then(Value::as_array) {
                out.acr_values
                    .extend(vs.iter().filter_map(Value::as_str).map(str::to_owned));
            }
        }
        Ok(out)
    }
}

/// Keeps, in a parsed-valid `claims` parameter, only the user claims whose scope the client
/// may have (other claims such as `acr` stay). Returns the restricted JSON and the scopes the
/// kept user claims belong to: the person consents to those like to requested scopes.
pub fn restrict(raw: &str, client_scopes: &[String]) -> (String, Vec<String>) {
    let mut value: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
    let mut implied: Vec<String> = Vec::new();
    for section in ["userinfo", "id_token"] {
        if let Some(Value::Object(members)) = value.get_mut(section) {
            members.retain(|name, _| match scope_of_claim(name) {
                Some(scope) if client_scopes.iter().any(|s| s == scope) => {
                    if !implied.iter().any(|s| s == scope) {
                        implied.push(scope.to_owned());
                    }
                    true
                }
                Some(_) => false,
                None => true,
            });
        }
    }
    (value.to_string(), implied)
}

/// The value of one user claim, `None` when the user has none.
fn user_claim(user: &User, name: &str) -> Option<Value> {
    match name {
        "email" => Some(json!(user.email)),
        "email_verified" => Some(json!(user.email_verified)),
        "name" => Some(json!(
            format!("{} {}", user.given_name, user.family_name).trim()
        )),
        "given_name" => Some(json!(user.given_name)),
        "family_name" => Some(json!(user.family_name)),
        "gender" => user.gender.as_ref().map(|g| json!(g)),
        "job" => user.job.as_ref().map(|j| json!(j)),
        "updated_at" => Some(json!(user.updated_at)),
        "siret" => user.siret.as_ref().map(|s| json!(s)),
        "siren" => user
            .siret
            .as_ref()
            .filter(|s| s.len() == 14)
            .map(|s| json!(&s[..9])),
        "organization_label" => user.organization_label.as_ref().map(|o| json!(o)),
        _ => None,
    }
}

/// The scope a user claim belongs to.
pub fn scope_of_claim(claim: &str) -> Option<&'static str> {
    ["email", "profile", "organization"]
        .into_iter()
        .find(|s| claims_of_scope(s).contains(&claim))
}

/// The user claims released for `scopes`, plus the `extra` names asked for explicitly through
/// the `claims` parameter (already restricted by [`restrict`] to what the client may have and
/// the person consented to).
pub fn user_claims<'a>(
    user: &User,
    scopes: impl IntoIterator<Item = &'a str>,
    extra: &[String],
) -> Map<String, Value> {
    let mut out = Map::new();
    let names = scopes
        .into_iter()
        .flat_map(|s| claims_of_scope(s).iter().copied())
        .chain(
            extra
                .iter()
                .map(String::as_str)
                .filter(|n| USER_CLAIMS.contains(n)),
        );
    for name in names {
        if !out.contains_key(name)
            && let Some(v) = user_claim(user, name)
        {
            out.insert(name.to_owned(), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claims_parameter_names_its_sections() {
        let req = ClaimsRequest::parse(r#"{"userinfo":{"email":null},"id_token":{"family_name":{"essential":true},"acr":{"values":["pwd"]}}}"#).unwrap();
        assert_eq!(req.userinfo, ["email"]);
        // serde_json maps are ordered by key.
        assert_eq!(req.id_token, ["acr", "family_name"]);
        assert_eq!(req.acr_values, ["pwd"]);
        assert!(ClaimsRequest::parse("[1]").is_err());
        assert!(ClaimsRequest::parse(r#"{"userinfo":3}"#).is_err());
        assert!(ClaimsRequest::parse("not json").is_err());
    }

    #[test]
    fn name_is_a_profile_claim_released_when_asked_for() {
        assert_eq!(scope_of_claim("name"), Some("profile"));
        let (kept, scopes) = restrict(
            r#"{"id_token":{"name":{"essential":true}}}"#,
            &["profile".to_owned()],
        );
        assert!(kept.contains("\"name\""), "{kept}");
        assert_eq!(scopes, ["profile"]);
    }
}
