//! `creditdesk backup FILE`: a consistent copy of a live SQLite database, written under a
//! temporary name beside FILE and given FILE's name only once it is whole
//! (docs/operations.md, "Backup and restore").

use std::fs::File;
use std::path::{Path, PathBuf};

use super::dialect::{copy_database_into, CopyError};
use super::{DatabaseUrl, DbConnection};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists already; give a new file name (a backup never overwrites a file)")]
    Exists(String),
    #[error("the folder of {0} does not exist or cannot be read: {1}")]
    Folder(String, std::io::Error),
    #[error("there is no SQLite database at {0}: check DATABASE_URL or --database-url")]
    NoDatabase(String),
    #[error("{0}: give a file name that is valid UTF-8")]
    NotUtf8(String),
    #[error(transparent)]
    Copy(#[from] CopyError),
    #[error("could not finish the copy {0}: {1}")]
    Io(String, std::io::Error),
}

/// Refuses, before connecting, what `backup` cannot copy: a PostgreSQL database (pg_dump's
/// job), or a SQLite path with no file (connecting would create an empty database there,
/// and the backup would copy that).
pub fn check_source(url: &str) -> Result<(), BackupError> {
    match DatabaseUrl::parse(url) {
        DatabaseUrl::Postgres(_) => Err(CopyError::Postgres.into()),
        DatabaseUrl::Sqlite(path) if !Path::new(&path).is_file() => {
            Err(BackupError::NoDatabase(path))
        }
        DatabaseUrl::Sqlite(_) => Ok(()),
    }
}

/// Copies the database into `target`, which must not exist; returns its absolute path.
pub fn backup(conn: &mut DbConnection, target: &Path) -> Result<PathBuf, BackupError> {
    let shown = target.display().to_string();
    let target = absolute(target).map_err(|e| BackupError::Folder(shown.clone(), e))?;
    if target.symlink_metadata().is_ok() {
        return Err(BackupError::Exists(shown));
    }
    let partial = partial_name(&target);
    let partial_text = partial
        .to_str()
        .ok_or_else(|| BackupError::NotUtf8(shown.clone()))?;
    let _ = std::fs::remove_file(&partial);
    let copied = copy_database_into(conn, partial_text)
        .map_err(BackupError::from)
        .and_then(|()| finish(&partial, &target, &shown));
    if copied.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    copied.map(|()| target)
}

/// FILE with its folder made absolute (the folder must exist): an absolute path is never
/// read by SQLite as a `file:` URI.
fn absolute(target: &Path) -> std::io::Result<PathBuf> {
    let folder = match target.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder.canonicalize()?,
        _ => std::env::current_dir()?,
    };
    let name = target
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?;
    Ok(folder.join(name))
}

/// `.FILE.partial-<pid>` in FILE's folder, so the final rename stays on one file system.
fn partial_name(target: &Path) -> PathBuf {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    target.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Flushes the copy to disk, then gives it the final name without replacing a file that
/// appeared meanwhile (a hard link fails when the name exists; rename would replace it).
fn finish(partial: &Path, target: &Path, shown: &str) -> Result<(), BackupError> {
    let io = |e: std::io::Error| BackupError::Io(shown.to_owned(), e);
    File::open(partial).and_then(|f| f.sync_all()).map_err(io)?;
    match std::fs::hard_link(partial, target) {
        Ok(()) => std::fs::remove_file(partial).map_err(io)?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(BackupError::Exists(shown.to_owned()))
        }
        // A file system without hard links: rename (the name was free a moment ago).
        Err(_) => std::fs::rename(partial, target).map_err(io)?,
    }
    if let Some(folder) = target.parent() {
        let _ = File::open(folder).and_then(|f| f.sync_all());
    }
    Ok(())
}
