//! Clean-up that must happen even when the user presses Ctrl-C or cron's `timeout` sends
//! SIGTERM: a mounted snapshot unmounted, a snapshot volume removed, a throwaway server stopped,
//! a running tool stopped, a temporary directory removed.
//!
//! A [`Guard`] registers an action; it runs once — when the guard is dropped (success or error),
//! or, if a SIGINT/SIGTERM arrives first, from the signal task, which runs every pending action
//! (newest first), says what was interrupted and what state it left ([`on_interrupt`]), and
//! exits with 130/143. [`install`] starts the signal task; every command does so first. A
//! command that treats a signal as a normal stop (`binlog archive --follow`) holds a
//! [`StopOnSignal`]: the first signal only asks it to stop, a second one interrupts.
//!
//! Never exits before the pending actions have run; never runs an action twice.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};

type Action = Box<dyn FnOnce() + Send>;

static PENDING: Mutex<BTreeMap<u64, (String, Action)>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(1);
static SIGNALS: Once = Once::new();
/// What an interruption leaves, said after the clean-up.
static ON_INTERRUPT: Mutex<Option<String>> = Mutex::new(None);
/// Set by a command that stops by itself on a signal ([`StopOnSignal`]).
static STOP_FLAG: Mutex<Option<Arc<AtomicBool>>> = Mutex::new(None);
/// A signal is being handled: the binary exits with its code once the clean-up is done.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// The handled signal's exit code and message, and who waits for them ([`until_interrupted`]).
static INTERRUPT_OUTCOME: std::sync::OnceLock<(i32, String)> = std::sync::OnceLock::new();
static INTERRUPT_DONE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Runs its action once, on drop or on a terminating signal.
pub struct Guard {
    id: u64,
}

impl Guard {
    /// Register `action`, described for the message printed when a signal triggers it.
    pub fn register(what: impl Into<String>, action: impl FnOnce() + Send + 'static) -> Guard {
        install();
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

/// What the message after an interruption says (what was interrupted and what it leaves),
/// e.g. "the backup was interrupted; no manifest was written, so it does not exist".
pub fn on_interrupt(message: impl Into<String>) {
    *ON_INTERRUPT.lock().unwrap_or_else(|p| p.into_inner()) = Some(message.into());
}

/// Resolves once a SIGINT/SIGTERM has been handled (clean-up done, message printed) with the
/// exit code (130/143) and what was interrupted: the binary then records the outcome and
/// exits. Nothing in the library ends the process.
pub async fn until_interrupted() -> (i32, String) {
    loop {
        let notified = INTERRUPT_DONE.notified();
        if let Some(done) = INTERRUPT_OUTCOME.get() {
            return done.clone();
        }
        notified.await;
    }
}

/// Whether a SIGINT/SIGTERM is being handled (the process is about to exit with 130/143).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// While held, the first SIGINT/SIGTERM sets [`StopOnSignal::flag`] (the command stops by
/// itself, normally) instead of interrupting; a second signal interrupts.
pub struct StopOnSignal {
    pub flag: Arc<AtomicBool>,
}

impl StopOnSignal {
    pub fn new() -> StopOnSignal {
        install();
        let flag = Arc::new(AtomicBool::new(false));
        *STOP_FLAG.lock().unwrap_or_else(|p| p.into_inner()) = Some(flag.clone());
        StopOnSignal { flag }
    }
}

impl Default for StopOnSignal {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for StopOnSignal {
    fn drop(&mut self) {
        STOP_FLAG.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// Start the signal task (once; needs the tokio runtime — without one, as in unit tests,
/// only `Drop` cleans up).
pub fn install() {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    SIGNALS.call_once(|| {
        use tokio::signal::unix::{signal, SignalKind};
        // Registered here, not in the task: from this call on, a signal is ours to handle.
        let _runtime = handle.enter();
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        handle.spawn(async move {
            let (code, name) = loop {
                let got = tokio::select! {
                    _ = int.recv() => (130, "SIGINT"),
                    _ = term.recv() => (143, "SIGTERM"),
                };
                let stop = STOP_FLAG.lock().unwrap_or_else(|p| p.into_inner()).clone();
                match stop {
                    Some(flag) if !flag.swap(true, Ordering::SeqCst) => continue,
                    _ => break got,
                }
            };
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("zrm: interrupted ({name}): cleaning up before exit");
            tokio::task::spawn_blocking(run_all).await.ok();
            let message = ON_INTERRUPT
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .unwrap_or_else(|| "interrupted".into());
            eprintln!("zrm: {message}");
            let _ = INTERRUPT_OUTCOME.set((code, format!("interrupted by {name}: {message}")));
            INTERRUPT_DONE.notify_waiters();
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
