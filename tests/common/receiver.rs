//! A webhook receiver for the tests (tests/webhooks.rs): an HTTP server on 127.0.0.1, port 0,
//! that records every request and answers as the test scripts it, and a Standard Webhooks
//! signature check written here from SHA-256 alone, independent of the server's own
//! (src/webhooks/signature.rs uses the `hmac` crate).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::{Digest, Sha256};

use super::process::DEADLINE;

/// How the receiver answers one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// This status, with these extra headers.
    Status(u16, Vec<(&'static str, String)>),
    /// Records the request, then holds the connection without answering until released
    /// ([`Receiver::release`]) or stopped; then closes it.
    Hold,
}

impl Reply {
    pub fn status(code: u16) -> Reply {
        Reply::Status(code, Vec::new())
    }
}

/// One request that arrived.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub path: String,
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub content_type: String,
    pub body: String,
    /// What the receiver answered (none: held).
    pub answered: Option<u16>,
}

impl Arrival {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    pub fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    arrived: Vec<Arrival>,
}

pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    state: Arc<Mutex<State>>,
    released: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Listens on 127.0.0.1, port 0; answers 200 unless scripted.
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let released = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, released, stop) = (state.clone(), released.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (state, released, stop) =
                                (state.clone(), released.clone(), stop.clone());
                            std::thread::spawn(move || serve(stream, &state, &released, &stop));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Receiver {
            url,
            state,
            released,
            stop,
            thread: Some(thread),
        }
    }

    /// The next requests are answered with `replies`, in order (then 200 again).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    /// Lets every held request's connection close.
    pub fn release(&self) {
        self.released.store(true, Ordering::SeqCst);
    }

    pub fn arrivals(&self) -> Vec<Arrival> {
        self.state.lock().unwrap().arrived.clone()
    }

    /// Waits until `count` requests have arrived; returns them all.
    pub fn wait_for(&self, count: usize) -> Vec<Arrival> {
        let started = Instant::now();
        loop {
            let arrived = self.arrivals();
            if arrived.len() >= count {
                return arrived;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "waited too long for {count} requests; {} arrived",
                arrived.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.released.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request from `stream`, records it, answers as scripted.
fn serve(mut stream: TcpStream, state: &Mutex<State>, released: &AtomicBool, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut data = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buffer[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let header = |name: &str| {
        head.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    while data.len() < head_end + length {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buffer[..n]),
        }
    }
    let path = head
        .lines()
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or_default()
        .to_owned();
    let reply = {
        let mut state = state.lock().unwrap();
        let reply = state
            .script
            .pop_front()
            .unwrap_or_else(|| Reply::status(200));
        state.arrived.push(Arrival {
            path,
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp").parse().unwrap_or(0),
            signature: header("webhook-signature"),
            content_type: header("content-type"),
            body: String::from_utf8_lossy(&data[head_end..head_end + length]).into_owned(),
            answered: match &reply {
                Reply::Status(code, _) => Some(*code),
                Reply::Hold => None,
            },
        });
        reply
    };
    match reply {
        Reply::Status(code, headers) => {
            let body = format!("answer {code}");
            let mut answer = format!(
                "HTTP/1.1 {code} Scripted\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                answer.push_str(&format!("{name}: {value}\r\n"));
            }
            answer.push_str("\r\n");
            answer.push_str(&body);
            let _ = stream.write_all(answer.as_bytes());
        }
        Reply::Hold => {
            while !released.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// HMAC-SHA256 (RFC 2104) from SHA-256 alone.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Whether `header` (`v1,<base64> …`) holds a valid signature of `secret` (`whsec_…`)
/// over `{id}.{timestamp}.{body}`, as the Standard Webhooks scheme defines it.
pub fn verifies(secret: &str, id: &str, timestamp: i64, body: &str, header: &str) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|key| engine.decode(key).ok())
    else {
        return false;
    };
    let expected = engine.encode(hmac_sha256(
        &key,
        format!("{id}.{timestamp}.{body}").as_bytes(),
    ));
    header
        .split(' ')
        .any(|signature| signature.strip_prefix("v1,") == Some(expected.as_str()))
}

impl Arrival {
    /// Signed by `secret`, and the body's id is `webhook-id`.
    pub fn signed_by(&self, secret: &str) -> bool {
        verifies(
            secret,
            &self.id,
            self.timestamp,
            &self.body,
            &self.signature,
        ) && self.json()["id"] == self.id.as_str()
    }
}
