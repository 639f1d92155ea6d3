//! Services (démarches) such as CERES: their roles, their OIDC clients, and their versioned
//! documents (CGU, « Charte du responsable des accès ») with who accepted which version.

use sqlx::{FromRow, Row};

use crate::store::{Db, now};

/// A service of the ministry that relies on EFP Connect.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Service {
    /// Stable code (`ceres`): in URLs, claims and the CLI.
    pub code: String,
    /// Name shown to people (`CERES`).
    pub label: String,
    /// One line on what it is for.
    pub description: String,
    /// Where people go back to when they are done here.
    pub home_url: Option<String>,
}

/// A role within a service.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Role {
    /// Stable code (`centre_agree`): the `role` claim.
    pub code: String,
    /// Label (`Centre agréé`): the `role_label` claim.
    pub label: String,
    /// What the role is for.
    pub description: String,
}

/// Which document of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    /// Conditions générales d'utilisation.
    Cgu,
    /// Charte du responsable des accès.
    Charte,
}

impl DocumentKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cgu => "cgu",
            Self::Charte => "charte",
        }
    }
}

/// One version of a document.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Document {
    /// Version number; the highest is current.
    pub version: i64,
    /// Title.
    pub title: String,
    /// Plain text, paragraphs separated by blank lines; a paragraph starting with `## ` is a
    /// heading (« ARTICLE 1 – Objet »).
    pub body: String,
}

/// One block of a document's text, as pages show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// A heading (`## …` in the stored text).
    Heading(String),
    /// A paragraph.
    Paragraph(String),
}

impl Block {
    /// Whether this block is a heading (for templates).
    pub fn is_heading(&self) -> bool {
        matches!(self, Self::Heading(_))
    }

    /// The block's text.
    pub fn text(&self) -> &str {
        match self {
            Self::Heading(t) | Self::Paragraph(t) => t,
        }
    }
}

impl Document {
    /// The headings and paragraphs, for pages.
    pub fn blocks(&self) -> Vec<Block> {
        self.body
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.strip_prefix("## ") {
                Some(heading) => Block::Heading(heading.trim().to_owned()),
                None => Block::Paragraph(p.to_owned()),
            })
            .collect()
    }
}

/// Every service, by label.
pub async fn all(db: &Db) -> Result<Vec<Service>, sqlx::Error> {
    sqlx::query_as("SELECT code, label, description, home_url FROM services ORDER BY label")
        .fetch_all(&db.pool)
        .await
}

/// The service with this code.
pub async fn by_code(db: &Db, code: &str) -> Result<Option<Service>, sqlx::Error> {
    by_code_in(&mut *db.pool.acquire().await?, code).await
}

/// The service with this code, read on `conn` (an action's transaction).
pub async fn by_code_in(
    conn: &mut sqlx::AnyConnection,
    code: &str,
) -> Result<Option<Service>, sqlx::Error> {
    sqlx::query_as("SELECT code, label, description, home_url FROM services WHERE code = $1")
        .bind(code)
        .fetch_optional(conn)
        .await
}

/// What an OIDC client's service asks of its logins ([`of_client`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientLink {
    /// The service the client belongs to.
    pub service: Service,
    /// Whether logging in to this client needs a habilitation of the service.
    pub requires_habilitation: bool,
    /// Whether every login to the service's clients needs a second factor.
    pub requires_mfa: bool,
}

/// The service an OIDC client belongs to and what it asks of its logins, in one query (nodes
/// keep it with the client's registration: `oidc::clients::ClientCache::link`).
pub async fn of_client(db: &Db, client_id: &str) -> Result<Option<ClientLink>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT s.code, s.label, s.description, s.home_url, s.require_mfa, \
         c.requires_habilitation \
         FROM service_clients c JOIN services s ON s.code = c.service_code WHERE c.client_id = $1",
    )
    .bind(client_id)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(ClientLink {
            service: Service::from_row(&r)?,
            requires_habilitation: r.try_get::<i64, _>("requires_habilitation")? != 0,
            requires_mfa: r.try_get::<i64, _>("require_mfa")? != 0,
        })
    })
    .transpose()
}

/// Whether every login to the service's clients needs a second factor.
pub async fn requires_mfa(db: &Db, code: &str) -> Result<bool, sqlx::Error> {
    let n: Option<i64> = sqlx::query_scalar("SELECT require_mfa FROM services WHERE code = $1")
        .bind(code)
        .fetch_optional(&db.pool)
        .await?;
    Ok(n.unwrap_or(0) != 0)
}

/// Sets whether every login to the service's clients needs a second factor.
pub async fn set_requires_mfa_in(
    conn: &mut sqlx::AnyConnection,
    code: &str,
    required: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE services SET require_mfa = $1 WHERE code = $2")
        .bind(i64::from(required))
        .bind(code)
        .execute(conn)
        .await?;
    Ok(())
}

/// Creates a service, or updates its label, description and home URL (seeding and tests;
/// operators go through `access::actions::service_create`).
pub async fn upsert(db: &Db, service: &Service) -> Result<(), sqlx::Error> {
    upsert_in(&mut *db.pool.acquire().await?, service, now()).await
}

/// [`upsert`] on an action's connection, at `t`.
pub async fn upsert_in(
    conn: &mut sqlx::AnyConnection,
    service: &Service,
    t: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO services (code, label, description, home_url, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (code) DO UPDATE SET \
         label = excluded.label, description = excluded.description, \
         home_url = excluded.home_url, updated_at = excluded.updated_at",
    )
    .bind(&service.code)
    .bind(&service.label)
    .bind(&service.description)
    .bind(&service.home_url)
    .bind(t)
    .execute(conn)
    .await?;
    Ok(())
}

/// The roles of a service, in their display order.
pub async fn roles(db: &Db, service_code: &str) -> Result<Vec<Role>, sqlx::Error> {
    roles_in(&mut *db.pool.acquire().await?, service_code).await
}

/// [`roles`] inside the caller's transaction.
pub async fn roles_in(
    conn: &mut sqlx::AnyConnection,
    service_code: &str,
) -> Result<Vec<Role>, sqlx::Error> {
    sqlx::query_as(
        "SELECT code, label, description FROM service_roles WHERE service_code = $1 \
         ORDER BY position, label",
    )
    .bind(service_code.to_owned())
    .fetch_all(conn)
    .await
}

/// One role of a service.
pub async fn role(
    db: &Db,
    service_code: &str,
    role_code: &str,
) -> Result<Option<Role>, sqlx::Error> {
    Ok(roles(db, service_code)
        .await?
        .into_iter()
        .find(|r| r.code == role_code))
}

/// Adds a role to a service, or updates its label and description (seeding and tests).
pub async fn upsert_role(db: &Db, service_code: &str, role: &Role) -> Result<(), sqlx::Error> {
    upsert_role_in(&mut *db.pool.acquire().await?, service_code, role).await
}

/// [`upsert_role`] on an action's connection.
pub async fn upsert_role_in(
    conn: &mut sqlx::AnyConnection,
    service_code: &str,
    role: &Role,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO service_roles (service_code, code, label, description, position) \
         VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(position), 0) + 1 FROM service_roles WHERE service_code = $1)) \
         ON CONFLICT (service_code, code) DO UPDATE SET label = excluded.label, description = excluded.description",
    )
    .bind(service_code)
    .bind(&role.code)
    .bind(&role.label)
    .bind(&role.description)
    .execute(conn)
    .await?;
    Ok(())
}

/// Makes `client_id` one of the service's clients (seeding and tests).
pub async fn link_client(
    db: &Db,
    service_code: &str,
    client_id: &str,
    requires_habilitation: bool,
) -> Result<(), sqlx::Error> {
    let conn = &mut *db.pool.acquire().await?;
    link_client_in(conn, service_code, client_id, requires_habilitation).await
}

/// Makes `client_id` one of the service's clients (moving it from another service), on an
/// action's connection.
pub async fn link_client_in(
    conn: &mut sqlx::AnyConnection,
    service_code: &str,
    client_id: &str,
    requires_habilitation: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO service_clients (client_id, service_code, requires_habilitation) VALUES ($1, $2, $3) \
         ON CONFLICT (client_id) DO UPDATE SET service_code = excluded.service_code, \
         requires_habilitation = excluded.requires_habilitation",
    )
    .bind(client_id)
    .bind(service_code)
    .bind(i64::from(requires_habilitation))
    .execute(conn)
    .await?;
    Ok(())
}

/// The clients of a service.
pub async fn clients(db: &Db, service_code: &str) -> Result<Vec<(String, bool)>, sqlx::Error> {
    sqlx::query(
        "SELECT client_id, requires_habilitation FROM service_clients WHERE service_code = $1 ORDER BY client_id",
    )
    .bind(service_code)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("client_id")?,
            r.try_get::<i64, _>("requires_habilitation")? != 0,
        ))
    })
    .collect()
}

/// The current version of a document.
pub async fn current_document(
    db: &Db,
    service_code: &str,
    kind: DocumentKind,
) -> Result<Option<Document>, sqlx::Error> {
    current_document_in(&mut *db.pool.acquire().await?, service_code, kind).await
}

/// [`current_document`] read on `conn` (an action's transaction).
pub async fn current_document_in(
    conn: &mut sqlx::AnyConnection,
    service_code: &str,
    kind: DocumentKind,
) -> Result<Option<Document>, sqlx::Error> {
    sqlx::query_as(
        "SELECT version, title, body FROM service_documents WHERE service_code = $1 AND kind = $2 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(service_code)
    .bind(kind.as_str())
    .fetch_optional(conn)
    .await
}

/// Publishes a new version of a document; returns its number (seeding and tests).
pub async fn publish_document(
    db: &Db,
    service_code: &str,
    kind: DocumentKind,
    title: &str,
    body: &str,
) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let version = publish_document_in(&mut tx, service_code, kind, title, body, now()).await?;
    tx.commit().await?;
    Ok(version)
}

/// Publishes a new version of a document at `at`, on an action's connection; returns its
/// number.
pub async fn publish_document_in(
    conn: &mut sqlx::AnyConnection,
    service_code: &str,
    kind: DocumentKind,
    title: &str,
    body: &str,
    at: i64,
) -> Result<i64, sqlx::Error> {
    let version = current_document_in(&mut *conn, service_code, kind)
        .await?
        .map_or(1, |d| d.version + 1);
    sqlx::query(
        "INSERT INTO service_documents (service_code, kind, version, title, body, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(service_code)
    .bind(kind.as_str())
    .bind(version)
    .bind(title)
    .bind(body)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(version)
}

/// Records that `user_id` accepted `version` of a document (for `siret` when it is the
/// charte of an establishment). Accepting twice keeps the first date.
pub async fn accept_document(
    db: &Db,
    user_id: &str,
    service_code: &str,
    kind: DocumentKind,
    version: i64,
    siret: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO document_acceptances (user_id, service_code, kind, version, siret, accepted_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(service_code)
    .bind(kind.as_str())
    .bind(version)
    .bind(siret)
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// When `user_id` accepted `version` of a document, if they did.
pub async fn accepted_at(
    db: &Db,
    user_id: &str,
    service_code: &str,
    kind: DocumentKind,
    version: i64,
    siret: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT accepted_at FROM document_acceptances WHERE user_id = $1 AND service_code = $2 \
         AND kind = $3 AND version = $4 AND siret = $5",
    )
    .bind(user_id)
    .bind(service_code)
    .bind(kind.as_str())
    .bind(version)
    .bind(siret)
    .fetch_optional(&db.pool)
    .await
}

/// Records at `at`, inside the caller's transaction, that `user_id` accepted `version` of a
/// document (for `siret` when it is the charte of an establishment). Accepting twice keeps the
/// first date.
pub async fn accept_document_in(
    conn: &mut sqlx::AnyConnection,
    user_id: &crate::accounts::UserId,
    service_code: &str,
    kind: DocumentKind,
    version: i64,
    siret: &crate::organizations::Siret,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO document_acceptances (user_id, service_code, kind, version, siret, accepted_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(user_id.as_str().to_owned())
    .bind(service_code.to_owned())
    .bind(kind.as_str())
    .bind(version)
    .bind(siret.as_str().to_owned())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
