//! `idp audit export`: the audit trail of a period, for an investigation, streamed as JSON
//! lines or CSV (constant memory however many events: docs/performance.md). The export itself
//! is recorded (`audit.exported`, with the operator and the filters).

use std::io::Write;

use clap::{Subcommand, ValueEnum};
use futures_util::TryStreamExt;
use serde_json::json;

use super::{CliError, open};
use crate::{
    accounts::{Email, store as users},
    audit::{self, AuditEvent, ExportFilter},
    clock::Clock,
    config::Config,
    organizations::Siret,
};

/// Output formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header line (`details` as JSON).
    Csv,
}

/// `idp audit …`.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Writes the events of a period, oldest first.
    Export {
        /// From (AAAA-MM-JJ, the start of that day in UTC, or an RFC 3339 instant), included.
        #[arg(long)]
        since: String,
        /// Until (same forms), excluded; default: now.
        #[arg(long)]
        until: Option<String>,
        /// Only events by or about this account (e-mail address or id).
        #[arg(long)]
        user: Option<String>,
        /// Only events about this establishment (SIRET).
        #[arg(long)]
        establishment: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// Write to this file rather than to the standard output.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
        /// The operator's name, recorded with the export (default: `IDP_OPERATOR`, then the
        /// system user).
        #[arg(long, env = "IDP_OPERATOR")]
        operator: Option<String>,
    },
}

/// `AAAA-MM-JJ` (midnight UTC) or an RFC 3339 instant, in seconds.
fn instant(raw: &str) -> Result<i64, CliError> {
    let day = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(raw, &day) {
        return Ok(d.midnight().assume_utc().unix_timestamp());
    }
    time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .map(time::OffsetDateTime::unix_timestamp)
        .map_err(|_| {
            CliError::Invalid(format!(
                "date attendue au format AAAA-MM-JJ ou RFC 3339 (2026-12-05T08:30:00Z) : {raw}"
            ))
        })
}

fn rfc3339(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// One event as a JSON line: its instant both ways, and its details as JSON.
fn json_line(e: &AuditEvent) -> serde_json::Value {
    json!({
        "at": rfc3339(e.at),
        "at_epoch": e.at,
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "details": serde_json::from_str::<serde_json::Value>(&e.details)
            .unwrap_or_else(|_| json!(e.details)),
    })
}

/// Where the events go: each one written as it comes (both writers buffer a few kilobytes).
enum Sink {
    Jsonl(std::io::BufWriter<Box<dyn Write>>),
    Csv(Box<csv::Writer<Box<dyn Write>>>),
}

fn csv_error(e: csv::Error) -> CliError {
    CliError::Invalid(format!("CSV : {e}"))
}

impl Sink {
    fn write(&mut self, event: &AuditEvent) -> Result<(), CliError> {
        match self {
            Self::Jsonl(out) => {
                serde_json::to_writer(&mut *out, &json_line(event))
                    .map_err(|e| CliError::Invalid(e.to_string()))?;
                out.write_all(b"\n")?;
            }
            Self::Csv(w) => {
                let at = rfc3339(event.at);
                let record = [
                    at.as_str(),
                    &event.actor,
                    &event.action,
                    &event.target,
                    &event.details,
                ];
                w.write_record(record).map_err(csv_error)?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(), CliError> {
        match self {
            Self::Jsonl(mut out) => out.flush()?,
            Self::Csv(mut w) => w.flush()?,
        }
        Ok(())
    }
}

/// Runs `idp audit …`.
pub async fn run(config: Config, cmd: AuditCommand) -> Result<(), CliError> {
    let AuditCommand::Export {
        since,
        until,
        user,
        establishment,
        format,
        output,
        operator,
    } = cmd;
    let db = open(&config).await?;
    let now = Clock::system().now();
    let user = match user.as_deref().map(str::trim) {
        Some(raw) if raw.contains('@') => {
            let email = Email::parse(raw).map_err(|e| CliError::Invalid(e.to_string()))?;
            // A deleted account's events are still found by its id.
            let found = users::user_by_email(&db, &email).await?;
            Some(
                found
                    .ok_or_else(|| CliError::NotFound(format!("introuvable : {raw}")))?
                    .id,
            )
        }
        Some(raw) => Some(raw.to_owned()),
        None => None,
    };
    let filter = ExportFilter {
        since: instant(&since)?,
        until: until
            .as_deref()
            .map(instant)
            .transpose()?
            .unwrap_or(now + 1),
        user,
        establishment: establishment
            .as_deref()
            .map(|s| Siret::parse(s).map_err(|e| CliError::Invalid(e.to_string())))
            .transpose()?,
    };
    if filter.until <= filter.since {
        return Err(CliError::Invalid(
            "--until doit être postérieur à --since".into(),
        ));
    }
    let operator = operator
        .or_else(|| std::env::var("SUDO_USER").ok())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default();
    let out: Box<dyn Write> = match &output {
        Some(path) => Box::new(std::fs::File::create(path)?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut sink = match format {
        Format::Jsonl => Sink::Jsonl(std::io::BufWriter::with_capacity(64 * 1024, out)),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(["at", "actor", "action", "target", "details"])
                .map_err(csv_error)?;
            Sink::Csv(Box::new(w))
        }
    };
    let mut count: u64 = 0;
    let mut events = audit::export(&db, &filter);
    while let Some(event) = events.try_next().await? {
        sink.write(&event)?;
        count += 1;
    }
    sink.finish()?;
    drop(events);
    let details = json!({
        "operator": operator,
        "since": filter.since,
        "until": filter.until,
        "user": filter.user,
        "establishment": filter.establishment.as_ref().map(Siret::as_str),
        "events": count,
    });
    audit::record_alone(&db, now, "cli", "audit.exported", "audit_events", details).await?;
    eprintln!("{count} événement(s) exporté(s)");
    Ok(())
}
