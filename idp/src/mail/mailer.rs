//! Sending e-mail: one [`Mailer`] per process, over SMTP (lettre) or into the local outbox.
//!
//! A message is built once (lettre's MIME builder: `multipart/alternative`, text then HTML) and
//! its bytes handed to the transport. Failures that may pass (no connection, timeout, a 4xx
//! answer) are retried a few times with a doubling delay; a 5xx answer is final at once. When
//! the last attempt fails the caller gets [`MailError::NotSent`]: a page must then say the
//! e-mail could not be sent, never that it was. Logs name the kind of message, the attempt and
//! the SMTP status code, never the recipient or the body (they hold addresses and codes), and
//! never the server's free-text answer (servers quote the recipient in it).

use std::{sync::Arc, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::{
        self,
        authentication::Credentials,
        client::{Certificate, CertificateStore, Identity, Tls, TlsParameters},
    },
};

use super::{messages::Outgoing, outbox::Outbox};
use crate::config::{MailConfig, MailTransport, SmtpTls};

/// Attempts per message before giving up (the first one included).
pub const SEND_ATTEMPTS: u32 = 3;
/// Wait before the second attempt; doubled before each further one (0.5 s, then 1 s).
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
/// Longest wait for one SMTP command. lettre's default (60 s) would hold a page far too long.
const SMTP_COMMAND_TIMEOUT: Duration = Duration::from_secs(15);

/// Why an e-mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A template failed to render.
    #[error("rendu du message impossible : {0}")]
    Render(#[from] askama::Error),
    /// lettre refused to build the message (an address it cannot encode).
    #[error("message impossible à construire : {0}")]
    Build(&'static str),
    /// The transport cannot be set up from the configuration.
    #[error("transport d'e-mail inutilisable : {0}")]
    Transport(String),
    /// Every attempt failed, or the server refused the message for good.
    #[error("e-mail non envoyé après {attempts} tentative(s) : {reason}")]
    NotSent {
        /// Attempts made.
        attempts: u32,
        /// What went wrong, without addresses or server text.
        reason: String,
    },
}

/// Sends the provider's e-mail. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
    first_retry_delay: Duration,
}

#[derive(Clone)]
enum Transport {
    Smtp(Arc<AsyncSmtpTransport<Tokio1Executor>>),
    Outbox(Outbox),
}

/// One failed attempt, described without personal data.
struct Failure {
    reason: String,
    smtp_code: Option<String>,
    retry: bool,
}

impl Mailer {
    /// The mailer the configuration describes. The outbox folder is created here, so a
    /// folder we cannot write stops the start instead of the first sign-up.
    pub fn from_config(config: &MailConfig) -> Result<Self, MailError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| MailError::Transport("mail.from n'est pas une adresse valide".into()))?;
        let transport = match config.transport {
            MailTransport::Outbox => {
                Transport::Outbox(Outbox::create(&config.outbox_dir).map_err(|e| {
                    MailError::Transport(format!("dossier {} : {e}", config.outbox_dir.display()))
                })?)
            }
            MailTransport::Smtp => Transport::Smtp(Arc::new(smtp_transport(config)?)),
        };
        Ok(Self {
            from,
            transport,
            first_retry_delay: FIRST_RETRY_DELAY,
        })
    }

    /// The outbox, when messages go there (development and demonstrations).
    pub fn outbox(&self) -> Option<&Outbox> {
        match &self.transport {
            Transport::Outbox(outbox) => Some(outbox),
            Transport::Smtp(_) => None,
        }
    }

    /// Sends `message`, retrying what may pass. `Ok` means the server (or the outbox) took it.
    pub async fn send(&self, message: &Outgoing) -> Result<(), MailError> {
        let email = self.build(message)?;
        let envelope = email.envelope().clone();
        let bytes = email.formatted();
        let transport = self.transport_name();
        let mut delay = self.first_retry_delay;
        let mut attempt = 1;
        loop {
            let failure = match self.try_send(&envelope, &bytes).await {
                Ok(()) => {
                    tracing::info!(
                        mail.kind = message.kind.as_str(),
                        mail.transport = transport,
                        mail.attempt = attempt,
                        "e-mail sent"
                    );
                    crate::metrics::mail(message.kind.as_str(), true);
                    return Ok(());
                }
                Err(failure) => failure,
            };
            if !failure.retry || attempt >= SEND_ATTEMPTS {
                tracing::error!(
                    mail.kind = message.kind.as_str(),
                    mail.transport = transport,
                    mail.attempt = attempt,
                    smtp.code = failure.smtp_code.as_deref(),
                    error.message = %failure.reason,
                    "e-mail not sent"
                );
                crate::metrics::mail(message.kind.as_str(), false);
                return Err(MailError::NotSent {
                    attempts: attempt,
                    reason: failure.reason,
                });
            }
            tracing::warn!(
                mail.kind = message.kind.as_str(),
                mail.transport = transport,
                mail.attempt = attempt,
                smtp.code = failure.smtp_code.as_deref(),
                error.message = %failure.reason,
                mail.retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "e-mail attempt failed; retrying"
            );
            tokio::time::sleep(delay).await;
            delay *= 2;
            attempt += 1;
        }
    }

    fn transport_name(&self) -> &'static str {
        match self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::Outbox(_) => "outbox",
        }
    }

    fn build(&self, message: &Outgoing) -> Result<lettre::Message, MailError> {
        let to: Mailbox = message
            .to
            .as_str()
            .parse()
            .map_err(|_| MailError::Build("adresse du destinataire refusée"))?;
        // A Message-ID in the sender's domain: some filters mark mail without one as spam.
        let message_id = format!(
            "<{}@{}>",
            crate::secrets::random_token(18),
            self.from.email.domain()
        );
        lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&message.subject)
            .message_id(Some(message_id))
            .multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                message.html.clone(),
            ))
            .map_err(|_| MailError::Build("en-têtes du message refusés"))
    }

    async fn try_send(
        &self,
        envelope: &lettre::address::Envelope,
        bytes: &[u8],
    ) -> Result<(), Failure> {
        match &self.transport {
            Transport::Smtp(smtp) => smtp
                .send_raw(envelope, bytes)
                .await
                .map(|_| ())
                .map_err(|e| classify(&e)),
            Transport::Outbox(outbox) => {
                outbox.write(bytes).await.map(|_| ()).map_err(|e| Failure {
                    reason: format!("écriture dans la boîte d'envoi locale : {}", e.kind()),
                    smtp_code: None,
                    retry: true,
                })
            }
        }
    }

    /// Shortens the wait between attempts (tests of the retries).
    #[cfg(test)]
    fn with_first_retry_delay(mut self, delay: Duration) -> Self {
        self.first_retry_delay = delay;
        self
    }
}

fn smtp_transport(config: &MailConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let host = config.smtp_host.trim();
    let tls = |host: &str| tls_parameters(config, host);
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(config.smtp_port)
        .timeout(Some(SMTP_COMMAND_TIMEOUT));
    builder = match config.smtp_tls {
        SmtpTls::None => builder.tls(Tls::None),
        // Required, not Opportunistic: a server that stops offering STARTTLS gets no password
        // and no message rather than plain text.
        SmtpTls::Starttls => builder.tls(Tls::Required(tls(host)?)),
        SmtpTls::Tls => builder.tls(Tls::Wrapper(tls(host)?)),
    };
    if let Some(user) = config.smtp_username.as_deref().filter(|u| !u.is_empty()) {
        builder = builder.credentials(Credentials::new(
            user.to_owned(),
            config.smtp_password.clone().unwrap_or_default(),
        ));
    }
    Ok(builder.build())
}

/// TLS towards `host`: the public roots, or only the CA of `smtp_ca_file`; the client
/// certificate of `smtp_client_cert_file` if set. The files are read here, once at start-up.
fn tls_parameters(config: &MailConfig, host: &str) -> Result<TlsParameters, MailError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path)
            .map_err(|e| MailError::Transport(format!("fichier {} : {e}", path.display())))
    };
    let unusable = |what: &str, e: smtp::Error| MailError::Transport(format!("{what} : {e}"));
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(ca) = config.smtp_ca_file.as_deref() {
        let ca = Certificate::from_pem(&read(ca)?).map_err(|e| unusable("mail.smtp_ca_file", e))?;
        // Only the private CA: a public certificate for the same name must not pass.
        builder = builder
            .certificate_store(CertificateStore::None)
            .add_root_certificate(ca);
    }
    if let (Some(cert), Some(key)) = (
        config.smtp_client_cert_file.as_deref(),
        config.smtp_client_key_file.as_deref(),
    ) {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let pem = read(cert)?;
        let leaf = CertificateDer::pem_slice_iter(&pem)
            .next()
            .and_then(Result::ok)
            .ok_or_else(|| {
                MailError::Transport("mail.smtp_client_cert_file : aucun certificat PEM".into())
            })?;
        // lettre 0.11's rustls backend takes this argument as one DER certificate despite the
        // method's name (it wraps the bytes as they are): hand it the leaf's DER. The server
        // must therefore know any intermediate CA of the client certificate.
        let identity = Identity::from_pem(leaf.as_ref(), &read(key)?)
            .map_err(|e| unusable("mail.smtp_client_cert_file", e))?;
        builder = builder.identify_with(identity);
    }
    builder
        .build()
        .map_err(|e| MailError::Transport(format!("TLS vers {host} : {e}")))
}

/// Sorts an SMTP error into "try again" or "give up", keeping only what may be logged.
fn classify(e: &smtp::Error) -> Failure {
    let smtp_code = e.status().map(|c| c.to_string());
    let (reason, retry) = if e.is_permanent() {
        ("refus définitif du serveur SMTP", false)
    } else if e.is_transient() {
        ("refus temporaire du serveur SMTP", true)
    } else if e.is_timeout() {
        ("délai de réponse du serveur SMTP dépassé", true)
    } else if e.is_tls() {
        ("échec de la négociation TLS", true)
    } else if e.is_client() {
        // lettre's own refusal, e.g. STARTTLS required but not offered: no retry mends it.
        ("échange SMTP refusé par le client", false)
    } else {
        ("connexion au serveur SMTP impossible", true)
    };
    Failure {
        reason: reason.to_owned(),
        smtp_code,
        retry,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::{accounts::Email, mail::messages};

    /// Collects log lines in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port()
    }

    #[tokio::test]
    async fn a_failed_send_is_logged_with_context_but_without_recipient_or_body() {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let config = MailConfig {
            transport: MailTransport::Smtp,
            smtp_host: "127.0.0.1".into(),
            smtp_port: closed_port(),
            smtp_tls: SmtpTls::None,
            ..MailConfig::default()
        };
        let mailer = Mailer::from_config(&config)
            .unwrap()
            .with_first_retry_delay(Duration::from_millis(1));
        let to = Email::parse("alice@centre.fr").unwrap();
        let message =
            messages::signup_code("https://connect.example", &to, "764906", "jeton-du-lien")
                .unwrap();

        let error = mailer.send(&message).await.unwrap_err();
        assert!(matches!(
            error,
            MailError::NotSent {
                attempts: SEND_ATTEMPTS,
                ..
            }
        ));

        let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            logs.matches("e-mail attempt failed; retrying").count(),
            2,
            "{logs}"
        );
        assert_eq!(logs.matches("e-mail not sent").count(), 1, "{logs}");
        assert!(logs.contains("signup_code"), "{logs}");
        assert!(!logs.contains("alice"), "{logs}");
        assert!(!logs.contains("764906"), "{logs}");
    }

    #[tokio::test]
    async fn the_outbox_transport_writes_the_message_as_sent() {
        let dir = tempfile::tempdir().unwrap();
        let config = MailConfig {
            outbox_dir: dir.path().join("outbox"),
            ..MailConfig::default()
        };
        let mailer = Mailer::from_config(&config).unwrap();
        let to = Email::parse("alice@centre.fr").unwrap();
        mailer
            .send(
                &messages::signup_code("https://connect.example", &to, "764906", "jeton-du-lien")
                    .unwrap(),
            )
            .await
            .unwrap();

        let listed = mailer.outbox().unwrap().list().await.unwrap();
        assert_eq!(listed.len(), 1);
        let m = &listed[0];
        assert_eq!(m.subject, "Validation de votre compte EFP CONNECT");
        assert_eq!(m.to, "alice@centre.fr");
        assert_eq!(m.from, "EFP Connect <no-reply@emploi.gouv.fr>");
        assert!(m.text.contains("764906"));
        assert!(m.html.contains("764906"));
    }
}
