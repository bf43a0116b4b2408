//! Imports this process is applying, and how far each has come: the console starts an
//! apply in the background and its page polls this (docs/import.md, "Progress").

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Rows applied so far of an import's total.
#[derive(Debug)]
pub struct Progress {
    done: AtomicU64,
    pub total: u64,
}

impl Progress {
    pub fn set(&self, done: u64) {
        self.done.store(done, Ordering::Relaxed);
    }

    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
pub struct Jobs {
    running: Mutex<HashMap<i64, Arc<Progress>>>,
}

/// An import while it runs; dropping it (however the job ends) takes it off the list.
pub struct Running {
    jobs: Arc<Jobs>,
    id: i64,
    pub progress: Arc<Progress>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.jobs.lock().remove(&self.id);
    }
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<Progress>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks import `id` running with `total` rows; none when it runs already.
    pub fn start(self: &Arc<Self>, id: i64, total: u64) -> Option<Running> {
        let mut running = self.lock();
        if running.contains_key(&id) {
            return None;
        }
        let progress = Arc::new(Progress {
            done: AtomicU64::new(0),
            total,
        });
        running.insert(id, progress.clone());
        Some(Running {
            jobs: self.clone(),
            id,
            progress,
        })
    }

    /// `(done, total)` while import `id` runs in this process.
    pub fn progress(&self, id: i64) -> Option<(u64, u64)> {
        self.lock().get(&id).map(|p| (p.done(), p.total))
    }
}
