#!/usr/bin/env bash
# Benchmarks zrm against its peers on the same data, in one run, and writes docs/BENCHMARKS.md.
#
#   scripts/bench.sh                      # BENCH_SCALE=full: >= 500 MiB of ROW binlogs (~35 min)
#   BENCH_SCALE=small scripts/bench.sh    # ~50 MiB of binlogs, a quick check (~5 min + build)
#
# What it does:
#   1. installs what it lacks (Debian: sysbench, mydumper, zstd, time, jq, btrfs-progs,
#      mariadb-server/-client),
#   2. builds zrm in release mode and copies the binary aside (a concurrent build cannot swap it),
#   3. starts its own throwaway MariaDB server under a temp dir (--no-defaults, a free port, its
#      own socket; never the default instance on 3306) and stops it on exit,
#   4. loads sysbench tables, takes a full backup with zrm (the base of the point-in-time
#      restore, step 9), then runs `oltp_write_only` until the ROW-format binlogs written by that
#      load reach the target size,
#   5. times, on the same files, `mariadb-binlog` (plain and decode-rows -vv) against
#      `zrm binlog analyze` (--summary and full NDJSON), medians of BENCH_RUNS runs (default 3),
#   6. binlog archive: `zrm binlog archive --set bench` catching up on every closed binlog, against
#      `mariadb-binlog --read-from-remote-server --raw`; zrm's side is the hook `bench_archive`,
#      which prints "not measured" while the command is not built,
#   7. full backup: `zrm backup --method mysqldump` against `mariadb-dump --single-transaction |
#      zstd -3` (and plain `mydumper` for reference) on the sysbench data,
#   8. logical engine, on a dataset `lbench` of its own server (sysbench `oltp_read_write prepare`
#      tables plus a wide table with BLOBs: ~1 GiB at full scale, ~25 MiB at small), every tool with
#      2 threads: dump by `zrm backup` (method logical, zstd level 1 and `compression = "none"`)
#      against `mariadb-dump --single-transaction | zstd -3` and plain `mydumper`; load into a
#      second fresh server (lbench dropped before every run) by `zrm restore --parallel 2`
#      against `myloader` and `mariadb < dump.sql`; CHECKSUM TABLE of each load's result against
#      the source once (untimed); peak RSS of zrm both ways (~6 min at full scale, ~20 s small),
#   9. point-in-time restore: (a) replay of the load's binlogs by `zrm restore --until-position`
#      into a second fresh server against `mariadb-binlog FILES | mariadb` into a third one, both
#      loaded with the same full backup first, then CHECKSUM TABLE compared; (b) planning a
#      restore across a chain of 1,000 binlog files on a separate small server,
#  10. snapshot backups (btrfs): `scripts/bench_snapshot.sh` with this run's zrm binary, on a
#      loop-mounted btrfs image of its own (needs root): commits blocked by `zrm backup` with
#      `method = "btrfs"` (`lock_hold_ms`), BENCH_SNAPSHOT_RUNS backups idle and as many under
#      `sysbench oltp_write_only`, and the copy out of the snapshot against `tar | zstd -1` (and
#      `-T2`); its section and two rows of "Goals at a glance" go into the report, "not measured"
#      if the script fails (~4 min at full scale, ~1 min small),
#  11. S3 repository and encryption: `scripts/bench_s3.sh` with this run's zrm binary, against a
#      moto_server of its own (needs moto_server and boto3): upload and download throughput of
#      `zrm replicate` against boto3 on the same file (2 GiB at full scale), zrm's peak RSS during
#      the upload, and a logical backup and restore without and with `encryption_key_file`; its
#      section and one row of "Goals at a glance" go into the report, "not measured" if the script
#      fails (~10 min at full scale, ~1 min small),
#  12. sharded clusters: `scripts/bench_cluster.sh` with this run's zrm binary, on three shards
#      and three restore targets of its own: the lock hold of `zrm backup --cluster app
#      --coordinated` (BENCH_CLUSTER_RUNS backups idle and as many under load) and `zrm restore
#      --cluster app --until-time` against the three single-shard restores in turn; its section
#      and one row of "Goals at a glance" go into the report (~7 min at full scale, ~1 min small),
#  13. Oracle MySQL 9.7: `scripts/bench_mysql.sh` with this run's zrm binary, on MySQL 9.7 servers
#      of its own (from `scripts/mysql-chroot.sh`): the logical engine's dump and load against
#      `mysqldump --single-transaction | zstd -3` and `mysql < dump.sql` (and mydumper/myloader)
#      on the dataset of step 8, and the replay of zrm's parallel applier against
#      `mysqlbinlog FILES | mysql` on `oltp_write_only` binlogs written by 2 threads (plus one run
#      each of `--replay-lanes 2, 4, 8` and `--applier client`); its section and six rows of
#      "Goals at a glance" go into the report, "not measured" if the script fails (~4 min small,
#      ~25 min at full scale),
#  14. writes docs/BENCHMARKS.md (BENCH_OUT overrides the path).
#
# Other knobs: BENCH_RUNS=N (default 3), BENCH_PITR_RUNS=N (runs of the replay comparison, each
# with freshly reloaded targets; default BENCH_RUNS), BENCH_LOGICAL_RUNS=N (runs of each dump and
# load of step 8; default BENCH_RUNS), BENCH_NO_BUILD=1 (use target/release/zrm, under $CARGO_TARGET_DIR if set, as it is),
# BENCH_REV=COMMIT (build that commit from a clean `git archive` export instead of the working
# tree), BENCH_KEEP=1 (leave the temp dir), BENCH_TMPDIR=DIR (parent of the temp dir; default /var/tmp,
# which is on disk, unlike a tmpfs /tmp), BENCH_NO_SNAPSHOT=1 (skip step 10), and step 10's own
# knobs (BENCH_SNAPSHOT_RUNS, BENCH_SNAPSHOT_COPY_RUNS, BENCH_IMAGE_GIB: see scripts/bench_snapshot.sh),
# BENCH_NO_S3=1 (skip step 11; its knobs: BENCH_S3_FILE_MIB, see scripts/bench_s3.sh),
# BENCH_NO_CLUSTER=1 (skip step 12; its knobs: BENCH_CLUSTER_RUNS, BENCH_CLUSTER_LOAD_S, see
# scripts/bench_cluster.sh), BENCH_NO_MYSQL=1 (skip step 13; its knobs: BENCH_MYSQL_REPLAY_RUNS,
# BENCH_MYSQL_BINLOG_MIB, BENCH_MYSQL_LANES, see scripts/bench_mysql.sh). Steps 11, 12 and 13 run
# BENCH_RUNS times what they run "3 times".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SCALE="${BENCH_SCALE:-full}"
RUNS="${BENCH_RUNS:-3}"
OUT="${BENCH_OUT:-$ROOT/docs/BENCHMARKS.md}"
# L_*: the logical engine's dataset (step 8): L_TABLES sysbench tables of L_ROWS rows, and
# L_WIDE rows in the wide table (~1.3 KiB each in InnoDB: ~145 MiB at full scale).
case "$SCALE" in
    small) TABLES=4; ROWS=20000; TARGET_MIB=50; CHUNK_S=5; LOAD_THREADS=4; L_TABLES=4; L_ROWS=20000; L_WIDE=4000 ;;
    full) TABLES=8; ROWS=100000; TARGET_MIB=520; CHUNK_S=15; LOAD_THREADS=4; L_TABLES=8; L_ROWS=500000; L_WIDE=120000 ;;
    *) echo "error: BENCH_SCALE must be small or full, not '$SCALE'" >&2; exit 2 ;;
esac
case "$RUNS" in '' | *[!0-9]* | 0) echo "error: BENCH_RUNS must be a positive integer" >&2; exit 2 ;; esac
PITR_RUNS="${BENCH_PITR_RUNS:-$RUNS}"
case "$PITR_RUNS" in '' | *[!0-9]* | 0) echo "error: BENCH_PITR_RUNS must be a positive integer" >&2; exit 2 ;; esac
L_RUNS="${BENCH_LOGICAL_RUNS:-$RUNS}"
case "$L_RUNS" in '' | *[!0-9]* | 0) echo "error: BENCH_LOGICAL_RUNS must be a positive integer" >&2; exit 2 ;; esac
# Threads (connections) of every dump and load tool in step 8.
L_THREADS=2
CHAIN_FILES=1000

# mariadbd lives in /usr/sbin, which a non-root PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin" ;; esac

step() { printf '\n==> %s\n' "$*" >&2; }
say() { printf '    %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
# Floating point through awk: calc 'EXPR' [printf-format].
calc() { awk "BEGIN { printf \"${2:-%.2f}\", ($1) }"; }
# The median of the numbers on stdin, one a line.
median() {
    sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
maxof() { sort -g | tail -n 1; }

T_START=$(date +%s)

# --- 1. packages -----------------------------------------------------------------------------

step "Checking packages"
required=() optional=()
command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null || required+=(mariadb-server)
command -v mariadb >/dev/null && command -v mariadb-dump >/dev/null \
    && command -v mariadb-binlog >/dev/null || required+=(mariadb-client)
command -v sysbench >/dev/null || required+=(sysbench)
command -v zstd >/dev/null || required+=(zstd)
[ -x /usr/bin/time ] || required+=(time)
command -v jq >/dev/null || required+=(jq)
command -v mydumper >/dev/null || optional+=(mydumper)
if [ "${BENCH_NO_SNAPSHOT:-0}" != 1 ]; then
    command -v mkfs.btrfs >/dev/null && command -v btrfs >/dev/null || optional+=(btrfs-progs)
fi
if [ $((${#required[@]} + ${#optional[@]})) -gt 0 ]; then
    command -v apt-get >/dev/null || die "missing ${required[*]} ${optional[*]} and no apt-get: install them by hand"
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "missing ${required[*]} ${optional[*]}: run as root or install sudo"
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    say "installing: ${required[*]} ${optional[*]}"
    "${sudo[@]}" apt-get update -qq
    if [ ${#required[@]} -gt 0 ]; then
        "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${required[@]}" >/dev/null
    fi
    if [ ${#optional[@]} -gt 0 ]; then
        "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${optional[@]}" >/dev/null \
            || warn "could not install ${optional[*]}: its rows are left out"
    fi
else
    say "all present"
fi
HAVE_MYDUMPER=0
command -v mydumper >/dev/null && HAVE_MYDUMPER=1

# --- 2. build --------------------------------------------------------------------------------

WORK=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/zrm-bench.XXXXXX")
DB="$WORK/db"
SOCK="$DB/s.sock"
SERVER_PID=""
# Every server this script started (the source, the restore targets, the chain servers).
SERVER_PIDS=()

cleanup() {
    local rc=$?
    set +e
    local pid alive
    for pid in "${SERVER_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && kill -TERM "$pid"; done
    for _ in $(seq 1 120); do
        alive=0
        for pid in "${SERVER_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.5
    done
    for pid in "${SERVER_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            warn "server pid $pid did not stop within 60 s: killing it"
            kill -KILL "$pid"
        fi
        wait "$pid" 2>/dev/null
    done
    if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
        printf 'temp dir left in place: %s\n' "$WORK" >&2
        [ "$rc" -ne 0 ] && [ -f "$DB/err.log" ] && { echo "--- tail of $DB/err.log" >&2; tail -n 20 "$DB/err.log" >&2; }
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
fi
ZRM_DIRTY=""
if [ -n "${BENCH_REV:-}" ]; then
    # A committed revision, exported with `git archive` and built on its own (target dir
    # target/bench-rev): edits in progress in the working tree cannot leak into the numbers.
    [ "${BENCH_NO_BUILD:-0}" = 1 ] && die "BENCH_REV and BENCH_NO_BUILD=1 exclude each other"
    REV=$(git rev-parse --verify --quiet "${BENCH_REV}^{commit}") || die "BENCH_REV=$BENCH_REV is not a commit"
    step "Building zrm at $REV (BENCH_REV=$BENCH_REV) from a clean export"
    command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs)"
    mkdir -p "$WORK/src"
    git archive "$REV" | tar -x -C "$WORK/src"
    # git archive dates every file at its commit time, which can be older than the last build
    # in target/bench-rev (of another commit): cargo, going by mtimes, would keep that binary.
    find "$WORK/src" -exec touch {} +
    t0=$(date +%s)
    if ! CARGO_TARGET_DIR="$ROOT/target/bench-rev" cargo build --release \
        --manifest-path "$WORK/src/Cargo.toml" >"$WORK/build.log" 2>&1; then
        tail -n 30 "$WORK/build.log" >&2
        die "cargo build --release of $REV failed"
    fi
    grep -q 'Compiling zrm ' "$WORK/build.log" || die "cargo did not rebuild zrm from the export of $REV (see $WORK/build.log)"
    say "built in $(($(date +%s) - t0)) s"
    BUILT="$ROOT/target/bench-rev/release/zrm"
    ZRM_COMMIT=$(git rev-parse --short=12 "$REV")
    ZRM_DIRTY=" (\`BENCH_REV=$BENCH_REV\`: that commit exported with \`git archive\` and built alone)"
elif [ "${BENCH_NO_BUILD:-0}" = 1 ]; then
    step "Using target/release/zrm as it is (BENCH_NO_BUILD=1)"
    BUILT="${CARGO_TARGET_DIR:-$ROOT/target}/release/zrm"
    ZRM_COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    ZRM_DIRTY=" (HEAD when the script ran; \`BENCH_NO_BUILD=1\`: target/release/zrm as found, whatever it was built from)"
else
    step "Building zrm (cargo build --release)"
    command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs)"
    t0=$(date +%s)
    if ! cargo build --release >"$WORK/build.log" 2>&1; then
        tail -n 30 "$WORK/build.log" >&2
        die "cargo build --release failed (set BENCH_NO_BUILD=1 to bench the binary that is there)"
    fi
    say "built in $(($(date +%s) - t0)) s"
    BUILT="${CARGO_TARGET_DIR:-$ROOT/target}/release/zrm"
    ZRM_COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    if [ -n "$(git status --porcelain -- src tests Cargo.toml Cargo.lock 2>/dev/null)" ]; then
        ZRM_DIRTY=" plus uncommitted changes in src/ or tests/ (the working tree was built as it was)"
    fi
fi
[ -x "$BUILT" ] || die "$BUILT is missing"

# A private copy: another build replacing the binary mid-run cannot change the numbers.
ZRM="$WORK/zrm"
cp "$BUILT" "$ZRM"
ZRM_VERSION=$("$ZRM" --version)
say "$ZRM_VERSION, commit $ZRM_COMMIT$ZRM_DIRTY"

# --- 3. server -------------------------------------------------------------------------------


free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    die "no free TCP port found"
}
PORT=$(free_port)
sql() { mariadb --no-defaults -S "$SOCK" -uroot -N -B "$@"; }

# start_server DIR MARIADBD-OPTIONS...: a throwaway server with its data, socket (DIR/s.sock),
# error log and tmpdir under DIR; sets STARTED_PID.
start_server() {
    local dir=$1 i
    shift
    mkdir -p "$dir/data" "$dir/tmp"
    # --tmpdir: the bootstrap's temporary tables stay out of a shared /tmp (a concurrent run
    # there once deleted one from under it: "Error on delete of '/tmp/#sql-temptable-…'").
    mariadb-install-db --no-defaults --datadir="$dir/data" --user=root --tmpdir="$dir/tmp" \
        --auth-root-authentication-method=normal --skip-test-db >"$dir/install-db.log" 2>&1 \
        || { cat "$dir/install-db.log" >&2; die "mariadb-install-db failed in $dir"; }
    mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/s.sock" --user=root \
        --log-error="$dir/err.log" --pid-file="$dir/pid" --tmpdir="$dir/tmp" "$@" >/dev/null 2>&1 &
    STARTED_PID=$!
    SERVER_PIDS+=("$STARTED_PID")
    for i in $(seq 1 120); do
        mariadb --no-defaults -S "$dir/s.sock" -uroot -e 'select 1' >/dev/null 2>&1 && break
        kill -0 "$STARTED_PID" 2>/dev/null || { tail -n 20 "$dir/err.log" >&2; die "mariadbd in $dir exited during startup"; }
        [ "$i" -eq 120 ] && die "mariadbd in $dir not ready after 60 s"
        sleep 0.5
    done
}

step "Starting a throwaway MariaDB server in $DB (port $PORT)"
mkdir -p "$DB/binlog"
start_server "$DB" --port="$PORT" --bind-address=127.0.0.1 --log-bin="$DB/binlog/mysql-bin" \
    --server-id=1 --binlog-format=ROW --innodb-buffer-pool-size=1G --max-binlog-size=1G
SERVER_PID=$STARTED_PID
MARIADB_VERSION=$(sql -e 'select version()')
say "MariaDB $MARIADB_VERSION ready (pid $SERVER_PID)"

# --- 4. data and binlogs ---------------------------------------------------------------------

SB=(sysbench --db-driver=mysql --mysql-socket="$SOCK" --mysql-user=root --mysql-db=sbtest
    --tables="$TABLES" --table-size="$ROWS")
step "sysbench prepare: $TABLES tables x $ROWS rows"
sql -e 'CREATE DATABASE sbtest'
t0=$(date +%s)
"${SB[@]}" --threads=2 oltp_write_only prepare >"$WORK/sb-prepare.log" 2>&1 \
    || { tail "$WORK/sb-prepare.log" >&2; die "sysbench prepare failed"; }
say "prepared in $(($(date +%s) - t0)) s"
sql -e 'FLUSH BINARY LOGS'
FIRST_LOAD_LOG=$(sql -e 'SHOW MASTER STATUS' | cut -f1)

# The point-in-time restore (step 9) has its own repository and sets: bench (this server),
# bench2 and bench3 (the two restore targets, started in step 9), chain and chain2 (the small
# servers of the 1,000-file chain).
PITR_CONF="$WORK/zrm-pitr.toml"
{
    printf '[repository]\npath = "%s"\n[defaults]\nuser = "root"\n' "$WORK/repo-pitr"
    printf '[sets.bench]\nsocket = "%s"\nmethod = "mysqldump"\n' "$SOCK"
    for name in bench2 bench3 chain chain2; do
        printf '[sets.%s]\nsocket = "%s"\nmethod = "mysqldump"\n' "$name" "$WORK/$name/s.sock"
    done
} >"$PITR_CONF"
step "Point-in-time restore base: zrm backup --set bench --method mysqldump (before the load)"
PITR_STATUS=measured
t0=$(date +%s)
if "$ZRM" -c "$PITR_CONF" -q backup --set bench --method mysqldump >"$WORK/pitr-backup.log" 2>&1; then
    say "$(head -n 1 "$WORK/pitr-backup.log") ($(($(date +%s) - t0)) s)"
else
    PITR_STATUS="\`zrm backup --set bench --method mysqldump\` before the load failed: $(head -n 1 "$WORK/pitr-backup.log")"
    warn "$PITR_STATUS"
fi

# Binlogs from the load's first file on, as "name<TAB>size" lines.
load_logs() { sql -e 'SHOW BINARY LOGS' | awk -F'\t' -v f="$FIRST_LOAD_LOG" '$1 >= f { print $1 "\t" $2 }'; }
load_bytes() { load_logs | awk -F'\t' '{ s += $2 } END { print s + 0 }'; }

step "sysbench oltp_write_only ($LOAD_THREADS threads) until the binlogs reach $TARGET_MIB MiB"
TARGET_BYTES=$((TARGET_MIB * 1048576))
LOAD_SECS=0 LOAD_TRX=0 LOAD_CHUNKS=0
while [ "$(load_bytes)" -lt "$TARGET_BYTES" ]; do
    "${SB[@]}" --threads="$LOAD_THREADS" --time="$CHUNK_S" --report-interval=0 \
        oltp_write_only run >"$WORK/sb-run.log" 2>&1 \
        || { tail "$WORK/sb-run.log" >&2; die "sysbench run failed"; }
    trx=$(awk '/transactions:/ { print $2; exit }' "$WORK/sb-run.log")
    secs=$(awk '/total time:/ { sub(/s$/, "", $3); print $3; exit }' "$WORK/sb-run.log")
    LOAD_TRX=$((LOAD_TRX + ${trx:-0}))
    LOAD_SECS=$(calc "$LOAD_SECS + ${secs:-0}" %.1f)
    LOAD_CHUNKS=$((LOAD_CHUNKS + 1))
    say "$LOAD_SECS s of load, $LOAD_TRX transactions, $(calc "$(load_bytes) / 1048576" %.0f) MiB of binlog"
    [ "$LOAD_CHUNKS" -lt 200 ] || die "the binlogs do not grow: see $WORK/sb-run.log"
done
sql -e 'FLUSH BINARY LOGS'
# The load's files, all closed now (the last listed one is the new, empty current file).
mapfile -t LOAD_LOGS < <(load_logs | sed '$d' | cut -f1)
FILES=()
for f in "${LOAD_LOGS[@]}"; do FILES+=("$DB/binlog/$f"); done
BINLOG_BYTES=$(stat -c %s "${FILES[@]}" | awk '{ s += $1 } END { print s }')
BINLOG_MIB=$(calc "$BINLOG_BYTES / 1048576" %.1f)

step "Counting events (SHOW BINLOG EVENTS, by the server)"
: >"$WORK/event-types"
for f in "${LOAD_LOGS[@]}"; do
    mariadb --no-defaults -S "$SOCK" -uroot -N -B --quick -e "SHOW BINLOG EVENTS IN '$f'" \
        | cut -f3 >>"$WORK/event-types"
done
EVENTS=$(wc -l <"$WORK/event-types")
XIDS=$(grep -cx Xid "$WORK/event-types" || true)
sort "$WORK/event-types" | uniq -c | sort -rn | awk '{ print $2 "\t" $1 }' >"$WORK/event-type-counts"
rm -f "$WORK/event-types"
say "${#FILES[@]} file(s), $BINLOG_MIB MiB, $EVENTS events, $XIDS Xid (commits)"

# --- timing ----------------------------------------------------------------------------------

TIMES="$WORK/times.tsv"
: >"$TIMES"
# measure LABEL RUN CMD...: one timed run, stdout to /dev/null (or to $MEASURE_STDOUT); appends
# LABEL RUN SECS RSS_KIB CPU_S; a failure ends the script.
measure() {
    try_measure "$@" || die "[$1] failed: ${*:3}"
}
# try_measure LABEL RUN CMD...: the same, but a failure returns 1 (stderr in $WORK/stderr.LABEL).
try_measure() {
    local label=$1 run=$2 tf="$WORK/time.out"
    shift 2
    if ! /usr/bin/time -f '%e %M %U %S' -o "$tf" "$@" >"${MEASURE_STDOUT:-/dev/null}" 2>"$WORK/stderr.$label"; then
        tail -n 20 "$WORK/stderr.$label" >&2
        return 1
    fi
    local secs rss user sys cpu
    read -r secs rss user sys < <(tail -n 1 "$tf")
    cpu=$(calc "$user + $sys")
    printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$run" "$secs" "$rss" "$cpu" >>"$TIMES"
    say "[$label] run $run: ${secs} s wall, ${cpu} s CPU, peak RSS $((rss / 1024)) MiB"
}
# The last non-empty line of a log, skipping /usr/bin/time's "Command exited" note.
first_err() { grep -v '^Command exited' "$1" | grep . | tail -n 1; }
# same_sums FILE1 FILE2 [N]: MATCH if the two CHECKSUM TABLE outputs are equal and hold a number
# for each of the N tables (default $TABLES, the sbtest tables), else DIFFER.
same_sums() {
    if cmp -s "$1" "$2" && [ "$(awk -F'\t' '$2 ~ /^[0-9]+$/' "$1" | wc -l)" -eq "${3:-$TABLES}" ]; then
        echo MATCH
    else
        echo DIFFER
    fi
}
med_secs() { awk -F'\t' -v l="$1" '$1 == l { print $3 }' "$TIMES" | median; }
med_cpu() { awk -F'\t' -v l="$1" '$1 == l { print $5 }' "$TIMES" | median; }
all_secs() { awk -F'\t' -v l="$1" '$1 == l { print $3 }' "$TIMES" | paste -sd/ - | sed 's|/| / |g'; }
max_rss_mib() { calc "$(awk -F'\t' -v l="$1" '$1 == l { print $4 }' "$TIMES" | maxof) / 1024" %.1f; }
# Seconds are /usr/bin/time's %e: 10 ms resolution. Ratios of medians, guarded against zero.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
per_sec() { awk -v n="$1" -v s="$2" -v f="${3:-%.0f}" 'BEGIN { if (s > 0) printf f, n / s; else print "n/a" }'; }

# --- 5. binary log analysis ------------------------------------------------------------------

step "Binary log analysis: $RUNS runs each, interleaved"
# Warm the page cache so every tool reads the files from memory, and check that zrm sees
# every event (one NDJSON line per event).
cat "${FILES[@]}" >/dev/null
ZRM_JSON_LINES=$("$ZRM" binlog analyze --format json "${FILES[@]}" | wc -l)
say "zrm NDJSON: $ZRM_JSON_LINES lines for $EVENTS events"
"$ZRM" binlog analyze --summary "${FILES[@]}" >"$WORK/zrm-summary.txt"
for run in $(seq 1 "$RUNS"); do
    measure a "$run" mariadb-binlog --no-defaults "${FILES[@]}"
    measure b "$run" mariadb-binlog --no-defaults --base64-output=decode-rows -vv "${FILES[@]}"
    measure c "$run" "$ZRM" binlog analyze --summary "${FILES[@]}"
    measure d "$run" "$ZRM" binlog analyze --format json "${FILES[@]}"
done

# --- 6. binlog archive -----------------------------------------------------------------------

# The set's configuration; REPO varies so each archive or backup run can start empty.
write_config() { # FILE REPO
    printf '[repository]\npath = "%s"\n[defaults]\nuser = "root"\n[sets.bench]\nsocket = "%s"\nmethod = "mysqldump"\n' \
        "$2" "$SOCK" >"$1"
}
CONF="$WORK/zrm.toml"
write_config "$CONF" "$WORK/repo"

# Every closed binlog on the server: what an archive catching up would copy.
mapfile -t ALL_CLOSED < <(sql -e 'SHOW BINARY LOGS' | sed '$d' | cut -f1)
ARCHIVE_BYTES=0
for f in "${ALL_CLOSED[@]}"; do ARCHIVE_BYTES=$((ARCHIVE_BYTES + $(stat -c %s "$DB/binlog/$f"))); done
ARCHIVE_MIB=$(calc "$ARCHIVE_BYTES / 1048576" %.1f)
ARCHIVE_STATUS=""

# TODO(binlog archive): this hook measures `zrm binlog archive --set bench` catching up on the
# existing binlogs when the command exists (an untimed probe run into a scratch repository
# decides); while it is not built it prints "not measured: binlog archive".
bench_archive() {
    local probe_conf="$WORK/zrm-probe.toml" out
    write_config "$probe_conf" "$WORK/repo-probe"
    if ! "$ZRM" binlog archive --help >/dev/null 2>&1; then
        ARCHIVE_STATUS="\`zrm binlog archive --help\` fails"
    elif out=$(timeout 600 "$ZRM" -c "$probe_conf" binlog archive --set bench 2>&1 </dev/null); then
        ARCHIVE_STATUS=measured
    elif grep -q "not built yet" <<<"$out"; then
        ARCHIVE_STATUS="\`zrm binlog archive\` is not built yet"
    else
        ARCHIVE_STATUS="\`zrm binlog archive --set bench\` failed: $(head -n 1 <<<"$out")"
    fi
    if [ "$ARCHIVE_STATUS" != measured ]; then
        echo "not measured: binlog archive ($ARCHIVE_STATUS)"
        return 0
    fi
    local run
    for run in $(seq 1 "$RUNS"); do
        rm -rf "$WORK/repo-archive"
        write_config "$WORK/zrm-archive.toml" "$WORK/repo-archive"
        measure archive-zrm "$run" "$ZRM" -c "$WORK/zrm-archive.toml" -q binlog archive --set bench
        ZRM_ARCHIVE_STORED=$(find "$WORK/repo-archive" -type f -name '*.zst' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
        ZRM_ARCHIVE_OBJECTS=$(find "$WORK/repo-archive" -type f -name '*.zst' | wc -l)
    done
    rm -rf "$WORK/repo-archive" "$WORK/repo-probe"
}
ZRM_ARCHIVE_STORED=0 ZRM_ARCHIVE_OBJECTS=0

step "Binary log archive: ${#ALL_CLOSED[@]} closed file(s), $ARCHIVE_MIB MiB"
for run in $(seq 1 "$RUNS"); do
    rm -rf "$WORK/raw" && mkdir -p "$WORK/raw"
    measure archive-raw "$run" mariadb-binlog --no-defaults --read-from-remote-server --raw \
        -S "$SOCK" -uroot --result-file="$WORK/raw/" "${ALL_CLOSED[@]}"
done
RAW_COPIED=$(find "$WORK/raw" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
cmp -s "$WORK/raw/${ALL_CLOSED[-1]}" "$DB/binlog/${ALL_CLOSED[-1]}" \
    || warn "the raw copy of ${ALL_CLOSED[-1]} differs from the server's file"
rm -rf "$WORK/raw"
bench_archive >&2

# --- 7. full backup --------------------------------------------------------------------------

DATA_BYTES=$(sql -e "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sbtest'")
DATA_MIB=$(calc "$DATA_BYTES / 1048576" %.0f)
step "Full backup of sbtest ($DATA_MIB MiB InnoDB): $RUNS runs each, interleaved"
BACKUP_STATUS=measured
if ! "$ZRM" -c "$CONF" -q backup --set bench --method mysqldump >"$WORK/zrm-backup-probe.log" 2>&1; then
    BACKUP_STATUS="\`zrm backup --method mysqldump\` failed: $(head -n 1 "$WORK/zrm-backup-probe.log")"
    warn "not measured: $BACKUP_STATUS"
fi
ZRM_DUMP_SIZE="" PEER_DUMP_SIZE="" MYDUMPER_SIZE=""
for run in $(seq 1 "$RUNS"); do
    if [ "$BACKUP_STATUS" = measured ]; then
        rm -rf "$WORK/repo-run" && write_config "$WORK/zrm-run.toml" "$WORK/repo-run"
        measure backup-zrm "$run" "$ZRM" -c "$WORK/zrm-run.toml" -q backup --set bench --method mysqldump
        ZRM_DUMP_SIZE=$(find "$WORK/repo-run" -name 'dump.sql*' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
    fi
    measure backup-dump "$run" bash -c 'mariadb-dump --no-defaults -S "$1" -uroot --single-transaction --databases sbtest | zstd -3 -q -f -o "$2"; exit "${PIPESTATUS[0]}"' \
        _ "$SOCK" "$WORK/dump.sql.zst"
    PEER_DUMP_SIZE=$(stat -c %s "$WORK/dump.sql.zst")
    if [ "$HAVE_MYDUMPER" = 1 ]; then
        rm -rf "$WORK/mydumper"
        measure backup-mydumper "$run" mydumper --socket="$SOCK" --user=root --database=sbtest \
            --threads=2 --outputdir="$WORK/mydumper"
        MYDUMPER_SIZE=$(find "$WORK/mydumper" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
    fi
done
rm -rf "$WORK/repo-run" "$WORK/dump.sql.zst" "$WORK/mydumper"

# --- 8. logical engine -----------------------------------------------------------------------

# zrm's `logical` method (L_THREADS connections reading one snapshot, zstd chunk files; restore
# loads the chunks with L_THREADS LOAD DATA connections) against mariadb-dump | zstd -3 and
# mydumper (dump), myloader and `mariadb < dump.sql` (load). The dataset `lbench` lives on a
# server of its own, lsrc: the binlogs of its ~1 GiB load stay out of the source's (which the
# point-in-time restore of step 9 archives), and its 2 GiB buffer pool holds all of it, so every
# dump reads from memory. Loads go into a second fresh server, ltarget, with lbench (and zrm's
# progress schema `zrm`) dropped before every run. Both are stopped at the end of the step.
LSRC="$WORK/lsrc" LTGT="$WORK/ltarget"
LSRC_SOCK="$LSRC/s.sock" LTGT_SOCK="$LTGT/s.sock"
lsql() { mariadb --no-defaults -S "$LSRC_SOCK" -uroot -N -B "$@"; }
tsql() { mariadb --no-defaults -S "$LTGT_SOCK" -uroot -N -B "$@"; }
# The logical step's configuration: set lbench (the dataset) and ltarget (the restore target)
# into repository REPO, with `compression = COMPRESSION` if given (else the default, zstd 1).
write_lconfig() { # FILE REPO [COMPRESSION]
    {
        printf '[repository]\npath = "%s"\n' "$2"
        [ -z "${3:-}" ] || printf 'compression = "%s"\n' "$3"
        printf '[defaults]\nuser = "root"\nmethod = "logical"\nparallel = %s\n' "$L_THREADS"
        printf '[sets.lbench]\nsocket = "%s"\ndatabases = ["lbench"]\n' "$LSRC_SOCK"
        printf '[sets.ltarget]\nsocket = "%s"\n' "$LTGT_SOCK"
    } >"$1"
}
dir_bytes() { find "$@" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
# stop_server PID: stop one server of start_server and forget it (cleanup no longer waits for it).
stop_server() {
    local pid=$1 p keep=()
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 120); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        warn "server pid $pid did not stop within 60 s: killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    for p in "${SERVER_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    SERVER_PIDS=("${keep[@]}")
}
# CHECKSUM TABLE of every lbench table on the server at SOCKET, one "table<TAB>sum" a line.
checksum_lbench() { mariadb --no-defaults -S "$1" -uroot -N -B -e "CHECKSUM TABLE $L_LIST"; }
L_STATUS=measured      # zrm backup, default compression (and the backup kept for the restores)
L_NONE_STATUS=measured # zrm backup, compression = "none"
L_LOAD_STATUS=measured # zrm restore
l_fail() { # VARIABLE MESSAGE
    printf -v "$1" '%s' "$2"
    warn "not measured: $2"
}
HAVE_MYLOADER=0
[ "$HAVE_MYDUMPER" = 1 ] && command -v myloader >/dev/null && HAVE_MYLOADER=1

step "Logical engine: starting the dataset server lsrc and the restore target ltarget"
mkdir -p "$LSRC/binlog"
start_server "$LSRC" --skip-networking --log-bin="$LSRC/binlog/mysql-bin" --server-id=21 \
    --binlog-format=ROW --innodb-buffer-pool-size=2G --max-binlog-size=1G
LSRC_PID=$STARTED_PID
start_server "$LTGT" --skip-networking --server-id=22 --innodb-buffer-pool-size=2G
LTGT_PID=$STARTED_PID

step "Logical engine dataset: sysbench $L_TABLES tables x $L_ROWS rows and lbench.wide, $L_WIDE rows with BLOBs"
lsql -e 'CREATE DATABASE lbench'
t0=$(date +%s)
sysbench --db-driver=mysql --mysql-socket="$LSRC_SOCK" --mysql-user=root --mysql-db=lbench \
    --tables="$L_TABLES" --table-size="$L_ROWS" --threads="$L_THREADS" oltp_read_write prepare \
    >"$WORK/lb-prepare.log" 2>&1 || { tail "$WORK/lb-prepare.log" >&2; die "sysbench prepare of lbench failed"; }
# The wide table: random printable text (a), random bytes (b: every byte value, so tabs,
# newlines, backslashes and NULs), text with a NULL in every 11th row (c), doubles with all 17
# significant digits (d) and microsecond datetimes (e). Inserted 20,000 rows a statement.
lsql -e 'CREATE TABLE lbench.wide (id INT PRIMARY KEY, a VARCHAR(255), b BLOB, c TEXT, d DOUBLE, e DATETIME(6))'
for ((lo = 1; lo <= L_WIDE; lo += 20000)); do
    hi=$((lo + 19999 < L_WIDE ? lo + 19999 : L_WIDE))
    lsql lbench -e "INSERT INTO wide
        SELECT seq,
            LEFT(CONCAT(MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND())), 32 + FLOOR(RAND() * 97)),
            RANDOM_BYTES(512 + FLOOR(RAND() * 513)),
            IF(seq % 11 = 0, NULL, REPEAT(CONCAT(SHA1(seq), ' '), 1 + FLOOR(RAND() * 12))),
            (RAND() - 0.5) * 1e9,
            TIMESTAMP'2020-01-01 00:00:00' + INTERVAL FLOOR(RAND() * 1e14) MICROSECOND
        FROM seq_${lo}_to_${hi}"
done
L_LIST=$(seq 1 "$L_TABLES" | awk '{ printf "lbench.sbtest%d,", $1 }')lbench.wide
L_NTABLES=$((L_TABLES + 1))
# Fresh statistics for the sizes, and every dirty page written now rather than during the dumps.
lsql -e "ANALYZE TABLE $L_LIST" >/dev/null
lsql -e "FLUSH TABLES $L_LIST FOR EXPORT; UNLOCK TABLES"
L_GEN_S=$(($(date +%s) - t0))
L_BYTES=$(lsql -e "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'lbench'")
L_WIDE_BYTES=$(lsql -e "SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'lbench' AND TABLE_NAME = 'wide'")
L_MIB=$(calc "$L_BYTES / 1048576" %.0f)
say "lbench: $L_MIB MiB of InnoDB data and indexes (wide: $(calc "$L_WIDE_BYTES / 1048576" %.0f) MiB), generated in $L_GEN_S s"
checksum_lbench "$LSRC_SOCK" >"$WORK/lsums.source"

# The backup the restores load, taken once, untimed (it also warms the buffer pool).
LCONF="$WORK/zrm-lbench.toml"
write_lconfig "$LCONF" "$WORK/repo-lbench"
step "Logical engine: the backup kept for the restores (untimed)"
t0=$(date +%s)
L_BACKUP_ID=""
if ! "$ZRM" -c "$LCONF" -q backup --set lbench >"$WORK/lbench-backup.log" 2>&1; then
    l_fail L_STATUS "\`zrm backup --set lbench\` failed: $(first_err "$WORK/lbench-backup.log")"
elif ! "$ZRM" -c "$LCONF" -q show --format json --set lbench latest >"$WORK/lbench-show.json" 2>"$WORK/lbench-show.err"; then
    l_fail L_STATUS "\`zrm show --set lbench latest\` failed: $(first_err "$WORK/lbench-show.err")"
else
    L_BACKUP_ID=$(jq -r .id "$WORK/lbench-show.json")
    L_BACKUP_BYTES=$(dir_bytes "$WORK/repo-lbench")
    say "backup $L_BACKUP_ID: $(calc "$L_BACKUP_BYTES / 1048576") MiB in the repository ($(($(date +%s) - t0)) s)"
fi
[ "$L_STATUS" = measured ] || L_LOAD_STATUS="there is no backup to restore ($L_STATUS)"
# The baselines' kept outputs: one mariadb-dump (decompressed before the loads) and one mydumper
# directory, from the last dump run.
L_ZRM_SIZE="" L_NONE_SIZE="" L_BASE_SIZE="" L_MYDUMPER_SIZE=""

step "Logical engine, dump of lbench ($L_MIB MiB): $L_RUNS runs each, interleaved, $L_THREADS threads"
for run in $(seq 1 "$L_RUNS"); do
    if [ "$L_STATUS" = measured ]; then
        rm -rf "$WORK/repo-lrun" && write_lconfig "$WORK/zrm-lrun.toml" "$WORK/repo-lrun"
        if try_measure ldump-zrm "$run" "$ZRM" -c "$WORK/zrm-lrun.toml" -q backup --set lbench; then
            L_ZRM_SIZE=$(dir_bytes "$WORK/repo-lrun")
        else
            l_fail L_STATUS "\`zrm backup --set lbench\` failed in run $run: $(first_err "$WORK/stderr.ldump-zrm")"
        fi
    fi
    if [ "$L_NONE_STATUS" = measured ]; then
        rm -rf "$WORK/repo-lnone" && write_lconfig "$WORK/zrm-lnone.toml" "$WORK/repo-lnone" none
        if try_measure ldump-none "$run" "$ZRM" -c "$WORK/zrm-lnone.toml" -q backup --set lbench; then
            L_NONE_SIZE=$(dir_bytes "$WORK/repo-lnone")
        else
            l_fail L_NONE_STATUS "\`zrm backup --set lbench\` with \`compression = \"none\"\` failed in run $run: $(first_err "$WORK/stderr.ldump-none")"
        fi
    fi
    measure ldump-base "$run" bash -c 'mariadb-dump --no-defaults -S "$1" -uroot --single-transaction --databases lbench | zstd -3 -q -f -o "$2"; exit "${PIPESTATUS[0]}"' \
        _ "$LSRC_SOCK" "$WORK/lbench.sql.zst"
    L_BASE_SIZE=$(stat -c %s "$WORK/lbench.sql.zst")
    if [ "$HAVE_MYDUMPER" = 1 ]; then
        rm -rf "$WORK/lmydumper"
        measure ldump-mydumper "$run" mydumper --socket="$LSRC_SOCK" --user=root --database=lbench \
            --threads="$L_THREADS" --outputdir="$WORK/lmydumper"
        L_MYDUMPER_SIZE=$(dir_bytes "$WORK/lmydumper")
    fi
done
rm -rf "$WORK/repo-lrun" "$WORK/repo-lnone"
zstd -d -q -f "$WORK/lbench.sql.zst" -o "$WORK/lbench.sql"
L_SQL_SIZE=$(stat -c %s "$WORK/lbench.sql")

# Loads: lbench (and zrm's progress schema) dropped on the target before every run; CHECKSUM
# TABLE of the result against the source after each tool's first run (untimed).
l_reset() { tsql -e 'DROP DATABASE IF EXISTS lbench; DROP DATABASE IF EXISTS zrm'; }
L_SUMS_ZRM="" L_SUMS_MYLOADER="" L_SUMS_SQL=""
l_check() { # TOOL RUN: sets L_SUMS_<TOOL> after the first run
    [ "$2" = 1 ] || return 0
    checksum_lbench "$LTGT_SOCK" >"$WORK/lsums.$1" 2>&1 || true
    local verdict
    verdict=$(same_sums "$WORK/lsums.source" "$WORK/lsums.$1" "$L_NTABLES")
    printf -v "L_SUMS_$(tr '[:lower:]' '[:upper:]' <<<"$1")" '%s' "$verdict"
    say "CHECKSUM TABLE of lbench after $1, against the source: $verdict"
    [ "$verdict" = MATCH ] || warn "lbench loaded by $1 differs from the source (CHECKSUM TABLE)"
}
step "Logical engine, load of lbench into ltarget: $L_RUNS runs each, interleaved, $L_THREADS threads"
for run in $(seq 1 "$L_RUNS"); do
    if [ "$L_LOAD_STATUS" = measured ]; then
        l_reset
        if try_measure lload-zrm "$run" "$ZRM" -c "$LCONF" -q restore --no-progress --set lbench \
            --target ltarget --backup "$L_BACKUP_ID" --no-binlogs --parallel "$L_THREADS"; then
            l_check zrm "$run"
        else
            l_fail L_LOAD_STATUS "\`zrm restore --set lbench --target ltarget\` failed in run $run: $(first_err "$WORK/stderr.lload-zrm")"
        fi
    fi
    if [ "$HAVE_MYLOADER" = 1 ]; then
        l_reset
        measure lload-myloader "$run" myloader --socket="$LTGT_SOCK" --user=root --threads="$L_THREADS" \
            --directory="$WORK/lmydumper" --overwrite-tables
        l_check myloader "$run"
    fi
    l_reset
    measure lload-sql "$run" bash -c 'mariadb --no-defaults -S "$1" -uroot <"$2"' _ "$LTGT_SOCK" "$WORK/lbench.sql"
    l_check sql "$run"
done
step "Logical engine: stopping lsrc and ltarget"
stop_server "$LSRC_PID"
stop_server "$LTGT_PID"
rm -rf "$LSRC" "$LTGT" "$WORK/repo-lbench" "$WORK/lmydumper" "$WORK/lbench.sql" "$WORK/lbench.sql.zst"

# --- 9. point-in-time restore ----------------------------------------------------------------

# (a) Replay. The base is the full backup taken before the load (step 4); the binlogs of the
# load are archived into the same repository. zrm restores that backup into bench2 and replays
# to the end of the load's last file; the baseline gets the same backup into bench3 (zrm restore
# --no-binlogs, untimed) and then `mariadb-binlog FILES | mariadb` from the backup's consistent
# point. Both targets are fresh servers of the same configuration, reloaded (--replace) before
# every run; the order of the two alternates between runs.
PITR_TSV="$WORK/pitr.tsv" # run, wall s, base_duration_s, duration_s, then the applier's lanes,
# target commits, transactions sent to the client pipeline, conflicts and parallelism, of each zrm run
: >"$PITR_TSV"
pitr_fail() { PITR_STATUS=$1; warn "point-in-time restore not measured: $1"; }

pitr_zrm() { # RUN
    local run=$1 out="$WORK/pitr-zrm.$1.json" wall base dur
    if ! MEASURE_STDOUT=$out try_measure pitr-zrm "$run" "$ZRM" -c "$PITR_CONF" -q restore --no-progress \
        --format json --set bench --target bench2 --until-position "$PITR_UNTIL" --replace; then
        pitr_fail "\`zrm restore --until-position\` failed in run $run: $(first_err "$WORK/stderr.pitr-zrm")"
        return 1
    fi
    wall=$(awk -F'\t' -v r="$run" '$1 == "pitr-zrm" && $2 == r { print $3 }' "$TIMES")
    base=$(jq -r .base_duration_s "$out") dur=$(jq -r .duration_s "$out")
    printf '%s\t%s\t%s\t%s\t%s\n' "$run" "$wall" "$base" "$dur" \
        "$(jq -r '[.applier.lanes // "client", .applier.commits // "", .applier.pipeline_units // "", .applier.conflicts // "", .applier.parallelism // ""] | @tsv' "$out")" >>"$PITR_TSV"
    say "[pitr-zrm] run $run: base $(calc "$base") s, replay $(calc "$dur - $base") s (duration_s - base_duration_s); applier: $(jq -c '.applier // "client pipeline"' "$out")"
}
pitr_baseline() { # RUN
    local run=$1
    if ! "$ZRM" -c "$PITR_CONF" -q restore --no-progress --set bench --target bench3 --no-binlogs \
        --replace >"$WORK/pitr-reload.log" 2>&1; then
        pitr_fail "\`zrm restore --no-binlogs\` into bench3 failed in run $run: $(first_err "$WORK/pitr-reload.log")"
        return 1
    fi
    if ! try_measure pitr-base "$run" bash -c 'set -o pipefail; mariadb-binlog --no-defaults --start-position="$1" "${@:3}" | mariadb --no-defaults -S "$2" -uroot' \
        _ "$PITR_CP_POS" "$WORK/bench3/s.sock" "${PITR_FILES[@]}"; then
        pitr_fail "the baseline \`mariadb-binlog | mariadb\` failed in run $run: $(first_err "$WORK/stderr.pitr-base")"
        return 1
    fi
}
# CHECKSUM TABLE of every sbtest table on the server at SOCKET, one "table<TAB>sum" a line.
checksum_sbtest() {
    local list
    list=$(seq 1 "$TABLES" | awk '{ printf "%ssbtest.sbtest%d", (NR > 1 ? "," : ""), $1 }')
    mariadb --no-defaults -S "$1" -uroot -N -B -e "CHECKSUM TABLE $list"
}

pitr_replay() {
    local f run
    step "Point-in-time restore: archiving the load's binlogs into the restore repository"
    sql -e 'FLUSH BINARY LOGS'
    if ! "$ZRM" -c "$PITR_CONF" -q binlog archive --format json --set bench >"$WORK/pitr-archive.json" 2>"$WORK/pitr-archive.err"; then
        pitr_fail "\`zrm binlog archive --set bench\` failed: $(first_err "$WORK/pitr-archive.err")"
        return 0
    fi
    PITR_ARCHIVE_S=$(jq -r .duration_s "$WORK/pitr-archive.json")
    PITR_ARCHIVE_BYTES=$(jq -r .bytes "$WORK/pitr-archive.json")
    PITR_ARCHIVE_FILES=$(jq -r '.files | length' "$WORK/pitr-archive.json")
    say "$PITR_ARCHIVE_FILES file(s), $(calc "$PITR_ARCHIVE_BYTES / 1048576" %.1f) MiB in $(calc "$PITR_ARCHIVE_S") s"
    if ! "$ZRM" -c "$PITR_CONF" -q show --format json --set bench latest >"$WORK/pitr-show.json" 2>"$WORK/pitr-show.err"; then
        pitr_fail "\`zrm show --set bench latest\` failed: $(first_err "$WORK/pitr-show.err")"
        return 0
    fi
    PITR_BACKUP_ID=$(jq -r .id "$WORK/pitr-show.json")
    PITR_CP_FILE=$(jq -r '.consistent_point.binlog_file // empty' "$WORK/pitr-show.json")
    PITR_CP_POS=$(jq -r '.consistent_point.binlog_pos // empty' "$WORK/pitr-show.json")
    if [ -z "$PITR_CP_FILE" ] || [ -z "$PITR_CP_POS" ]; then
        pitr_fail "backup $PITR_BACKUP_ID records no consistent point"
        return 0
    fi
    local last=${LOAD_LOGS[-1]}
    PITR_UNTIL="$last:$(stat -c %s "$DB/binlog/$last")"
    # The baseline's files: from the consistent point's file to the load's last file.
    mapfile -t PITR_LOGS < <(sql -e 'SHOW BINARY LOGS' | cut -f1 | awk -v a="$PITR_CP_FILE" -v b="$last" '$1 >= a && $1 <= b')
    if [ "${#PITR_LOGS[@]}" -eq 0 ] || [ "${PITR_LOGS[0]}" != "$PITR_CP_FILE" ]; then
        pitr_fail "the consistent point $PITR_CP_FILE:$PITR_CP_POS is not among the server's binlogs up to $last"
        return 0
    fi
    [ "$PITR_CP_FILE" = "$FIRST_LOAD_LOG" ] \
        || warn "the backup's consistent point $PITR_CP_FILE:$PITR_CP_POS is not in the load's first file $FIRST_LOAD_LOG"
    PITR_FILES=()
    for f in "${PITR_LOGS[@]}"; do PITR_FILES+=("$DB/binlog/$f"); done
    PITR_BASELINE_BYTES=$(($(stat -c %s "${PITR_FILES[@]}" | awk '{ s += $1 } END { print s }') - PITR_CP_POS))

    step "Point-in-time restore: starting two fresh target servers (bench2: zrm, bench3: baseline)"
    start_server "$WORK/bench2" --skip-networking --server-id=12 --innodb-buffer-pool-size=1G
    start_server "$WORK/bench3" --skip-networking --server-id=13 --innodb-buffer-pool-size=1G
    if ! "$ZRM" -c "$PITR_CONF" -q restore --format json --set bench --target bench2 \
        --until-position "$PITR_UNTIL" --replace --dry-run >"$WORK/pitr-plan.json" 2>"$WORK/pitr-plan.err"; then
        pitr_fail "\`zrm restore --until-position $PITR_UNTIL --dry-run\` failed: $(first_err "$WORK/pitr-plan.err")"
        return 0
    fi
    PITR_BYTES=$(jq -r .plan.bytes "$WORK/pitr-plan.json")
    PITR_TRX=$(jq -r .plan.transactions "$WORK/pitr-plan.json")
    PITR_TRX_EXACT=$(jq -r .plan.transactions_exact "$WORK/pitr-plan.json")
    PITR_STOP=$(jq -r '"\(.plan.stop.file):\(.plan.stop.pos)"' "$WORK/pitr-plan.json")
    PITR_PLAN_FILES=$(jq -r '[.plan.files[].file] | join(" ")' "$WORK/pitr-plan.json")
    [ "$PITR_PLAN_FILES" = "${PITR_LOGS[*]}" ] \
        || warn "zrm plans to replay '$PITR_PLAN_FILES', the baseline replays '${PITR_LOGS[*]}'"
    say "plan: $(calc "$PITR_BYTES / 1048576" %.1f) MiB of binlog from $PITR_CP_FILE:$PITR_CP_POS to $PITR_STOP, $PITR_TRX transactions"

    step "Point-in-time restore: binlog replay, $PITR_RUNS run(s) per tool (targets reloaded each run)"
    for run in $(seq 1 "$PITR_RUNS"); do
        if [ $((run % 2)) = 1 ]; then
            pitr_zrm "$run" || return 0
            pitr_baseline "$run" || return 0
        else
            pitr_baseline "$run" || return 0
            pitr_zrm "$run" || return 0
        fi
    done
    checksum_sbtest "$SOCK" >"$WORK/sums.source"
    checksum_sbtest "$WORK/bench2/s.sock" >"$WORK/sums.zrm"
    checksum_sbtest "$WORK/bench3/s.sock" >"$WORK/sums.baseline"
    PITR_SUMS=$(same_sums "$WORK/sums.zrm" "$WORK/sums.baseline")
    PITR_SUMS_SOURCE=$(same_sums "$WORK/sums.zrm" "$WORK/sums.source")
    say "CHECKSUM TABLE, zrm's target against the baseline's: $PITR_SUMS; against the source: $PITR_SUMS_SOURCE"
}

# (b) Planning across a long chain: a small server whose binlog is rotated after each of
# $CHAIN_FILES one-row transactions, all archived; zrm plans (--dry-run) a restore to the end.
CHAIN_STATUS=measured
chain_fail() { CHAIN_STATUS=$1; warn "chain planning not measured: $1"; }
pitr_chain() {
    local run t0
    step "Point-in-time restore: a chain of $CHAIN_FILES binlog files on a small server"
    mkdir -p "$WORK/chain/binlog"
    start_server "$WORK/chain" --skip-networking --log-bin="$WORK/chain/binlog/mysql-bin" --server-id=2 \
        --binlog-format=ROW --innodb-buffer-pool-size=64M
    start_server "$WORK/chain2" --skip-networking --server-id=3 --innodb-buffer-pool-size=64M
    csql() { mariadb --no-defaults -S "$WORK/chain/s.sock" -uroot -N -B "$@"; }
    csql -e 'CREATE DATABASE chain; CREATE TABLE chain.t (id INT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL, at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))'
    if ! "$ZRM" -c "$PITR_CONF" -q backup --set chain --method mysqldump >"$WORK/chain-backup.log" 2>&1; then
        chain_fail "\`zrm backup --set chain\` failed: $(first_err "$WORK/chain-backup.log")"
        return 0
    fi
    seq 1 "$CHAIN_FILES" | awk '{ printf "INSERT INTO chain.t (n) VALUES (%d);\nFLUSH BINARY LOGS;\n", $1 }' >"$WORK/chain.sql"
    t0=$(date +%s.%N)
    csql <"$WORK/chain.sql"
    CHAIN_LOAD_S=$(calc "$(date +%s.%N) - $t0")
    # Binlog times are whole seconds: a time in the next second is after the last insert. zrm
    # refuses an --until-time past the end of the archive (it cannot know what happened in
    # between), so one more FLUSH a second later carries the archive past that time.
    sleep 1.1
    CHAIN_UNTIL_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    sleep 1.1
    csql -e 'FLUSH BINARY LOGS'
    say "$CHAIN_FILES x (INSERT; FLUSH BINARY LOGS) in $CHAIN_LOAD_S s; $(csql -e 'SHOW BINARY LOGS' | wc -l) binlog files on the server"
    if ! MEASURE_STDOUT="$WORK/chain-archive.json" try_measure chain-archive 1 \
        "$ZRM" -c "$PITR_CONF" -q binlog archive --format json --set chain; then
        chain_fail "\`zrm binlog archive --set chain\` failed: $(first_err "$WORK/stderr.chain-archive")"
        return 0
    fi
    CHAIN_ARCHIVED=$(jq -r '.files | length' "$WORK/chain-archive.json")
    # For reference: the same files copied by mariadb-binlog.
    mapfile -t CHAIN_CLOSED < <(csql -e 'SHOW BINARY LOGS' | sed '$d' | cut -f1)
    mkdir -p "$WORK/chain-raw"
    try_measure chain-raw 1 mariadb-binlog --no-defaults --read-from-remote-server --raw \
        -S "$WORK/chain/s.sock" -uroot --result-file="$WORK/chain-raw/" "${CHAIN_CLOSED[@]}" \
        || warn "mariadb-binlog --raw of the chain failed: its row is left out"
    rm -rf "$WORK/chain-raw"
    CHAIN_ARCHIVED_BYTES=$(jq -r .bytes "$WORK/chain-archive.json")
    if ! MEASURE_STDOUT="$WORK/chain-find.json" try_measure chain-find 1 \
        "$ZRM" -c "$PITR_CONF" -q binlog find --format json --set chain --time "$CHAIN_UNTIL_TIME"; then
        chain_fail "\`zrm binlog find --set chain --time $CHAIN_UNTIL_TIME\` failed: $(first_err "$WORK/stderr.chain-find")"
        return 0
    fi
    CHAIN_UNTIL_POS=$(jq -r '"\(.file):\(.pos)"' "$WORK/chain-find.json")
    say "binlog find --time $CHAIN_UNTIL_TIME: $CHAIN_UNTIL_POS"
    for run in $(seq 1 "$RUNS"); do
        if ! MEASURE_STDOUT="$WORK/chain-plan-time.json" try_measure chain-plan-time "$run" \
            "$ZRM" -c "$PITR_CONF" -q restore --format json --set chain --target chain2 \
            --until-time "$CHAIN_UNTIL_TIME" --dry-run; then
            chain_fail "\`zrm restore --until-time --dry-run\` failed: $(first_err "$WORK/stderr.chain-plan-time")"
            return 0
        fi
        if ! MEASURE_STDOUT="$WORK/chain-plan-pos.json" try_measure chain-plan-pos "$run" \
            "$ZRM" -c "$PITR_CONF" -q restore --format json --set chain --target chain2 \
            --until-position "$CHAIN_UNTIL_POS" --dry-run; then
            chain_fail "\`zrm restore --until-position --dry-run\` failed: $(first_err "$WORK/stderr.chain-plan-pos")"
            return 0
        fi
    done
    CHAIN_PLAN_FILES_T=$(jq -r '.plan.files | length' "$WORK/chain-plan-time.json")
    CHAIN_PLAN_TRX_T=$(jq -r .plan.transactions "$WORK/chain-plan-time.json")
    CHAIN_PLAN_FILES_P=$(jq -r '.plan.files | length' "$WORK/chain-plan-pos.json")
    CHAIN_PLAN_TRX_P=$(jq -r .plan.transactions "$WORK/chain-plan-pos.json")
    # For reference: the restore itself, once.
    CHAIN_RESTORE=""
    if MEASURE_STDOUT="$WORK/chain-restore.json" try_measure chain-restore 1 \
        "$ZRM" -c "$PITR_CONF" -q restore --no-progress --format json --set chain --target chain2 \
        --until-position "$CHAIN_UNTIL_POS"; then
        local rows sums_a sums_b
        rows=$(mariadb --no-defaults -S "$WORK/chain2/s.sock" -uroot -N -B -e 'SELECT COUNT(*) FROM chain.t')
        sums_a=$(csql -e 'CHECKSUM TABLE chain.t' | cut -f2)
        sums_b=$(mariadb --no-defaults -S "$WORK/chain2/s.sock" -uroot -N -B -e 'CHECKSUM TABLE chain.t' | cut -f2)
        CHAIN_RESTORE="$rows rows on the target (of $CHAIN_FILES), CHECKSUM TABLE $([ "$sums_a" = "$sums_b" ] && echo MATCH || echo DIFFER) with the source"
    else
        CHAIN_RESTORE="failed: $(first_err "$WORK/stderr.chain-restore")"
    fi
    say "restore of the chain: $CHAIN_RESTORE"
}

PITR_ARCHIVE_S="" PITR_SUMS="" PITR_SUMS_SOURCE="" PITR_TRX=0 PITR_BYTES=0
if [ "$PITR_STATUS" = measured ]; then pitr_replay; fi
pitr_chain

# --- 10. snapshot backups --------------------------------------------------------------------

# scripts/bench_snapshot.sh, with this run's zrm binary, on a btrfs image and a server of its own
# (it stops both); its section and its two goal rows go into the report. A failure (not root, no
# loop devices, zrm failing) leaves them "not measured" and the rest of the report stands.
SNAP_MD="$WORK/snapshot.md" SNAP_GOALS="$WORK/snapshot-goals.md" SNAP_STATUS=measured
if [ "${BENCH_NO_SNAPSHOT:-0}" = 1 ]; then
    SNAP_STATUS="skipped (\`BENCH_NO_SNAPSHOT=1\`)"
else
    step "Snapshot backups (btrfs): scripts/bench_snapshot.sh (log: $WORK/snapshot.log)"
    if ! BENCH_SCALE="$SCALE" BENCH_ZRM="$ZRM" BENCH_ZRM_DESC="commit \`$ZRM_COMMIT\`$ZRM_DIRTY, built by \`scripts/bench.sh\`" \
        BENCH_SNAPSHOT_OUT="$SNAP_MD" BENCH_SNAPSHOT_GOALS="$SNAP_GOALS" \
        bash "$ROOT/scripts/bench_snapshot.sh" 2> >(tee "$WORK/snapshot.log" >&2); then
        SNAP_STATUS="\`scripts/bench_snapshot.sh\` failed: $(grep '^error:' "$WORK/snapshot.log" | tail -n 1 | sed 's/^error: //')"
        warn "snapshot backups not measured: $SNAP_STATUS"
    elif [ ! -s "$SNAP_MD" ] || [ ! -s "$SNAP_GOALS" ]; then
        SNAP_STATUS="\`scripts/bench_snapshot.sh\` wrote no section"
        warn "snapshot backups not measured: $SNAP_STATUS"
    fi
fi

# --- 11. S3 repository and encryption ----------------------------------------------------------

# scripts/bench_s3.sh, with this run's zrm binary, against a moto_server and servers of its own
# (it stops them); its section and its goal row go into the report. A failure (no moto_server or
# boto3, zrm failing) leaves them "not measured" and the rest of the report stands.
S3_MD="$WORK/s3.md" S3_GOALS="$WORK/s3-goals.md" S3_STATUS=measured
if [ "${BENCH_NO_S3:-0}" = 1 ]; then
    S3_STATUS="skipped (\`BENCH_NO_S3=1\`)"
else
    step "S3 repository and encryption: scripts/bench_s3.sh (log: $WORK/s3.log)"
    if ! BENCH_SCALE="$SCALE" BENCH_RUNS="$RUNS" BENCH_ZRM="$ZRM" BENCH_ZRM_DESC="commit \`$ZRM_COMMIT\`$ZRM_DIRTY, built by \`scripts/bench.sh\`" \
        BENCH_S3_OUT="$S3_MD" BENCH_S3_GOALS="$S3_GOALS" \
        bash "$ROOT/scripts/bench_s3.sh" 2> >(tee "$WORK/s3.log" >&2); then
        S3_STATUS="\`scripts/bench_s3.sh\` failed: $(grep '^error:' "$WORK/s3.log" | tail -n 1 | sed 's/^error: //')"
        warn "S3 repository and encryption not measured: $S3_STATUS"
    elif [ ! -s "$S3_MD" ] || [ ! -s "$S3_GOALS" ]; then
        S3_STATUS="\`scripts/bench_s3.sh\` wrote no section"
        warn "S3 repository and encryption not measured: $S3_STATUS"
    fi
fi

# --- 12. sharded clusters -----------------------------------------------------------------------

# scripts/bench_cluster.sh, with this run's zrm binary, on six servers of its own (it stops
# them); its section and its goal row go into the report, "not measured" if it fails.
CLUSTER_MD="$WORK/cluster.md" CLUSTER_GOALS="$WORK/cluster-goals.md" CLUSTER_STATUS=measured
if [ "${BENCH_NO_CLUSTER:-0}" = 1 ]; then
    CLUSTER_STATUS="skipped (\`BENCH_NO_CLUSTER=1\`)"
else
    step "Sharded clusters: scripts/bench_cluster.sh (log: $WORK/cluster.log)"
    if ! BENCH_SCALE="$SCALE" BENCH_RUNS="$RUNS" BENCH_ZRM="$ZRM" BENCH_ZRM_DESC="commit \`$ZRM_COMMIT\`$ZRM_DIRTY, built by \`scripts/bench.sh\`" \
        BENCH_CLUSTER_OUT="$CLUSTER_MD" BENCH_CLUSTER_GOALS="$CLUSTER_GOALS" \
        bash "$ROOT/scripts/bench_cluster.sh" 2> >(tee "$WORK/cluster.log" >&2); then
        CLUSTER_STATUS="\`scripts/bench_cluster.sh\` failed: $(grep '^error:' "$WORK/cluster.log" | tail -n 1 | sed 's/^error: //')"
        warn "sharded clusters not measured: $CLUSTER_STATUS"
    elif [ ! -s "$CLUSTER_MD" ] || [ ! -s "$CLUSTER_GOALS" ]; then
        CLUSTER_STATUS="\`scripts/bench_cluster.sh\` wrote no section"
        warn "sharded clusters not measured: $CLUSTER_STATUS"
    fi
fi

# --- 13. Oracle MySQL 9.7 --------------------------------------------------------------------------

# scripts/bench_mysql.sh, with this run's zrm binary, on MySQL 9.7 servers of its own (it stops
# them); its section and its goal rows go into the report, "not measured" if it fails (no chroot
# and not root, zrm failing).
MYSQL_MD="$WORK/mysql.md" MYSQL_GOALS="$WORK/mysql-goals.md" MYSQL_STATUS=measured
if [ "${BENCH_NO_MYSQL:-0}" = 1 ]; then
    MYSQL_STATUS="skipped (\`BENCH_NO_MYSQL=1\`)"
else
    step "Oracle MySQL 9.7: scripts/bench_mysql.sh (log: $WORK/mysql.log)"
    if ! BENCH_SCALE="$SCALE" BENCH_RUNS="$RUNS" BENCH_ZRM="$ZRM" BENCH_ZRM_DESC="commit \`$ZRM_COMMIT\`$ZRM_DIRTY, built by \`scripts/bench.sh\`" \
        BENCH_MYSQL_OUT="$MYSQL_MD" BENCH_MYSQL_GOALS="$MYSQL_GOALS" \
        bash "$ROOT/scripts/bench_mysql.sh" 2> >(tee "$WORK/mysql.log" >&2); then
        MYSQL_STATUS="\`scripts/bench_mysql.sh\` failed: $(grep '^error:' "$WORK/mysql.log" | tail -n 1 | sed 's/^error: //')"
        warn "MySQL 9.7 not measured: $MYSQL_STATUS"
    elif [ ! -s "$MYSQL_MD" ] || [ ! -s "$MYSQL_GOALS" ]; then
        MYSQL_STATUS="\`scripts/bench_mysql.sh\` wrote no section"
        warn "MySQL 9.7 not measured: $MYSQL_STATUS"
    fi
fi

# --- 14. the report --------------------------------------------------------------------------

step "Writing $OUT"
mib() { calc "$1 / 1048576" "${2:-%.1f}"; }
goal() { awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
    if (v == "n/a") { print "NOT MEASURED"; exit }
    ok = (op == ">=") ? (v + 0 >= g + 0) : (op == "<=") ? (v + 0 <= g + 0) : (v + 0 < g + 0)
    print ok ? "**MET**" : "**NOT MET**" }'; }

A=$(med_secs a) B=$(med_secs b) C=$(med_secs c) D=$(med_secs d)
R_BC=$(ratio "$B" "$C") R_AC=$(ratio "$A" "$C")
RSS_C=$(max_rss_mib c)
MEM_GIB=$(awk '/MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
CPU_MODEL=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
LOAD_AVG_END=$(cut -d' ' -f1-3 /proc/loadavg)
FILE_LIST=$(printf '`%s` ' "${LOAD_LOGS[@]}")
# Point-in-time restore figures.
pitr_runs() { awk -F'\t' -v f="$1" '{ printf "%.2f\n", (f == "replay") ? $4 - $3 : (f == "other") ? $2 - $4 : $f }' "$PITR_TSV"; }
pitr_all() { pitr_runs "$1" | paste -sd/ - | sed 's|/| / |g'; }
PITR_DONE=0
[ "$PITR_STATUS" = measured ] && [ -s "$PITR_TSV" ] && PITR_DONE=1
if [ "$PITR_DONE" = 1 ]; then
    Z_REPLAY=$(pitr_runs replay | median) Z_BASE=$(pitr_runs 3 | median)
    Z_WALL=$(pitr_runs 2 | median) Z_OTHER=$(pitr_runs other | median)
    B_REPLAY=$(med_secs pitr-base)
    # Shown with 3 decimals; the goal is judged on the unrounded ratio.
    R_REPLAY_RAW=$(awk -v a="$B_REPLAY" -v b="$Z_REPLAY" 'BEGIN { if (b > 0) printf "%.9f", a / b; else print "n/a" }')
    R_REPLAY=$(awk -v r="$R_REPLAY_RAW" 'BEGIN { if (r == "n/a") print r; else printf "%.3f", r }')
    PITR_MIB=$(calc "$PITR_BYTES / 1048576" %.6f)
    PITR_BASELINE_MIB=$(calc "$PITR_BASELINE_BYTES / 1048576" %.6f)
    R_LOAD_REPLAY=$(awk -v a="$LOAD_SECS" -v b="$Z_REPLAY" 'BEGIN { if (b > 0) printf "%.9f", a / b; else print "n/a" }')
else
    Z_REPLAY=n/a B_REPLAY=n/a R_REPLAY=n/a R_REPLAY_RAW=n/a R_LOAD_REPLAY=n/a
fi
if [ "$CHAIN_STATUS" = measured ]; then
    CHAIN_T=$(med_secs chain-plan-time) CHAIN_P=$(med_secs chain-plan-pos)
else
    CHAIN_T=n/a CHAIN_P=n/a
fi
# Logical engine figures. Its ratios are judged unrounded and shown with 3 decimals ("n/a" when
# a side was not measured).
ratio_raw() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.9f", a / b; else print "n/a" }'; }
show3() { awk -v r="$1" 'BEGIN { if (r == "n/a") print r; else printf "%.3f", r }'; }
l_med() { # LABEL STATUS: the median wall time, or n/a when the row was not measured
    if [ "$2" = measured ] && awk -F'\t' -v l="$1" '$1 == l { f = 1 } END { exit !f }' "$TIMES"; then
        med_secs "$1"
    else
        echo n/a
    fi
}
l_rss() { # LABEL...: the largest peak RSS of those rows in MiB, or n/a if none was measured
    awk -F'\t' -v ls=" $* " 'index(ls, " " $1 " ") { if ($4 > m) m = $4; f = 1 }
        END { if (f) printf "%.1f", m / 1024; else print "n/a" }' "$TIMES"
}
L_MYD_STATUS="mydumper is not installed" L_MYL_STATUS="myloader is not installed"
[ "$HAVE_MYDUMPER" = 1 ] && L_MYD_STATUS=measured
[ "$HAVE_MYLOADER" = 1 ] && L_MYL_STATUS=measured
LD_Z=$(l_med ldump-zrm "$L_STATUS") LD_N=$(l_med ldump-none "$L_NONE_STATUS")
LD_B=$(l_med ldump-base measured) LD_M=$(l_med ldump-mydumper "$L_MYD_STATUS")
LL_Z=$(l_med lload-zrm "$L_LOAD_STATUS") LL_M=$(l_med lload-myloader "$L_MYL_STATUS") LL_S=$(l_med lload-sql measured)
R_LDUMP=$(ratio_raw "$LD_B" "$LD_Z") R_LNONE=$(ratio_raw "$LD_N" "$LD_M")
R_LMYL=$(ratio_raw "$LL_M" "$LL_Z") R_LSQL=$(ratio_raw "$LL_S" "$LL_Z")
# zrm's peak RSS over the runs that completed, dump (both compressions) and restore.
L_RSS_DUMP=$(l_rss ldump-zrm ldump-none) L_RSS_LOAD=$(l_rss lload-zrm) L_RSS=n/a
if [ "$L_RSS_DUMP" != n/a ] && [ "$L_RSS_LOAD" != n/a ]; then
    L_RSS=$(awk -v a="$L_RSS_DUMP" -v b="$L_RSS_LOAD" 'BEGIN { print (a + 0 > b + 0) ? a : b }')
fi
L_SUMS_ZRM_TEXT=${L_SUMS_ZRM:-not checked (no zrm restore completed)}
l_said() { # RATIO TEXT A_S B_S: "TEXT = R× (A s / B s)", or "not measured"
    if [ "$1" = n/a ]; then echo "not measured (see its section)"; else echo "$2 = $(show3 "$1")× ($3 s / $4 s)"; fi
}
l_rss_said() {
    if [ "$L_RSS" = n/a ]; then echo "not measured (dump: $L_RSS_DUMP, restore: $L_RSS_LOAD)"; else echo "$L_RSS MiB (dump $L_RSS_DUMP, restore $L_RSS_LOAD)"; fi
}
l_row() { # TOOL COMMAND LABEL STATUS SIZE-TEXT
    if [ "$4" = measured ] && [ "$(l_med "$3" measured)" != n/a ]; then
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$(med_secs "$3")" "$(all_secs "$3")" \
            "$(med_cpu "$3")" "$5" "$(max_rss_mib "$3")"
    else
        printf '| %s | %s | not measured | | | | |\n' "$1" "$2"
    fi
}
l_sum() { # TOOL TABLE: that table's CHECKSUM TABLE value after TOOL's load (blank if unknown)
    [ -f "$WORK/lsums.$1" ] && awk -F'\t' -v t="$2" '$1 == t { print $2 }' "$WORK/lsums.$1"
    return 0
}
ARCH_RAW_MIBS=$(per_sec "$(calc "$ARCHIVE_BYTES / 1048576" %.6f)" "$(med_secs archive-raw)" %.1f)
ARCH_ZRM_MIBS=n/a
[ "$ARCHIVE_STATUS" = measured ] && ARCH_ZRM_MIBS=$(per_sec "$(calc "$ARCHIVE_BYTES / 1048576" %.6f)" "$(med_secs archive-zrm)" %.1f)
row_binlog() { # LABEL TOOL-TEXT COMMAND-TEXT
    local s; s=$(med_secs "$1")
    printf '| (%s) %s | `%s` | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$s" "$(all_secs "$1")" "$(med_cpu "$1")" \
        "$(per_sec "$(calc "$BINLOG_BYTES / 1048576" %.6f)" "$s" %.1f)" "$(per_sec "$EVENTS" "$s")" "$(max_rss_mib "$1")"
}

mkdir -p "$(dirname "$OUT")"
{
    echo "# Benchmarks"
    echo
    echo "Generated by \`scripts/bench.sh\` (\`BENCH_SCALE=$SCALE\`, $RUNS runs per measurement) on"
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'); the whole run took $(($(date +%s) - T_START)) s. Re-run it to refresh this"
    echo "file; nothing here is edited by hand."
    echo
    echo "**These numbers are from a shared 2-core box:** other builds and test servers may have run"
    echo "at the same time (load average at the end of the run: $LOAD_AVG_END). Read them as"
    echo "rough, not as a lab measurement. Every tool ran on the same files in the same run, with"
    echo "runs interleaved (a, b, c, d, a, b, …) so that background load hits all of them alike."
    echo
    echo "## Goals at a glance"
    echo
    echo "Each goal is measured in its section below; this table repeats the verdicts."
    echo
    echo "| goal | measured | status |"
    echo "|---|---|---|"
    echo "| \`zrm binlog analyze --summary\` ≥ 10× faster than \`mariadb-binlog --base64-output=decode-rows -vv\` | ${R_BC}× | $(goal "$R_BC" ">=" 10) |"
    echo "| \`zrm binlog analyze --summary\` ≥ 2× faster than plain \`mariadb-binlog\` | ${R_AC}× | $(goal "$R_AC" ">=" 2) |"
    echo "| \`zrm binlog analyze --summary\` peak RSS < 64 MiB | $RSS_C MiB | $(goal "$RSS_C" "<" 64) |"
    if [ "$ARCHIVE_STATUS" = measured ]; then
        echo "| \`zrm binlog archive\` throughput reported | $ARCH_ZRM_MIBS MiB/s (\`mariadb-binlog --raw\`: $ARCH_RAW_MIBS MiB/s) | reported (no target) |"
    else
        echo "| \`zrm binlog archive\` throughput reported | not measured: $ARCHIVE_STATUS | NOT MEASURED |"
    fi
    if [ "$PITR_DONE" = 1 ]; then
        echo "| point-in-time replay at least as fast as \`mariadb-binlog \\| mariadb\` | zrm ${Z_REPLAY} s, baseline ${B_REPLAY} s: baseline/zrm = ${R_REPLAY}× | $(goal "$R_REPLAY_RAW" ">=" 1) |"
        echo "| zrm's replay (parallel applier) ≥ 3× faster than \`mariadb-binlog \\| mariadb\` | baseline/zrm = ${R_REPLAY}×; zrm peak RSS $(max_rss_mib pitr-zrm) MiB | $(goal "$R_REPLAY_RAW" ">=" 3) |"
        echo "| zrm's replay faster than the load that wrote the binlogs ($LOAD_THREADS threads) | load/replay = $(show3 "$R_LOAD_REPLAY")× ($LOAD_SECS s / $Z_REPLAY s) | $(goal "$R_LOAD_REPLAY" ">=" 1.000000001) |"
        echo "| both replays end with the same data (\`CHECKSUM TABLE\`) | $PITR_SUMS | $([ "$PITR_SUMS" = MATCH ] && echo "**MET**" || echo "**NOT MET**") |"
    else
        echo "| point-in-time replay at least as fast as \`mariadb-binlog \\| mariadb\` | not measured: $PITR_STATUS | NOT MEASURED |"
    fi
    if [ "$CHAIN_STATUS" = measured ]; then
        echo "| planning a restore across $CHAIN_FILES binlog files < 1 s, \`--until-time\` | ${CHAIN_T} s | $(goal "$CHAIN_T" "<" 1) |"
        echo "| the same, \`--until-position\` | ${CHAIN_P} s | $(goal "$CHAIN_P" "<" 1) |"
    else
        echo "| planning a restore across $CHAIN_FILES binlog files < 1 s | not measured (see its section) | NOT MEASURED |"
    fi
    echo "| zrm logical dump (default zstd level 1) ≥ 1.5× faster than \`mariadb-dump \\| zstd -3\` | $(l_said "$R_LDUMP" "baseline/zrm" "$LD_B" "$LD_Z") | $(goal "$R_LDUMP" ">=" 1.5) |"
    echo "| zrm logical dump, \`compression = \"none\"\`, no slower than mydumper | $(l_said "$R_LNONE" "zrm (none)/mydumper" "$LD_N" "$LD_M") | $(goal "$R_LNONE" "<=" 1) |"
    echo "| \`zrm restore\` of a logical backup ≥ 1.3× faster than myloader | $(l_said "$R_LMYL" "myloader/zrm" "$LL_M" "$LL_Z") | $(goal "$R_LMYL" ">=" 1.3) |"
    echo "| \`zrm restore\` of a logical backup ≥ 2× faster than \`mariadb < dump.sql\` | $(l_said "$R_LSQL" "(mariadb < dump.sql)/zrm" "$LL_S" "$LL_Z") | $(goal "$R_LSQL" ">=" 2) |"
    echo "| peak RSS of zrm < 150 MiB in both directions (logical) | $(l_rss_said) | $(goal "$L_RSS" "<" 150) |"
    echo "| \`zrm restore\` of the logical backup gives the source's data (\`CHECKSUM TABLE\`) | $L_SUMS_ZRM_TEXT | $(case "$L_SUMS_ZRM" in MATCH) echo "**MET**" ;; DIFFER) echo "**NOT MET**" ;; *) echo "NOT MEASURED" ;; esac) |"
    if [ "$SNAP_STATUS" = measured ]; then
        cat "$SNAP_GOALS"
    else
        echo "| btrfs snapshot backup: commits blocked (\`lock_hold_ms\`, median) ≤ 50 ms, idle | not measured: $SNAP_STATUS | NOT MEASURED |"
        echo "| the same under \`sysbench oltp_write_only\` ≤ 250 ms | not measured (see its section) | NOT MEASURED |"
    fi
    if [ "$S3_STATUS" = measured ]; then
        cat "$S3_GOALS"
    else
        echo "| peak RSS of zrm uploading a multi-GB file to S3 (\`zrm replicate\`) < 200 MiB | not measured: $S3_STATUS | NOT MEASURED |"
    fi
    if [ "$CLUSTER_STATUS" = measured ]; then
        cat "$CLUSTER_GOALS"
    else
        echo "| coordinated cluster backup (3 shards): longest shard's lock hold (\`max_lock_hold_ms\`, median) ≤ 100 ms, idle | not measured: $CLUSTER_STATUS | NOT MEASURED |"
    fi
    if [ "$MYSQL_STATUS" = measured ]; then
        cat "$MYSQL_GOALS"
    else
        echo "| MySQL 9.7: logical dump, load and replay against MySQL's own tools | not measured: $MYSQL_STATUS | NOT MEASURED |"
    fi
    echo
    echo "## Setup"
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| date | $(date -u '+%Y-%m-%d %H:%M:%S UTC') |"
    echo "| machine | $(nproc) CPUs ($CPU_MODEL), $MEM_GIB GiB memory, Linux $(uname -r) |"
    echo "| MariaDB | $MARIADB_VERSION (server and clients: \`$(mariadb-binlog --version | head -n 1)\`) |"
    echo "| zrm | $ZRM_VERSION, commit \`$ZRM_COMMIT\`$ZRM_DIRTY, \`cargo build --release\` |"
    echo "| load generator | $(sysbench --version) |"
    if [ "$HAVE_MYDUMPER" = 1 ]; then echo "| mydumper | $(mydumper --version 2>&1 | head -n 1) |"; fi
    echo "| zstd | $(zstd --version | sed 's/^\*\** *//; s/ *\**$//') |"
    echo "| timing | \`/usr/bin/time -f '%e %M %U %S'\`: wall seconds (10 ms resolution), peak RSS, user + system CPU seconds (the process and its children); medians of $RUNS runs, peak RSS is the largest of the runs |"
    echo
    echo "The server is a throwaway \`mariadbd --no-defaults\` started by the script under a temp dir"
    echo "(\`--binlog-format=ROW --innodb-buffer-pool-size=1G --max-binlog-size=1G\`, a private \`--tmpdir\`, other settings"
    echo "default), not a tuned production server."
    echo
    echo "## Dataset"
    echo
    echo "- Tables: sysbench \`oltp_write_only\`, $TABLES tables × $ROWS rows in database \`sbtest\`"
    echo "  ($DATA_MIB MiB of InnoDB data and indexes after the load)."
    echo "- Binlogs: after \`prepare\`, \`FLUSH BINARY LOGS\`; then \`oltp_write_only run\` with"
    echo "  $LOAD_THREADS threads in $LOAD_CHUNKS chunk(s) of ${CHUNK_S} s ($LOAD_SECS s of load, $LOAD_TRX"
    echo "  transactions) until the binlogs reached $TARGET_MIB MiB; then \`FLUSH BINARY LOGS\`."
    echo "- The analysed files: $FILE_LIST— $BINLOG_BYTES bytes ($BINLOG_MIB MiB), ROW format,"
    echo "  **$EVENTS events** (counted by the server with \`SHOW BINLOG EVENTS\`), $XIDS commits (Xid"
    echo "  events), $(calc "$BINLOG_BYTES / $EVENTS" %.0f) bytes per event on average."
    echo "- Event types:"
    echo
    echo "  | type | events |"
    echo "  |---|---|"
    awk -F'\t' '{ printf "  | %s | %s |\n", $1, $2 }' "$WORK/event-type-counts"
    echo
    echo "## Binary log analysis"
    echo
    echo "Every command reads the same files (named in order on the command line) with stdout to"
    echo "\`/dev/null\`. The files were read once before timing, so all runs read them from the page"
    echo "cache: this measures parsing and formatting, not the disk."
    echo
    echo "| tool | command | median s | runs s | CPU s | MiB/s | events/s | peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|---|"
    row_binlog a "mariadb-binlog" "mariadb-binlog --no-defaults FILES"
    row_binlog b "mariadb-binlog, rows decoded" "mariadb-binlog --no-defaults --base64-output=decode-rows -vv FILES"
    row_binlog c "zrm, summary" "zrm binlog analyze --summary FILES"
    row_binlog d "zrm, every event as NDJSON" "zrm binlog analyze --format json FILES"
    echo
    echo "Cross-check: zrm's NDJSON output had $ZRM_JSON_LINES lines for the $EVENTS events the server"
    echo "lists; the first line of its summary: \`$(head -n 1 "$WORK/zrm-summary.txt")\`."
    echo
    echo "| goal | measured (median wall time) | status | same ratio on CPU time |"
    echo "|---|---|---|---|"
    echo "| \`zrm binlog analyze --summary\` ≥ 10× faster than (b) decode-rows -vv | (b)/(c) = ${R_BC}× | $(goal "$R_BC" ">=" 10) | $(ratio "$(med_cpu b)" "$(med_cpu c)")× |"
    echo "| \`zrm binlog analyze --summary\` ≥ 2× faster than (a) plain mariadb-binlog | (a)/(c) = ${R_AC}× | $(goal "$R_AC" ">=" 2) | $(ratio "$(med_cpu a)" "$(med_cpu c)")× |"
    echo "| \`zrm binlog analyze --summary\` peak RSS < 64 MiB | $RSS_C MiB | $(goal "$RSS_C" "<" 64) | |"
    echo
    echo "For reference: (b)/(d) = $(ratio "$B" "$D")×, (a)/(d) = $(ratio "$A" "$D")× (zrm writing every"
    echo "event as JSON against mariadb-binlog writing its text)."
    echo
    echo "<details><summary>zrm binlog analyze --summary output (untimed run)</summary>"
    echo
    echo '```'
    head -n 60 "$WORK/zrm-summary.txt"
    [ "$(wc -l <"$WORK/zrm-summary.txt")" -le 60 ] || echo "… ($(wc -l <"$WORK/zrm-summary.txt") lines in all)"
    echo '```'
    echo
    echo "</details>"
    echo
    echo "## Binary log archive"
    echo
    echo "Catching up on the ${#ALL_CLOSED[@]} closed binlog file(s) of the server ($ARCHIVE_BYTES bytes,"
    echo "$ARCHIVE_MIB MiB: the \`prepare\` and the load), over the local socket."
    echo
    echo "| tool | command | median s | runs s | CPU s | MiB/s | stored MiB | peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|---|"
    s=$(med_secs archive-raw)
    echo "| mariadb-binlog (baseline) | \`mariadb-binlog --read-from-remote-server --raw --result-file=DIR/ FILES\` | $s | $(all_secs archive-raw) | $(med_cpu archive-raw) | $(per_sec "$(calc "$ARCHIVE_BYTES / 1048576" %.6f)" "$s" %.1f) | $(mib "$RAW_COPIED") (raw) | $(max_rss_mib archive-raw) |"
    if [ "$ARCHIVE_STATUS" = measured ]; then
        s=$(med_secs archive-zrm)
        echo "| zrm | \`zrm binlog archive --set bench\` (empty repository each run) | $s | $(all_secs archive-zrm) | $(med_cpu archive-zrm) | $(per_sec "$(calc "$ARCHIVE_BYTES / 1048576" %.6f)" "$s" %.1f) | $(mib "$ZRM_ARCHIVE_STORED") ($ZRM_ARCHIVE_OBJECTS zstd objects) | $(max_rss_mib archive-zrm) |"
        echo
        echo "zrm/baseline wall time: $(ratio "$s" "$(med_secs archive-raw)")× (above 1 means zrm is slower)."
        echo "The two do different work: the baseline writes the bytes as the server sends them; zrm"
        echo "reads every event, stores each file zstd-compressed (level 3) and records SHA-256"
        echo "checksums and an index per file. MiB/s is of the server's binlog bytes in both rows."
    else
        echo "| zrm | \`zrm binlog archive --set bench\` | not measured | | | | | |"
        echo
        echo "**TODO — not measured:** $ARCHIVE_STATUS. The \`bench_archive\` hook in"
        echo "\`scripts/bench.sh\` measures it (into an empty repository each run) as soon as the command runs."
    fi
    echo
    echo "## Full backup"
    echo
    echo "A full logical backup of \`sbtest\` from the same server (after the load), compressed with"
    echo "zstd level 3. zrm runs \`mariadb-dump --single-transaction --routines --triggers --events"
    echo "--hex-blob --master-data=2 --gtid\` and compresses its output in-process into a local"
    echo "repository (a fresh one each run); peak RSS for zrm and the shell pipeline is the largest"
    echo "single process (zrm or mariadb-dump; bash, mariadb-dump or zstd)."
    echo
    echo "| tool | command | median s | runs s | CPU s | stored MiB | peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|"
    if [ "$BACKUP_STATUS" = measured ]; then
        echo "| zrm | \`zrm backup --set bench --method mysqldump\` | $(med_secs backup-zrm) | $(all_secs backup-zrm) | $(med_cpu backup-zrm) | $(mib "$ZRM_DUMP_SIZE") | $(max_rss_mib backup-zrm) |"
    else
        echo "| zrm | \`zrm backup --set bench --method mysqldump\` | not measured | | | | |"
    fi
    echo "| mariadb-dump + zstd (baseline) | \`mariadb-dump --single-transaction --databases sbtest \\| zstd -3 > FILE\` | $(med_secs backup-dump) | $(all_secs backup-dump) | $(med_cpu backup-dump) | $(mib "$PEER_DUMP_SIZE") | $(max_rss_mib backup-dump) |"
    if [ "$HAVE_MYDUMPER" = 1 ]; then
        echo "| mydumper, uncompressed (reference) | \`mydumper --database=sbtest --threads=2\` | $(med_secs backup-mydumper) | $(all_secs backup-mydumper) | $(med_cpu backup-mydumper) | $(mib "$MYDUMPER_SIZE") (plain) | $(max_rss_mib backup-mydumper) |"
    fi
    echo
    if [ "$BACKUP_STATUS" = measured ]; then
        echo "zrm/baseline wall time: $(ratio "$(med_secs backup-zrm)" "$(med_secs backup-dump)" )×"
        echo "(above 1 means zrm is slower). The mydumper row writes uncompressed files and is not"
        echo "a like-for-like comparison; it shows what a parallel dumper does on this data."
    else
        echo "**Not measured:** $BACKUP_STATUS."
    fi
    echo
    echo "## Logical engine"
    echo
    echo "zrm's \`logical\` method (the default) against the usual dump and load tools, every one with"
    echo "$L_THREADS threads (connections), on one dataset:"
    echo
    echo "- Dataset: database \`lbench\` on a server of its own started by the script, \`lsrc\`"
    echo "  (\`--skip-networking --log-bin --binlog-format=ROW --innodb-buffer-pool-size=2G\`: the whole"
    echo "  dataset fits in its buffer pool, and its binary log is not the one the point-in-time section"
    echo "  archives): sysbench \`oltp_read_write prepare\`, $L_TABLES tables × $L_ROWS rows, plus"
    echo "  \`lbench.wide\`, $L_WIDE rows of \`(id INT PRIMARY KEY, a VARCHAR(255), b BLOB, c TEXT, d DOUBLE,"
    echo "  e DATETIME(6))\` (32–128 random hex characters, 512–1024 random bytes, 41–492 characters or"
    echo "  NULL in one row of 11, a random double, a random microsecond time): **$L_MIB MiB** of InnoDB"
    echo "  data and indexes (\`SUM(DATA_LENGTH + INDEX_LENGTH)\` after \`ANALYZE TABLE\`; the wide table"
    echo "  $(mib "$L_WIDE_BYTES" %.0f) MiB), generated in $L_GEN_S s."
    echo "- zrm: \`method = \"logical\"\`, \`parallel = $L_THREADS\`, \`databases = [\"lbench\"]\`; the"
    echo "  repository's \`compression\` left at its default (\`zstd\`, \`compression_level\` 1) or set to"
    echo "  \`\"none\"\`. Every dump run writes into a fresh, empty repository or directory."
    echo "- Loads: into \`ltarget\`, a second fresh server (\`--skip-networking"
    echo "  --innodb-buffer-pool-size=2G\`, no binary log), after \`DROP DATABASE IF EXISTS lbench\` (and"
    echo "  \`zrm\`, zrm's progress schema) before every run. zrm restores backup \`${L_BACKUP_ID:-none}\`, taken once"
    echo "  (untimed) before the dump runs; myloader loads the last mydumper run's directory; \`mariadb\`"
    echo "  the last mariadb-dump run's output, decompressed before the loads."
    echo "- Order in each iteration: dumps zrm, zrm (none), mariadb-dump, mydumper; loads zrm,"
    echo "  myloader, \`mariadb\`. CPU s is the client side only (the command and its children), not"
    echo "  the server's work. Peak RSS is the largest single process (for the pipelines: bash,"
    echo "  mariadb-dump, zstd or mariadb)."
    if [ "$SCALE" = small ]; then
        echo "- **\`BENCH_SCALE=small\`:** most runs take well under a second, timed to 10 ms: the ratios"
        echo "  and verdicts below mean little at this size; the full scale is the measurement."
    fi
    if [ "$L_RUNS" = 1 ]; then
        echo "- **One run per tool** (\`BENCH_LOGICAL_RUNS=1\` or \`BENCH_RUNS=1\`): no median; read the numbers with that in mind."
    else
        echo "- $L_RUNS runs per tool; medians."
    fi
    echo
    echo "### Dump"
    echo
    echo "| tool | command | median s | runs s | CPU s | size MiB | peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|"
    l_row "zrm, logical (zstd level 1, the default)" "\`zrm backup --set lbench\`" ldump-zrm "$L_STATUS" "$(mib "${L_ZRM_SIZE:-0}") (stored)"
    l_row "zrm, logical, \`compression = \"none\"\`" "\`zrm backup --set lbench\`" ldump-none "$L_NONE_STATUS" "$(mib "${L_NONE_SIZE:-0}") (stored, plain)"
    l_row "mariadb-dump + zstd (baseline)" "\`mariadb-dump --single-transaction --databases lbench \\| zstd -3 > FILE\`" ldump-base measured "$(mib "$L_BASE_SIZE") (zstd -3)"
    if [ "$HAVE_MYDUMPER" = 1 ]; then
        l_row "mydumper, uncompressed" "\`mydumper --database=lbench --threads=$L_THREADS\`" ldump-mydumper measured "$(mib "$L_MYDUMPER_SIZE") (plain)"
    fi
    echo
    echo "### Load"
    echo
    echo "| tool | command | median s | runs s | CPU s | size MiB | peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|"
    l_row "zrm" "\`zrm restore --set lbench --target ltarget --backup ID --no-binlogs --parallel $L_THREADS\`" lload-zrm "$L_LOAD_STATUS" "$(mib "${L_BACKUP_BYTES:-0}") (the backup)"
    if [ "$HAVE_MYLOADER" = 1 ]; then
        l_row "myloader" "\`myloader --threads=$L_THREADS --directory=DIR --overwrite-tables\`" lload-myloader measured "$(mib "$L_MYDUMPER_SIZE") (mydumper's files)"
    fi
    l_row "mariadb < dump.sql (baseline)" "\`mariadb --no-defaults -S SOCK -uroot < dump.sql\`" lload-sql measured "$(mib "$L_SQL_SIZE") (plain SQL)"
    echo
    for st in "$L_STATUS" "$L_NONE_STATUS" "$L_LOAD_STATUS"; do
        [ "$st" = measured ] || echo "**Not measured:** $st."
    done | awk '!seen[$0]++ { print; n++ } END { if (n) print "" }'
    echo "| goal | measured (median wall time) | status |"
    echo "|---|---|---|"
    echo "| zrm logical dump (default) ≥ 1.5× faster than \`mariadb-dump \\| zstd -3\` | $(l_said "$R_LDUMP" "baseline/zrm" "$LD_B" "$LD_Z") | $(goal "$R_LDUMP" ">=" 1.5) |"
    echo "| zrm logical dump, \`compression = \"none\"\`, no slower than mydumper (ratio ≤ 1) | $(l_said "$R_LNONE" "zrm (none)/mydumper" "$LD_N" "$LD_M") | $(goal "$R_LNONE" "<=" 1) |"
    echo "| \`zrm restore\` ≥ 1.3× faster than myloader | $(l_said "$R_LMYL" "myloader/zrm" "$LL_M" "$LL_Z") | $(goal "$R_LMYL" ">=" 1.3) |"
    echo "| \`zrm restore\` ≥ 2× faster than \`mariadb < dump.sql\` | $(l_said "$R_LSQL" "(mariadb < dump.sql)/zrm" "$LL_S" "$LL_Z") | $(goal "$R_LSQL" ">=" 2) |"
    echo "| peak RSS of zrm < 150 MiB in both directions | $(l_rss_said) | $(goal "$L_RSS" "<" 150) |"
    echo
    echo "For reference: zrm (none)/zrm (zstd) dump wall time $(show3 "$(ratio_raw "$LD_N" "$LD_Z")")×;"
    echo "mydumper/zrm (zstd) $(show3 "$(ratio_raw "$LD_M" "$LD_Z")")× (mydumper writes plain files)."
    echo
    echo "\`CHECKSUM TABLE\` of the $L_NTABLES lbench tables on the target after each tool's first load,"
    echo "against the source (untimed): zrm **$L_SUMS_ZRM_TEXT**, myloader **${L_SUMS_MYLOADER:-not checked}**,"
    echo "\`mariadb < dump.sql\` **${L_SUMS_SQL:-not checked}**."
    if [ "$L_SUMS_ZRM" = DIFFER ]; then
        echo
        echo "**Warning: the data \`zrm restore\` loaded differs from the source** (values below)."
    fi
    echo
    echo "<details><summary>CHECKSUM TABLE values</summary>"
    echo
    echo "| table | source | zrm | myloader | mariadb < dump.sql |"
    echo "|---|---|---|---|---|"
    for t in $(cut -f1 "$WORK/lsums.source"); do
        printf '| %s | %s | %s | %s | %s |\n' "$t" "$(l_sum source "$t")" "$(l_sum zrm "$t")" "$(l_sum myloader "$t")" "$(l_sum sql "$t")"
    done
    echo
    echo "</details>"
    echo
    echo "## Point-in-time restore"
    echo
    echo "### Replay throughput"
    echo
    if [ "$PITR_DONE" = 1 ]; then
        echo "- Base: \`zrm backup --set bench --method mysqldump\` (backup \`$PITR_BACKUP_ID\`), taken right"
        echo "  after \`sysbench prepare\` and the \`FLUSH BINARY LOGS\` that opens the load's binlog, before"
        echo "  the load. Consistent point: \`$PITR_CP_FILE:$PITR_CP_POS\`."
        echo "- After the load (and the other sections, which do not write to the server):"
        echo "  \`FLUSH BINARY LOGS\`, then \`zrm binlog archive --set bench\` into the same repository:"
        echo "  $PITR_ARCHIVE_FILES file(s), $(mib "$PITR_ARCHIVE_BYTES") MiB in $(calc "$PITR_ARCHIVE_S") s (its \`duration_s\`; one run)."
        echo "- Replayed: the load's binlogs (the files of the analysis section), from the consistent point to"
        echo "  \`--until-position $PITR_UNTIL\` (the end of the last file; zrm's plan stops at \`$PITR_STOP\`,"
        echo "  the end of its last transaction): $PITR_BYTES bytes ($(mib "$PITR_BYTES") MiB),"
        echo "  $PITR_TRX transactions$([ "$PITR_TRX_EXACT" = true ] || echo " (about)") (the load ran $LOAD_TRX)."
        echo "- Targets: two fresh servers started by the script with the same options (\`mariadbd"
        echo "  --no-defaults --skip-networking --innodb-buffer-pool-size=1G\`: no binary log, other settings"
        echo "  default, so every replayed transaction is a durable commit). bench2 gets zrm's restore,"
        echo "  bench3 the baseline. Before every run each target is reloaded from the same backup"
        echo "  (\`--replace\`; for bench3 \`zrm restore --set bench --target bench3 --no-binlogs --replace\`,"
        echo "  untimed, right before the timed pipeline). The two alternate in order from run to run."
        if [ "$PITR_RUNS" = 1 ]; then
            echo "- **One run per tool** (\`BENCH_PITR_RUNS=1\`): no median; read the numbers with that in mind."
        else
            echo "- $PITR_RUNS runs per tool; medians."
        fi
        echo
        echo "| measurement | command | median s | runs s | MiB/s of binlog | transactions/s | peak RSS MiB |"
        echo "|---|---|---|---|---|---|---|"
        echo "| zrm, replay (\`duration_s\` − \`base_duration_s\`) | \`zrm restore --set bench --target bench2 --until-position $PITR_UNTIL --replace --format json\` | $Z_REPLAY | $(pitr_all replay) | $(per_sec "$PITR_MIB" "$Z_REPLAY" %.1f) | $(per_sec "$PITR_TRX" "$Z_REPLAY") | |"
        echo "| mariadb-binlog \\| mariadb (baseline) | \`mariadb-binlog --no-defaults --start-position=$PITR_CP_POS FILES \\| mariadb --no-defaults -S SOCK -uroot\` | $B_REPLAY | $(all_secs pitr-base) | $(per_sec "$PITR_BASELINE_MIB" "$B_REPLAY" %.1f) | $(per_sec "$PITR_TRX" "$B_REPLAY") | $(max_rss_mib pitr-base) |"
        echo "| zrm, base load (\`base_duration_s\`) | (the same zrm command) | $Z_BASE | $(pitr_all 3) | | | |"
        echo "| zrm, outside \`duration_s\` (start, planning, verifying the archived binlogs, connecting) | (the same zrm command) | $Z_OTHER | $(pitr_all other) | | | |"
        echo "| zrm, the whole command (wall) | (the same zrm command) | $Z_WALL | $(pitr_all 2) | | | $(max_rss_mib pitr-zrm) |"
        echo
        # Flag a run far from the others (background work on a shared box).
        spread() { sort -g | awk 'NR == 1 { min = $1 } { max = $1 } END { if (NR > 1 && min > 0 && max / min > 1.3) printf "%.1f", max / min }'; }
        local_sb=$(awk -F'\t' '$1 == "pitr-base" { print $3 }' "$TIMES" | spread)
        local_sz=$(pitr_runs replay | spread)
        if [ -n "$local_sb$local_sz" ]; then
            noisy="**Noisy runs:**"
            [ -z "$local_sz" ] || noisy="$noisy zrm's slowest replay took ${local_sz}× its fastest;"
            [ -z "$local_sb" ] || noisy="$noisy the baseline's slowest run took ${local_sb}× its fastest;"
            echo "$noisy"
            echo "most likely other work on this shared box during that run. The median sets one such run"
            echo "aside when the other runs agree; read the ratio below with that in mind."
            echo
        fi
        echo "| goal | measured (medians) | status |"
        echo "|---|---|---|"
        echo "| zrm's replay at least as fast as the v1 baseline \`mariadb-binlog \\| mariadb\` | baseline/zrm = ${R_REPLAY}× (above 1: zrm faster) | $(goal "$R_REPLAY_RAW" ">=" 1) |"
        echo "| zrm's replay (parallel applier) ≥ 3× faster than the baseline | baseline/zrm = ${R_REPLAY}× | $(goal "$R_REPLAY_RAW" ">=" 3) |"
        echo "| zrm's replay faster than the load that wrote the binlogs | load ($LOAD_THREADS threads) $LOAD_SECS s / replay $Z_REPLAY s = $(show3 "$R_LOAD_REPLAY")× | $(goal "$R_LOAD_REPLAY" ">=" 1.000000001) |"
        echo
        echo "zrm replays with its own applier (\`restore::applier\`, the default): it reads the archived"
        echo "binlogs itself and applies each row transaction as \`BINLOG\` statements on several connections"
        echo "(lanes) by write set, several transactions per target commit, in source order; statements and"
        echo "DDL go through \`mariadb-binlog | mariadb\` for their range. What it reported, run by run (lanes,"
        echo "target commits, transactions sent to the client pipeline, conflicts, average lanes busy):"
        echo "$(awk -F'\t' '{ printf "%srun %s: %s lanes, %s commits, %s via the pipeline, %s conflicts, parallelism %.1f", (NR > 1 ? "; " : ""), $1, $5, $6, $7, $8, $9 }' "$PITR_TSV")."
        echo "The baseline is one \`mariadb\` client session fed by \`mariadb-binlog\` from the server's own"
        echo "binlog files (in the page cache). The baseline's MiB/s counts its $PITR_BASELINE_BYTES bytes (to the"
        echo "end of the file); transactions/s uses zrm's planned count for both. Peak RSS is the largest"
        echo "single process (for zrm: zrm, or a \`mariadb-binlog\` or client it runs for pipeline ranges)."
        echo
        echo "\`CHECKSUM TABLE\` of every sbtest table after the last run, zrm's target against the"
        echo "baseline's: **$PITR_SUMS**; zrm's target against the source server (whose data is as of the"
        echo "end of the load): **$PITR_SUMS_SOURCE**."
        echo
        echo "<details><summary>CHECKSUM TABLE values</summary>"
        echo
        echo "| table | source | zrm (bench2) | baseline (bench3) |"
        echo "|---|---|---|---|"
        paste "$WORK/sums.source" "$WORK/sums.zrm" "$WORK/sums.baseline" | awk -F'\t' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $4, $6 }'
        echo
        echo "</details>"
    else
        echo "**Not measured:** $PITR_STATUS."
    fi
    echo
    echo "### Planning across $CHAIN_FILES binlog files"
    echo
    if [ "$CHAIN_STATUS" = measured ]; then
        echo "A separate small server (\`--binlog-format=ROW --innodb-buffer-pool-size=64M\`) with one table"
        echo "\`chain.t\`: \`zrm backup --set chain\`, then one \`mariadb\` client session ran $CHAIN_FILES × (\`INSERT\`"
        echo "one row; \`FLUSH BINARY LOGS\`) in $CHAIN_LOAD_S s. The target time $CHAIN_UNTIL_TIME is the"
        echo "second after the last insert; one more \`FLUSH BINARY LOGS\` a second later carries the binlogs"
        echo "past it (zrm refuses an \`--until-time\` beyond the end of the archive), then"
        echo "\`zrm binlog archive --set chain\`. The plans target \`chain2\`, a second small empty"
        echo "server. Planning times are medians of $RUNS runs (wall time of the whole command, 10 ms"
        echo "resolution); the other rows are single runs."
        echo
        echo "| step | command | median s | runs s | peak RSS MiB | result |"
        echo "|---|---|---|---|---|---|"
        echo "| archive the chain | \`zrm binlog archive --set chain\` | $(med_secs chain-archive) | 1 run | $(max_rss_mib chain-archive) | $CHAIN_ARCHIVED files, $CHAIN_ARCHIVED_BYTES bytes |"
        if [ "$(med_secs chain-raw)" != nan ]; then
            echo "| the same files copied by mariadb-binlog (reference) | \`mariadb-binlog --read-from-remote-server --raw --result-file=DIR/ FILES\` | $(med_secs chain-raw) | 1 run | $(max_rss_mib chain-raw) | ${#CHAIN_CLOSED[@]} files |"
        fi
        echo "| find the position | \`zrm binlog find --set chain --time $CHAIN_UNTIL_TIME --format json\` | $(med_secs chain-find) | 1 run | $(max_rss_mib chain-find) | \`$CHAIN_UNTIL_POS\` |"
        echo "| plan, by time | \`zrm restore --set chain --target chain2 --until-time $CHAIN_UNTIL_TIME --dry-run\` | $CHAIN_T | $(all_secs chain-plan-time) | $(max_rss_mib chain-plan-time) | $CHAIN_PLAN_FILES_T files, $CHAIN_PLAN_TRX_T transactions |"
        echo "| plan, by position | \`zrm restore --set chain --target chain2 --until-position $CHAIN_UNTIL_POS --dry-run\` | $CHAIN_P | $(all_secs chain-plan-pos) | $(max_rss_mib chain-plan-pos) | $CHAIN_PLAN_FILES_P files, $CHAIN_PLAN_TRX_P transactions |"
        if [ -n "$(med_secs chain-restore | grep -v nan)" ]; then
            echo "| the restore itself (reference) | \`zrm restore --set chain --target chain2 --until-position $CHAIN_UNTIL_POS\` | $(med_secs chain-restore) | 1 run | $(max_rss_mib chain-restore) | $CHAIN_RESTORE |"
        else
            echo "| the restore itself (reference) | \`zrm restore --set chain --target chain2 --until-position $CHAIN_UNTIL_POS\` | | | | $CHAIN_RESTORE |"
        fi
        echo
        echo "| goal | measured (median wall time) | status |"
        echo "|---|---|---|"
        echo "| planning a restore across $CHAIN_FILES binlog files < 1 s, \`--until-time\` | $CHAIN_T s | $(goal "$CHAIN_T" "<" 1) |"
        echo "| the same, \`--until-position\` | $CHAIN_P s | $(goal "$CHAIN_P" "<" 1) |"
    else
        echo "**Not measured:** $CHAIN_STATUS."
    fi
    echo
    if [ "$SNAP_STATUS" = measured ]; then
        cat "$SNAP_MD"
    else
        echo "## Snapshot backups (btrfs)"
        echo
        echo "**Not measured:** $SNAP_STATUS."
    fi
    echo
    if [ "$S3_STATUS" = measured ]; then
        cat "$S3_MD"
    else
        echo "## S3 repository and encryption"
        echo
        echo "**Not measured:** $S3_STATUS."
    fi
    echo
    if [ "$CLUSTER_STATUS" = measured ]; then
        cat "$CLUSTER_MD"
    else
        echo "## Sharded clusters"
        echo
        echo "**Not measured:** $CLUSTER_STATUS."
    fi
    echo
    if [ "$MYSQL_STATUS" = measured ]; then
        cat "$MYSQL_MD"
    else
        echo "## Oracle MySQL 9.7"
        echo
        echo "**Not measured:** $MYSQL_STATUS."
    fi
    echo
    echo "## Reproduce"
    echo
    echo '```'
    echo "BENCH_SCALE=$SCALE BENCH_RUNS=$RUNS BENCH_PITR_RUNS=$PITR_RUNS BENCH_LOGICAL_RUNS=$L_RUNS${BENCH_REV:+ BENCH_REV=$ZRM_COMMIT} scripts/bench.sh    # writes docs/BENCHMARKS.md"
    echo '```'
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"

step "Done in $(($(date +%s) - T_START)) s"
say "binlog analysis: (a) ${A}s (b) ${B}s (c) ${C}s (d) ${D}s; (b)/(c) ${R_BC}x, (a)/(c) ${R_AC}x, zrm peak RSS ${RSS_C} MiB"
say "logical engine ($L_MIB MiB): dump zrm ${LD_Z}s, zrm (none) ${LD_N}s, mariadb-dump | zstd ${LD_B}s, mydumper ${LD_M}s; load zrm ${LL_Z}s, myloader ${LL_M}s, mariadb ${LL_S}s; zrm peak RSS ${L_RSS} MiB, checksums ${L_SUMS_ZRM_TEXT}"
say "point-in-time replay: zrm ${Z_REPLAY}s, baseline ${B_REPLAY}s (baseline/zrm ${R_REPLAY}x), checksums ${PITR_SUMS:-n/a}"
say "planning across $CHAIN_FILES files: --until-time ${CHAIN_T}s, --until-position ${CHAIN_P}s"
if [ "$SNAP_STATUS" = measured ]; then
    say "btrfs snapshot lock hold: $(awk -F'|' '{ gsub(/^ +| +$|\*/, "", $3); gsub(/^ +| +$|\*/, "", $4)
        printf "%s%s %s (%s)", (NR > 1 ? "; " : ""), (NR == 1 ? "idle" : "under load"), $3, $4 }' "$SNAP_GOALS")"
else
    say "snapshot backups (btrfs): $SNAP_STATUS"
fi
say "S3 and encryption: $([ "$S3_STATUS" = measured ] && awk -F'|' '{ gsub(/^ +| +$|\*/, "", $3); gsub(/^ +| +$|\*/, "", $4); printf "upload peak RSS %s (%s)", $3, $4 }' "$S3_GOALS" || echo "$S3_STATUS")"
say "sharded clusters: $([ "$CLUSTER_STATUS" = measured ] && awk -F'|' '{ gsub(/^ +| +$|\*/, "", $3); gsub(/^ +| +$|\*/, "", $4); printf "coordinated lock hold idle %s (%s)", $3, $4 }' "$CLUSTER_GOALS" || echo "$CLUSTER_STATUS")"
say "MySQL 9.7 goals: $([ "$MYSQL_STATUS" = measured ] && awk -F'|' '{ gsub(/^ +| +$|\*/, "", $4); printf "%s%s", (NR > 1 ? ", " : ""), $4 }' "$MYSQL_GOALS" || echo "$MYSQL_STATUS")"
say "report: $OUT"
