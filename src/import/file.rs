//! Reading a customer file: its size, its encoding, its separator and its header, each
//! refused with a message a billing admin can act on (docs/import.md, "The file").

use crate::domain::{without_controls, CurrencyCode};

use super::row::RowFields;

/// The columns a customer file may have; `email` is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    ExternalId,
    Email,
    FirstName,
    LastName,
    Country,
    /// `credits_EUR`: the opening balance in that currency.
    Credits(CurrencyCode),
    /// `expires_EUR`: when that opening balance expires (docs/concepts.md, "Expiry").
    Expires(CurrencyCode),
}

impl Column {
    fn parse(name: &str) -> Option<Column> {
        let name = name.trim();
        Some(match name.to_ascii_lowercase().as_str() {
            "external_id" => Column::ExternalId,
            "email" => Column::Email,
            "first_name" => Column::FirstName,
            "last_name" => Column::LastName,
            "country" => Column::Country,
            lower => {
                let code = |prefix| {
                    let code = lower.strip_prefix(prefix)?;
                    CurrencyCode::parse(&code.to_ascii_uppercase()).ok()
                };
                match code("credits_") {
                    Some(code) => Column::Credits(code),
                    None => Column::Expires(code("expires_")?),
                }
            }
        })
    }

    /// The name as the header should spell it.
    pub fn name(&self) -> String {
        match self {
            Column::ExternalId => "external_id".into(),
            Column::Email => "email".into(),
            Column::FirstName => "first_name".into(),
            Column::LastName => "last_name".into(),
            Column::Country => "country".into(),
            Column::Credits(code) => format!("credits_{code}"),
            Column::Expires(code) => format!("expires_{code}"),
        }
    }
}

/// Why a whole file is refused; nothing of it is kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("Choose a CSV file to check.")]
    Missing,
    #[error("The file is {size} bytes; the most this console imports at once is {max} bytes. Split it into smaller files.")]
    TooLarge { size: usize, max: usize },
    #[error("The file is not UTF-8 text: line {line} has a byte that is not. Save it as “CSV UTF-8” and check it again.")]
    NotUtf8 { line: usize },
    #[error("Line {line} holds a NUL byte, which no text CSV file has: the file may be UTF-16 or not a CSV at all. Save it as “CSV UTF-8” and check it again.")]
    NulByte { line: usize },
    #[error("The file is empty: it needs a header line (external_id,email,first_name,last_name,country) and a line per customer.")]
    Empty,
    #[error("The header has a column this import does not know: “{0}”. Known columns: external_id, email, first_name, last_name, country, credits_<CURRENCY> (like credits_EUR) for opening balances, and expires_<CURRENCY> (like expires_EUR, YYYY-MM-DD) for when they expire.")]
    UnknownColumn(String),
    #[error("The header has the column {0} twice.")]
    DuplicateColumn(String),
    #[error("The header has no email column: every customer needs an email.")]
    NoEmail,
    #[error("The file has a header but no customer below it.")]
    NoRows,
    #[error("The file could not be read as CSV at line {line}: {message}")]
    Malformed { line: u64, message: String },
}

/// A customer file whose size, encoding and header are fine.
#[derive(Debug, Clone)]
pub struct CustomerFile {
    /// The name to show and to put in notes: the file's own name, without folders.
    pub name: String,
    /// The text, without a byte order mark.
    pub text: String,
    pub separator: u8,
    pub columns: Vec<Column>,
}

impl CustomerFile {
    /// Checks `bytes` as a customer file named `name` of at most `max_bytes`.
    pub fn read(name: &str, bytes: &[u8], max_bytes: usize) -> Result<CustomerFile, FileError> {
        if bytes.len() > max_bytes {
            return Err(FileError::TooLarge {
                size: bytes.len(),
                max: max_bytes,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|error| FileError::NotUtf8 {
            line: line_of(&bytes[..error.valid_up_to()]),
        })?;
        if let Some(at) = bytes.iter().position(|b| *b == 0) {
            return Err(FileError::NulByte {
                line: line_of(&bytes[..at]),
            });
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim().is_empty() {
            return Err(FileError::Empty);
        }
        let separator = separator_of(text);
        let mut reader = reader(text, separator);
        let header = reader.headers().map_err(|e| malformed(&e))?.clone();
        let columns = header_columns(&header)?;
        let file = CustomerFile {
            name: file_name(name),
            text: text.to_owned(),
            separator,
            columns,
        };
        if reader.records().next().is_none() {
            return Err(FileError::NoRows);
        }
        Ok(file)
    }

    /// Every line below the header, with its line number, as fields to check.
    pub fn rows(&self) -> impl Iterator<Item = Result<RowFields, FileError>> + '_ {
        let mut reader = reader(&self.text, self.separator);
        let _ = reader.headers();
        let mut lines = LineCounter::default();
        reader.into_records().map(move |record| {
            let record = record.map_err(|e| malformed(&e))?;
            let byte = record.position().map_or(0, |p| p.byte() as usize);
            let line = lines.line_at(self.text.as_bytes(), byte);
            Ok(RowFields::from_record(line, &self.columns, &record))
        })
    }
}

/// The line a record starts on, counted from its byte offset: the csv crate's own line
/// count is one short after a `\r\n` line end. Records come in order, so the count
/// goes on from the previous one.
#[derive(Default)]
struct LineCounter {
    counted: usize,
    newlines: u64,
}

impl LineCounter {
    /// `byte` is where the csv reader says a record starts: its first byte, or a line end
    /// before it. A record never starts with a line end (empty lines are skipped), so its
    /// line is the one of the first byte after `byte` that is not one.
    fn line_at(&mut self, text: &[u8], byte: usize) -> u64 {
        let start = text[byte.min(text.len())..]
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .map_or(text.len(), |offset| byte + offset);
        if start > self.counted {
            self.newlines += text[self.counted..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            self.counted = start;
        }
        self.newlines + 1
    }
}

fn reader(text: &str, separator: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(separator)
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes())
}

fn malformed(error: &csv::Error) -> FileError {
    FileError::Malformed {
        line: error.position().map_or(0, |p| p.line()),
        message: error.to_string(),
    }
}

/// The line (from 1) that the byte after `before` is on.
fn line_of(before: &[u8]) -> usize {
    before.iter().filter(|b| **b == b'\n').count() + 1
}

/// `;` when the header line has more of them than commas (spreadsheets in many European
/// locales save so), else `,`.
fn separator_of(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    let count = |c: char| header.chars().filter(|x| *x == c).count();
    if count(';') > count(',') {
        b';'
    } else {
        b','
    }
}

fn header_columns(header: &csv::StringRecord) -> Result<Vec<Column>, FileError> {
    let mut columns: Vec<Column> = Vec::with_capacity(header.len());
    for name in header.iter() {
        let column = Column::parse(name)
            .ok_or_else(|| FileError::UnknownColumn(without_controls(name.trim(), 60)))?;
        if columns.contains(&column) {
            return Err(FileError::DuplicateColumn(column.name()));
        }
        columns.push(column);
    }
    if !columns.contains(&Column::Email) {
        return Err(FileError::NoEmail);
    }
    Ok(columns)
}

/// The last part of an uploaded file's name, printable and at most 100 characters; the
/// notes of its opening balances name it.
fn file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean = without_controls(base.trim(), 100);
    if clean.trim().is_empty() {
        "customers.csv".to_owned()
    } else {
        clean.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    fn read(text: &str) -> Result<CustomerFile, FileError> {
        CustomerFile::read("upload/customers.csv", text.as_bytes(), MAX)
    }

    #[test]
    fn reads_bom_semicolons_quotes_and_crlf() {
        let file = read("\u{feff}external_id;Email;credits_eur\r\n\"c;1\";a@b.co;5\r\n").unwrap();
        assert_eq!(file.name, "customers.csv");
        assert_eq!(file.separator, b';');
        assert_eq!(
            file.columns,
            [
                Column::ExternalId,
                Column::Email,
                Column::Credits(CurrencyCode::parse("EUR").unwrap())
            ]
        );
        let rows: Vec<_> = file.rows().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].customer.external_id, "c;1");
        assert_eq!(rows[0].credits[0].1, "5");
    }

    #[test]
    fn line_numbers_follow_the_file_whatever_the_line_ends() {
        for end in ["\n", "\r\n"] {
            let text = ["email", "a@b.co", "\"c\n@d.co\"", "", "e@f.co"].join(end) + end;
            let file = read(&text).unwrap();
            let lines: Vec<u64> = file.rows().map(|r| r.unwrap().line).collect();
            assert_eq!(lines, [2, 3, 6], "{end:?}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_read_with_the_reason() {
        assert_eq!(
            CustomerFile::read("x.csv", b"email\na@b.co\n", 5).unwrap_err(),
            FileError::TooLarge { size: 13, max: 5 }
        );
        assert_eq!(
            CustomerFile::read("x.csv", b"email\na@b.co\n\xe9@b.co\n", MAX).unwrap_err(),
            FileError::NotUtf8 { line: 3 }
        );
        assert_eq!(
            read("email\na\u{0}@b.co\n").unwrap_err(),
            FileError::NulByte { line: 2 }
        );
        assert_eq!(read("").unwrap_err(), FileError::Empty);
        assert_eq!(read(" \r\n").unwrap_err(), FileError::Empty);
        assert_eq!(read("email\n").unwrap_err(), FileError::NoRows);
        assert_eq!(
            read("name\nx\n").unwrap_err(),
            FileError::UnknownColumn("name".into())
        );
        assert_eq!(
            read("email,credits_XYZ\na@b.co,1\n").unwrap_err(),
            FileError::UnknownColumn("credits_XYZ".into())
        );
        assert_eq!(
            read("email,EMAIL\na,b\n").unwrap_err(),
            FileError::DuplicateColumn("email".into())
        );
        assert_eq!(read("external_id\nx\n").unwrap_err(), FileError::NoEmail);
    }

    #[test]
    fn a_file_name_keeps_no_folders_or_controls() {
        assert_eq!(file_name("C:\\Users\\me\\list.csv"), "list.csv");
        assert_eq!(file_name("../../etc/x\u{0}.csv"), "x.csv");
        assert_eq!(file_name("  "), "customers.csv");
        assert_eq!(file_name(&"a".repeat(300)).chars().count(), 100);
    }

    mod generated {
        use super::*;
        use proptest::prelude::*;

        /// A cell as a spreadsheet might write it: plain, or quoted with the separator,
        /// quotes or a line break inside.
        fn cell() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-zA-Z0-9@._ -]{0,12}",
                "[a-z ;,\"\n\r\u{e9}\u{4e2d}=+@-]{0,12}",
            ]
        }

        fn quote(cell: &str, separator: char) -> String {
            if cell.contains([separator, '"', '\n', '\r']) || cell.starts_with(' ') {
                format!("\"{}\"", cell.replace('"', "\"\""))
            } else {
                cell.to_owned()
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// Whatever bytes arrive, reading never panics: a file is refused with a
            /// sentence, or read, and then every row is checked or refused.
            #[test]
            fn any_bytes_are_read_or_refused_with_a_message(
                bytes in prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..300),
                    "(email|external_id|credits_eur|x)([,;](email|first_name|country|credits_usd)){0,3}\r?\n[^\u{0}]{0,200}"
                        .prop_map(String::into_bytes),
                ]
            ) {
                match CustomerFile::read("f.csv", &bytes, 1 << 20) {
                    Err(error) => prop_assert!(error.to_string().ends_with('.') || error.to_string().contains(" at line "), "{error}"),
                    Ok(file) => {
                        for row in file.rows().flatten() {
                            let _ = row.check(crate::db::now_utc().date());
                        }
                    }
                }
            }

            /// A file written the way spreadsheets write one reads back cell for cell, each
            /// row on the line it starts on, whatever the separator, line ends, quoting and
            /// blank lines.
            #[test]
            fn a_written_file_reads_back_with_its_line_numbers(
                rows in proptest::collection::vec((cell(), cell(), any::<bool>()), 1..20),
                semicolon in any::<bool>(),
                crlf in any::<bool>(),
                bom in any::<bool>(),
            ) {
                let (separator, end) = (if semicolon { ';' } else { ',' }, if crlf { "\r\n" } else { "\n" });
                let mut text = format!("{}email{separator}first_name{end}", if bom { "\u{feff}" } else { "" });
                let mut expected = Vec::new();
                let mut line = 2u64;
                for (email, name, blank_after) in &rows {
                    // A row of empty cells is a blank line to a CSV reader: give it an email.
                    let email = if email.trim_matches(['\r', '\n']).is_empty() && name.is_empty() { "e" } else { email.as_str() };
                    let record = format!("{}{separator}{}", quote(email, separator), quote(name, separator));
                    expected.push((line, email.to_owned(), name.clone()));
                    line += 1 + record.matches('\n').count() as u64;
                    text.push_str(&record);
                    text.push_str(end);
                    if *blank_after {
                        text.push_str(end);
                        line += 1;
                    }
                }
                let file = CustomerFile::read("f.csv", text.as_bytes(), 1 << 20).unwrap();
                prop_assert_eq!(file.separator, separator as u8);
                let read: Vec<(u64, String, String)> = file
                    .rows()
                    .map(|row| row.unwrap())
                    .map(|row| (row.line, row.customer.email, row.customer.first_name))
                    .collect();
                prop_assert_eq!(read, expected);
            }
        }
    }
}
