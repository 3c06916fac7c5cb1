//! `scripts/install.sh` into a temporary prefix, with the zrm binary under test: every file is
//! where the README says, the `mysql-zrm` link leads to the installed zrm, `man` finds and
//! renders the pages, and the bash completion parses. Running it twice works (idempotent).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ci() -> bool {
    std::env::var("CI").map(|v| v == "true").unwrap_or(false)
}

fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| {
        d.join(tool)
            .metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn install(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(root().join("scripts/install.sh"))
        .args(["--no-build", "--binary", env!("CARGO_BIN_EXE_zrm")])
        .args(args)
        .output()
        .expect("run bash scripts/install.sh")
}

/// `man` with no pager, no sandbox (it may be unavailable in a container) and a fixed width.
fn man(args: &[&str], manpath: Option<&Path>) -> Output {
    let mut cmd = Command::new("man");
    cmd.env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "80")
        .env("MAN_DISABLE_SECCOMP", "1")
        .env("LC_ALL", "C.UTF-8")
        .args(args);
    match manpath {
        Some(p) => cmd.env("MANPATH", p),
        None => cmd.env_remove("MANPATH"),
    };
    cmd.output().expect("run man")
}

#[test]
fn install_into_a_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    // man-db may read the pages as its own unprivileged user: the prefix must be readable.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let prefix = tmp.path().join("usr");
    let prefix_s = prefix.to_str().unwrap();

    let out = install(&["--prefix", prefix_s]);
    assert!(out.status.success(), "{}", show(&out));

    let expected = [
        "bin/zrm",
        "share/man/man1/zrm.1.gz",
        "share/man/man1/zrm-backup.1.gz",
        "share/man/man1/zrm-binlog-archive.1.gz",
        "share/man/man5/zrm.toml.5.gz",
        "share/bash-completion/completions/zrm",
        "share/zsh/site-functions/_zrm",
        "share/fish/vendor_completions.d/zrm.fish",
        "share/doc/zrm/zrm.toml.example",
        "lib/zrm/cluster-nightly.sh",
    ];
    for f in expected {
        assert!(
            prefix.join(f).is_file(),
            "{f} not installed\n{}",
            show(&out)
        );
    }
    // Every committed man page is installed.
    for e in std::fs::read_dir(root().join("man")).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        let section = name.rsplit('.').next().unwrap();
        let installed = prefix.join(format!("share/man/man{section}/{name}.gz"));
        assert!(installed.is_file(), "{} missing", installed.display());
    }
    for exe in ["bin/zrm", "lib/zrm/cluster-nightly.sh"] {
        let mode = prefix.join(exe).metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o755, 0o755, "{exe} mode {mode:o}");
    }
    assert_eq!(
        std::fs::read(prefix.join("share/doc/zrm/zrm.toml.example")).unwrap(),
        std::fs::read(root().join("conf/zrm.toml")).unwrap()
    );

    // bin/mysql-zrm and ZRM's other program names are relative links to the installed zrm.
    for name in [
        "mysql-zrm",
        "mysql-zrm-backup",
        "mysql-zrm-restore",
        "mysql-zrm-list",
        "mysql-zrm-purge",
        "mysql-zrm-check",
        "mysql-zrm-verify-backup",
        "mysql-zrm-parse-binlogs",
        "mysql-zrm-scheduler",
        "mysql-zrm-reporter",
        "zrm-pre-scheduler",
    ] {
        let link = prefix.join("bin").join(name);
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("zrm"),
            "{name}"
        );
        assert_eq!(
            std::fs::canonicalize(&link).unwrap(),
            std::fs::canonicalize(prefix.join("bin/zrm")).unwrap()
        );
    }
    let version = Command::new(prefix.join("bin/zrm"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success(), "{}", show(&version));
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("zrm "));

    // The completion scripts parse.
    let bash = Command::new("bash")
        .arg("-n")
        .arg(prefix.join("share/bash-completion/completions/zrm"))
        .output()
        .unwrap();
    assert!(bash.status.success(), "bash -n: {}", show(&bash));
    for (shell, file) in [
        ("zsh", "share/zsh/site-functions/_zrm"),
        ("fish", "share/fish/vendor_completions.d/zrm.fish"),
    ] {
        if on_path(shell) {
            let out = Command::new(shell)
                .arg("-n")
                .arg(prefix.join(file))
                .output()
                .unwrap();
            assert!(out.status.success(), "{shell} -n: {}", show(&out));
        } else {
            eprintln!("note: {shell} not installed, {file} not syntax-checked");
        }
    }

    // Idempotent: a second run succeeds and leaves the same tree.
    let again = install(&["--prefix", prefix_s]);
    assert!(again.status.success(), "second run: {}", show(&again));
    assert_eq!(
        std::fs::read_link(prefix.join("bin/mysql-zrm")).unwrap(),
        Path::new("zrm")
    );
    let leftovers: Vec<_> = walk(&prefix)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");

    // man finds and renders the pages through MANPATH.
    if !on_path("man") {
        let reason = "man not found on PATH (on Debian: apt-get install man-db)";
        if ci() {
            panic!("{reason}");
        }
        eprintln!("SKIP (man part): {reason}");
        return;
    }
    let manpath = prefix.join("share/man");
    let where_ = man(&["-w", "zrm"], Some(&manpath));
    assert!(where_.status.success(), "man -w zrm: {}", show(&where_));
    assert_eq!(
        String::from_utf8_lossy(&where_.stdout).trim(),
        manpath.join("man1/zrm.1.gz").to_str().unwrap()
    );
    for (args, want) in [
        (&["zrm"][..], "Point-in-time backup manager"),
        (&["5", "zrm.toml"][..], "compression_level"),
        (&["zrm-binlog-archive"][..], "ZRM-BINLOG-ARCHIVE"),
    ] {
        let out = man(args, Some(&manpath));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(want),
            "man {args:?} lacks {want:?}: {}",
            show(&out)
        );
    }
    let local = man(
        &[
            "-l",
            prefix.join("share/man/man1/zrm.1.gz").to_str().unwrap(),
        ],
        None,
    );
    assert!(
        local.status.success() && String::from_utf8_lossy(&local.stdout).contains("SYNOPSIS"),
        "man -l: {}",
        show(&local)
    );
}

#[test]
fn destdir_stages_under_the_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let stage = tmp.path().join("stage");
    let out = install(&["--prefix", "/opt/zrm", "--destdir", stage.to_str().unwrap()]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(stage.join("opt/zrm/bin/zrm").is_file());
    assert!(stage.join("opt/zrm/share/man/man5/zrm.toml.5.gz").is_file());
    assert_eq!(
        std::fs::read_link(stage.join("opt/zrm/bin/mysql-zrm")).unwrap(),
        Path::new("zrm")
    );
}

#[test]
fn refuses_a_missing_binary_and_unknown_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("p");
    let out = Command::new("bash")
        .arg(root().join("scripts/install.sh"))
        .args(["--binary", "/nonexistent/zrm", "--prefix"])
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/zrm"),
        "{}",
        show(&out)
    );
    assert!(!prefix.exists(), "nothing installed on failure");

    let out = install(&["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
