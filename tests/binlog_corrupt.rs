//! `zrm binlog analyze` on truncated, bit-flipped, empty and foreign files: a clean error
//! (exit 1, the file and the offset named) and never a panic. The samples come from both
//! flavors (MySQL's with a compressed transaction payload and a partial JSON update).

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Flavor, TestServer};

/// A small, closed binlog from a real server, with its events' end positions.
struct Sample {
    bytes: Vec<u8>,
    /// zrm's NDJSON events for the whole file.
    events: Vec<Value>,
    /// Where events end (from mariadb-binlog, checked against zrm).
    boundaries: Vec<u64>,
    /// Offset of the checksum-algorithm byte of the format description event.
    fde_alg_byte: usize,
}

impl Sample {
    /// Start of the event holding byte `p` (0 for the magic number).
    fn event_start(&self, p: u64) -> u64 {
        if p < 4 {
            return 0;
        }
        self.boundaries
            .iter()
            .copied()
            .filter(|&b| b <= p)
            .max()
            .unwrap_or(4)
    }
}

fn sample(flavor: Flavor) -> &'static Sample {
    static SAMPLE: [OnceLock<Sample>; 2] = [OnceLock::new(), OnceLock::new()];
    SAMPLE[flavor as usize].get_or_init(|| make_sample(flavor))
}

fn make_sample(flavor: Flavor) -> Sample {
    let server = TestServer::of(flavor);
    server.sql(
        "CREATE DATABASE c; \
         CREATE TABLE c.t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB; \
         INSERT INTO c.t VALUES (1, 'one'), (2, 'two'), (3, 'three'); \
         UPDATE c.t SET v = 'deux' WHERE id = 2; \
         BEGIN; INSERT INTO c.t VALUES (4, 'four'); DELETE FROM c.t WHERE id = 1; COMMIT; \
         CREATE TABLE c.m (a INT) ENGINE=MyISAM; INSERT INTO c.m VALUES (7), (8);",
    );
    if flavor == Flavor::MySQL {
        server.sql(
            "CREATE TABLE c.j (id INT PRIMARY KEY, j JSON); \
             INSERT INTO c.j VALUES (1, '{\"a\": 1, \"b\": \"bbbbbbbbbbbbbbbbbbbbbbbb\"}'); \
             SET SESSION binlog_row_value_options = 'PARTIAL_JSON'; \
             SET SESSION binlog_row_image = 'MINIMAL'; \
             UPDATE c.j SET j = JSON_SET(j, '$.a', 2) WHERE id = 1; \
             SET SESSION binlog_transaction_compression = ON; \
             BEGIN; INSERT INTO c.t VALUES (5, 'five'), (6, 'six'); UPDATE c.t SET v = 'x' WHERE id > 4; COMMIT;",
        );
    }
    server.sql("FLUSH BINARY LOGS");
    let file = server.binlog_dir().join("mysql-bin.000001");
    let bytes = fs::read(&file).unwrap();
    assert!(
        (1000..=8000).contains(&bytes.len()),
        "the sample binlog should be small, it has {} bytes",
        bytes.len()
    );

    // Event boundaries according to the flavor's binlog tool.
    let out = support::run(
        Command::new(flavor.binlog_program())
            .args(["--no-defaults", "-vv", "--base64-output=decode-rows"])
            .arg(&file)
            .stdin(Stdio::null()),
    );
    assert_eq!(out.code, 0, "mariadb-binlog failed: {out}");
    let re = regex::Regex::new(r"(?m)^#\d{6} +\d{1,2}:\d\d:\d\d server id \d+ +end_log_pos (\d+)")
        .unwrap();
    let boundaries: Vec<u64> = re
        .captures_iter(&out.stdout)
        .map(|c| c[1].parse().unwrap())
        .collect();
    assert_eq!(
        boundaries.last().copied(),
        Some(bytes.len() as u64),
        "mariadb-binlog's last event should end at the end of the file"
    );

    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("mysql-bin.000001");
    fs::write(&copy, &bytes).unwrap();
    let out = analyze(&copy);
    assert_eq!(out.code, 0, "zrm on the intact sample failed: {out}");
    let events = ndjson(&out.stdout);
    let zrm_ends: Vec<u64> = events
        .iter()
        .map(|e| e["end_pos"].as_u64().expect("end_pos"))
        .collect();
    assert_eq!(
        zrm_ends, boundaries,
        "zrm's end_pos values differ from mariadb-binlog's end_log_pos values"
    );

    let fde_size = u32::from_le_bytes(bytes[4 + 9..4 + 13].try_into().unwrap()) as usize;
    Sample {
        fde_alg_byte: 4 + fde_size - 5,
        bytes,
        events,
        boundaries,
    }
}

fn analyze(path: &Path) -> support::Output {
    let mut cmd = support::zrm();
    cmd.args(["binlog", "analyze", "--format", "json"])
        .arg(path)
        .stdin(Stdio::null());
    support::run(&mut cmd)
}

fn ndjson(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn without_file(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("file");
    }
    v
}

fn panicked(out: &support::Output) -> bool {
    out.code == 101 || out.stderr.contains("panicked") || out.code >= 128
}

/// The offset in "at offset N", if the message has one.
fn offset_in(stderr: &str) -> Option<u64> {
    let re = regex::Regex::new(r"at offset (\d+)").unwrap();
    re.captures(stderr).map(|c| c[1].parse().unwrap())
}

/// Checks a clean failure: exit 1, the path and "at offset" in stderr, no panic.
fn clean_error(out: &support::Output, path: &Path) -> Result<(), String> {
    if panicked(out) {
        return Err(format!("PANIC/crash: {}", short(out)));
    }
    if out.code != 1 {
        return Err(format!(
            "exit code {}, expected 1: {}",
            out.code,
            short(out)
        ));
    }
    let p = path.display().to_string();
    if !out.stderr.contains(&p) {
        return Err(format!("stderr does not name the file {p}: {}", short(out)));
    }
    if offset_in(&out.stderr).is_none() {
        return Err(format!("stderr has no \"at offset N\": {}", short(out)));
    }
    Ok(())
}

fn short(out: &support::Output) -> String {
    let clip = |s: &str| {
        let s = s.trim();
        if s.len() > 400 {
            let mut end = 400;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…", &s[..end])
        } else {
            s.to_string()
        }
    };
    format!(
        "exit {} stderr={:?} stdout={:?}",
        out.code,
        clip(&out.stderr),
        clip(&out.stdout)
    )
}

/// Runs `check(case, path)` for every case on a few threads, each with its own file path;
/// returns the failures (case, message), sorted.
fn run_cases<C: Sync + std::fmt::Debug>(
    cases: &[C],
    make: impl Fn(&C) -> Vec<u8> + Sync,
    check: impl Fn(&C, &Path, &support::Output) -> Result<(), String> + Sync,
) -> Vec<String> {
    run_cases_named("mysql-bin.000001", cases, make, check)
}

/// [`run_cases`] with the damaged file named `name`.
fn run_cases_named<C: Sync + std::fmt::Debug>(
    name: &str,
    cases: &[C],
    make: impl Fn(&C) -> Vec<u8> + Sync,
    check: impl Fn(&C, &Path, &support::Output) -> Result<(), String> + Sync,
) -> Vec<String> {
    let root = tempfile::tempdir().unwrap();
    let threads = 4;
    let mut failures: Vec<(usize, String)> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let dir: PathBuf = root.path().join(format!("w{t}"));
                let (make, check) = (&make, &check);
                s.spawn(move || {
                    fs::create_dir_all(&dir).unwrap();
                    let path = dir.join(name);
                    let mut fails = Vec::new();
                    for (i, case) in cases.iter().enumerate().skip(t).step_by(threads) {
                        fs::write(&path, make(case)).unwrap();
                        let out = analyze(&path);
                        if let Err(e) = check(case, &path, &out) {
                            fails.push((i, format!("{case:?}: {e}")));
                        }
                    }
                    fails
                })
            })
            .collect();
        for h in handles {
            failures.extend(h.join().unwrap());
        }
    });
    failures.sort();
    failures.into_iter().map(|(_, m)| m).collect()
}

fn report(what: &str, total: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} of {total} cases failed; the first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(25)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---------------------------------------------------------------------------------------------

flavor_tests! {
fn truncated_at_every_offset(flavor: Flavor) {
    let s = sample(flavor);
    let started = Instant::now();
    let cuts: Vec<usize> = (0..s.bytes.len()).collect();
    let failures = run_cases(
        &cuts,
        |&cut| s.bytes[..cut].to_vec(),
        |&cut, path, out| {
            let cut64 = cut as u64;
            if cut == 0 {
                clean_error(out, path)?;
                if !out.stderr.contains("empty") {
                    return Err(format!(
                        "an empty file should say \"empty\": {}",
                        short(out)
                    ));
                }
                return Ok(());
            }
            if s.boundaries.contains(&cut64) {
                // A file cut exactly after an event is a valid, shorter binlog.
                if panicked(out) || out.code != 0 {
                    return Err(format!(
                        "cut at an event boundary must succeed: {}",
                        short(out)
                    ));
                }
                let got: Vec<Value> = ndjson(&out.stdout).iter().map(without_file).collect();
                let want: Vec<Value> = s
                    .events
                    .iter()
                    .filter(|e| e["end_pos"].as_u64().unwrap() <= cut64)
                    .map(without_file)
                    .collect();
                if got != want {
                    return Err(format!(
                        "the events of the cut file are not the first {} events of the whole file \
                         (got {} events)",
                        want.len(),
                        got.len()
                    ));
                }
                return Ok(());
            }
            if cut == 4 {
                // Only the magic number: an empty binlog. Either answer is fine, but clean.
                if out.code == 0 {
                    return Ok(());
                }
                return clean_error(out, path);
            }
            clean_error(out, path)?;
            // The offset named is that of the event the file ends in (or the cut itself).
            let off = offset_in(&out.stderr).unwrap();
            let start = if cut64 < 4 {
                0
            } else {
                s.boundaries
                    .iter()
                    .copied()
                    .filter(|&b| b <= cut64)
                    .max()
                    .unwrap_or(4)
            };
            if off < start || off > cut64 {
                return Err(format!(
                    "the offset {off} is not in [{start}, {cut}] (start of the cut event .. cut): {}",
                    short(out)
                ));
            }
            if cut < 4 && !out.stderr.contains("not a binary log") {
                return Err(format!(
                    "a {cut}-byte file should be \"not a binary log\": {}",
                    short(out)
                ));
            }
            Ok(())
        },
    );
    eprintln!(
        "{} truncations of a {}-byte binlog checked in {:?}",
        cuts.len(),
        s.bytes.len(),
        started.elapsed()
    );
    report("truncation", cuts.len(), &failures);
}
}

flavor_tests! {
fn one_flipped_byte_is_always_detected(flavor: Flavor) {
    let s = sample(flavor);
    let len = s.bytes.len();
    let mut positions: Vec<usize> = (0..100.min(len)).collect();
    let step = ((len - 100) / 200).max(1);
    positions.extend((100..len).step_by(step));
    positions.push(s.fde_alg_byte);
    positions.push(len - 1);
    positions.sort();
    positions.dedup();
    let failures = run_cases(
        &positions,
        |&p| {
            let mut b = s.bytes.clone();
            b[p] ^= 0xff;
            b
        },
        |&p, path, out| {
            clean_error(out, path)?;
            if p < 4 && !out.stderr.contains("not a binary log") {
                return Err(format!(
                    "a flip in the magic number should say \"not a binary log\": {}",
                    short(out)
                ));
            }
            // The error names the damaged event (every event is checksummed).
            let start = s.event_start(p as u64);
            let off = offset_in(&out.stderr).unwrap();
            if off < start || off > p as u64 {
                return Err(format!(
                    "the error is at offset {off}, but the damaged event starts at {start}: {}",
                    short(out)
                ));
            }
            Ok(())
        },
    );
    report("flipped byte", positions.len(), &failures);
}
}

flavor_tests! {
/// The format description event (FDE) says whether the other events carry a CRC32 (its
/// checksum-algorithm byte, and the server version: old servers wrote none). Damage to it must
/// be caught by the FDE's own CRC32 *before* its content is trusted; otherwise the reader skips
/// every checksum and reads each CRC as part of an event body, and in a file without rows
/// events nothing else fails. Every byte of the FDE is flipped in such a file (the sample cut
/// before its first rows event), and the checksum-algorithm byte also in the whole file.
fn damaged_format_description_is_detected(flavor: Flavor) {
    let s = sample(flavor);
    let first_rows = s
        .events
        .iter()
        .find(|e| e["type"] == "Annotate_rows" || e["type"] == "Table_map")
        .map(|e| e["pos"].as_u64().unwrap() as usize)
        .expect("the sample has rows events");
    assert_eq!(
        s.bytes[s.fde_alg_byte], 1,
        "the sample is checksummed (CRC32)"
    );
    let fde_end = s.boundaries[0] as usize;
    // (what, file length, byte flipped)
    let mut cases: Vec<(&str, usize, usize)> = (4..fde_end)
        .map(|p| ("DDL-only prefix", first_rows, p))
        .collect();
    cases.push((
        "whole file, checksum-algorithm byte",
        s.bytes.len(),
        s.fde_alg_byte,
    ));
    let failures = run_cases(
        &cases,
        |&(_, len, p)| {
            let mut b = s.bytes[..len].to_vec();
            b[p] ^= 0xff;
            b
        },
        |&(_, _, p), path, out| {
            let what = if p == s.fde_alg_byte {
                " (the checksum-algorithm byte)"
            } else if (25..75).contains(&p) {
                " (in the server version)"
            } else {
                ""
            };
            clean_error(out, path).map_err(|e| format!("byte {p}{what} flipped: {e}"))?;
            let off = offset_in(&out.stderr).unwrap();
            if off != 4 {
                return Err(format!(
                    "byte {p}{what} flipped: the damaged FDE is at offset 4, the error says {off}: {}",
                    short(out)
                ));
            }
            Ok(())
        },
    );
    report(
        "flipped byte in the format description event",
        cases.len(),
        &failures,
    );
}
}

flavor_tests! {
fn random_damage_is_always_detected(flavor: Flavor) {
    let s = sample(flavor);
    let len = s.bytes.len();
    // xorshift64*, fixed seed: the same cases every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    #[derive(Debug)]
    enum Damage {
        /// (offset, xor mask) pairs, never touching the checksum-algorithm byte.
        Bytes(Vec<(usize, u8)>),
        /// Garbage appended after the last event.
        Append(Vec<u8>),
        /// The event at this offset gets this event_size (header bytes 9..13).
        Size(usize, u32),
    }
    let mut cases: Vec<Damage> = Vec::new();
    for _ in 0..200 {
        let n = 1 + (next() % 8) as usize;
        let mut v = Vec::new();
        while v.len() < n {
            let off = 4 + (next() as usize % (len - 4));
            let mask = (next() % 255 + 1) as u8;
            if off != s.fde_alg_byte {
                v.push((off, mask));
            }
        }
        cases.push(Damage::Bytes(v));
    }
    for n in [1usize, 3, 18, 19, 20, 23, 40, 300] {
        cases.push(Damage::Append((0..n).map(|_| next() as u8).collect()));
    }
    // Impossible sizes in the second and the last event's header.
    let second = s.boundaries[0] as usize;
    let last = s.boundaries[s.boundaries.len() - 2] as usize;
    for at in [second, last] {
        for size in [
            0u32,
            1,
            18,
            19,
            22,
            23,
            0x40_0000,
            0x3fff_ffff,
            0x4000_0000,
            u32::MAX,
        ] {
            cases.push(Damage::Size(at, size));
        }
    }
    let started = Instant::now();
    let failures = run_cases(
        &cases,
        |d| {
            let mut b = s.bytes.clone();
            match d {
                Damage::Bytes(v) => {
                    for &(off, mask) in v {
                        b[off] ^= mask;
                    }
                }
                Damage::Append(g) => b.extend_from_slice(g),
                Damage::Size(at, size) => b[at + 9..at + 13].copy_from_slice(&size.to_le_bytes()),
            }
            b
        },
        |_, path, out| clean_error(out, path),
    );
    let took = started.elapsed();
    report("random damage", cases.len(), &failures);
    assert!(
        took < Duration::from_secs(120),
        "damaged files took {took:?}: a corrupt size should not make zrm read or allocate much"
    );
}
}

flavor_tests! {
/// A zstd-compressed copy: a damaged or cut frame, or a cut binlog inside a sound frame, is a
/// clean error too; a binlog cut at an event boundary inside a sound frame is fine.
fn damaged_zstd_copies_fail_cleanly(flavor: Flavor) {
    let s = sample(flavor);
    let zst = zstd::encode_all(&s.bytes[..], 3).unwrap();
    #[derive(Debug)]
    enum Case {
        /// The compressed frame cut after this many bytes.
        FrameCut(usize),
        /// One byte of the compressed frame flipped.
        FrameFlip(usize),
        /// A sound frame holding the binlog cut after this many bytes.
        BinlogCut(usize),
    }
    let mut cases: Vec<Case> = Vec::new();
    for k in 0..24 {
        cases.push(Case::FrameCut(k * zst.len() / 24));
    }
    cases.push(Case::FrameCut(zst.len() - 1));
    for k in 0..40 {
        cases.push(Case::FrameFlip(k * zst.len() / 40));
    }
    cases.push(Case::FrameFlip(zst.len() - 1));
    for &b in &s.boundaries {
        cases.push(Case::BinlogCut(b as usize));
        cases.push(Case::BinlogCut(b as usize - 1));
        cases.push(Case::BinlogCut(b as usize - 10));
    }
    let failures = run_cases_named(
        "mysql-bin.000001.zst",
        &cases,
        |c| match *c {
            Case::FrameCut(n) => zst[..n].to_vec(),
            Case::FrameFlip(p) => {
                let mut z = zst.clone();
                z[p] ^= 0xff;
                z
            }
            Case::BinlogCut(n) => zstd::encode_all(&s.bytes[..n], 3).unwrap(),
        },
        |c, path, out| {
            if panicked(out) {
                return Err(format!("PANIC/crash: {}", short(out)));
            }
            match *c {
                Case::BinlogCut(n) if s.boundaries.contains(&(n as u64)) => {
                    if out.code != 0 {
                        return Err(format!(
                            "a cut at an event boundary must succeed: {}",
                            short(out)
                        ));
                    }
                    let want = s
                        .events
                        .iter()
                        .filter(|e| e["end_pos"].as_u64().unwrap() <= n as u64)
                        .count();
                    let got = ndjson(&out.stdout).len();
                    if got != want {
                        return Err(format!("{got} events, expected {want}"));
                    }
                    Ok(())
                }
                Case::BinlogCut(_) => clean_error(out, path),
                Case::FrameCut(_) | Case::FrameFlip(_) => {
                    if out.code != 1 {
                        return Err(format!(
                            "exit code {}, expected 1: {}",
                            out.code,
                            short(out)
                        ));
                    }
                    if !out.stderr.contains(&path.display().to_string()) {
                        return Err(format!("stderr does not name the file: {}", short(out)));
                    }
                    Ok(())
                }
            }
        },
    );
    report("damaged zstd copy", cases.len(), &failures);
}
}

#[test]
fn empty_file_says_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mysql-bin.000009");
    fs::write(&path, b"").unwrap();
    let out = analyze(&path);
    clean_error(&out, &path).unwrap_or_else(|e| panic!("empty file: {e}"));
    assert!(out.stderr.contains("empty"), "empty file: {}", short(&out));
}

#[test]
fn foreign_file_is_not_a_binary_log() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = analyze(&path);
    clean_error(&out, &path).unwrap_or_else(|e| panic!("Cargo.toml: {e}"));
    assert!(
        out.stderr.contains("not a binary log"),
        "Cargo.toml: {}",
        short(&out)
    );
    // A text file that happens to start like a binlog's magic is still not one.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.000001");
    let mut bytes = vec![0xfe, b'b', b'i', b'n'];
    bytes.extend_from_slice(&fs::read(&path).unwrap());
    fs::write(&fake, &bytes).unwrap();
    let out = analyze(&fake);
    clean_error(&out, &fake).unwrap_or_else(|e| panic!("magic + Cargo.toml: {e}"));
}

#[test]
fn missing_file_is_a_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mysql-bin.000404");
    let out = analyze(&path);
    assert!(!panicked(&out), "missing file: {}", short(&out));
    assert_eq!(out.code, 1, "missing file: {}", short(&out));
    assert!(
        out.stderr.contains(&path.display().to_string()),
        "missing file: the message should name it: {}",
        short(&out)
    );
}
