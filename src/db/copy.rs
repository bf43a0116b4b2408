//! `COPY (SELECT …) TO STDOUT WITH (FORMAT csv)` on PostgreSQL, read row by row through
//! libpq, for exports that PostgreSQL writes itself (docs/exports.md, "How an export runs").
//!
//! diesel runs COPY only for a table or a tuple of its columns (`diesel::copy_to`), not for
//! a query, and keeps its libpq connection to itself. So a COPY gets a connection of its own,
//! opened with the pool's URL and settings, held for as long as the export runs and closed
//! with it. [`CopyOut`] wraps the few libpq calls this takes (pq-sys, which diesel uses
//! too) in a safe type: it owns its connection, each row it hands out owns its libpq buffer,
//! and dropping it half-way cancels the query rather than leaving the server to find out
//! when it next writes to a closed socket.
//!
//! PostgreSQL ends its CSV rows with `\n`; ours end with `\r\n`. [`RowEnds`] changes every
//! `\n` outside a quoted field (a quoted note keeps its own line breaks) and counts rows.

use std::ffi::{c_char, c_int, CStr, CString};
use std::ops::Deref;
use std::ptr::NonNull;

use pq_sys as pq;

/// Why a COPY did not run to its end. The messages are PostgreSQL's (or libpq's) own.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The export's own connection could not be opened: the server is down, or refuses
    /// more connections.
    #[error("could not open a connection for the export: {0}")]
    Connect(String),
    /// The server refused the settings or the statement.
    #[error("PostgreSQL refused the export's statement: {0}")]
    Refused(String),
    /// The server or the connection failed while the rows were coming.
    #[error("the export broke off in PostgreSQL: {0}")]
    Broken(String),
    #[error("the export's statement contains a NUL character")]
    Nul,
}

impl CopyError {
    /// The database could not be reached (or would take no more connections): worth
    /// trying again in a moment, like a pool with no connection to give.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, CopyError::Connect(_))
    }
}

/// A connection of its own running one `COPY … TO STDOUT`.
pub struct CopyOut {
    conn: NonNull<pq::PGconn>,
    /// The server sent its last row and its final result was read.
    finished: bool,
}

// SAFETY: libpq allows a connection to be used from any thread as long as no two threads
// use it at once. A `CopyOut` owns its connection alone and needs `&mut self` for every
// call, so moving it to another thread (an export is prepared on one blocking thread and
// read on another) cannot share it.
unsafe impl Send for CopyOut {}

impl CopyOut {
    /// Connects to `url`, runs `settings`, then starts `copy` (a `COPY … TO STDOUT`). Once
    /// this returns, the statement was accepted and the rows are on their way.
    pub fn start(url: &str, settings: &str, copy: &str) -> Result<CopyOut, CopyError> {
        let url = CString::new(url).map_err(|_| CopyError::Nul)?;
        // SAFETY: `url` is a NUL-terminated string that outlives the call.
        let raw = unsafe { pq::PQconnectdb(url.as_ptr()) };
        let conn = NonNull::new(raw)
            .ok_or_else(|| CopyError::Connect("libpq could not allocate a connection".into()))?;
        // Dropped on every early return below: closes the connection.
        let mut copy_out = CopyOut {
            conn,
            finished: true,
        };
        // SAFETY: `conn` is a live connection owned by `copy_out`.
        if unsafe { pq::PQstatus(conn.as_ptr()) } != pq::ConnStatusType::CONNECTION_OK {
            return Err(CopyError::Connect(copy_out.connection_message()));
        }
        copy_out.execute(settings, pq::ExecStatusType::PGRES_COMMAND_OK)?;
        copy_out.execute(copy, pq::ExecStatusType::PGRES_COPY_OUT)?;
        copy_out.finished = false;
        Ok(copy_out)
    }

    /// Runs `sql` (one or more statements) and expects the last result to be `expected`.
    fn execute(&mut self, sql: &str, expected: pq::ExecStatusType) -> Result<(), CopyError> {
        let sql = CString::new(sql).map_err(|_| CopyError::Nul)?;
        // SAFETY: the connection is live and owned; `sql` outlives the call. The result is
        // owned by `Answer`, which clears it.
        let answer = Answer(unsafe { pq::PQexec(self.conn.as_ptr(), sql.as_ptr()) });
        if answer.status() == Some(expected) {
            Ok(())
        } else {
            Err(CopyError::Refused(
                answer
                    .message()
                    .unwrap_or_else(|| self.connection_message()),
            ))
        }
    }

    /// The next piece of the output as PostgreSQL sent it (one row), or none after the last
    /// one, once the server said the COPY succeeded.
    pub fn next_piece(&mut self) -> Result<Option<Piece>, CopyError> {
        if self.finished {
            return Ok(None);
        }
        let mut buffer: *mut c_char = std::ptr::null_mut();
        // SAFETY: the connection is live, owned and in the COPY OUT state (`finished` is
        // false); `buffer` is a valid place for libpq to store its allocation. Blocking mode
        // (0): it waits for a whole row.
        let length = unsafe { pq::PQgetCopyData(self.conn.as_ptr(), &mut buffer, 0) };
        if length > 0 {
            let Some(data) = NonNull::new(buffer) else {
                return Err(CopyError::Broken("libpq returned no buffer".into()));
            };
            return Ok(Some(Piece {
                data,
                length: length as usize,
            }));
        }
        // -1: the rows are over, and the command's own result says how it ended; -2: the
        // connection failed. Either way there is nothing left to cancel.
        self.finished = true;
        let outcome = self.final_result();
        if length == -1 {
            outcome.map(|()| None)
        } else {
            Err(outcome
                .err()
                .unwrap_or_else(|| CopyError::Broken(self.connection_message())))
        }
    }

    /// Reads the results left after the data: the COPY's own, then none.
    fn final_result(&mut self) -> Result<(), CopyError> {
        let mut failure = None;
        loop {
            // SAFETY: the connection is live and owned; each result is cleared by `Answer`.
            let answer = Answer(unsafe { pq::PQgetResult(self.conn.as_ptr()) });
            let Some(status) = answer.status() else { break };
            if status != pq::ExecStatusType::PGRES_COMMAND_OK && failure.is_none() {
                failure = Some(CopyError::Broken(
                    answer
                        .message()
                        .unwrap_or_else(|| self.connection_message()),
                ));
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// The connection's last error message, as libpq words it.
    fn connection_message(&self) -> String {
        // SAFETY: the connection is live; the message is a NUL-terminated string owned by
        // it, copied before anything else can change it.
        let message = unsafe { CStr::from_ptr(pq::PQerrorMessage(self.conn.as_ptr())) };
        message.to_string_lossy().trim().to_owned()
    }

    /// Asks the server to stop the running statement (best effort; errors are ignored).
    fn cancel(&mut self) {
        // SAFETY: the connection is live; the cancel object is freed below, and
        // `PQcancel` writes at most `errbuf.len()` bytes into `errbuf`.
        unsafe {
            let cancel = pq::PQgetCancel(self.conn.as_ptr());
            if !cancel.is_null() {
                let mut errbuf = [0 as c_char; 256];
                pq::PQcancel(cancel, errbuf.as_mut_ptr(), errbuf.len() as c_int);
                pq::PQfreeCancel(cancel);
            }
        }
    }
}

impl Drop for CopyOut {
    fn drop(&mut self) {
        if !self.finished {
            // Left half-way: the client went away, or what the rows were written to failed.
            self.cancel();
        }
        // SAFETY: the connection is owned by `self` and not used after this.
        unsafe { pq::PQfinish(self.conn.as_ptr()) };
    }
}

/// A result of `PQexec`/`PQgetResult`, cleared when dropped; null means "no result".
struct Answer(*mut pq::PGresult);

impl Answer {
    fn status(&self) -> Option<pq::ExecStatusType> {
        // SAFETY: a non-null result stays valid until `Drop` clears it.
        (!self.0.is_null()).then(|| unsafe { pq::PQresultStatus(self.0) })
    }

    fn message(&self) -> Option<String> {
        if self.0.is_null() {
            return None;
        }
        // SAFETY: as above; the message is NUL-terminated and owned by the result.
        let message = unsafe { CStr::from_ptr(pq::PQresultErrorMessage(self.0)) };
        let message = message.to_string_lossy().trim().to_owned();
        (!message.is_empty()).then_some(message)
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the result is owned by `self` and not used after this.
            unsafe { pq::PQclear(self.0) };
        }
    }
}

/// One piece of COPY output in libpq's buffer, freed when dropped.
pub struct Piece {
    data: NonNull<c_char>,
    length: usize,
}

impl Deref for Piece {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: libpq allocated `length` bytes at `data`, and they live until `Drop`.
        unsafe { std::slice::from_raw_parts(self.data.as_ptr().cast::<u8>(), self.length) }
    }
}

impl Drop for Piece {
    fn drop(&mut self) {
        // SAFETY: the buffer came from `PQgetCopyData` and is freed once, here.
        unsafe { pq::PQfreemem(self.data.as_ptr().cast()) };
    }
}

/// Turns PostgreSQL's CSV row ends (`\n`) into ours (`\r\n`), whatever the pieces the
/// output comes in: a `\n` inside a quoted field is part of the field. A field is quoted
/// from its opening `"` to its closing one; a `""` inside it toggles twice, so counting
/// quotes is enough to know where we are.
#[derive(Debug, Default)]
pub struct RowEnds {
    in_quotes: bool,
}

impl RowEnds {
    /// Appends `piece` to `out` with its row ends changed; returns how many rows it ended.
    pub fn translate(&mut self, piece: &[u8], out: &mut Vec<u8>) -> u64 {
        let mut rows = 0;
        let mut copied = 0;
        for at in memchr::memchr2_iter(b'"', b'\n', piece) {
            if piece[at] == b'"' {
                self.in_quotes = !self.in_quotes;
            } else if !self.in_quotes {
                out.extend_from_slice(&piece[copied..at]);
                out.extend_from_slice(b"\r\n");
                copied = at + 1;
                rows += 1;
            }
        }
        out.extend_from_slice(&piece[copied..]);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translated(pieces: &[&[u8]]) -> (String, u64) {
        let mut ends = RowEnds::default();
        let mut out = Vec::new();
        let rows = pieces.iter().map(|p| ends.translate(p, &mut out)).sum();
        (String::from_utf8(out).unwrap(), rows)
    }

    #[test]
    fn row_ends_outside_quotes_become_crlf() {
        assert_eq!(
            translated(&[b"1,a\n", b"2,b\n"]),
            ("1,a\r\n2,b\r\n".into(), 2)
        );
        assert_eq!(
            translated(&[b"1,\"x\ny\",\"\"\"\"\n"]),
            ("1,\"x\ny\",\"\"\"\"\r\n".into(), 1)
        );
        // The same output cut anywhere, even inside a quoted field or a doubled quote.
        let whole: &[u8] = b"1,\"a \"\"b\"\"\nc\",d\n2,,\"\r\"\n";
        let expected = ("1,\"a \"\"b\"\"\nc\",d\r\n2,,\"\r\"\r\n".to_owned(), 2);
        for cut in 0..whole.len() {
            let (head, tail) = whole.split_at(cut);
            assert_eq!(translated(&[head, tail]), expected, "cut at {cut}");
        }
        assert_eq!(translated(&[b""]), (String::new(), 0));
    }
}
