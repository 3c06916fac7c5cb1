//! A reader that goes away (`zrm list | head -1`) is not an error: zrm ends normally (exit 0,
//! no panic, no "broken pipe" on stderr) without writing the rest.

mod support;

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;

#[test]
fn a_closed_stdout_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = support::write_config(
        dir.path(),
        "[repository]\npath = \"repo\"\n\n[sets.a]\nhost = \"127.0.0.1\"\nport = 1\n",
    );
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills two descriptors we then own.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end); // the reader is gone before zrm writes a byte
    let out = support::zrm()
        .arg("--config")
        .arg(&config)
        .args(["schedule", "list", "--format", "json"])
        .env("ZRM_CRONTAB", "/bin/true")
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.to_lowercase().contains("broken pipe"),
        "{stderr}"
    );
}
