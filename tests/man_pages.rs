//! The man pages in `man/` are generated from the clap definitions (the single source of the
//! command line). This test fails when they are stale; regenerate with
//! `ZRM_UPDATE_MAN=1 cargo test --test man_pages`.

use std::path::Path;

use clap::CommandFactory;

/// (file name, page) for `zrm` and every subcommand, nested ones as `zrm-binlog-archive`.
fn pages() -> Vec<(String, Vec<u8>)> {
    fn walk(cmd: &clap::Command, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) {
        let name = if prefix.is_empty() {
            cmd.get_name().to_string()
        } else {
            format!("{prefix}-{}", cmd.get_name())
        };
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .title(name.to_uppercase())
            .render(&mut buf)
            .unwrap();
        out.push((format!("{name}.1"), buf));
        for sub in cmd.get_subcommands() {
            if sub.get_name() != "help" {
                walk(sub, &name, out);
            }
        }
    }
    let mut cmd = zrm::cli::Cli::command();
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, "", &mut out);
    out
}

#[test]
fn man_pages_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let update = std::env::var_os("ZRM_UPDATE_MAN").is_some();
    let mut stale = Vec::new();
    for (name, page) in pages() {
        let path = dir.join(&name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &page).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(page.as_slice()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale man pages {stale:?}: run `ZRM_UPDATE_MAN=1 cargo test --test man_pages` and commit man/"
    );
}
