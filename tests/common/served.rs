//! The real `creditdesk` binary as a child process: for what only a process shows (signals,
//! its exit status, what it writes to stderr). It listens on a port of its own choosing
//! (`--bind 127.0.0.1:0`) and says which on stdout.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_creditdesk");

/// A `creditdesk serve` process, killed if a test leaves it running.
pub struct Served {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The owner's email and password, printed when the server created the owner.
    pub owner: Option<(String, String)>,
    stdout_lines: Arc<Mutex<Vec<String>>>,
    stderr_lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Served {
    /// Starts `creditdesk serve` on `database_url` with these extra environment variables,
    /// and waits (up to 60 s: it migrates first) until it listens.
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> Served {
        let mut command = Command::new(BINARY);
        command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", database_url)
            .env_remove("RUST_LOG")
            .env_remove("CREDITDESK_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start creditdesk serve");
        let stdout_lines = Arc::new(Mutex::new(Vec::new()));
        let stderr_lines = Arc::new(Mutex::new(Vec::new()));
        let (listening, address) = mpsc::channel();
        let readers = vec![
            collect(
                child.stdout.take().unwrap(),
                stdout_lines.clone(),
                Some(listening),
            ),
            collect(child.stderr.take().unwrap(), stderr_lines.clone(), None),
        ];
        let address = match address.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server did not start; stderr:\n{}",
                    stderr_lines.lock().unwrap().join("\n")
                );
            }
        };
        let owner = {
            let lines = stdout_lines.lock().unwrap();
            let value = |label: &str| {
                lines
                    .iter()
                    .find_map(|line| line.trim().strip_prefix(label))
                    .map(|value| value.trim().to_owned())
            };
            value("email:").zip(value("password:"))
        };
        Served {
            child,
            address,
            owner,
            stdout_lines,
            stderr_lines,
            readers,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// `127.0.0.1:<port>`, for raw sockets.
    pub fn socket_address(&self) -> &str {
        self.address.trim_start_matches("http://")
    }

    pub fn sigterm(&self) {
        // SAFETY: kill(2) on our own child's pid, which is ours until we wait for it.
        let sent = unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        assert_eq!(sent, 0, "SIGTERM to the server");
    }

    /// SIGKILL (what `kill -9` sends; Rust's `Child::kill` on Unix), then reaps it.
    pub fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL the server");
        let status = self.child.wait().expect("reap the server");
        assert!(
            !status.success(),
            "the server was killed, not stopped: {status}"
        );
    }

    /// Still running?
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits up to `limit` for the process to end.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What it wrote to stderr so far, line by line (all of it once it has exited and the
    /// readers are joined by [`Served::finish`]).
    pub fn stderr(&self) -> Vec<String> {
        self.stderr_lines.lock().unwrap().clone()
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout_lines.lock().unwrap().clone()
    }

    /// After the process ended: waits until its output has been read to the end.
    pub fn finish(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.finish();
    }
}

/// Reads `stream` line by line into `lines`; the first "listening on" line's address goes
/// to `listening`.
fn collect(
    stream: impl std::io::Read + Send + 'static,
    lines: Arc<Mutex<Vec<String>>>,
    mut listening: Option<mpsc::Sender<String>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some((_, address)) = line.split_once("listening on ") {
                if let Some(sender) = listening.take() {
                    let _ = sender.send(address.trim().to_owned());
                }
            }
            lines.lock().unwrap().push(line);
        }
    })
}

/// Runs a one-off `creditdesk` command on `database_url`; panics unless it succeeds.
pub fn run(database_url: &str, args: &[&str]) -> Output {
    let output = super::process::creditdesk(database_url, args);
    assert!(
        output.status.success(),
        "creditdesk {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
