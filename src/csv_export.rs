//! Streamed CSV downloads (docs/exports.md). A blocking task reads the database (in keyset
//! chunks, or as one statement the database streams) and writes CSV through a bounded
//! channel, so memory stays flat whatever the row count. Exports are bounded: at most `max_exports` run at once (each holds a database
//! connection while its client reads), and the connection is taken before the answer
//! starts, so a busy server says 503 instead of sending an empty file. A failure after the
//! first byte breaks the response, so the client sees an error rather than a shorter file
//! that looks complete; every export is recorded with how it ended.

use std::borrow::Cow;
use std::io;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use tokio::sync::mpsc;

use crate::db::DbConnection;
use crate::error::AppError;
use crate::startup::AppState;
use crate::store::activity::{self, Audit};

/// Bytes gathered before a chunk goes to the client.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks in flight between the database task and the client.
const CHANNEL_CHUNKS: usize = 8;

/// The first characters that make a spreadsheet run a cell as a formula.
pub const FORMULA_STARTS: [u8; 6] = [b'=', b'+', b'-', b'@', b'\t', b'\r'];

/// A text cell a spreadsheet would run as a formula gets a leading `'` (docs/exports.md).
/// Numeric columns never go through this.
pub fn text_cell(value: &str) -> Cow<'_, str> {
    match value.as_bytes().first() {
        Some(first) if FORMULA_STARTS.contains(first) => Cow::Owned(format!("'{value}")),
        _ => Cow::Borrowed(value),
    }
}

/// `promo-credits-2026-11-26T0930Z.csv`: what and when.
pub fn file_name(what: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour][minute]Z");
    format!("{what}-{}.csv", now.format(&format).unwrap_or_default())
}

type Chunk = Result<Bytes, io::Error>;

/// The sending end of a download: waits at most `stall_limit` for the client to make room,
/// so a client that stops reading cannot hold an export's connection for ever.
#[derive(Clone)]
struct Link {
    sender: mpsc::Sender<Chunk>,
    runtime: tokio::runtime::Handle,
    stall_limit: Duration,
}

impl Link {
    fn send(&self, chunk: Chunk) -> io::Result<()> {
        self.runtime
            .block_on(self.sender.send_timeout(chunk, self.stall_limit))
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the client left or stopped reading",
                )
            })
    }
}

/// Writes into the link in chunks; fails once the client has gone.
struct ChannelWriter {
    buffer: Vec<u8>,
    link: Link,
    client_gone: bool,
}

impl ChannelWriter {
    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        let sent = self.link.send(Ok(chunk));
        self.client_gone = sent.is_err();
        sent
    }
}

impl io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send_buffer()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffer()
    }
}

/// The CSV writer an export fills: RFC 4180 with `\r\n`, counting the rows it writes.
pub struct CsvWriter {
    out: Output,
    rows: u64,
    /// To break the response off when the export fails.
    link: Link,
}

/// Where the writer's bytes go through.
enum Output {
    /// Records quoted by the csv crate (boxed: the writer carries its quoting tables).
    Records(Box<csv::Writer<ChannelWriter>>),
    /// Rows the database wrote as CSV, after what the csv crate wrote (the header).
    Formatted(ChannelWriter),
    /// Between the two, or after a failure to go from one to the other.
    Switching,
}

impl CsvWriter {
    pub fn write_header<I, T>(&mut self, header: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.records()?.write_record(header)
    }

    pub fn write_record<I, T>(&mut self, record: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.records()?.write_record(record)?;
        self.rows += 1;
        Ok(())
    }

    fn records(&mut self) -> csv::Result<&mut csv::Writer<ChannelWriter>> {
        match &mut self.out {
            Output::Records(csv) => Ok(csv),
            _ => Err(io::Error::other("records cannot follow rows written as CSV").into()),
        }
    }

    /// Rows already written as CSV (each ending in `\r\n`), and how many they are.
    pub fn write_formatted(&mut self, csv: &[u8], rows: u64) -> io::Result<()> {
        if let Output::Records(_) = self.out {
            // What the csv crate holds (the header) goes first.
            let Output::Records(records) = std::mem::replace(&mut self.out, Output::Switching)
            else {
                unreachable!("matched above");
            };
            let channel = records.into_inner().map_err(|e| e.into_error())?;
            self.out = Output::Formatted(channel);
        }
        let Output::Formatted(channel) = &mut self.out else {
            return Err(io::Error::other("the CSV writer failed"));
        };
        io::Write::write_all(channel, csv)?;
        self.rows += rows;
        Ok(())
    }

    /// Sends what is still buffered.
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Output::Records(csv) => csv.flush(),
            Output::Formatted(channel) => io::Write::flush(channel),
            Output::Switching => Ok(()),
        }
    }

    fn client_gone(&self) -> bool {
        match &self.out {
            Output::Records(csv) => csv.get_ref().client_gone,
            Output::Formatted(channel) => channel.client_gone,
            Output::Switching => false,
        }
    }

    /// Breaks the response off: the client must not take what it has for the whole file.
    fn abort(self) {
        drop(self.out);
        let _ = self.link.send(Err(io::Error::other("the export failed")));
    }
}

/// A kind of export: its file name, and how the activity log names it.
pub struct ExportKind {
    /// The start of the file name, like `promo-credits`.
    pub file: &'static str,
    /// The activity action when it completes, like `export.credits`; `.failed` or
    /// `.abandoned` is added when it does not.
    pub action: &'static str,
    pub target: &'static str,
}

pub const CREDIT_LIST: ExportKind = ExportKind {
    file: "promo-credits",
    action: "export.credits",
    target: "promo credit list",
};

pub const BALANCES: ExportKind = ExportKind {
    file: "promo-credit-balances",
    action: "export.balances",
    target: "promo credit balances",
};

pub const SUMMARY: ExportKind = ExportKind {
    file: "promo-credit-summary",
    action: "export.summary",
    target: "promo credit summary",
};

pub const ACTIVITY: ExportKind = ExportKind {
    file: "activity",
    action: "export.activity",
    target: "activity log",
};

/// One export: its kind, what it selects and who asked.
pub struct Export {
    pub kind: &'static ExportKind,
    /// The filters, as the activity log shows them.
    pub description: String,
    pub audit: Audit,
}

impl Export {
    /// An export of `kind` selecting what the query `pairs` say, for `audit`'s actor.
    pub fn new(kind: &'static ExportKind, pairs: &[(&str, String)], audit: &Audit) -> Export {
        Export {
            kind,
            description: describe_filter(pairs),
            audit: audit.clone(),
        }
    }
}

/// How an export ended.
enum Outcome {
    Completed,
    /// The client went away before the end.
    Abandoned,
    /// The database (or the writing) failed; the response was broken off.
    Failed(anyhow::Error),
}

fn too_many_exports() -> AppError {
    AppError::Unavailable {
        message: "Too many exports are running at the moment. Try again in a minute.".to_owned(),
        retry_after_seconds: 30,
    }
}

/// Answers a CSV download and fills it from `produce`, which runs on the blocking pool with
/// its own connection and writes the header and rows.
pub async fn stream<P>(
    state: &AppState,
    export: Export,
    produce: P,
) -> Result<HttpResponse, AppError>
where
    P: FnOnce(&mut DbConnection, &mut CsvWriter) -> anyhow::Result<()> + Send + 'static,
{
    stream_prepared(state, export, move |_| Ok(produce)).await
}

/// [`stream`], with a first step on the export's connection before the answer starts:
/// what fails there (the database refusing the statement, or a connection of the export's
/// own) is an error page, not a broken download. `prepare` returns what fills the file.
pub async fn stream_prepared<S, P>(
    state: &AppState,
    export: Export,
    prepare: S,
) -> Result<HttpResponse, AppError>
where
    S: FnOnce(&mut DbConnection) -> Result<P, AppError> + Send + 'static,
    P: FnOnce(&mut DbConnection, &mut CsvWriter) -> anyhow::Result<()> + Send + 'static,
{
    let permit = state
        .exports
        .clone()
        .try_acquire_owned()
        .map_err(|_| too_many_exports())?;
    let pool = state.pool.clone();
    let (mut conn, produce) = crate::web::block(move || -> Result<_, AppError> {
        let mut conn = pool.get()?;
        let produce = prepare(&mut conn)?;
        Ok((conn, produce))
    })
    .await??;
    let pool = state.pool.clone();
    let file_name = file_name(export.kind.file);
    let (sender, receiver) = mpsc::channel::<Chunk>(CHANNEL_CHUNKS);
    let link = Link {
        sender,
        runtime: tokio::runtime::Handle::current(),
        stall_limit: state.settings.export_stall_limit,
    };
    let span = tracing::Span::current();
    actix_web::rt::task::spawn_blocking(move || {
        let _entered = span.enter();
        let channel = ChannelWriter {
            buffer: Vec::with_capacity(CHUNK_BYTES),
            link: link.clone(),
            client_gone: false,
        };
        let mut writer = CsvWriter {
            out: Output::Records(Box::new(
                csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(channel),
            )),
            rows: 0,
            link,
        };
        let produced = produce(&mut conn, &mut writer).and_then(|()| Ok(writer.flush()?));
        let rows = writer.rows;
        let outcome = match produced {
            Ok(()) => Outcome::Completed,
            Err(_) if writer.client_gone() => Outcome::Abandoned,
            Err(error) => Outcome::Failed(error),
        };
        // Connection and place first, then the end of the response: a client that starts
        // its next export as soon as this one ends finds the place free.
        drop(conn);
        drop(permit);
        match outcome {
            Outcome::Failed(_) => writer.abort(),
            _ => drop(writer),
        }
        record(&pool, &export, outcome, rows);
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body))
}

/// Records how an export ended, on a fresh connection (the export's may be what failed).
fn record(pool: &crate::db::Pool, export: &Export, outcome: Outcome, rows: u64) {
    let (suffix, ending) = match &outcome {
        Outcome::Completed => ("", format!("{rows} rows")),
        Outcome::Abandoned => (
            ".abandoned",
            format!("abandoned by the client after {rows} rows"),
        ),
        Outcome::Failed(error) => {
            tracing::error!(error = ?error, action = export.kind.action, rows, "CSV export failed");
            (".failed", format!("failed after {rows} rows"))
        }
    };
    let recorded = pool
        .get()
        .map_err(anyhow::Error::from)
        .and_then(|mut conn| {
            activity::record(
                &mut conn,
                activity::Record {
                    audit: &export.audit,
                    action: &format!("{}{suffix}", export.kind.action),
                    target: export.kind.target,
                    details: &format!("{}; {ending}", export.description),
                    subject: activity::Subject::default(),
                },
            )
            .map_err(anyhow::Error::from)
        });
    if let Err(error) = recorded {
        tracing::error!(error = ?error, action = export.kind.action, "could not record an export");
    }
}

/// The filters of an export, as the activity log records them.
pub fn describe_filter(pairs: &[(&str, String)]) -> String {
    let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if pairs.is_empty() {
        "no filters".to_owned()
    } else {
        pairs.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralises_formula_cells() {
        for risky in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(text_cell(risky), format!("'{risky}"));
        }
        for safe in ["", "plain", "a=b", "1", "'quoted"] {
            assert_eq!(text_cell(safe), safe);
        }
        assert!(file_name("promo-credits").starts_with("promo-credits-20"));
        assert!(file_name("promo-credits").ends_with("Z.csv"));
        assert_eq!(describe_filter(&[]), "no filters");
        assert_eq!(
            describe_filter(&[("currency", "EUR".into()), ("type", "imported".into())]),
            "currency=EUR type=imported"
        );
    }
}
