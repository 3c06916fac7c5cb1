//! Clean-up that must happen even when the user presses Ctrl-C or cron's `timeout` sends
//! SIGTERM: a mounted snapshot unmounted, a snapshot volume removed, a throwaway server stopped.
//!
//! A [`Guard`] registers an action; it runs once — when the guard is dropped (success or error),
//! or, if a SIGINT/SIGTERM arrives first, from the signal task, which then exits with 130/143.
//! The signal task is installed on the first registration, so commands that never register one
//! keep the default signal behaviour.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};

type Action = Box<dyn FnOnce() + Send>;

static PENDING: Mutex<BTreeMap<u64, (String, Action)>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(1);
static SIGNALS: Once = Once::new();

/// Runs its action once, on drop or on a terminating signal.
pub struct Guard {
    id: u64,
}

impl Guard {
    /// Register `action`, described for the message printed when a signal triggers it.
    pub fn register(what: impl Into<String>, action: impl FnOnce() + Send + 'static) -> Guard {
        install_signal_task();
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        lock().insert(id, (what.into(), Box::new(action)));
        Guard { id }
    }

    /// Run the action now (it will not run again).
    pub fn run(self) {
        drop(self)
    }

    /// Forget the action: the resource was handed over or removed another way.
    pub fn disarm(self) {
        lock().remove(&self.id);
        std::mem::forget(self);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let action = lock().remove(&self.id);
        if let Some((_, f)) = action {
            f();
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, BTreeMap<u64, (String, Action)>> {
    // A panic inside an action must not stop later clean-ups.
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Run every pending action, newest first (a mount before the volume under it).
pub fn run_all() {
    loop {
        let next = lock().pop_last();
        match next {
            Some((_, (what, f))) => {
                eprintln!("zrm: cleaning up: {what}");
                f();
            }
            None => return,
        }
    }
}

fn install_signal_task() {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return; // no runtime (unit tests): Drop still cleans up
    };
    SIGNALS.call_once(|| {
        handle.spawn(async {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            let code = tokio::select! {
                _ = int.recv() => 130,
                _ = term.recv() => 143,
            };
            eprintln!("zrm: interrupted: cleaning up before exit");
            tokio::task::spawn_blocking(run_all).await.ok();
            std::process::exit(code);
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn runs_once_on_drop_and_never_after_disarm() {
        let n = Arc::new(AtomicU64::new(0));
        let m = n.clone();
        let g = Guard::register("count", move || {
            m.fetch_add(1, Ordering::SeqCst);
        });
        g.run();
        assert_eq!(n.load(Ordering::SeqCst), 1);
        let m = n.clone();
        let g = Guard::register("count", move || {
            m.fetch_add(1, Ordering::SeqCst);
        });
        g.disarm();
        run_all();
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }
}
