//! The running process, seen from outside (docs/operations.md): request ids on every answer
//! and log line, JSON logs, and a graceful stop on SIGTERM.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::served::Served;
use common::{Client, TestDb};

fn is_generated_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn every_answer_carries_a_request_id_taken_when_sane_and_made_up_otherwise() {
    let db = TestDb::new();
    let served = Served::start(&db.url, &[]);
    let mut client = Client::new(&served.address);

    let sane = "checkout-7.retry_2";
    let reply = client.get_with("/healthz", &[("X-Request-Id", sane)]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-request-id"), Some(sane));
    let longest = "a".repeat(64);
    let reply = client.get_with("/healthz", &[("X-Request-Id", &longest)]);
    assert_eq!(reply.header("x-request-id"), Some(longest.as_str()));

    for insane in ["", "two words", "semi;colon", "<b>", "a/b", &"a".repeat(65)] {
        let reply = client.get_with("/healthz", &[("X-Request-Id", insane)]);
        let id = reply.header("x-request-id").expect("an id");
        assert!(is_generated_id(id), "{insane:?} gave {id:?}");
    }

    let first = client.get("/healthz");
    let second = client.get("/healthz");
    let (first, second) = (
        first.header("x-request-id").expect("an id").to_owned(),
        second.header("x-request-id").expect("an id").to_owned(),
    );
    assert!(is_generated_id(&first) && is_generated_id(&second));
    assert_ne!(first, second);

    // Not found, a redirect to the sign-in, the API's 401 and 404, a console 404 behind
    // the sign-in, a 405: each has the id, and the API's errors are still JSON.
    let key = common::served::run(&db.url, &["api-key", "create", "--name", "ids"]);
    let key = String::from_utf8(key.stdout).unwrap();
    let bearer = format!("Bearer {}", key.lines().last().unwrap().trim());
    let (email, password) = served.owner.clone().expect("the owner was created");
    let mut admin = Client::new(&served.address);
    assert_eq!(admin.login(&email, &password).status, 303);
    let cases: Vec<(&str, Reply, u16)> = vec![
        ("static 404", client.get("/static/nope.css"), 404),
        ("redirect", client.get("/users"), 303),
        ("API 401", client.get("/api/v1/users"), 401),
        (
            "API 404",
            client.get_with("/api/v1/nope", &[("Authorization", &bearer)]),
            404,
        ),
        ("console 404", admin.get("/no-such-page"), 404),
    ];
    for (what, reply, status) in &cases {
        assert_eq!(reply.status, *status, "{what}: {}", reply.body);
        let id = reply.header("x-request-id").unwrap_or_default();
        assert!(is_generated_id(id), "{what}: id {id:?}");
    }
    let api_401 = &cases[2].1;
    assert!(
        api_401.body.contains("\"unauthorized\""),
        "{}",
        api_401.body
    );
    // The id a client sent comes back on errors too.
    let reply = client.get_with("/api/v1/users", &[("X-Request-Id", sane)]);
    assert_eq!(reply.status, 401);
    assert_eq!(reply.header("x-request-id"), Some(sane));
}

use common::Reply;

#[test]
fn json_logs_are_one_object_a_line_each_with_its_request_id() {
    let db = TestDb::new();
    let mut served = Served::start(&db.url, &[("CREDITDESK_LOG_FORMAT", "json")]);
    let mut client = Client::new(&served.address);
    let traced = "trace-me-1";
    assert_eq!(
        client
            .get_with("/healthz", &[("X-Request-Id", traced)])
            .status,
        200
    );
    assert_eq!(
        client
            .get_with("/api/v1/users", &[("X-Request-Id", "trace-me-2")])
            .status,
        401
    );
    served.sigterm();
    let status = served
        .wait_exit(Duration::from_secs(20))
        .expect("exited after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    served.finish();

    let lines = served.stderr();
    assert!(!lines.is_empty());
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    for line in &parsed {
        assert!(
            line["level"].is_string() && line["timestamp"].is_string(),
            "{line}"
        );
    }
    let access = |id: &str| {
        parsed
            .iter()
            .find(|line| line["span"]["request_id"] == id && line["fields"]["message"] == "request")
            .unwrap_or_else(|| panic!("no access line for {id} in {lines:#?}"))
            .clone()
    };
    let health = access(traced);
    assert_eq!(health["fields"]["method"], "GET");
    assert_eq!(health["fields"]["route"], "/healthz");
    assert_eq!(health["fields"]["status"], 200);
    assert!(health["fields"]["duration_ms"].as_f64().is_some());
    let denied = access("trace-me-2");
    assert_eq!(denied["fields"]["status"], 401);
    assert_eq!(denied["fields"]["route"], "/api/v1/users");
    assert!(
        parsed
            .iter()
            .any(|line| line["fields"]["message"] == "shut down"),
        "{lines:#?}"
    );
}

#[test]
fn text_logs_carry_the_request_id_too() {
    let db = TestDb::new();
    let mut served = Served::start(&db.url, &[]);
    let mut client = Client::new(&served.address);
    client.get_with("/healthz", &[("X-Request-Id", "text-id-1")]);
    served.sigterm();
    assert!(served.wait_exit(Duration::from_secs(20)).is_some());
    served.finish();
    let lines = served.stderr();
    assert!(
        lines
            .iter()
            .any(|line| line.contains("request_id=text-id-1") && line.contains("status=200")),
        "{lines:#?}"
    );
    // Plain text on a pipe: no colour codes.
    assert!(
        lines.iter().all(|line| !line.contains('\u{1b}')),
        "{lines:#?}"
    );
}

/// Sends a form POST whose body is held back after `sent` bytes, with
/// `Expect: 100-continue`: the server's `100 Continue` proves it holds the request.
fn start_slow_post(address: &str, body: &str, sent: usize) -> TcpStream {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut continued = Vec::new();
    let mut byte = [0u8; 1];
    while !continued.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("read 100 Continue");
        assert_eq!(n, 1, "closed before 100 Continue");
        continued.push(byte[0]);
    }
    let continued = String::from_utf8_lossy(&continued);
    assert!(continued.starts_with("HTTP/1.1 100"), "{continued}");
    stream.write_all(&body.as_bytes()[..sent]).unwrap();
    stream
}

#[test]
fn sigterm_refuses_new_connections_lets_the_request_in_flight_finish_and_exits_0() {
    let db = TestDb::new();
    let mut served = Served::start(&db.url, &[]);
    let address = served.socket_address().to_owned();
    let body = "email=someone%40example.com&password=a+long+test+password&csrf_token=none";
    let mut in_flight = start_slow_post(&address, body, 20);

    served.sigterm();

    // New connections are refused from now on (the first tries may still race the signal).
    let deadline = Instant::now() + Duration::from_secs(15);
    let refused = loop {
        match TcpStream::connect(&address) {
            Err(error) if error.kind() == ErrorKind::ConnectionRefused => break true,
            _ if Instant::now() >= deadline => break false,
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    assert!(
        refused,
        "new connections were still accepted 15 s after SIGTERM"
    );
    // A client slower than actix's shutdown checks (one a second) is still waited for.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        served.is_running(),
        "the server exited with a request in flight"
    );

    // The request in flight gets a whole answer.
    in_flight.write_all(&body.as_bytes()[20..]).unwrap();
    let mut answer = Vec::new();
    in_flight.read_to_end(&mut answer).expect("read the answer");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, content) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(
        head.starts_with("HTTP/1.1 403"),
        "a login without its form token is refused: {head}"
    );
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .expect("content-length");
    assert_eq!(content.len(), length, "the whole body: {content}");
    assert!(content.trim_end().ends_with("</html>"), "{content}");
    assert!(head.to_lowercase().contains("x-request-id:"), "{head}");

    let status = served
        .wait_exit(Duration::from_secs(20))
        .expect("the server exits after its last request");
    assert_eq!(status.code(), Some(0), "{status:?}");
    served.finish();
    let stderr = served.stderr().join("\n");
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
    assert!(stderr.contains("shut down"), "{stderr}");
}

#[test]
fn sigterm_with_nothing_in_flight_exits_0_at_once() {
    let db = TestDb::new();
    let mut served = Served::start(&db.url, &[]);
    // A connection kept alive and idle does not hold the stop up either.
    let mut idle = TcpStream::connect(served.socket_address()).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let started = Instant::now();
    served.sigterm();
    let status = served
        .wait_exit(Duration::from_secs(20))
        .expect("exited after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}
