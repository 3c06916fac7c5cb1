//! The configuration keys are defined once (`set_keys!` in src/config.rs and the structs of the
//! other sections), and the README's reference and the example `conf/zrm.toml` follow them:
//! the example parses, every key a section accepts has a row in its README table and no row
//! names a key zrm refuses, and the example mentions every set key.

use std::collections::BTreeSet;
use std::path::Path;

use zrm::config::{ConfigFile, SET_KEYS};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The keys a section accepts, as the parser says when it meets an unknown one (the same list
/// a user sees in the error). `section` is a table header, or empty for `[repository]` itself.
fn accepted(section: &str) -> BTreeSet<String> {
    let text = if section.is_empty() {
        "[repository]\nzz_not_a_key = 1\n".to_string()
    } else {
        format!("[repository]\npath = \"x\"\n{section}\nzz_not_a_key = 1\n")
    };
    let err = match ConfigFile::parse(&text, Path::new("probe.toml")) {
        Ok(_) => panic!("an unknown key in {section} was accepted"),
        Err(e) => e.to_string(),
    };
    let list = err
        .split_once("expected ")
        .unwrap_or_else(|| panic!("no list of keys in: {err}"))
        .1;
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The keys of the README table that follows the line starting with `header` in "Reference".
fn documented(readme: &str, header: &str) -> BTreeSet<String> {
    let reference = &readme[readme.find("### Reference").expect("a Reference section")..];
    let at = reference
        .lines()
        .position(|l| l.starts_with(header))
        .unwrap_or_else(|| panic!("no {header} in the README's reference"));
    reference
        .lines()
        .skip(at + 1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(k, _)| k.to_string()))
        .collect()
}

#[test]
fn the_example_configuration_parses() {
    let path = root().join("conf/zrm.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    ConfigFile::parse(&text, &path).unwrap_or_else(|e| panic!("conf/zrm.toml: {e}"));
}

#[test]
fn the_readme_reference_and_the_parser_agree_on_every_key() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let set_keys: BTreeSet<String> = SET_KEYS.iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(
        accepted("[sets.s]"),
        set_keys,
        "set_keys! is what [sets] accepts"
    );
    assert_eq!(
        accepted("[defaults]"),
        set_keys,
        "[defaults] has the shape of a set"
    );
    for (section, header, also) in [
        ("[defaults]", "`[defaults]` and `[sets.NAME]`", &[][..]),
        ("[tools]", "`[tools]`", &[][..]),
        ("[clusters.c]", "`[clusters.NAME]`", &[][..]),
        // `replica` is a table of its own, with its own paragraph.
        ("", "`[repository]`", &["replica"][..]),
    ] {
        let mut keys = accepted(section);
        for a in also {
            keys.remove(*a);
        }
        assert_eq!(
            documented(&readme, header),
            keys,
            "the README's table for {header} and the keys zrm accepts differ"
        );
    }
}

#[test]
fn the_example_mentions_every_set_key() {
    let text = std::fs::read_to_string(root().join("conf/zrm.toml")).unwrap();
    let missing: Vec<&str> = SET_KEYS
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| {
            !text.lines().any(|l| {
                let l = l.trim_start_matches(['#', ' ']);
                l.starts_with(&format!("{k} "))
                    || l.starts_with(&format!("{k}="))
                    || l.ends_with(&format!(".{k}]"))
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "conf/zrm.toml does not show: {missing:?}"
    );
}
