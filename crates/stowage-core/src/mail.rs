//! Outgoing mail: SMTP when configured, otherwise an outbox folder in the data dir, so a
//! single-machine install still delivers (a person or a script picks the files up).

use std::path::PathBuf;

use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use stowage_types::{Error, Result};

/// Where a message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// To the SMTP relay.
    Smtp,
    /// Into the outbox folder, as this file (its path below the data dir: `outbox/<id>.eml`).
    Outbox(String),
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    /// An SMTP relay.
    Smtp { transport: AsyncSmtpTransport<Tokio1Executor>, from: Mailbox },
    /// `.eml` files in a folder.
    Outbox { dir: PathBuf, from: Mailbox },
}

impl Mailer {
    /// SMTP from a URL such as `smtp://user:pass@host:587?tls=required` or `smtps://host`.
    pub fn smtp(url: &str, from: &str) -> std::result::Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|error| format!("the SMTP URL is not valid: {error}"))?
            .build();
        Ok(Mailer::Smtp { transport, from: parse_from(from)? })
    }

    /// An outbox folder.
    pub fn outbox(dir: PathBuf, from: &str) -> std::result::Result<Self, String> {
        Ok(Mailer::Outbox { dir, from: parse_from(from)? })
    }

    /// Sends a plain-text message. The log line names the recipient, never the body (which may
    /// hold a link that grants access).
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<Delivery> {
        let to: Mailbox =
            to.parse().map_err(|_| Error::validation(format!("\"{to}\" is not a valid email address.")))?;
        let from = match self {
            Mailer::Smtp { from, .. } | Mailer::Outbox { from, .. } => from.clone(),
        };
        let message = Message::builder()
            .from(from)
            .to(to.clone())
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|error| Error::internal(format!("building mail: {error}")))?;
        match self {
            Mailer::Smtp { transport, .. } => {
                transport.send(message).await.map_err(|error| Error::internal(format!("sending mail: {error}")))?;
                tracing::info!(recipient = %to, "mail sent");
                Ok(Delivery::Smtp)
            }
            Mailer::Outbox { dir, .. } => {
                tokio::fs::create_dir_all(dir).await.map_err(Error::internal)?;
                let file = format!("{}.eml", uuid::Uuid::now_v7());
                let path = dir.join(&file);
                tokio::fs::write(&path, message.formatted()).await.map_err(Error::internal)?;
                tracing::info!(recipient = %to, path = %path.display(), "no SMTP configured; mail written to the outbox");
                Ok(Delivery::Outbox(format!("outbox/{file}")))
            }
        }
    }
}

fn parse_from(from: &str) -> std::result::Result<Mailbox, String> {
    from.parse().map_err(|_| format!("\"{from}\" is not a valid sender address"))
}
