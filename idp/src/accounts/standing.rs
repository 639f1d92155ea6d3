//! Whether an account may be used: the one rule every login, every session read and every
//! token issuance asks (docs/administration.md). An operator disables an account or ends its
//! sessions in the database, which every node reads, so the rule holds on every node at the
//! next request, whichever process (a node, the command line) made the change.

use super::{UserId, refusal::AccountRefusal};

/// What the rule needs of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Disabled since (seconds), if it is.
    pub disabled_at: Option<i64>,
    /// Sessions started before this instant (seconds) are void.
    pub sessions_not_before: i64,
}

impl Standing {
    /// May this account log in, or be given a token? A disabled one may not.
    pub fn may_log_in(&self) -> Result<(), AccountRefusal> {
        match self.disabled_at {
            Some(_) => Err(AccountRefusal::Disabled),
            None => Ok(()),
        }
    }

    /// Does a session of this account that started at `started_at` still hold? Not once the
    /// account is disabled, nor when an operator ended its sessions after it started.
    pub fn session_holds(&self, started_at: i64) -> bool {
        self.disabled_at.is_none() && started_at >= self.sessions_not_before
    }
}

/// The standing of `user`, `None` when there is no such account.
pub async fn of(
    conn: impl sqlx::Executor<'_, Database = sqlx::Any>,
    user: &UserId,
) -> Result<Option<Standing>, sqlx::Error> {
    use sqlx::Row;
    let row = sqlx::query("SELECT disabled_at, sessions_not_before FROM users WHERE id = $1")
        .bind(user.as_str())
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(Standing {
            disabled_at: r.try_get("disabled_at")?,
            sessions_not_before: r.try_get("sessions_not_before")?,
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disabled_account_may_not_log_in_and_its_sessions_do_not_hold() {
        let active = Standing {
            disabled_at: None,
            sessions_not_before: 100,
        };
        assert!(active.may_log_in().is_ok());
        assert!(active.session_holds(100));
        assert!(!active.session_holds(99), "ended by an operator");
        let disabled = Standing {
            disabled_at: Some(50),
            ..active
        };
        assert!(matches!(
            disabled.may_log_in(),
            Err(AccountRefusal::Disabled)
        ));
        assert!(!disabled.session_holds(200));
    }
}
