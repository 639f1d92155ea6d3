//! Who acts from the back office, and why: every administrative action (`idp users …`, the
//! administration API) carries an [`AdminCall`], and its audit event records both the operator
//! and the reason (docs/administration.md).

use serde_json::json;

/// The name of the person at the back office (« j.dupont », « Support niveau 2 — Claire »).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorName(String);

/// Longest operator name kept.
pub const MAX_OPERATOR_CHARS: usize = 100;
/// Longest reason kept.
pub const MAX_REASON_CHARS: usize = 500;

/// An input an administrative action cannot take; its `Display` is the French message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminInputError {
    /// No usable operator name.
    #[error(
        "Le nom de l'opérateur est obligatoire (100 caractères au plus, sans caractère de contrôle)."
    )]
    Operator,
    /// No usable reason.
    #[error("Le motif est obligatoire (500 caractères au plus, sans caractère de contrôle).")]
    Reason,
}

/// `raw` trimmed, if it holds 1 to `max` characters and no control character.
fn text(raw: &str, max: usize) -> Option<String> {
    let t = raw.trim();
    (!t.is_empty() && t.chars().count() <= max && !t.chars().any(char::is_control))
        .then(|| t.to_owned())
}

impl OperatorName {
    /// A name to record.
    pub fn parse(raw: &str) -> Result<Self, AdminInputError> {
        text(raw, MAX_OPERATOR_CHARS)
            .map(Self)
            .ok_or(AdminInputError::Operator)
    }

    /// As recorded.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why the action is taken (a ticket number, a request of the person, a decision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    /// A reason to record.
    pub fn parse(raw: &str) -> Result<Self, AdminInputError> {
        text(raw, MAX_REASON_CHARS)
            .map(Self)
            .ok_or(AdminInputError::Reason)
    }

    /// As recorded.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Through what the operator acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// `idp …` on a node.
    Cli,
    /// The administration API, called by this back-office client (`admin` scope).
    Api {
        /// The client.
        client_id: String,
    },
}

/// One administrative call: who, through what, why.
#[derive(Debug, Clone)]
pub struct AdminCall {
    /// Through what.
    pub via: Via,
    /// Who.
    pub operator: OperatorName,
    /// Why.
    pub reason: Reason,
}

impl AdminCall {
    /// The audit event's `actor`: `cli`, or the back-office client's id.
    pub fn actor(&self) -> &str {
        match &self.via {
            Via::Cli => "cli",
            Via::Api { client_id } => client_id,
        }
    }

    /// The audit event's details: the operator and the reason, with `extra`'s fields.
    pub fn details(&self, extra: serde_json::Value) -> serde_json::Value {
        let mut details = json!({
            "operator": self.operator.as_str(),
            "reason": self.reason.as_str(),
            "via": match self.via { Via::Cli => "cli", Via::Api { .. } => "api" },
        });
        if let (Some(d), serde_json::Value::Object(extra)) = (details.as_object_mut(), extra) {
            d.extend(extra);
        }
        details
    }

    /// The audit event of `action` on `target`, with the operator and the reason.
    pub fn event(
        &self,
        action: &'static str,
        target: impl Into<String>,
        extra: serde_json::Value,
    ) -> crate::action::Event {
        crate::action::Event::new(self.actor(), action, target).with(self.details(extra))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_reasons_are_trimmed_bounded_and_printable() {
        assert_eq!(
            OperatorName::parse("  j.dupont ").unwrap().as_str(),
            "j.dupont"
        );
        assert_eq!(OperatorName::parse(" "), Err(AdminInputError::Operator));
        assert_eq!(
            OperatorName::parse("a\u{7}b"),
            Err(AdminInputError::Operator)
        );
        assert!(OperatorName::parse(&"x".repeat(100)).is_ok());
        assert!(OperatorName::parse(&"x".repeat(101)).is_err());
        assert_eq!(Reason::parse("ticket 42").unwrap().as_str(), "ticket 42");
        assert_eq!(Reason::parse("a\nb"), Err(AdminInputError::Reason));
        assert!(Reason::parse(&"é".repeat(500)).is_ok());
    }

    #[test]
    fn the_event_names_the_client_the_operator_and_the_reason() {
        let call = AdminCall {
            via: Via::Api {
                client_id: "back-office".into(),
            },
            operator: OperatorName::parse("Claire").unwrap(),
            reason: Reason::parse("ticket 42").unwrap(),
        };
        assert_eq!(call.actor(), "back-office");
        assert_eq!(
            call.details(json!({ "count": 2 })),
            json!({ "operator": "Claire", "reason": "ticket 42", "via": "api", "count": 2 })
        );
    }
}
