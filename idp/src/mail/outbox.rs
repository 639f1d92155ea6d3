//! The outbox: the embedded transport (each message an `.eml` file in a folder) and its viewer,
//! `GET /outbox` and `GET /outbox/{id}`.
//!
//! A development and demonstration tool: it lets someone follow the sign-up and reset journeys
//! without a mail server. The routes exist only when asked for (`mail.outbox_viewer`, which the
//! start-up refuses unless `mail.transport = "outbox"` and the issuer is a localhost URL);
//! otherwise they are not mounted at all (404). They answer only a browser on this machine
//! that reached the provider directly, never through a proxy: the viewer shows other people's
//! codes. The HTML part of a message is never inserted into our page:
//! it goes, escaped, into the `srcdoc` of an `<iframe sandbox>` (no scripts, an opaque origin,
//! and our page's CSP inherited).

use std::{
    io,
    path::{Path, PathBuf},
    sync::Arc,
};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path as UrlPath, State};

use crate::web::client_ip::RealClient;
use crate::{AppState, error::PageError};

/// At most this many messages are listed (the newest): the folder is never pruned.
const LIST_LIMIT: usize = 200;
const EXTENSION: &str = "eml";

/// A folder of `.eml` files, named so that names sort oldest to newest.
#[derive(Clone, Debug)]
pub struct Outbox {
    dir: Arc<PathBuf>,
}

/// The name of one message in the outbox: `<milliseconds since 1970>-<random>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxId(String);

impl OutboxId {
    fn new() -> Self {
        let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        // Zero-padded so that names sort by time; the random part keeps names of one
        // millisecond apart.
        Self(format!("{millis:013}-{}", crate::secrets::random_token(6)))
    }

    /// Parses an id from a URL: only what [`OutboxId::new`] makes, so that no path (`..`, `/`)
    /// can reach the file system.
    pub fn parse(input: &str) -> Option<Self> {
        let valid = (1..=64).contains(&input.len())
            && input.starts_with(|c: char| c.is_ascii_digit())
            && input
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        valid.then(|| Self(input.to_owned()))
    }

    /// The id as it appears in URLs and file names.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Removes (or, `dry`, counts) the messages of the outbox folder `dir` written before
/// `before_ms` (milliseconds since 1970, the first part of their name): the janitor's
/// (`retention.rs`). A folder that does not exist holds nothing.
pub fn purge_older_than(dir: &Path, before_ms: i64, dry: bool) -> io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let path = entry?.path();
        let written = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|_| path.extension().is_some_and(|e| e == EXTENSION))
            .and_then(OutboxId::parse)
            .and_then(|id| id.0.split('-').next()?.parse::<i64>().ok());
        if written.is_some_and(|ms| ms < before_ms) {
            if !dry {
                std::fs::remove_file(&path)?;
            }
            removed += 1;
        }
    }
    Ok(removed)
}

/// A message read back from the outbox, decoded for display.
#[derive(Clone, Debug)]
pub struct OutboxMessage {
    /// Its id.
    pub id: String,
    /// `Date` header, `dd/mm/yyyy hh:mm:ss UTC`.
    pub date: String,
    /// `From` header.
    pub from: String,
    /// First `To` address.
    pub to: String,
    /// Decoded subject.
    pub subject: String,
    /// The `text/plain` part.
    pub text: String,
    /// The `text/html` part (to show sandboxed only).
    pub html: String,
}

impl Outbox {
    /// Opens `dir`, creating it if needed.
    pub fn create(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: Arc::new(dir.to_owned()),
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, id: &OutboxId) -> PathBuf {
        self.dir.join(format!("{}.{EXTENSION}", id.0))
    }

    /// Writes one message (its bytes as they would go on the wire).
    pub async fn write(&self, bytes: &[u8]) -> io::Result<OutboxId> {
        let id = OutboxId::new();
        // Written under a name the listing skips, then renamed: never half a message on show.
        let partial = self.dir.join(format!(".{}.partial", id.0));
        tokio::fs::write(&partial, bytes).await?;
        tokio::fs::rename(&partial, self.path(&id)).await?;
        Ok(id)
    }

    /// The newest messages first, at most [`LIST_LIMIT`].
    pub async fn list(&self) -> io::Result<Vec<OutboxMessage>> {
        let mut ids = Vec::new();
        let mut entries = tokio::fs::read_dir(&*self.dir).await?;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".eml"))
                .and_then(OutboxId::parse)
            else {
                continue;
            };
            ids.push(id);
        }
        ids.sort_by(|a, b| b.0.cmp(&a.0));
        ids.truncate(LIST_LIMIT);
        let mut messages = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(message) = self.read(&id).await? {
                messages.push(message);
            }
        }
        Ok(messages)
    }

    /// One message, or `None` if there is no such file.
    pub async fn read(&self, id: &OutboxId) -> io::Result<Option<OutboxMessage>> {
        match tokio::fs::read(self.path(id)).await {
            Ok(bytes) => Ok(Some(decode(id, &bytes))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Decodes what the viewer shows; a file that is not a message shows as empty fields.
fn decode(id: &OutboxId, bytes: &[u8]) -> OutboxMessage {
    let parsed = mail_parser::MessageParser::default().parse(bytes);
    let first_address = |a: Option<&mail_parser::Address<'_>>| {
        a.and_then(|a| a.first())
            .map(|a| match (a.name(), a.address()) {
                (Some(name), Some(address)) => format!("{name} <{address}>"),
                (None, Some(address)) => address.to_owned(),
                (Some(name), None) => name.to_owned(),
                (None, None) => String::new(),
            })
            .unwrap_or_default()
    };
    match parsed {
        Some(m) => OutboxMessage {
            id: id.0.clone(),
            date: m
                .date()
                .map(|d| {
                    format!(
                        "{:02}/{:02}/{} {:02}:{:02}:{:02} UTC",
                        d.day, d.month, d.year, d.hour, d.minute, d.second
                    )
                })
                .unwrap_or_default(),
            from: first_address(m.from()),
            to: first_address(m.to()),
            subject: m.subject().unwrap_or_default().to_owned(),
            text: m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            html: m.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
        },
        None => OutboxMessage {
            id: id.0.clone(),
            date: String::new(),
            from: String::new(),
            to: String::new(),
            subject: String::new(),
            text: String::new(),
            html: String::new(),
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "outbox_list.html")]
struct ListPage {
    messages: Vec<OutboxMessage>,
}

#[derive(Template, WebTemplate)]
#[template(path = "outbox_message.html")]
struct MessagePage {
    message: OutboxMessage,
}

fn outbox_of<'a>(state: &'a AppState, client: &RealClient) -> Result<&'a Outbox, PageError> {
    // The routes are only mounted when asked for; this is the second lock. The messages hold
    // live codes: only a browser on this machine may read them, and not through a proxy on
    // this machine, which would make every browser of the network look local.
    if client.proxied || !client.ip.is_some_and(|ip| ip.is_loopback()) {
        return Err(PageError::not_found());
    }
    state.mailer.outbox().ok_or_else(PageError::not_found)
}

/// `GET /outbox`: the messages "sent", newest first.
pub async fn list(
    State(state): State<AppState>,
    client: RealClient,
) -> Result<impl axum::response::IntoResponse, PageError> {
    let messages = outbox_of(&state, &client)?
        .list()
        .await
        .map_err(|e| PageError::internal("outbox list", &e))?;
    Ok(ListPage { messages })
}

/// `GET /outbox/{id}`: one message, text part and sandboxed HTML part.
pub async fn show(
    State(state): State<AppState>,
    client: RealClient,
    UrlPath(id): UrlPath<String>,
) -> Result<impl axum::response::IntoResponse, PageError> {
    let id = OutboxId::parse(&id).ok_or_else(PageError::not_found)?;
    let message = outbox_of(&state, &client)?
        .read(&id)
        .await
        .map_err(|e| PageError::internal("outbox read", &e))?
        .ok_or_else(PageError::not_found)?;
    Ok(MessagePage { message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_leave_the_folder_are_refused() {
        for bad in [
            "",
            "../idp.db",
            "..",
            "a/b",
            "1/../../x",
            "1.eml",
            "abc",
            "1 2",
        ] {
            assert_eq!(OutboxId::parse(bad), None, "{bad:?}");
        }
        let id = OutboxId::new();
        assert_eq!(OutboxId::parse(id.as_str()), Some(id));
    }

    #[tokio::test]
    async fn written_messages_are_listed_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::create(&dir.path().join("outbox")).unwrap();
        let first = outbox
            .write(b"Subject: un\r\nTo: a@centre.fr\r\n\r\nun\r\n")
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        let second = outbox
            .write(b"Subject: deux\r\nTo: a@centre.fr\r\n\r\ndeux\r\n")
            .await
            .unwrap();
        let listed = outbox.list().await.unwrap();
        let ids: Vec<_> = listed.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, [second.as_str(), first.as_str()]);
        assert_eq!(listed[0].subject, "deux");
        assert!(
            outbox
                .read(&OutboxId::parse("1-nothing").unwrap())
                .await
                .unwrap()
                .is_none()
        );
    }
}
