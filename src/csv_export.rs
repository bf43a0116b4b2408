//! Streamed CSV downloads: a blocking task reads the database in keyset chunks and writes CSV
//! through a bounded channel, so memory stays flat whatever the row count.

use std::borrow::Cow;
use std::io;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use tokio::sync::mpsc;

use crate::db::{DbConnection, Pool};

/// Bytes gathered before a chunk goes to the client.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks in flight between the database task and the client.
const CHANNEL_CHUNKS: usize = 8;

/// A text cell a spreadsheet would run as a formula gets a leading `'` (SPEC "CSV exports").
/// Numeric columns never go through this.
pub fn text_cell(value: &str) -> Cow<'_, str> {
    match value.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{value}")),
        _ => Cow::Borrowed(value),
    }
}

/// `promo-credits-2026-11-26T0930Z.csv`: what and when.
pub fn file_name(what: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour][minute]Z");
    format!("{what}-{}.csv", now.format(&format).unwrap_or_default())
}

/// Writes into the channel in chunks; fails once the client has gone.
pub struct ChannelWriter {
    buffer: Vec<u8>,
    sender: mpsc::Sender<Bytes>,
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
        self.sender
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the download was cancelled"))
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

pub type CsvWriter = csv::Writer<ChannelWriter>;

/// Answers a CSV download at once and fills it from `produce`, which runs on the blocking
/// pool with its own connection, writes the rows and returns how many it wrote.
/// `finished` then runs on the same connection (to record the export).
pub fn stream<P, F>(pool: Pool, file_name: String, produce: P, finished: F) -> HttpResponse
where
    P: FnOnce(&mut DbConnection, &mut CsvWriter) -> anyhow::Result<u64> + Send + 'static,
    F: FnOnce(&mut DbConnection, u64) -> anyhow::Result<()> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    actix_web::rt::task::spawn_blocking(move || {
        let outcome = (|| -> anyhow::Result<()> {
            let mut conn = pool.get()?;
            let mut writer = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(ChannelWriter {
                    buffer: Vec::with_capacity(CHUNK_BYTES),
                    sender,
                });
            let rows = produce(&mut conn, &mut writer)?;
            writer.flush()?;
            drop(writer);
            finished(&mut conn, rows)
        })();
        if let Err(error) = outcome {
            tracing::warn!(error = ?error, "CSV export stopped");
        }
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|chunk| (Ok::<_, actix_web::Error>(chunk), receiver))
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body)
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
    }
}
