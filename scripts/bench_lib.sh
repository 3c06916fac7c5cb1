# Shared by the benchmark section scripts (bench_snapshot.sh, bench_s3.sh, bench_cluster.sh):
# messages, number helpers, building zrm, free ports. Sourced, not run.
#
# bench_zrm needs ROOT, WORK and T_START; it sets BUILT, ZRM_DESC, BUILD_S, ZRM (a copy of the
# binary in WORK, so a concurrent build cannot swap it) and ZRM_VERSION. It honours BENCH_REV
# (build that commit from a clean export), BENCH_ZRM (use that binary) and BENCH_NO_BUILD=1.
# shellcheck shell=bash

step() { printf '\n==> %s\n' "$*" >&2; }
say() { printf '    %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
calc() { awk "BEGIN { printf \"${2:-%.2f}\", ($1) }"; }
# A number formatted (default %.2f), or "n/a" for anything else (a median of nothing).
num() { awk -v v="$1" -v f="${2:-%.2f}" 'BEGIN { if (v ~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/) printf f, v; else print "n/a" }'; }
median() {
    sort -g | awk 'BEGIN { OFMT = "%.10g" } { a[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
maxof() { sort -g | awk 'END { print (NR ? $1 : "n/a") }'; }
# The nearest-rank percentile P of the numbers on stdin.
pct() {
    sort -g | awk -v p="$1" '{ a[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; print a[i] }'
}

if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
fi
git_desc() { # the commit, and whether src/ or tests/ had uncommitted changes
    local c d
    c=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    d=""
    if [ -n "$(git status --porcelain -- src tests Cargo.toml Cargo.lock 2>/dev/null)" ]; then
        d=" plus uncommitted changes in src/ or tests/ (diff SHA-256 $(git diff HEAD -- src tests Cargo.toml Cargo.lock 2>/dev/null | sha256sum | cut -c1-12); the working tree was built as it was)"
    fi
    printf 'commit `%s`%s' "$c" "$d"
}

bench_zrm() {
    if [ -n "${BENCH_REV:-}" ]; then
        # A committed revision, exported with `git archive` and built on its own (target dir
        # target/bench-rev, as scripts/bench.sh does): edits in progress cannot leak into the numbers.
        if [ -n "${BENCH_ZRM:-}" ] || [ "${BENCH_NO_BUILD:-0}" = 1 ]; then
            die "BENCH_REV excludes BENCH_ZRM and BENCH_NO_BUILD=1"
        fi
        REV=$(git rev-parse --verify --quiet "${BENCH_REV}^{commit}") || die "BENCH_REV=$BENCH_REV is not a commit"
        step "Building zrm at $REV (BENCH_REV=$BENCH_REV) from a clean export"
        command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs)"
        mkdir -p "$WORK/src"
        git archive "$REV" | tar -x -C "$WORK/src"
        # git archive dates files at the commit time: cargo, going by mtimes, could keep an older build.
        find "$WORK/src" -exec touch {} +
        local t0
    t0=$(date +%s)
        if ! CARGO_TARGET_DIR="$ROOT/target/bench-rev" cargo build --release \
            --manifest-path "$WORK/src/Cargo.toml" >"$WORK/build.log" 2>&1; then
            tail -n 30 "$WORK/build.log" >&2
            die "cargo build --release of $REV failed"
        fi
        grep -q 'Compiling zrm ' "$WORK/build.log" || die "cargo did not rebuild zrm from the export of $REV (see $WORK/build.log)"
        say "built in $(($(date +%s) - t0)) s"
        BUILT="$ROOT/target/bench-rev/release/zrm"
        ZRM_DESC="commit \`$(git rev-parse --short=12 "$REV")\` (\`BENCH_REV=$BENCH_REV\`: that commit exported with \`git archive\` and built alone, \`cargo build --release\`)"
        rm -rf "$WORK/src"
    elif [ -n "${BENCH_ZRM:-}" ]; then
        step "Using $BENCH_ZRM (BENCH_ZRM)"
        BUILT="$BENCH_ZRM"
        ZRM_DESC="${BENCH_ZRM_DESC:-the binary BENCH_ZRM=$BENCH_ZRM, HEAD $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown) when the script ran}"
    elif [ "${BENCH_NO_BUILD:-0}" = 1 ]; then
        step "Using target/release/zrm as it is (BENCH_NO_BUILD=1)"
        BUILT="${CARGO_TARGET_DIR:-$ROOT/target}/release/zrm"
        ZRM_DESC="HEAD \`$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)\` when the script ran (\`BENCH_NO_BUILD=1\`: target/release/zrm as found, whatever it was built from)"
    else
        step "Building zrm (cargo build --release)"
        command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs)"
        t0=$(date +%s)
        ZRM_DESC="$(git_desc), \`cargo build --release\`"
        if ! cargo build --release >"$WORK/build.log" 2>&1; then
            tail -n 30 "$WORK/build.log" >&2
            die "cargo build --release failed (set BENCH_NO_BUILD=1 to bench the binary that is there)"
        fi
        say "built in $(($(date +%s) - t0)) s"
        BUILT="${CARGO_TARGET_DIR:-$ROOT/target}/release/zrm"
    fi
    [ -x "$BUILT" ] || die "$BUILT is missing"
    # shellcheck disable=SC2034 # read by the sourcing script
    BUILD_S=$(($(date +%s) - T_START))
    ZRM="$WORK/zrm"
    cp "$BUILT" "$ZRM"
    ZRM_VERSION=$("$ZRM" --version)
    say "$ZRM_VERSION, $ZRM_DESC"
}

free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    die "no free TCP port found"
}
