//! The HTTP client that sends deliveries (docs/webhooks.md, "Where deliveries may go" and
//! "Retries"): one POST per attempt with the Standard Webhooks headers, the whole answer
//! within the timeout, no redirect followed, no proxy, at most 4 KiB of the answer read and
//! 1 KiB kept. Host names are resolved by [`GuardedResolver`], which hands the connector only
//! addresses outside the blocked ranges: a refused name never gets a connection.

use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use super::guard::{self, Blocked};
use super::policy::{retry_after_seconds, Answer};

/// The most of an answer read.
pub const READ_LIMIT: u64 = 4 * 1024;
/// The most of an answer kept in the delivery log.
pub const KEEP_LIMIT: usize = 1024;

/// Resolves like the system does, then keeps only the addresses the guard lets through
/// ([`guard::check`]); when none is left, refuses with the first blocked one.
#[derive(Debug)]
pub struct GuardedResolver {
    inner: DefaultResolver,
    allow_loopback: bool,
}

impl GuardedResolver {
    pub fn new(allow_loopback: bool) -> GuardedResolver {
        GuardedResolver {
            inner: DefaultResolver::default(),
            allow_loopback,
        }
    }

    /// The addresses of `resolved` a delivery may connect to, or why none.
    pub fn keep(
        &self,
        resolved: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Vec<SocketAddr>, Blocked> {
        let mut refused = None;
        let mut kept = Vec::new();
        for address in resolved {
            match guard::check(address.ip(), self.allow_loopback) {
                Ok(()) => kept.push(address),
                Err(blocked) => refused = refused.or(Some(blocked)),
            }
        }
        match (kept.is_empty(), refused) {
            (true, Some(blocked)) => Err(blocked),
            _ => Ok(kept),
        }
    }
}

impl Resolver for GuardedResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let resolved = self.inner.resolve(uri, config, timeout)?;
        let kept = self
            .keep(resolved.iter().copied())
            .map_err(|blocked| ureq::Error::Other(Box::new(blocked)))?;
        let mut out = self.empty();
        for address in kept {
            out.push(address);
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

/// How an attempt went: what the policy decides on, and what the delivery log keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub answer: Answer,
    /// The start of the answer's body, or why there was no answer; at most [`KEEP_LIMIT`]
    /// bytes.
    pub excerpt: String,
}

/// One attempt's request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub url: &'a str,
    /// `webhook-id`.
    pub id: &'a str,
    /// `webhook-timestamp`.
    pub timestamp: i64,
    /// `webhook-signature`.
    pub signature: &'a str,
    pub body: &'a str,
}

/// Sends deliveries; one per server, shared by its dispatcher's threads (connections are
/// kept alive per host).
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
}

impl Client {
    /// `allow_insecure`: plain `http://` and loopback addresses may be used (development
    /// and tests).
    pub fn new(timeout: Duration, allow_insecure: bool) -> Client {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            .https_only(!allow_insecure)
            .proxy(None)
            .user_agent(concat!("Creditdesk-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            DefaultConnector::default(),
            GuardedResolver::new(allow_insecure),
        );
        Client { agent }
    }

    /// One attempt: POSTs the body with the Standard Webhooks headers and reads the answer.
    pub fn send(&self, request: Request<'_>) -> Reply {
        let sent = self
            .agent
            .post(request.url)
            .header("content-type", "application/json")
            .header("webhook-id", request.id)
            .header("webhook-timestamp", request.timestamp.to_string())
            .header("webhook-signature", request.signature)
            .send(request.body);
        match sent {
            Ok(mut response) => {
                let code = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.to_str().ok())
                    .and_then(retry_after_seconds);
                let mut read = Vec::new();
                let body = response
                    .body_mut()
                    .as_reader()
                    .take(READ_LIMIT)
                    .read_to_end(&mut read);
                let mut excerpt = kept(&String::from_utf8_lossy(&read));
                if let Err(error) = body {
                    excerpt = kept(&format!("{excerpt} (the answer broke off: {error})"));
                }
                Reply {
                    answer: Answer::Status { code, retry_after },
                    excerpt,
                }
            }
            Err(error) => Reply {
                answer: Answer::NoAnswer,
                excerpt: kept(&why(&error)),
            },
        }
    }
}

/// Why an attempt had no answer, in words for the delivery log.
fn why(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Other(inner) => match inner.downcast_ref::<Blocked>() {
            Some(blocked) => format!("Not sent: {blocked}."),
            None => format!("No answer: {inner}."),
        },
        ureq::Error::Timeout(_) => "No answer within the time allowed.".to_owned(),
        ureq::Error::HostNotFound => "No answer: the host name does not resolve.".to_owned(),
        ureq::Error::RequireHttpsOnly(_) => {
            "Not sent: only https:// addresses are allowed.".to_owned()
        }
        other => format!("No answer: {other}."),
    }
}

/// `text` cut to at most [`KEEP_LIMIT`] bytes at a character boundary.
fn kept(text: &str) -> String {
    let mut end = text.len().min(KEEP_LIMIT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_a_kib_on_a_character_boundary() {
        assert_eq!(kept("short"), "short");
        let long = "é".repeat(1000);
        let cut = kept(&long);
        assert!(cut.len() <= KEEP_LIMIT && cut.chars().all(|c| c == 'é'));
        assert_eq!(cut.len(), 1024);
    }
}
