//! The README and the help tell the truth (issue 14, item 15): every document the README points
//! to is in the repository, no command is described as coming "later" or "not built yet".

mod support;

use std::path::Path;

#[test]
fn every_document_the_readme_names_is_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let re = regex::Regex::new(r"`([A-Za-z0-9_./-]+\.(?:md|sh|toml))`").unwrap();
    let mut missing = Vec::new();
    for c in re.captures_iter(&readme) {
        let name = &c[1];
        // Paths on the user's machine (/etc/zrm/zrm.toml) are examples, not repository files.
        if name.starts_with('/') || name.starts_with("~") {
            continue;
        }
        // Installed copies (`lib/zrm/x.sh`) are found by their base name; `.demo/` is what
        // scripts/demo.sh makes.
        let base = name.rsplit('/').next().unwrap();
        let found = root.join(name).exists()
            || name.starts_with(".demo/")
            || ["docs", "scripts", "conf"]
                .iter()
                .any(|d| root.join(d).join(base).exists());
        if !found && name != "zrm.toml" && name != "mysql-zrm.conf" {
            missing.push(name.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "the README names files the repository lacks: {missing:?}"
    );
    for stale in ["not built yet", "Until `purge` exists", "DESIGN.md"] {
        assert!(!readme.contains(stale), "the README still says {stale:?}");
    }
}

#[test]
fn restore_help_does_not_say_replay_comes_later() {
    let out = support::run(support::zrm().args(["restore", "--help"]));
    assert!(out.success(), "{out}");
    assert!(!out.stdout.contains("later"), "{}", out.stdout);
}
