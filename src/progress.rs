//! Progress reporting behind a small trait, so engines never know whether a terminal is
//! attached. Bars are drawn only when stderr is a terminal and neither `--quiet` nor
//! `--no-progress` is given; cron sees nothing.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub trait Progress: Send + Sync {
    /// Set or change the expected total (bytes); `None` when unknown.
    fn set_total(&self, total: Option<u64>);
    fn advance(&self, bytes: u64);
    fn finish(&self);
}

/// No output at all.
pub struct Silent;

impl Progress for Silent {
    fn set_total(&self, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// A byte-counting bar on stderr.
pub struct Bar(ProgressBar);

impl Bar {
    pub fn new(message: &str) -> Self {
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(
                "{msg} {spinner} {bytes} ({bytes_per_sec}) {wide_bar} {percent:>3}% eta {eta}",
            )
            .expect("valid template"),
        );
        pb.set_message(message.to_string());
        pb.enable_steady_tick(Duration::from_millis(200));
        Bar(pb)
    }
}

impl Progress for Bar {
    fn set_total(&self, total: Option<u64>) {
        if let Some(t) = total {
            self.0.set_length(t);
        }
    }
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
        // An estimate that turns out low grows with the work rather than sticking at 100 %.
        if let Some(len) = self.0.length() {
            if self.0.position() > len {
                self.0.set_length(self.0.position());
            }
        }
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Whether progress may be drawn, from the global flags.
#[derive(Debug, Clone, Copy)]
pub struct ProgressPolicy {
    pub enabled: bool,
}

impl ProgressPolicy {
    pub fn from_flags(quiet: bool, no_progress: bool) -> Self {
        ProgressPolicy {
            enabled: !quiet && !no_progress && std::io::stderr().is_terminal(),
        }
    }

    pub fn start(&self, message: &str) -> Box<dyn Progress> {
        if self.enabled {
            Box::new(Bar::new(message))
        } else {
            Box::new(Silent)
        }
    }
}

/// What a long operation tells the person running it, whoever that is: notes (warnings, what
/// was dropped, what to do next) and progress bars. The command line shows them on a terminal;
/// a cluster restore prefixes each shard's notes with the shard; verify's test restore keeps
/// its own.
pub trait Reporter: Send + Sync {
    fn note(&self, msg: &str);
    fn progress(&self, what: &str) -> Box<dyn Progress>;
}

/// Notes prefixed with a name (a shard's), no progress bars (several operations run at once).
pub struct Prefixed<'a> {
    pub inner: &'a dyn Reporter,
    pub prefix: String,
}

impl Reporter for Prefixed<'_> {
    fn note(&self, msg: &str) {
        self.inner.note(&format!("{}{msg}", self.prefix));
    }
    fn progress(&self, _: &str) -> Box<dyn Progress> {
        Box::new(Silent)
    }
}

/// A [`Progress`] that also holds the work it counts to a rate (`max_rate`): every byte a
/// backup reads passes through its progress, so sleeping here when ahead of the rate throttles
/// the reading itself and everything downstream of it (compression, upload), leaving the
/// server its I/O.
pub struct Throttled {
    inner: Box<dyn Progress>,
    bytes_per_s: f64,
    started: std::time::Instant,
    done: std::sync::atomic::AtomicU64,
}

impl Throttled {
    pub fn new(inner: Box<dyn Progress>, mib_per_s: f64) -> Throttled {
        Throttled {
            inner,
            bytes_per_s: (mib_per_s * 1048576.0).max(1.0),
            started: std::time::Instant::now(),
            done: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Progress for Throttled {
    fn set_total(&self, total: Option<u64>) {
        self.inner.set_total(total);
    }

    fn advance(&self, bytes: u64) {
        self.inner.advance(bytes);
        let done = self
            .done
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed)
            + bytes;
        let due = std::time::Duration::from_secs_f64(done as f64 / self.bytes_per_s);
        let Some(ahead) = due.checked_sub(self.started.elapsed()) else {
            return;
        };
        // Called from blocking code and from async tasks alike: on a multi-threaded runtime
        // the worker hands its other tasks over while this one sleeps.
        let sleep = || std::thread::sleep(ahead);
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(sleep),
            _ => sleep(),
        }
    }

    fn finish(&self) {
        self.inner.finish();
    }
}
