//! `zrm schedule`: the crontab block, through a fake `crontab` command ($ZRM_CRONTAB) that keeps
//! the crontab in a file. Every other line of the crontab must come back byte for byte.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use support::Output;

const BEGIN: &str = "# BEGIN zrm (managed by zrm schedule; do not edit this block)";

/// What the user had before zrm: an env line, comments, another job, no final newline.
const OTHER: &str = "MAILTO=dba@example.com\n# nightly report\n0 6 * * * /usr/local/bin/report --all\n\n#  last line, no newline";

struct Fixture {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Fixture {
    /// A config with sets `a` and `b` (in a directory with a space in its name, so the cron
    /// line has to quote it), and a fake crontab with no crontab installed.
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let conf_dir = dir.path().join("conf dir");
        fs::create_dir(&conf_dir).unwrap();
        let config = support::write_config(
            &conf_dir,
            "[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\n\n\
             [sets.a]\nhost = \"127.0.0.1\"\nport = 1\n\n[sets.b]\nhost = \"127.0.0.1\"\nport = 1\n",
        );
        let script = dir.path().join("crontab");
        fs::write(
            &script,
            "#!/bin/bash\n\
             d=\"$(dirname \"$0\")\"\n\
             case \"$1\" in\n\
             -l) if [ -f \"$d/crontab.txt\" ]; then cat \"$d/crontab.txt\"; \
                 else echo \"no crontab for root\" >&2; exit 1; fi ;;\n\
             -) cat > \"$d/crontab.txt\"; echo write >> \"$d/writes.log\" ;;\n\
             *) echo \"fake crontab: unexpected arguments: $*\" >&2; exit 2 ;;\n\
             esac\n",
        )
        .unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        Fixture { dir, config }
    }

    fn set_crontab(&self, text: &str) {
        fs::write(self.dir.path().join("crontab.txt"), text).unwrap();
    }

    fn crontab(&self) -> Option<String> {
        fs::read_to_string(self.dir.path().join("crontab.txt")).ok()
    }

    /// How many times the crontab was written.
    fn writes(&self) -> usize {
        fs::read_to_string(self.dir.path().join("writes.log"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    fn zrm(&self, args: &[&str]) -> Output {
        let mut cmd = support::zrm();
        cmd.env("ZRM_CRONTAB", self.dir.path().join("crontab"))
            .arg("--config")
            .arg(&self.config)
            .args(args);
        support::run(&mut cmd)
    }

    fn zrm_ok(&self, args: &[&str]) -> Output {
        let out = self.zrm(args);
        assert_eq!(out.code, 0, "{args:?}: {out}");
        out
    }
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// The crontab less zrm's block: what the user had.
fn outside_block(text: &str) -> String {
    let start = text.find(BEGIN).expect("a zrm block");
    let end = text.find("# END zrm\n").expect("the end of the block") + "# END zrm\n".len();
    format!("{}{}", &text[..start], &text[end..])
}

#[test]
fn add_replace_list_remove_keep_every_other_line() {
    let f = Fixture::new();
    f.set_crontab(OTHER);
    let zrm_bin = Path::new(env!("CARGO_BIN_EXE_zrm")).canonicalize().unwrap();
    let config = f.config.canonicalize().unwrap();

    let out = f.zrm_ok(&[
        "schedule",
        "add",
        "--set",
        "a",
        "--interval",
        "daily",
        "--at",
        "02:30",
    ]);
    assert!(
        out.stdout
            .contains("scheduled a level 0 backup of set 'a' daily at 02:30"),
        "{out}"
    );
    assert!(out.stdout.contains("next run: "), "{out}");
    assert!(out.stdout.contains("purge --all"), "{out}");
    let one = f.crontab().unwrap();
    assert_eq!(outside_block(&one), OTHER, "{one}");
    assert!(
        one.ends_with("# END zrm\n#  last line, no newline"),
        "{one}"
    );
    let cmd_prefix = format!(
        "{} --config '{}' --quiet",
        zrm_bin.display(),
        config.display()
    );
    assert!(
        one.contains(&format!(
            "# zrm set=a level=0 spec=daily@02:30\n30 2 * * * {cmd_prefix} backup --set a --level 0\n"
        )),
        "{one}"
    );
    assert!(
        one.contains(&format!(
            "# zrm purge\n30 4 * * * {cmd_prefix} purge --all\n"
        )),
        "{one}"
    );
    assert_eq!(f.writes(), 1);

    // The same again: nothing changes, nothing is written.
    let out = f.zrm_ok(&[
        "schedule",
        "add",
        "--set",
        "a",
        "--interval",
        "daily",
        "--at",
        "2:30",
    ]);
    assert!(out.stdout.contains("already scheduled"), "{out}");
    assert_eq!(f.crontab().unwrap(), one);
    assert_eq!(f.writes(), 1);

    // Another spec for the same set and level replaces the entry, and says so.
    let out = f.zrm_ok(&[
        "schedule",
        "add",
        "--set",
        "a",
        "--interval",
        "weekly",
        "--day",
        "sun",
        "--at",
        "03:00",
    ]);
    assert!(
        out.stdout
            .contains("replaced the level 0 entry of set 'a' (daily at 02:30"),
        "{out}"
    );
    let two = f.crontab().unwrap();
    assert!(two.contains("spec=weekly@sun@03:00\n0 3 * * 0 "), "{two}");
    assert!(!two.contains("daily@02:30"), "{two}");
    assert_eq!(outside_block(&two), OTHER);

    // A second set, by cron expression, level 1; and a monthly one for `a` level auto.
    f.zrm_ok(&[
        "schedule",
        "add",
        "--set",
        "b",
        "--cron",
        "*/15  * * * *",
        "--level",
        "1",
    ]);
    f.zrm_ok(&[
        "schedule",
        "add",
        "--set",
        "a",
        "--interval",
        "monthly",
        "--day",
        "15",
        "--at",
        "01:05",
        "--level",
        "auto",
    ]);
    let three = f.crontab().unwrap();
    assert!(three.contains("spec=cron\n*/15 * * * * "), "{three}");
    assert!(
        three.contains("spec=monthly@15@01:05\n5 1 15 * * "),
        "{three}"
    );
    assert_eq!(three.matches("purge --all").count(), 1, "{three}");
    assert_eq!(outside_block(&three), OTHER);

    // list, as JSON: every entry with its next run.
    let listed = json(&f.zrm_ok(&["--format", "json", "schedule", "list"]));
    assert_eq!(listed["purge"], true, "{listed}");
    let entries = listed["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{listed}");
    let crons: Vec<&str> = entries
        .iter()
        .map(|e| e["cron"].as_str().unwrap())
        .collect();
    assert_eq!(crons, ["0 3 * * 0", "*/15 * * * *", "5 1 15 * *"]);
    for e in entries {
        let next = e["next_run"].as_str().unwrap_or_else(|| panic!("{e}"));
        let next = chrono::DateTime::parse_from_rfc3339(next).unwrap();
        assert!(next > chrono::Utc::now(), "{e}");
        assert!(
            e["command"]
                .as_str()
                .unwrap()
                .contains("--quiet backup --set"),
            "{e}"
        );
    }
    assert_eq!(entries[0]["set"], "a");
    assert_eq!(entries[0]["level"], "0");
    assert_eq!(entries[1]["level"], "1");
    // A sunday, at 03:00 local time.
    let sunday =
        chrono::DateTime::parse_from_rfc3339(entries[0]["next_run"].as_str().unwrap()).unwrap();
    assert_eq!(
        chrono::Datelike::weekday(&sunday),
        chrono::Weekday::Sun,
        "{listed}"
    );
    let only_b = json(&f.zrm_ok(&["--format", "json", "schedule", "list", "--set", "b"]));
    assert_eq!(only_b["entries"].as_array().unwrap().len(), 1, "{only_b}");

    let text = f.zrm_ok(&["schedule", "list"]);
    assert!(text.stdout.starts_with("SET"), "{text}");
    assert!(text.stdout.contains("weekly on sun at 03:00"), "{text}");
    assert!(text.stdout.contains("purge --all"), "{text}");

    // Remove one level of a, then the rest of a: b and the purge line stay.
    let writes = f.writes();
    let out = f.zrm_ok(&["schedule", "remove", "--set", "a", "--level", "auto"]);
    assert!(
        out.stdout
            .contains("removed the level auto backup of set 'a'"),
        "{out}"
    );
    f.zrm_ok(&["schedule", "remove", "--set", "a"]);
    let left = f.crontab().unwrap();
    assert!(!left.contains("set=a "), "{left}");
    assert!(
        left.contains("set=b ") && left.contains("purge --all"),
        "{left}"
    );
    assert_eq!(f.writes(), writes + 2);

    // Nothing to remove: nothing written.
    let out = f.zrm_ok(&["schedule", "remove", "--set", "a"]);
    assert!(out.stdout.contains("nothing to remove"), "{out}");
    assert_eq!(f.writes(), writes + 2);

    // The last entry goes with the purge line and the markers: the crontab as it was.
    let out = f.zrm_ok(&["schedule", "remove", "--set", "b"]);
    assert!(
        out.stdout
            .contains("removed the daily `zrm purge --all` too"),
        "{out}"
    );
    assert_eq!(f.crontab().unwrap(), OTHER);
    let empty = json(&f.zrm_ok(&["--format", "json", "schedule", "list"]));
    assert_eq!(empty, serde_json::json!({ "entries": [], "purge": false }));
}

#[test]
fn remove_all_drops_the_block_even_a_broken_one() {
    let f = Fixture::new();
    f.set_crontab(&format!(
        "A=1\n{BEGIN}\n# zrm set=a level=0 spec=cron\n0 1 * * * /x\n5 5 * * * something else\n# END zrm\nB=2\n"
    ));
    let out = f.zrm(&["schedule", "list"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("'5 5 * * * something else'"), "{out}");
    let out = f.zrm_ok(&["schedule", "remove", "--all"]);
    assert!(out.stdout.contains("removed zrm's block"), "{out}");
    assert_eq!(f.crontab().unwrap(), "A=1\nB=2\n");
    let writes = f.writes();
    let out = f.zrm_ok(&["schedule", "remove", "--all"]);
    assert!(out.stdout.contains("nothing to remove"), "{out}");
    assert_eq!(f.writes(), writes);
}

#[test]
fn bad_schedules_are_refused_and_nothing_is_written() {
    let f = Fixture::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--set", "nope", "--interval", "daily", "--at", "02:00"],
            "set 'nope' is not defined",
        ),
        (
            &["--set", "a", "--interval", "daily", "--at", "25:00"],
            "--at '25:00' is not a time of day",
        ),
        (
            &["--set", "a", "--cron", "0 2 * * 9"],
            "the day-of-week field '9' has 9, outside 0-7",
        ),
        (
            &["--set", "a", "--cron", "0 2 * *"],
            "has 4 field(s), not 5",
        ),
        (&["--set", "a", "--cron", "0 2 31 2 *"], "never fires"),
        (
            &[
                "--set",
                "a",
                "--interval",
                "monthly",
                "--day",
                "31",
                "--at",
                "02:00",
            ],
            "not every month has a day 31",
        ),
        (
            &["--set", "a", "--interval", "weekly", "--at", "02:00"],
            "--interval weekly needs --day",
        ),
        // clap's own checks: no schedule at all, both kinds, --at missing.
        (&["--set", "a"], "--interval"),
        (
            &[
                "--set",
                "a",
                "--interval",
                "daily",
                "--at",
                "02:00",
                "--cron",
                "@daily",
            ],
            "cannot be used with",
        ),
        (&["--set", "a", "--interval", "daily"], "--at"),
    ];
    for (args, want) in cases {
        let mut all = vec!["schedule", "add"];
        all.extend_from_slice(args);
        let out = f.zrm(&all);
        assert_eq!(out.code, 2, "{args:?}: {out}");
        assert!(out.stderr.contains(want), "{args:?} wants {want:?}: {out}");
    }
    assert_eq!(f.crontab(), None);
    assert_eq!(f.writes(), 0);
}

#[test]
fn run_runs_what_cron_would_and_returns_its_exit_code() {
    let f = Fixture::new();
    // A stand-in for zrm (in a directory with a space) that records its arguments.
    let bin_dir = f.dir.path().join("zrm bin");
    fs::create_dir(&bin_dir).unwrap();
    let fake = bin_dir.join("zrm");
    let args_file = f.dir.path().join("args.txt");
    fs::write(
        &fake,
        format!(
            "#!/bin/bash\nprintf '%s\\n' \"$@\" > '{}'\nexit 7\n",
            args_file.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    f.set_crontab(&format!(
        "{BEGIN}\n\
         # zrm set=a level=0 spec=weekly@sun@02:00\n\
         0 2 * * 0 '{}' --config '/etc/zrm/100\\%.toml' --quiet backup --set a --level 0\n\
         # zrm set=a level=1 spec=daily@02:00\n\
         0 2 * * 1-6 '{}' --config /etc/zrm/zrm.toml --quiet backup --set a --level 1\n\
         # END zrm\n",
        fake.display(),
        fake.display()
    ));

    let out = f.zrm(&["schedule", "run", "--set", "a"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("choose one with --level"), "{out}");

    let out = f.zrm(&["schedule", "run", "--set", "a", "--level", "0"]);
    assert_eq!(out.code, 7, "{out}");
    assert!(
        out.stderr
            .contains("running the scheduled level 0 backup of set 'a'"),
        "{out}"
    );
    assert_eq!(
        fs::read_to_string(&args_file).unwrap(),
        "--config\n/etc/zrm/100%.toml\nbackup\n--set\na\n--level\n0\n"
    );

    let out = f.zrm(&["-v", "schedule", "run", "--set", "a", "--level", "1"]);
    assert_eq!(out.code, 7, "{out}");
    assert_eq!(
        fs::read_to_string(&args_file).unwrap(),
        "-v\n--config\n/etc/zrm/zrm.toml\nbackup\n--set\na\n--level\n1\n"
    );

    let out = f.zrm(&["schedule", "run", "--set", "b"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("set 'b' has no scheduled backup"),
        "{out}"
    );
}

#[test]
fn without_a_crontab_command_the_error_says_install_cron() {
    let f = Fixture::new();
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = support::zrm();
    cmd.env_remove("ZRM_CRONTAB")
        .env("PATH", empty.path())
        .arg("--config")
        .arg(&f.config)
        .args(["schedule", "list"]);
    let out = support::run(&mut cmd);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("install cron"), "{out}");
}
