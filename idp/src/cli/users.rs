//! `idp users …`: accounts made by an operator (bootstrapping agents, demos, tests) and the
//! support desk's administration of accounts (docs/administration.md). Every administrative
//! command names its operator (`--operator`, `IDP_OPERATOR`, or the system user) and a reason,
//! both recorded in the audit trail by the action it calls.

use clap::{Args, Subcommand};

use super::{CliError, date, open};
use crate::{
    accounts::{
        Email, Password, UserId,
        actions::{
            create_account,
            delete_account::{Deleter, delete_account},
            disable_account::disable_account,
            enable_account::enable_account,
            end_sessions::end_sessions,
            export_account::{Purpose, export_account},
            reset_second_factors::reset_second_factors,
            set_agent::set_agent,
            unlock_account::{UnlockError, unlock_account},
        },
        dossier::Dossier,
        refusal::AccountRefusal,
        search::{self, Filter},
        store as users,
    },
    admin::{AdminCall, OperatorName, Reason, Via},
    clock::Clock,
    config::Config,
    oidc::denylist::DenyList,
    organizations::Siret,
    store::{Db, Ephemeral},
};

/// Who runs an administrative command, and why.
#[derive(Args, Debug)]
pub struct Who {
    /// Why (a ticket number, the person's request…): recorded in the audit trail.
    #[arg(long)]
    reason: String,
    /// The operator's name, recorded in the audit trail (default: `IDP_OPERATOR`, then the
    /// system user who runs the command).
    #[arg(long, env = "IDP_OPERATOR")]
    operator: Option<String>,
}

impl Who {
    fn call(&self) -> Result<AdminCall, CliError> {
        let name = self
            .operator
            .clone()
            .or_else(|| std::env::var("SUDO_USER").ok())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_default();
        let invalid = |e: crate::admin::AdminInputError| CliError::Invalid(e.to_string());
        Ok(AdminCall {
            via: Via::Cli,
            operator: OperatorName::parse(&name).map_err(invalid)?,
            reason: Reason::parse(&self.reason).map_err(invalid)?,
        })
    }
}

/// The account a command is about.
#[derive(Args, Debug)]
pub struct Target {
    /// Its e-mail address or its id (the `sub` of its tokens).
    account: String,
    #[command(flatten)]
    who: Who,
}

/// `idp users …`.
#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Creates an account with a verified e-mail (bootstrapping agents, demos, tests). The
    /// password is read from `IDP_NEW_USER_PASSWORD` so it stays out of shell history.
    Create {
        /// E-mail address (login).
        #[arg(long)]
        email: String,
        /// Prénom.
        #[arg(long, default_value = "")]
        given_name: String,
        /// Nom.
        #[arg(long, default_value = "")]
        family_name: String,
        /// Ministry agent.
        #[arg(long)]
        agent: bool,
    },
    /// Finds accounts (every criterion given must hold), by address.
    List {
        /// A part of the e-mail address.
        #[arg(long)]
        email: Option<String>,
        /// An establishment (SIRET) the person has a habilitation or manager right at.
        #[arg(long)]
        siret: Option<String>,
        /// A service (its code) the person has a habilitation for.
        #[arg(long)]
        service: Option<String>,
        /// Only agents (marked, or linked to the ministry's directory).
        #[arg(long)]
        agent: bool,
        /// Only disabled accounts.
        #[arg(long)]
        disabled: bool,
        /// Only accounts without a login since this date (AAAA-MM-JJ).
        #[arg(long)]
        inactive_since: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Shows an account: identity, establishments and habilitations, manager rights, second
    /// factors, sessions, last logins.
    Show(Target),
    /// Disables an account: no login, its sessions end, its tokens are revoked.
    Disable(Target),
    /// Enables a disabled account again.
    Enable(Target),
    /// Clears the login limits an account reached (needs the shared store: Redis).
    Unlock(Target),
    /// Removes every second factor of an account (TOTP, recovery codes, passkeys).
    ResetSecondFactor(Target),
    /// Ends every session of an account and revokes its tokens.
    EndSessions(Target),
    /// Marks an account as a ministry agent (break-glass).
    SetAgent(Target),
    /// Removes that mark.
    UnsetAgent(Target),
    /// Writes everything held about a person as JSON (a GDPR access request).
    Export {
        #[command(flatten)]
        target: Target,
        /// Write to this file rather than to the standard output.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
    /// Imports the accounts of a previous system (CSV with a header, or JSON lines): e-mail,
    /// password hash (bcrypt, PBKDF2-SHA256 or argon2), identity. All or nothing.
    Import {
        /// The export.
        file: std::path::PathBuf,
        /// Its format (default: from the file's extension, `.jsonl` or else CSV).
        #[arg(long, value_enum)]
        format: Option<ImportFormat>,
        /// Checks every row and says what would be imported, writing nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        who: Who,
    },
    /// Deletes an account and everything hanging on it (the audit trail stays).
    Delete {
        #[command(flatten)]
        target: Target,
        /// Confirms the deletion.
        #[arg(long)]
        yes: bool,
    },
}

/// The format of an import.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ImportFormat {
    /// Comma-separated values, header line first.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Runs `idp users …`.
pub async fn run(config: Config, cmd: UsersCommand) -> Result<(), CliError> {
    let db = open(&config).await?;
    let now = Clock::system().now();
    let ttl = config.tokens.access_token_ttl_seconds;
    match cmd {
        UsersCommand::Create {
            email,
            given_name,
            family_name,
            agent,
        } => create(&db, now, &email, given_name, family_name, agent).await,
        UsersCommand::List {
            email,
            siret,
            service,
            agent,
            disabled,
            inactive_since,
            limit,
        } => {
            let filter = Filter {
                email_part: email.filter(|e| !e.trim().is_empty()),
                siret: siret
                    .map(|s| Siret::parse(&s).map_err(|e| CliError::Invalid(e.to_string())))
                    .transpose()?,
                service,
                agent: agent.then_some(true),
                disabled: disabled.then_some(true),
                inactive_since: inactive_since.as_deref().map(day_start).transpose()?,
                limit,
            };
            list(&db, &filter).await
        }
        UsersCommand::Show(t) => {
            let (call, user) = resolve(&db, &t).await?;
            let file = export_account(&db, now, &call, &user, Purpose::Show)
                .await
                .map_err(refused)?;
            print!("{}", summary(&file));
            Ok(())
        }
        UsersCommand::Disable(t) => {
            let (call, user) = resolve(&db, &t).await?;
            let queued = disable_account(&db, now, &call, &user, ttl)
                .await
                .map_err(refused)?;
            tell_nodes(&config, &db).await;
            println!("compte désactivé : {user} ({queued} avis de déconnexion aux services)");
            Ok(())
        }
        UsersCommand::Enable(t) => {
            let (call, user) = resolve(&db, &t).await?;
            enable_account(&db, now, &call, &user)
                .await
                .map_err(refused)?;
            tell_nodes(&config, &db).await;
            println!("compte réactivé : {user}");
            Ok(())
        }
        UsersCommand::Unlock(t) => {
            let (call, user) = resolve(&db, &t).await?;
            let shared = Ephemeral::from_config(&config)
                .await
                .map_err(|e| CliError::Invalid(format!("stockage partagé (Redis) : {e}")))?;
            if !shared.is_shared() {
                return Err(CliError::Invalid(
                    "sans Redis, les compteurs de tentatives sont dans la mémoire du serveur : \
                     débloquez par l'API d'administration (POST /api/v1/admin/users/{id}/unlock) \
                     ou attendez la fin de la fenêtre (limits.login_failures_window_seconds)"
                        .into(),
                ));
            }
            let found = unlock_account(&db, &shared, now, &call, &user)
                .await
                .map_err(|e| match e {
                    UnlockError::Refused(r) => refused(r),
                    UnlockError::Store(e) => CliError::Invalid(format!("Redis : {e}")),
                })?;
            println!("compte débloqué : {user} ({found} compteur(s) effacé(s))");
            Ok(())
        }
        UsersCommand::ResetSecondFactor(t) => {
            let (call, user) = resolve(&db, &t).await?;
            let removed = reset_second_factors(&db, now, &call, &user)
                .await
                .map_err(refused)?;
            println!(
                "seconds facteurs retirés : {user} (application : {}, codes de secours : {}, \
                 clés d'accès : {}, appareils reconnus : {})",
                removed.totp, removed.recovery_codes, removed.passkeys, removed.known_browsers
            );
            Ok(())
        }
        UsersCommand::EndSessions(t) => {
            let (call, user) = resolve(&db, &t).await?;
            let queued = end_sessions(&db, now, &call, &user, ttl)
                .await
                .map_err(refused)?;
            tell_nodes(&config, &db).await;
            println!("sessions terminées : {user} ({queued} avis de déconnexion aux services)");
            Ok(())
        }
        UsersCommand::SetAgent(t) => agent_flag(&config, &db, now, &t, true).await,
        UsersCommand::UnsetAgent(t) => agent_flag(&config, &db, now, &t, false).await,
        UsersCommand::Export { target, output } => {
            let (call, user) = resolve(&db, &target).await?;
            let file = export_account(&db, now, &call, &user, Purpose::Export)
                .await
                .map_err(refused)?;
            let json = serde_json::to_string_pretty(&file.to_json())
                .map_err(|e| CliError::Invalid(e.to_string()))?;
            match output {
                Some(path) => {
                    std::fs::write(&path, json + "\n")?;
                    eprintln!("dossier écrit : {}", path.display());
                }
                None => println!("{json}"),
            }
            Ok(())
        }
        UsersCommand::Import {
            file,
            format,
            dry_run,
            who,
        } => import(&db, now, &file, format, dry_run, &who).await,
        UsersCommand::Delete { target, yes } => {
            if !yes {
                return Err(CliError::Invalid(
                    "la suppression est définitive : confirmez avec --yes".into(),
                ));
            }
            let (call, user) = resolve(&db, &target).await?;
            delete_account(&db, now, &user, Deleter::Operator(&call), ttl)
                .await
                .map_err(refused)?;
            tell_nodes(&config, &db).await;
            println!("compte supprimé : {user}");
            Ok(())
        }
    }
}

async fn agent_flag(
    config: &Config,
    db: &Db,
    now: i64,
    t: &Target,
    agent: bool,
) -> Result<(), CliError> {
    let (call, user) = resolve(db, t).await?;
    set_agent(db, now, &call, &user, agent)
        .await
        .map_err(refused)?;
    tell_nodes(config, db).await;
    if agent {
        println!("compte marqué agent du ministère : {user} (à sa prochaine connexion)");
    } else {
        println!("marque d'agent retirée : {user} (à sa prochaine connexion)");
    }
    Ok(())
}

async fn create(
    db: &Db,
    now: i64,
    email: &str,
    given_name: String,
    family_name: String,
    agent: bool,
) -> Result<(), CliError> {
    let email = Email::parse(email).map_err(|e| CliError::Invalid(e.to_string()))?;
    let clear = std::env::var("IDP_NEW_USER_PASSWORD").map_err(|_| {
        CliError::Invalid("IDP_NEW_USER_PASSWORD doit contenir le mot de passe".into())
    })?;
    let password = Password::parse(&clear).map_err(|e| CliError::Invalid(e.to_string()))?;
    let hasher = crate::accounts::PasswordHasher::new(1, 1);
    let phc = hasher
        .hash(&password)
        .await
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    let new = users::NewUser {
        given_name,
        family_name,
        is_agent: agent,
        ..Default::default()
    };
    let user = create_account::create_account(db, now, "cli", &email, &phc, &new)
        .await
        .map_err(|refused| match refused {
            AccountRefusal::Storage(e) => CliError::Db(e),
            AccountRefusal::EmailTaken => {
                CliError::Invalid(format!("un compte existe déjà pour {email}"))
            }
            other => CliError::Invalid(other.to_string()),
        })?;
    println!("compte créé : {user}");
    Ok(())
}

async fn list(db: &Db, filter: &Filter) -> Result<(), CliError> {
    let found = search::search(db, filter).await?;
    println!("id\te-mail\tnom\tagent\tdernière connexion\tdésactivé le");
    for f in &found {
        let name = format!("{} {}", f.given_name, f.family_name);
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            f.id,
            f.email,
            name.trim(),
            if f.agent { "oui" } else { "non" },
            date(f.last_login_at),
            date(f.disabled_at),
        );
    }
    eprintln!("{} compte(s)", found.len());
    Ok(())
}

/// The operator's call and the account `t` names (by address or id).
async fn resolve(db: &Db, t: &Target) -> Result<(AdminCall, UserId), CliError> {
    let call = t.who.call()?;
    let raw = t.account.trim();
    let found = if raw.contains('@') {
        let email = Email::parse(raw).map_err(|e| CliError::Invalid(e.to_string()))?;
        users::user_by_email(db, &email).await?
    } else {
        users::user_by_id(db, raw).await?
    };
    let user = found.ok_or_else(|| CliError::NotFound(format!("introuvable : {raw}")))?;
    Ok((call, UserId::from_stored(user.id)))
}

fn refused(refusal: AccountRefusal) -> CliError {
    match refusal {
        AccountRefusal::Storage(e) => CliError::Db(e),
        other => CliError::refused(&other),
    }
}

/// Revocations or changes of an account were committed: with Redis, the nodes reload their
/// lists (and forget what they knew of accounts) at their next check;
/// without it (an embedded installation), the server reloads its own within
/// [`crate::oidc::denylist::RELOAD_EVERY`].
async fn tell_nodes(config: &Config, db: &Db) {
    let Ok(shared) = Ephemeral::from_config(config).await else {
        eprintln!(
            "avertissement : Redis injoignable, les nœuds relisent les révocations d'eux-mêmes"
        );
        return;
    };
    if !shared.is_shared() {
        // Nothing to tell a server without Redis: it reads the list again by itself.
        eprintln!(
            "note : sans Redis, le serveur en cours en tient compte dans les {} secondes",
            crate::oidc::denylist::RELOAD_EVERY.as_secs()
        );
        return;
    }
    match DenyList::load(db).await {
        Ok(list) => {
            if let Err(e) = list.changed(db, &shared).await {
                eprintln!("avertissement : révocations non annoncées aux nœuds : {e}");
            }
        }
        Err(e) => eprintln!("avertissement : révocations non annoncées aux nœuds : {e}"),
    }
}

/// The start (UTC) of the day `AAAA-MM-JJ`, in seconds.
fn day_start(raw: &str) -> Result<i64, CliError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(raw, &format)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|_| CliError::Invalid(format!("date attendue au format AAAA-MM-JJ : {raw}")))
}

/// What support reads of a file: one line per fact, in French.
fn summary(file: &Dossier) -> String {
    use std::fmt::Write;
    let a = &file.account;
    let text = |k: &str| a.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let int = |k: &str| a.get(k).and_then(serde_json::Value::as_i64);
    let mut out = String::new();
    let _ = writeln!(out, "compte            {}", text("id"));
    let _ = writeln!(out, "e-mail            {}", text("email"));
    let _ = writeln!(
        out,
        "nom               {} {}",
        text("given_name"),
        text("family_name")
    );
    let _ = writeln!(
        out,
        "organisation      {} {}",
        text("siret"),
        text("organization_label")
    );
    let _ = writeln!(
        out,
        "agent (marque)    {}",
        if int("is_agent") == Some(1) {
            "oui"
        } else {
            "non"
        }
    );
    let _ = writeln!(out, "créé le           {}", date(int("created_at")));
    let _ = writeln!(out, "dernière connexion {}", date(int("last_login_at")));
    match int("disabled_at") {
        Some(at) => {
            let _ = writeln!(
                out,
                "DÉSACTIVÉ le      {} : {}",
                date(Some(at)),
                text("disabled_reason")
            );
        }
        None => {
            let _ = writeln!(out, "état              actif");
        }
    }
    let rows = |name: &str| file.section(name);
    let field = |row: &serde_json::Map<String, serde_json::Value>, k: &str| match row.get(k) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => "-".into(),
        Some(other) => other.to_string(),
    };
    let _ = writeln!(out, "habilitations     {}", rows("habilitations").len());
    for h in rows("habilitations") {
        let _ = writeln!(
            out,
            "  {} {} {} (fin : {})",
            field(h, "service_code"),
            field(h, "siret"),
            field(h, "role_code"),
            field(h, "end_date")
        );
    }
    let _ = writeln!(
        out,
        "responsable des accès {}",
        rows("manager_rights").len()
    );
    for m in rows("manager_rights") {
        let _ = writeln!(out, "  {} {}", field(m, "service_code"), field(m, "siret"));
    }
    let totp = !rows("totp").is_empty();
    let _ = writeln!(
        out,
        "seconds facteurs  application : {}, clés d'accès : {}, appareils reconnus : {}",
        if totp { "oui" } else { "non" },
        rows("passkeys").len(),
        rows("known_browsers").len()
    );
    let live: Vec<_> = rows("grants")
        .iter()
        .filter(|g| g.get("revoked_at").is_none_or(serde_json::Value::is_null))
        .collect();
    let _ = writeln!(out, "sessions ouvertes auprès des services {}", live.len());
    for g in live {
        let created = g.get("created_at").and_then(serde_json::Value::as_i64);
        let _ = writeln!(
            out,
            "  {} depuis {} ({})",
            field(g, "client_id"),
            date(created),
            field(g, "acr")
        );
    }
    let _ = writeln!(out, "dernières connexions");
    for l in rows("last_logins") {
        let at = l.get("at").and_then(serde_json::Value::as_i64);
        let d = l.get("details").cloned().unwrap_or_default();
        let get = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("-").to_owned();
        let _ = writeln!(
            out,
            "  {} {} depuis {} pour {}",
            date(at),
            d.get("amr").map(ToString::to_string).unwrap_or_default(),
            get("ip"),
            get("client_id")
        );
    }
    out
}

async fn import(
    db: &Db,
    now: i64,
    file: &std::path::Path,
    format: Option<ImportFormat>,
    dry_run: bool,
    who: &Who,
) -> Result<(), CliError> {
    use crate::accounts::{actions::import_accounts, import};
    let call = who.call()?;
    let format = match format {
        Some(ImportFormat::Jsonl) => import::Format::Jsonl,
        Some(ImportFormat::Csv) => import::Format::Csv,
        None if file.extension().is_some_and(|e| e == "jsonl") => import::Format::Jsonl,
        None => import::Format::Csv,
    };
    let input = std::io::BufReader::new(std::fs::File::open(file)?);
    let report = |bad: &[import::BadRow]| {
        for row in bad {
            eprintln!("  {row}");
        }
        CliError::Invalid(format!(
            "{} ligne(s) refusée(s) : rien n'a été importé",
            bad.len()
        ))
    };
    let accounts = import::read(input, format, |n| eprintln!("  … {n} lignes lues"))
        .map_err(|bad| report(&bad))?;
    if dry_run {
        println!(
            "{} compte(s) à importer, aucune erreur (rien n'a été écrit)",
            accounts.len()
        );
        return Ok(());
    }
    let done = import_accounts::import_accounts(db, now, &call, &accounts, |n| {
        eprintln!("  … {n} comptes écrits");
    })
    .await
    .map_err(|e| match e {
        import_accounts::ImportRefusal::Rows(bad) => report(&bad),
        import_accounts::ImportRefusal::Refused(r) => refused(r),
    })?;
    println!("{done} compte(s) importé(s) : chacun se connecte avec son ancien mot de passe");
    Ok(())
}
