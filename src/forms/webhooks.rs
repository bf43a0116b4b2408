//! Webhook endpoints (docs/console.md, "Webhooks"): adding one (`POST /webhooks`), what an
//! owner does to one (`POST /webhooks/{id}`), and replaying its events since a time
//! (`POST /webhooks/{id}/replay`).
//!
//! An address is read as browsers and HTTP clients read it (the `url` crate, WHATWG), so the
//! host checked here is the host the dispatcher calls. A host written as an IP address is
//! judged here by the delivery guard (docs/webhooks.md, "Where deliveries may go"); a name
//! is judged when a delivery resolves it.

use std::net::IpAddr;

use serde::Deserialize;
use time::{Date, PrimitiveDateTime, Time};
use url::{Host, Url};

use super::{FieldError, FieldErrors};
use crate::domain::{forbidden_character, quoted};
use crate::store::webhooks::NewEndpoint;
use crate::webhooks::events::EventType;
use crate::webhooks::guard;

/// The longest address accepted.
pub const MAX_URL_CHARS: usize = 2_000;
/// The longest description accepted.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// The add form as the browser sends it: `events` repeats, one value per ticked box.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NewEndpointFields {
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
}

impl NewEndpointFields {
    /// The form as it first shows: `credit.changed` ticked.
    pub fn fresh() -> NewEndpointFields {
        NewEndpointFields {
            events: vec![EventType::CreditChanged.as_str().to_owned()],
            ..NewEndpointFields::default()
        }
    }

    /// The checked endpoint, or a message beside each field that needs one.
    /// `allow_insecure` is the server's `CREDITDESK_WEBHOOKS_ALLOW_INSECURE`.
    pub fn parse(&self, allow_insecure: bool) -> Result<NewEndpoint, FieldErrors> {
        let mut errors = FieldErrors::default();
        let url = errors.check(endpoint_url(&self.url, allow_insecure));
        let events = errors.check(events(&self.events));
        let description = errors.take(description(&self.description));
        errors.finish(|| {
            Some(NewEndpoint {
                url: url?,
                description,
                events: events?,
            })
        })
    }

    /// Whether the box of `kind` is ticked in what was sent.
    pub fn ticks(&self, kind: EventType) -> bool {
        self.events.iter().any(|e| e.trim() == kind.as_str())
    }
}

/// `https://` and a public host: the address webhooks are sent to, as it will be stored
/// (normalised: `HTTPS://Example.COM` is `https://example.com/`).
pub fn endpoint_url(raw: &str, allow_insecure: bool) -> Result<String, FieldError> {
    let refuse = |message: String| Err(FieldError::new("url", message));
    let typed = raw.trim();
    if typed.is_empty() {
        return refuse(
            "Enter the address to send events to, like https://example.com/webhooks/creditdesk."
                .into(),
        );
    }
    let length = typed.chars().count();
    if length > MAX_URL_CHARS {
        return refuse(format!(
            "Keep the address to 2,000 characters (this one has {}).",
            crate::domain::format_grouped(&length.to_string())
        ));
    }
    if let Some(character) = forbidden_character(typed, false) {
        return refuse(format!("The address contains {character}."));
    }
    if typed.contains(char::is_whitespace) {
        return refuse("The address contains a space. Copy it again without spaces.".into());
    }
    let url = match Url::parse(typed) {
        Ok(url) => url,
        Err(error) => return refuse(unreadable(error, allow_insecure)),
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure => {}
        "http" => return refuse(
            "Use https://: plain http:// would send the events and their signatures unencrypted."
                .into(),
        ),
        _ => return refuse(start_with(allow_insecure)),
    }
    let Some(host) = url.host() else {
        return refuse("Add the host name after https://, like example.com.".into());
    };
    if !url.username().is_empty() || url.password().is_some() {
        return refuse(
            "Leave out the user name and password (the part before @): the signature tells the receiver the events come from Creditdesk."
                .into(),
        );
    }
    if url.fragment().is_some() {
        return refuse("Leave out the part from # on: it is never sent to the receiver.".into());
    }
    let address = match host {
        Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        Host::Domain(name) => {
            if is_localhost(name) && !allow_insecure {
                return refuse(format!(
                    "{} is this server itself: webhooks go only to public internet addresses.",
                    quoted(name)
                ));
            }
            None
        }
    };
    if let Some(Err(blocked)) = address.map(|ip| guard::check(ip, allow_insecure)) {
        return refuse(format!(
            "{} is in a blocked range ({}): webhooks go only to public internet addresses.",
            blocked.address, blocked.range
        ));
    }
    // International names grow when written for the wire (punycode).
    if url.as_str().chars().count() > MAX_URL_CHARS {
        return refuse("Keep the address to 2,000 characters once written for sending.".into());
    }
    Ok(url.into())
}

fn start_with(allow_insecure: bool) -> String {
    match allow_insecure {
        true => "Start the address with https:// (or http://), like https://example.com/webhooks."
            .into(),
        false => "Start the address with https://, like https://example.com/webhooks.".into(),
    }
}

/// Why an address could not be read, in words.
fn unreadable(error: url::ParseError, allow_insecure: bool) -> String {
    use url::ParseError::*;
    match error {
        RelativeUrlWithoutBase | RelativeUrlWithCannotBeABaseBase => start_with(allow_insecure),
        EmptyHost => "Add the host name after https://, like example.com.".into(),
        InvalidPort => "The port after the host name must be a number up to 65535.".into(),
        InvalidIpv4Address => "The host looks like an IPv4 address but is not one.".into(),
        InvalidIpv6Address => "The IPv6 address between [ and ] is not one.".into(),
        IdnaError | InvalidDomainCharacter => {
            "The host name holds characters a host name cannot have.".into()
        }
        _ => "This is not a web address that can be read. Copy it again from the receiver's documentation."
            .into(),
    }
}

/// `localhost`, `LocalHost.`, `api.localhost`: names that always mean this machine.
fn is_localhost(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// The ticked event types, each once, at least one.
fn events(typed: &[String]) -> Result<Vec<EventType>, FieldError> {
    let mut chosen = Vec::new();
    for text in typed.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        match EventType::parse(text) {
            Some(kind) if EventType::CHOOSABLE.contains(&kind) => {
                if !chosen.contains(&kind) {
                    chosen.push(kind);
                }
            }
            Some(_) => {
                return Err(FieldError::new(
                    "events",
                    "Every endpoint receives its test pings: choose among the other events.",
                ))
            }
            None => {
                return Err(FieldError::new(
                    "events",
                    format!("There is no event {} to send.", quoted(text)),
                ))
            }
        }
    }
    if chosen.is_empty() {
        return Err(FieldError::new(
            "events",
            "Choose at least one event to send.",
        ));
    }
    Ok(chosen)
}

/// Optional: what the endpoint is for, shown in the list.
fn description(raw: &str) -> Result<String, FieldError> {
    let text = raw.trim();
    if let Some(character) = forbidden_character(text, false) {
        return Err(FieldError::new(
            "description",
            format!("The description contains {character}."),
        ));
    }
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(FieldError::new(
            "description",
            "Keep the description to 200 characters.",
        ));
    }
    Ok(text.to_owned())
}

/// What an owner does to an endpoint (`POST /webhooks/{id}`, field `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointAction {
    Disable,
    Enable,
    /// A new secret; the old one keeps signing for 24 hours.
    Rotate,
    /// Queue a `ping`.
    Test,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EndpointActionFields {
    pub action: String,
}

impl EndpointActionFields {
    pub fn parse(&self) -> Result<EndpointAction, FieldErrors> {
        match self.action.trim() {
            "disable" => Ok(EndpointAction::Disable),
            "enable" => Ok(EndpointAction::Enable),
            "rotate" => Ok(EndpointAction::Rotate),
            "test" => Ok(EndpointAction::Test),
            _ => Err(FieldError::new(
                "action",
                "Say what to do with the endpoint: disable, enable, rotate or test.",
            )
            .into()),
        }
    }
}

/// `POST /webhooks/{id}/replay`: `since`, a UTC time as `<input type="datetime-local">`
/// sends it (`2026-12-01T09:30`, seconds optional) or a day (`2026-12-01`, from its start).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ReplayFields {
    pub since: String,
}

impl ReplayFields {
    /// The time to replay from, not after `now`.
    pub fn parse(&self, now: PrimitiveDateTime) -> Result<PrimitiveDateTime, FieldErrors> {
        let typed = self.since.trim();
        if typed.is_empty() {
            return Err(FieldError::new(
                "since",
                "Enter the time to send the events again from (UTC).",
            )
            .into());
        }
        let Some(since) = parse_since(typed) else {
            return Err(FieldError::new(
                "since",
                format!(
                    "Enter the time as YYYY-MM-DDTHH:MM or a day as YYYY-MM-DD, like 2026-12-01T09:30 (got {}).",
                    quoted(typed)
                ),
            )
            .into());
        };
        if since > now {
            return Err(FieldError::new(
                "since",
                "That time is in the future: there are no events after it yet.",
            )
            .into());
        }
        Ok(since)
    }
}

fn parse_since(text: &str) -> Option<PrimitiveDateTime> {
    use time::macros::format_description;
    if let Ok(day) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        return Some(PrimitiveDateTime::new(day, Time::MIDNIGHT));
    }
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    PrimitiveDateTime::parse(text, minutes)
        .or_else(|_| PrimitiveDateTime::parse(text, seconds))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::unclear;

    fn fields(url: &str, events: &[&str], description: &str) -> NewEndpointFields {
        NewEndpointFields {
            url: url.into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            description: description.into(),
        }
    }

    /// The one message of `field`, checked for clarity against what was typed.
    fn refusal(typed: &NewEndpointFields, allow_insecure: bool, field: &str) -> String {
        let errors = typed.parse(allow_insecure).unwrap_err();
        let message = errors
            .get(field)
            .unwrap_or_else(|| panic!("no message for {field}: {errors:?}"))
            .to_owned();
        let seen = format!("{} {:?} {}", typed.url, typed.events, typed.description);
        assert_eq!(unclear(&message, &seen), None, "{message}");
        message
    }

    #[test]
    fn reads_an_endpoint() {
        let endpoint = fields(
            " HTTPS://Hooks.Example.COM/creditdesk?team=billing ",
            &["credit.expiring", "credit.changed", "credit.expiring"],
            "  Billing system ",
        )
        .parse(false)
        .unwrap();
        assert_eq!(
            endpoint,
            NewEndpoint {
                url: "https://hooks.example.com/creditdesk?team=billing".into(),
                description: "Billing system".into(),
                events: vec![EventType::Expiring, EventType::CreditChanged],
            }
        );
        assert_eq!(
            fields("https://example.com", &["credit.balance_low"], "")
                .parse(false)
                .unwrap()
                .url,
            "https://example.com/"
        );
        for public in [
            "https://93.184.215.14/hook",
            "https://[2606:4700:4700::1111]/hook",
            "https://[::ffff:8.8.8.8]/hook",
            "https://example.com:8443/hook",
            "https://bücher.example/hook",
        ] {
            assert!(
                fields(public, &["credit.changed"], "").parse(false).is_ok(),
                "{public}"
            );
        }
    }

    #[test]
    fn refuses_every_address_that_cannot_receive_webhooks() {
        let long = format!("https://example.com/{}", "a".repeat(2_000));
        let cases: &[(&str, &str)] = &[
            ("", "Enter the address"),
            ("   ", "Enter the address"),
            (&long, "2,000 characters"),
            ("http://example.com/hook", "Use https://"),
            ("javascript:alert(1)", "Start the address with https://"),
            ("ftp://example.com/hook", "Start the address with https://"),
            ("example.com/hook", "Start the address with https://"),
            ("https://", "host name"),
            ("https://:443/hook", "host name"),
            (
                "https://user:secret@example.com/hook",
                "user name and password",
            ),
            ("https://token@example.com/hook", "user name and password"),
            ("https://example.com/hook#part", "part from #"),
            ("https://example.com/hook#", "part from #"),
            ("https://exa mple.com/hook", "a space"),
            ("https://example.com/\u{202E}hook", "direction control"),
            ("https://example.com:99999/hook", "port"),
            ("https://[::1/hook", "IPv6"),
            (
                "https://exa<mple.com/",
                "characters a host name cannot have",
            ),
            ("https://localhost/hook", "this server itself"),
            ("https://LocalHost./hook", "this server itself"),
            ("https://api.localhost/hook", "this server itself"),
            ("https://127.0.0.1/hook", "blocked range (loopback)"),
            ("https://10.1.2.3/hook", "blocked range (private)"),
            ("https://172.16.0.1/hook", "blocked range (private)"),
            ("https://192.168.1.1/hook", "blocked range (private)"),
            (
                "https://169.254.169.254/latest",
                "blocked range (link-local)",
            ),
            (
                "https://100.64.0.1/",
                "blocked range (shared address space)",
            ),
            ("https://0.0.0.0/", "blocked range (this network)"),
            ("https://0/", "blocked range (this network)"),
            ("https://2130706433/", "blocked range (loopback)"),
            ("https://0x7f.1/", "blocked range (loopback)"),
            ("https://10.0.0.1./hook", "blocked range (private)"),
            ("https://192.0.2.1/", "blocked range (documentation)"),
            ("https://198.18.0.1/", "blocked range (benchmarking)"),
            ("https://224.0.0.1/", "blocked range (multicast)"),
            ("https://255.255.255.255/", "blocked range (reserved)"),
            ("https://[::1]/hook", "blocked range (loopback)"),
            ("https://[::]/hook", "blocked range (unspecified)"),
            (
                "https://[fd00::1]/hook",
                "blocked range (unique local (private))",
            ),
            ("https://[fe80::1]/hook", "blocked range (link-local)"),
            ("https://[ff02::1]/hook", "blocked range (multicast)"),
            (
                "https://[2001:db8::1]/hook",
                "blocked range (documentation)",
            ),
            ("https://[64:ff9b::a00:1]/hook", "blocked range (NAT64)"),
            ("https://[::ffff:10.0.0.1]/hook", "blocked range (private)"),
            (
                "https://[::ffff:127.0.0.1]/hook",
                "blocked range (loopback)",
            ),
            (
                "https://[::ffff:169.254.169.254]/",
                "blocked range (link-local)",
            ),
        ];
        for (url, expected) in cases {
            let message = refusal(&fields(url, &["credit.changed"], ""), false, "url");
            assert!(message.contains(expected), "{url}: {message}");
        }
    }

    #[test]
    fn the_insecure_setting_opens_http_and_loopback_only() {
        let insecure = |url: &str| fields(url, &["credit.changed"], "").parse(true);
        for open in [
            "http://example.com/hook",
            "http://127.0.0.1:8080/hook",
            "http://localhost:8080/hook",
            "https://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
        ] {
            assert!(insecure(open).is_ok(), "{open}");
        }
        for closed in [
            "http://10.0.0.1/hook",
            "http://169.254.169.254/",
            "http://[fd00::1]/",
            "ftp://example.com/",
            "http://user:pw@localhost/",
        ] {
            let message = refusal(&fields(closed, &["credit.changed"], ""), true, "url");
            assert!(!message.is_empty(), "{closed}");
        }
        assert!(refusal(
            &fields("ftp://example.com/", &["credit.changed"], ""),
            true,
            "url"
        )
        .contains("(or http://)"));
    }

    #[test]
    fn refuses_events_that_are_not_offered() {
        let url = "https://example.com/hook";
        for (events, expected) in [
            (&[][..], "at least one"),
            (&["", " "][..], "at least one"),
            (
                &["credit.changed", "credit.deleted"][..],
                "no event \"credit.deleted\"",
            ),
            (&["Credit.Changed"][..], "no event"),
            (&["ping"][..], "test pings"),
        ] {
            let message = refusal(&fields(url, events, ""), false, "events");
            assert!(message.contains(expected), "{events:?}: {message}");
        }
    }

    #[test]
    fn refuses_a_description_that_is_too_long_or_hides_characters() {
        let url = "https://example.com/hook";
        let ok = fields(url, &["credit.changed"], &"é".repeat(200)).parse(false);
        assert!(ok.is_ok());
        for (description, expected) in [
            ("é".repeat(201), "200 characters"),
            ("line\nbreak".to_owned(), "control character"),
            ("tab\there".to_owned(), "control character"),
            ("refund \u{202E}54321".to_owned(), "direction control"),
        ] {
            let message = refusal(
                &fields(url, &["credit.changed"], &description),
                false,
                "description",
            );
            assert!(message.contains(expected), "{description:?}: {message}");
        }
    }

    #[test]
    fn every_field_gets_its_own_message() {
        let errors = fields("http://10.0.0.1", &[], "\u{0}")
            .parse(false)
            .unwrap_err();
        assert_eq!(
            errors.iter().map(|e| e.field).collect::<Vec<_>>(),
            vec!["url", "events", "description"]
        );
    }

    #[test]
    fn reads_the_action() {
        let action = |text: &str| {
            EndpointActionFields {
                action: text.into(),
            }
            .parse()
        };
        assert_eq!(action("disable"), Ok(EndpointAction::Disable));
        assert_eq!(action(" enable "), Ok(EndpointAction::Enable));
        assert_eq!(action("rotate"), Ok(EndpointAction::Rotate));
        assert_eq!(action("test"), Ok(EndpointAction::Test));
        for bad in ["", "delete", "DISABLE"] {
            let errors = action(bad).unwrap_err();
            let message = errors.get("action").unwrap();
            assert_eq!(unclear(message, bad), None);
        }
    }

    #[test]
    fn reads_the_replay_time() {
        use time::macros::datetime;
        let now = datetime!(2026-12-02 10:00:00);
        let since = |text: &str| ReplayFields { since: text.into() }.parse(now);
        assert_eq!(since("2026-12-01T09:30"), Ok(datetime!(2026-12-01 09:30)));
        assert_eq!(
            since(" 2026-12-01T09:30:15 "),
            Ok(datetime!(2026-12-01 09:30:15))
        );
        assert_eq!(since("2026-12-01"), Ok(datetime!(2026-12-01 00:00)));
        assert_eq!(since("2026-12-02T10:00"), Ok(now));
        for (bad, expected) in [
            ("", "Enter the time"),
            ("2026-12-02T10:01", "in the future"),
            ("2027-01-01", "in the future"),
            ("2026-02-30", "YYYY-MM-DD"),
            ("2026-12-01 09:30", "YYYY-MM-DDTHH:MM"),
            ("yesterday", "YYYY-MM-DDTHH:MM"),
            ("2026-12-01T25:00", "YYYY-MM-DDTHH:MM"),
        ] {
            let errors = since(bad).unwrap_err();
            let message = errors.get("since").unwrap();
            assert!(message.contains(expected), "{bad}: {message}");
            assert_eq!(unclear(message, bad), None);
        }
    }
}
