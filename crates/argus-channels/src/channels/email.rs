//! Email (`email_configs`): one message per notification over SMTP, as Alertmanager's
//! email integration sends it.
//!
//! Connection security follows Alertmanager: port 465 means TLS from the first byte
//! ("SMTPS"); otherwise `require_tls` (default true) demands STARTTLS and fails when the
//! server does not offer it; with `require_tls: false` the session stays in plain text,
//! and then a password may only go to a server on this machine (Go's `PlainAuth` rule,
//! which Alertmanager inherits). The message has a text part and an HTML part. A 4xx SMTP
//! reply or a lost connection is retried; a 5xx reply (a refused recipient, bad
//! credentials) and a TLS failure are not.

use std::net::IpAddr;

use argus_notify::{IntegrationKind as Kind, config::EmailConfig};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message as Mail, Tokio1Executor,
    message::{
        Mailbox, Mailboxes, MultiPart, SinglePart,
        header::{ContentType, HeaderName, HeaderValue},
    },
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::{Certificate, Tls, TlsParameters},
        extension::ClientId,
    },
};

use super::http::{error_chain, is_tls_failure, secret_or_file};
use crate::{
    deliver::{Attempt, AttemptError, Delivered, Reason},
    kind::ConfigError,
};

#[derive(Clone)]
pub(crate) struct Email {
    cfg: EmailConfig,
    from: Address<Mailbox>,
    to: Address<Mailboxes>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("smarthost", &self.cfg.smarthost)
            .finish_non_exhaustive()
    }
}

/// Splits `host:port` (`[::1]:25` for IPv6).
fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    Some((host.to_owned(), port.parse().ok()?))
}

/// An address field: checked at load, or, when it is a template (Alertmanager templates
/// `to` and `from` too), rendered and checked at each delivery.
#[derive(Clone)]
enum Address<T> {
    Fixed(T),
    Template(String),
}

impl<T: std::str::FromStr + Clone> Address<T>
where
    T::Err: std::fmt::Display,
{
    fn load(field: &'static str, text: &str) -> Result<Self, ConfigError> {
        if text.contains("{{") {
            return Ok(Address::Template(text.to_owned()));
        }
        text.parse().map(Address::Fixed).map_err(|e| ConfigError {
            kind: Kind::Email,
            field,
            reason: format!("{text:?}: {e}"),
        })
    }

    fn get(&self, field: &str, a: &Attempt<'_>) -> Result<T, AttemptError> {
        match self {
            Address::Fixed(v) => Ok(v.clone()),
            Address::Template(t) => {
                let text = a.text(t)?;
                text.trim().parse().map_err(|e| {
                    AttemptError::new(
                        Reason::Invalid,
                        format!("{field} rendered as {text:?}, not an address: {e}"),
                    )
                })
            }
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Email {
    pub fn new(c: &EmailConfig) -> Result<Self, ConfigError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let err = |field, reason: String| ConfigError {
            kind: Kind::Email,
            field,
            reason,
        };
        let to: Address<Mailboxes> = Address::load("to", &c.to)?;
        if let Address::Fixed(to) = &to
            && to.iter().next().is_none()
        {
            return Err(err("to", "required".into()));
        }
        let from: Address<Mailbox> = Address::load("from", &c.from)?;
        let (host, port) = split_host_port(&c.smarthost)
            .ok_or_else(|| err("smarthost", format!("{:?} is not host:port", c.smarthost)))?;
        for name in c.headers.keys() {
            HeaderName::new_from_ascii(name.clone())
                .map_err(|_| err("headers", format!("{name:?} is not a header name")))?;
        }

        let tls_on_connect = c.tls_on_connect.unwrap_or(port == 465);
        if !c.tls_config.cert_file.is_empty() || !c.tls_config.key_file.is_empty() {
            return Err(err(
                "tls_config.cert_file",
                "client certificates are not supported by Argus yet".into(),
            ));
        }
        let tls_params = || -> Result<TlsParameters, ConfigError> {
            let name = if c.tls_config.server_name.is_empty() {
                host.clone()
            } else {
                c.tls_config.server_name.clone()
            };
            let mut b = TlsParameters::builder(name);
            let path = &c.tls_config.ca_file;
            if !path.is_empty() {
                let pem = std::fs::read(path)
                    .map_err(|e| err("tls_config.ca_file", format!("{path}: {e}")))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| err("tls_config.ca_file", format!("{path}: {e}")))?;
                b = b.add_root_certificate(cert);
            }
            b = b.dangerous_accept_invalid_certs(c.tls_config.insecure_skip_verify);
            b.build_rustls()
                .map_err(|e| err("tls_config", error_chain(&e)))
        };
        let tls = if tls_on_connect {
            Tls::Wrapper(tls_params()?)
        } else if c.require_tls.unwrap_or(true) {
            Tls::Required(tls_params()?)
        } else {
            Tls::None
        };

        let password = secret_or_file(
            &c.auth_password,
            &c.auth_password_file,
            Kind::Email,
            "auth_password_file",
        )?;
        if !c.auth_username.is_empty() {
            // Alertmanager picks CRAM-MD5 when the server offers it and `auth_secret` is
            // set, else PLAIN or LOGIN with the password; Argus has the last two only.
            if password.is_empty() && !c.auth_secret.is_empty() {
                return Err(err(
                    "auth_secret",
                    "CRAM-MD5 is not supported by Argus; give auth_password for PLAIN or LOGIN"
                        .into(),
                ));
            }
            if !c.auth_identity.is_empty() && c.auth_identity != c.auth_username {
                return Err(err(
                    "auth_identity",
                    "an identity other than auth_username is not supported by Argus".into(),
                ));
            }
        }
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .tls(tls)
            .hello_name(ClientId::Domain(c.hello.clone()))
            // Each attempt is bounded from outside; lettre's own default is a minute.
            .timeout(None);
        if !c.auth_username.is_empty() {
            let user = &c.auth_username;
            if !tls_on_connect && !c.require_tls.unwrap_or(true) && !is_loopback(&host) {
                return Err(err(
                    "require_tls",
                    format!(
                        "false with auth_username set: the password would cross the network \
                         to {host} unencrypted"
                    ),
                ));
            }
            b = b
                .credentials(Credentials::new(user.clone(), password.expose().to_owned()))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        Ok(Email {
            cfg: c.clone(),
            from,
            to,
            transport: b.build(),
        })
    }

    /// The message for an attempt.
    fn mail(&self, a: &Attempt<'_>) -> Result<Mail, AttemptError> {
        // Every header is a template; `Subject` defaults to `email.default.subject`.
        let mut subject = String::new();
        let mut headers = Vec::new();
        for (name, value) in &self.cfg.headers {
            let value = a.text(value)?;
            match name.to_ascii_lowercase().as_str() {
                "subject" => subject = value,
                // The envelope's own, from `to` and `from`.
                "to" | "from" => {}
                _ => headers.push((name, value)),
            }
        }
        let from = self.from.get("from", a)?;
        let to = self.to.get("to", a)?;
        if to.iter().next().is_none() {
            return Err(AttemptError::new(
                Reason::Invalid,
                "to rendered as no address",
            ));
        }
        let mut b = Mail::builder()
            .from(from.clone())
            .mailbox(lettre::message::header::To::from(to))
            .subject(subject)
            .message_id(Some(message_id(&from, a)));
        for (name, value) in headers {
            if let Ok(hn) = HeaderName::new_from_ascii(name.clone()) {
                b = b.raw_header(HeaderValue::new(hn, value));
            }
        }
        // As Alertmanager: a part for each of `text` and `html` that is set (by default
        // only `html`, rendered with its values escaped).
        let text = match self.cfg.text.as_str() {
            "" => None,
            t => Some(a.text(t)?),
        };
        let html = match self.cfg.html.as_str() {
            "" => None,
            t => Some(a.html(t)?),
        };
        let part = |kind: ContentType, body: String| SinglePart::builder().header(kind).body(body);
        let built = match (text, html) {
            (Some(text), Some(html)) => b.multipart(
                MultiPart::alternative()
                    .singlepart(part(ContentType::TEXT_PLAIN, text))
                    .singlepart(part(ContentType::TEXT_HTML, html)),
            ),
            (None, Some(html)) => b.singlepart(part(ContentType::TEXT_HTML, html)),
            (text, None) => b.singlepart(part(ContentType::TEXT_PLAIN, text.unwrap_or_default())),
        };
        built.map_err(|e| AttemptError::new(Reason::Invalid, format!("building the message: {e}")))
    }

    pub async fn attempt(&self, a: Attempt<'_>) -> Result<Delivered, AttemptError> {
        let mail = self.mail(&a)?;
        match tokio::time::timeout(a.timeout, self.transport.send(mail)).await {
            Err(_) => Err(AttemptError::timeout(a.timeout)),
            Ok(Ok(resp)) => Ok(Delivered {
                status: Some(u16::from(resp.code())),
            }),
            Ok(Err(e)) => Err(smtp_error(&e)),
        }
    }
}

/// How a failed SMTP session is judged: 4xx replies and lost connections may pass; 5xx
/// replies, a server without STARTTLS and TLS failures (an untrusted certificate) will
/// not.
fn smtp_error(e: &lettre::transport::smtp::Error) -> AttemptError {
    let msg = format!("smtp: {}", error_chain(e));
    let status = e.status().map(u16::from);
    let no_starttls = e.is_client() && e.to_string().contains("STARTTLS");
    let err = if is_tls_failure(e) || e.is_tls() || no_starttls {
        AttemptError::new(Reason::Tls, msg)
    } else if e.is_transient() {
        AttemptError::new(Reason::Smtp, msg).retryable()
    } else if e.is_permanent() || e.is_client() {
        AttemptError::new(Reason::Smtp, msg)
    } else if e.is_timeout() {
        AttemptError::new(Reason::Timeout, msg).retryable()
    } else {
        AttemptError::new(Reason::Network, msg).retryable()
    };
    match status {
        Some(s) => err.status(s),
        None => err,
    }
}

/// `<ms.random@sender-domain>`: unique without a host name lookup.
fn message_id(from: &Mailbox, a: &Attempt<'_>) -> String {
    let mut r = [0u8; 8];
    let _ = getrandom::fill(&mut r);
    format!(
        "<{}.{:016x}@{}>",
        a.now.as_millisecond(),
        u64::from_le_bytes(r),
        from.email.domain()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smarthost_splits_host_and_port() {
        assert_eq!(
            split_host_port("smtp.example.com:587"),
            Some(("smtp.example.com".into(), 587))
        );
        assert_eq!(split_host_port("[::1]:25"), Some(("::1".into(), 25)));
        assert_eq!(split_host_port("smtp.example.com"), None);
        assert_eq!(split_host_port(":25"), None);
    }

    #[test]
    fn a_password_never_goes_out_in_plain_text() {
        let yaml = "route: {receiver: r}\nreceivers: [{name: r, email_configs: [{to: ops@example.com, \
                    from: argus@example.com, smarthost: 'smtp.example.com:25', auth_username: argus, \
                    auth_password: pw, require_tls: false}]}]";
        let cfg = argus_notify::Config::load(yaml, "am.yml").expect("loads");
        let argus_notify::IntegrationConfig::Email(c) = cfg.receivers[0]
            .iter()
            .map(|(_, c)| c.clone())
            .next()
            .expect("one")
        else {
            panic!("not email")
        };
        let e = Email::new(&c).expect_err("refused");
        assert_eq!(e.field, "require_tls");
        let local = EmailConfig {
            smarthost: "127.0.0.1:25".into(),
            ..c
        };
        assert!(Email::new(&local).is_ok());
    }
}
