#!/usr/bin/env bash
# Benchmarks zrm against MySQL's own tools on Oracle MySQL 9.7, and prints a markdown section
# "## Oracle MySQL 9.7": the logical engine's dump and load against `mysqldump | zstd -3`,
# `mysql < dump.sql` (and mydumper/myloader), and the point-in-time replay of zrm's parallel
# applier against `mysqlbinlog FILES | mysql`.
#
#   scripts/bench_mysql.sh                                # BENCH_SCALE=full (~1 GiB dataset, 48 MiB of binlogs)
#   BENCH_SCALE=small BENCH_ZRM=/path/to/zrm scripts/bench_mysql.sh   # a quick check (~4 min)
#
# MySQL 9.7 comes from `scripts/mysql-chroot.sh` (Debian sid's mysql-server-core in a chroot,
# built once per machine, needs root the first time): its wrappers (mysqld, mysql, mysqldump,
# mysqlbinlog) run every server and client here; zrm finds them through `[tools] mysql_dir`.
# Installs what else it lacks on Debian (sysbench, zstd, time, jq; mydumper optionally).
#
# What it does:
#   1. builds zrm in release mode (or takes BENCH_ZRM) and copies the binary aside,
#   2. initialises one MySQL datadir (`mysqld --no-defaults --initialize-insecure`, no binlog),
#      copied (without auto.cnf: each server its own server_uuid) for every server it starts:
#      `mysqld --no-defaults --skip-networking` with its own socket, tmpdir and error log under
#      the temp dir (never the default instance), `--gtid-mode=ON --enforce-gtid-consistency=ON
#      --local-infile=ON --mysqlx=OFF`, as tests/support starts MySQL; sources with
#      `--log-bin --binlog-format=ROW`, targets with `--skip-log-bin`; all stopped on exit,
#   3. logical engine (BENCH_MYSQL_NO_LOGICAL=1 skips it), the dataset of scripts/bench.sh step 8
#      on a source server: sysbench `oltp_read_write prepare` tables in database `lbench` plus
#      `lbench.wide` (random text, random bytes up to 1 KiB with every byte value, NULLs,
#      17-digit doubles, microsecond datetimes; made with SHA2/RANDOM_BYTES and a recursive CTE,
#      as MySQL 9.7 has no MD5/SHA1 and no seq tables): full 8 x 500,000 rows + 120,000 wide rows
#      (~1 GiB), small 4 x 20,000 + 4,000; then BENCH_RUNS runs (default 3), interleaved, every
#      tool with 2 threads:
#        - dump: `zrm backup` (method logical, zstd level 1, a fresh repository each run) against
#          `mysqldump --single-transaction --databases lbench | zstd -3` and plain `mydumper`
#          (reference; say "not measured" with its error if it cannot dump MySQL 9.7),
#        - load into a second fresh server (lbench and zrm's schema dropped and
#          `RESET BINARY LOGS AND GTIDS` before every run): `zrm restore --no-binlogs
#          --parallel 2` of one backup against `mysql < dump.sql` (the dump decompressed) and
#          `myloader --threads 2`; CHECKSUM TABLE of each tool's first load against the source
#          (untimed),
#   4. replay (BENCH_MYSQL_NO_REPLAY=1 skips it): a second source server, sysbench
#      `oltp_write_only prepare` (full 8 x 100,000 rows, small 4 x 20,000), `FLUSH BINARY LOGS`,
#      the base backup `zrm backup` (logical), then `oltp_write_only run` with 2 threads in chunks
#      until the load's binlogs reach BENCH_MYSQL_BINLOG_MIB (full 48, small 12) — the load's
#      own time is reported —, `FLUSH BINARY LOGS` and `zrm binlog archive`. Two fresh targets
#      (`--skip-log-bin`); BENCH_MYSQL_REPLAY_RUNS runs (default BENCH_RUNS), the order
#      alternating: `RESET BINARY LOGS AND GTIDS` on the target (a fresh server: the source's
#      GTIDs are kept by both tools), then
#        - zrm: `zrm restore --until-position END --replace --format json` (its default applier,
#          4 lanes); the replay is `duration_s - base_duration_s`,
#        - baseline: `zrm restore --no-binlogs --replace` (untimed), then timed
#          `mysqlbinlog --start-position=CP FILES | mysql`,
#      CHECKSUM TABLE of both targets against the source after every run (untimed); then one run
#      each of `--replay-lanes N` for N in BENCH_MYSQL_LANES (default "2 4 8"), one into a target
#      that already holds the source's GTIDs (no RESET: zrm replays them with new GTIDs, several
#      transactions a commit; a diagnostic) and one of `--applier client` (the old pipeline
#      inside zrm; BENCH_MYSQL_NO_CLIENT=1 skips it),
#   5. writes the section to BENCH_MYSQL_OUT (default: stdout).
#
# Knobs: BENCH_SCALE=full|small, BENCH_RUNS=N, BENCH_MYSQL_REPLAY_RUNS=N, BENCH_MYSQL_BINLOG_MIB=N,
# BENCH_MYSQL_LANES="2 4 8", BENCH_MYSQL_OUT=FILE, BENCH_MYSQL_GOALS=FILE (also write the rows of
# the "Goals at a glance" table of docs/BENCHMARKS.md there; scripts/bench.sh uses it),
# BENCH_ZRM=PATH (bench that binary, no build; BENCH_ZRM_DESC=TEXT says what it was built from),
# BENCH_NO_BUILD=1 (use target/release/zrm as it is), BENCH_REV=COMMIT, BENCH_MYSQL_NO_LOGICAL=1,
# BENCH_MYSQL_NO_REPLAY=1, BENCH_MYSQL_NO_CLIENT=1, BENCH_KEEP=1 (leave the temp dir),
# BENCH_TMPDIR=DIR (parent of the temp dir; default /var/tmp).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SCALE="${BENCH_SCALE:-full}"
case "$SCALE" in
    small) L_TABLES=4; L_ROWS=20000; L_WIDE=4000; L_POOL=512M; R_TABLES=4; R_ROWS=20000; R_MIB_DEFAULT=12; R_CHUNK=3 ;;
    full) L_TABLES=8; L_ROWS=500000; L_WIDE=120000; L_POOL=2G; R_TABLES=8; R_ROWS=100000; R_MIB_DEFAULT=48; R_CHUNK=10 ;;
    *) echo "error: BENCH_SCALE must be small or full, not '$SCALE'" >&2; exit 2 ;;
esac
RUNS="${BENCH_RUNS:-3}"
R_RUNS="${BENCH_MYSQL_REPLAY_RUNS:-$RUNS}"
R_MIB="${BENCH_MYSQL_BINLOG_MIB:-$R_MIB_DEFAULT}"
for v in RUNS R_RUNS R_MIB; do
    case "${!v}" in '' | *[!0-9]* | 0) echo "error: $v must be a positive integer, not '${!v}'" >&2; exit 2 ;; esac
done
LANES_TRY="${BENCH_MYSQL_LANES-2 4 8}"
for n in $LANES_TRY; do
    case "$n" in *[!0-9]* | 0) echo "error: BENCH_MYSQL_LANES must list positive integers, not '$n'" >&2; exit 2 ;; esac
done
OUT="${BENCH_MYSQL_OUT:-}"
GOALS_OUT="${BENCH_MYSQL_GOALS:-}"
DO_LOGICAL=1 DO_REPLAY=1 DO_CLIENT=1
[ "${BENCH_MYSQL_NO_LOGICAL:-0}" = 1 ] && DO_LOGICAL=0
[ "${BENCH_MYSQL_NO_REPLAY:-0}" = 1 ] && DO_REPLAY=0
[ "${BENCH_MYSQL_NO_CLIENT:-0}" = 1 ] && DO_CLIENT=0
# Threads (connections) of every dump, load and load generator.
THREADS=2
# Goals (issues 15 and 17): dump and load against MySQL's tools, replay against the pipeline.
GOAL_DUMP=1.5 GOAL_LOAD=2 GOAL_REPLAY=3

T_START=$(date +%s)
# shellcheck source=scripts/bench_lib.sh
. "$ROOT/scripts/bench_lib.sh"

# --- 1. packages and zrm -----------------------------------------------------------------------

step "Checking packages"
required=() optional=()
command -v sysbench >/dev/null || required+=(sysbench)
command -v zstd >/dev/null || required+=(zstd)
[ -x /usr/bin/time ] || required+=(time)
command -v jq >/dev/null || required+=(jq)
command -v mydumper >/dev/null && command -v myloader >/dev/null || optional+=(mydumper)
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
    [ ${#required[@]} -eq 0 ] || "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${required[@]}" >/dev/null
    [ ${#optional[@]} -eq 0 ] || "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${optional[@]}" >/dev/null \
        || warn "could not install ${optional[*]}: its rows are left out"
else
    say "all present"
fi
HAVE_MYDUMPER=0
command -v mydumper >/dev/null && command -v myloader >/dev/null && HAVE_MYDUMPER=1

WORK=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/zrm-bench-mysql.XXXXXX")
SERVER_PIDS=()
cleanup() {
    local rc=$? pid
    set +e
    for pid in "${SERVER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${SERVER_PIDS[@]}"; do
        for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && { warn "mysqld pid $pid did not stop within 60 s: killing it"; kill -KILL "$pid"; }
        wait "$pid" 2>/dev/null
    done
    if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
        printf 'temp dir left in place: %s\n' "$WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_zrm

step "Oracle MySQL 9.7: scripts/mysql-chroot.sh"
MYBIN=$(bash "$ROOT/scripts/mysql-chroot.sh") || die "scripts/mysql-chroot.sh failed: no MySQL 9.7 to bench"
for t in mysqld mysql mysqldump mysqlbinlog; do [ -x "$MYBIN/$t" ] || die "$MYBIN/$t is missing"; done
MYSQL_VERSION=$("$MYBIN/mysqld" --version | sed 's/^.*Ver //; s/ for .*//')
say "$MYBIN: $MYSQL_VERSION"

# --- 2. servers ----------------------------------------------------------------------------------

# One initialised datadir, copied for every server (initialising takes ~6 s each).
TEMPLATE="$WORK/template"
mkdir -p "$TEMPLATE/tmp"
"$MYBIN/mysqld" --no-defaults --initialize-insecure --datadir="$TEMPLATE/data" --tmpdir="$TEMPLATE/tmp" \
    --user=root --skip-log-bin >"$TEMPLATE/init.log" 2>&1 || { tail -n 20 "$TEMPLATE/init.log" >&2; die "mysqld --initialize-insecure failed"; }
rm -f "$TEMPLATE/data/auto.cnf"

# my_start DIR SERVER-ID POOL MYSQLD-OPTIONS...: a throwaway server with its socket DIR/s.sock;
# sets STARTED_PID.
my_start() {
    local dir=$1 id=$2 pool=$3 i
    shift 3
    mkdir -p "$dir/tmp" "$dir/binlog"
    cp -a "$TEMPLATE/data" "$dir/data"
    "$MYBIN/mysqld" --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" --socket="$dir/s.sock" \
        --skip-networking --user=root --server-id="$id" --log-error="$dir/err.log" --pid-file="$dir/pid" \
        --skip-name-resolve --gtid-mode=ON --enforce-gtid-consistency=ON --local-infile=ON --mysqlx=OFF \
        --skip-replica-start --cte-max-recursion-depth=100000000 --innodb-buffer-pool-size="$pool" \
        "$@" >"$dir/server.out" 2>&1 &
    STARTED_PID=$!
    SERVER_PIDS+=("$STARTED_PID")
    for i in $(seq 1 120); do
        "$MYBIN/mysql" --no-defaults -S "$dir/s.sock" -uroot -e 'select 1' >/dev/null 2>&1 && return 0
        kill -0 "$STARTED_PID" 2>/dev/null || { tail -n 20 "$dir/err.log" >&2; die "mysqld in $dir exited during startup"; }
        [ "$i" -eq 120 ] && die "mysqld in $dir not ready after 60 s"
        sleep 0.5
    done
}
my_stop() { # PID
    local pid=$1 p keep=()
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { warn "mysqld pid $pid did not stop within 60 s: killing it"; kill -KILL "$pid" 2>/dev/null || true; }
    wait "$pid" 2>/dev/null || true
    for p in "${SERVER_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    SERVER_PIDS=("${keep[@]}")
}
msql() { # SOCKET ARGS...: MySQL's client, batch mode
    local s=$1
    shift
    "$MYBIN/mysql" --no-defaults -S "$s" -uroot -N -B "$@"
}
source_opts() { printf '%s\n' --log-bin="$1/binlog/mysql-bin" --binlog-format=ROW --max-binlog-size=1G; }

# --- timing (as scripts/bench.sh) ------------------------------------------------------------------

TIMES="$WORK/times.tsv"
: >"$TIMES"
# try_measure LABEL RUN CMD...: one timed run, stdout to /dev/null (or $MEASURE_STDOUT); appends
# LABEL RUN SECS RSS_KIB CPU_S; a failure returns 1 (stderr in $WORK/stderr.LABEL).
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
first_err() { grep -v '^Command exited' "$1" | grep . | tail -n 1; }
has() { awk -F'\t' -v l="$1" '$1 == l { f = 1 } END { exit !f }' "$TIMES"; }
med_secs() { awk -F'\t' -v l="$1" '$1 == l { print $3 }' "$TIMES" | median; }
med_cpu() { awk -F'\t' -v l="$1" '$1 == l { print $5 }' "$TIMES" | median; }
all_secs() { awk -F'\t' -v l="$1" '$1 == l { print $3 }' "$TIMES" | paste -sd/ - | sed 's|/| / |g'; }
rss_mib() { awk -F'\t' -v ls=" $* " 'index(ls, " " $1 " ") { if ($4 > m) m = $4; f = 1 } END { if (f) printf "%.1f", m / 1024; else print "n/a" }' "$TIMES"; }
ratio_raw() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.9f", a / b; else print "n/a" }'; }
show3() { awk -v r="$1" 'BEGIN { if (r == "n/a") print r; else printf "%.3f", r }'; }
goal() { awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
    if (v == "n/a") { print "NOT MEASURED"; exit }
    ok = (op == ">=") ? (v + 0 >= g + 0) : (op == "<=") ? (v + 0 <= g + 0) : (v + 0 < g + 0)
    print ok ? "**MET**" : "**NOT MET**" }'; }
mib() { calc "$1 / 1048576" "${2:-%.1f}"; }
dir_bytes() { find "$@" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
# same_sums FILE1 FILE2 N: MATCH if equal and N numeric checksums, else DIFFER.
same_sums() {
    if cmp -s "$1" "$2" && [ "$(awk -F'\t' '$2 ~ /^[0-9]+$/' "$1" | wc -l)" -eq "$3" ]; then echo MATCH; else echo DIFFER; fi
}
tool_config() { # FILE REPO: the repository, MySQL's tools, and every set of this script
    {
        printf '[repository]\npath = "%s"\n[defaults]\nuser = "root"\nmethod = "logical"\nparallel = %s\n' "$2" "$THREADS"
        printf '[tools]\nmysql_dir = "%s"\n' "$MYBIN"
        printf '[sets.lbench]\nsocket = "%s"\ndatabases = ["lbench"]\n' "$WORK/lsrc/s.sock"
        printf '[sets.ltarget]\nsocket = "%s"\n' "$WORK/ltarget/s.sock"
        printf '[sets.rsrc]\nsocket = "%s"\ndatabases = ["sbtest"]\n' "$WORK/rsrc/s.sock"
        printf '[sets.rzrm]\nsocket = "%s"\n' "$WORK/rzrm/s.sock"
        printf '[sets.rbase]\nsocket = "%s"\n' "$WORK/rbase/s.sock"
    } >"$1"
}

# --- 3. logical engine ---------------------------------------------------------------------------

L_STATUS=measured L_LOAD_STATUS=measured L_MYD_STATUS=measured L_MYL_STATUS=measured
L_SUMS_ZRM="" L_SUMS_SQL="" L_SUMS_MYLOADER="" L_MIB=0 L_BYTES=0
l_fail() { printf -v "$1" '%s' "$2"; warn "not measured: $2"; }
[ "$HAVE_MYDUMPER" = 1 ] || { L_MYD_STATUS="mydumper is not installed"; L_MYL_STATUS="$L_MYD_STATUS"; }

bench_logical() {
    local lsrc="$WORK/lsrc" ltgt="$WORK/ltarget" lo hi run
    local ls="$lsrc/s.sock" lt="$ltgt/s.sock"
    step "MySQL logical engine: source lsrc and target ltarget"
    mapfile -t opts < <(source_opts "$lsrc")
    my_start "$lsrc" 41 "$L_POOL" "${opts[@]}"
    L_SRC_PID=$STARTED_PID
    my_start "$ltgt" 42 "$L_POOL" --skip-log-bin
    L_TGT_PID=$STARTED_PID

    step "MySQL logical dataset: sysbench $L_TABLES tables x $L_ROWS rows and lbench.wide, $L_WIDE rows with BLOBs"
    local t0
    t0=$(date +%s)
    msql "$ls" -e 'CREATE DATABASE lbench'
    sysbench --db-driver=mysql --mysql-socket="$ls" --mysql-user=root --mysql-db=lbench \
        --tables="$L_TABLES" --table-size="$L_ROWS" --threads="$THREADS" oltp_read_write prepare \
        >"$WORK/lb-prepare.log" 2>&1 || { tail "$WORK/lb-prepare.log" >&2; die "sysbench prepare of lbench failed"; }
    msql "$ls" -e 'CREATE TABLE lbench.wide (id INT PRIMARY KEY, a VARCHAR(255), b BLOB, c TEXT, d DOUBLE, e DATETIME(6))'
    for ((lo = 1; lo <= L_WIDE; lo += 20000)); do
        hi=$((lo + 19999 < L_WIDE ? lo + 19999 : L_WIDE))
        msql "$ls" lbench -e "INSERT INTO wide
            WITH RECURSIVE s (n) AS (SELECT $lo UNION ALL SELECT n + 1 FROM s WHERE n < $hi)
            SELECT n,
                LEFT(CONCAT(SHA2(RAND(), 256), SHA2(RAND(), 256)), 32 + FLOOR(RAND() * 97)),
                RANDOM_BYTES(512 + FLOOR(RAND() * 513)),
                IF(n % 11 = 0, NULL, REPEAT(CONCAT(LEFT(SHA2(n, 256), 40), ' '), 1 + FLOOR(RAND() * 12))),
                (RAND() - 0.5) * 1e9,
                TIMESTAMP'2020-01-01 00:00:00' + INTERVAL FLOOR(RAND() * 1e14) MICROSECOND
            FROM s"
    done
    L_LIST=$(seq 1 "$L_TABLES" | awk '{ printf "lbench.sbtest%d,", $1 }')lbench.wide
    L_NTABLES=$((L_TABLES + 1))
    msql "$ls" -e "ANALYZE TABLE $L_LIST" >/dev/null
    msql "$ls" -e "FLUSH TABLES $L_LIST FOR EXPORT; UNLOCK TABLES"
    L_GEN_S=$(($(date +%s) - t0))
    L_BYTES=$(msql "$ls" -e "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'lbench'")
    L_MIB=$(mib "$L_BYTES" %.0f)
    say "lbench: $L_MIB MiB of InnoDB data and indexes, generated in $L_GEN_S s"
    msql "$ls" -e "CHECKSUM TABLE $L_LIST" >"$WORK/lsums.source"

    LCONF="$WORK/zrm-l.toml"
    tool_config "$LCONF" "$WORK/repo-l"
    step "MySQL logical: the backup kept for the restores (untimed)"
    L_BACKUP_ID=""
    if ! "$ZRM" -c "$LCONF" -q backup --set lbench >"$WORK/lbackup.log" 2>&1; then
        l_fail L_STATUS "\`zrm backup --set lbench\` failed: $(first_err "$WORK/lbackup.log")"
    elif ! "$ZRM" -c "$LCONF" -q show --format json --set lbench latest >"$WORK/lshow.json" 2>"$WORK/lshow.err"; then
        l_fail L_STATUS "\`zrm show --set lbench latest\` failed: $(first_err "$WORK/lshow.err")"
    else
        L_BACKUP_ID=$(jq -r .id "$WORK/lshow.json")
        L_BACKUP_BYTES=$(dir_bytes "$WORK/repo-l")
    fi
    [ "$L_STATUS" = measured ] || L_LOAD_STATUS="there is no backup to restore ($L_STATUS)"

    step "MySQL logical, dump of lbench ($L_MIB MiB): $RUNS runs each, interleaved, $THREADS threads"
    L_ZRM_SIZE=0 L_BASE_SIZE=0 L_MYD_SIZE=0
    for run in $(seq 1 "$RUNS"); do
        if [ "$L_STATUS" = measured ]; then
            rm -rf "$WORK/repo-lrun" && tool_config "$WORK/zrm-lrun.toml" "$WORK/repo-lrun"
            if try_measure ldump-zrm "$run" "$ZRM" -c "$WORK/zrm-lrun.toml" -q backup --set lbench; then
                L_ZRM_SIZE=$(dir_bytes "$WORK/repo-lrun")
            else
                l_fail L_STATUS "\`zrm backup --set lbench\` failed in run $run: $(first_err "$WORK/stderr.ldump-zrm")"
            fi
        fi
        try_measure ldump-base "$run" bash -c 'set -o pipefail; "$1/mysqldump" --no-defaults -S "$2" -uroot --single-transaction --databases lbench | zstd -3 -q -f -o "$3"' \
            _ "$MYBIN" "$ls" "$WORK/lbench.sql.zst" || die "mysqldump | zstd -3 failed"
        L_BASE_SIZE=$(stat -c %s "$WORK/lbench.sql.zst")
        if [ "$L_MYD_STATUS" = measured ]; then
            rm -rf "$WORK/lmydumper"
            if try_measure ldump-mydumper "$run" mydumper --socket="$ls" --user=root --database=lbench \
                --threads="$THREADS" --outputdir="$WORK/lmydumper"; then
                L_MYD_SIZE=$(dir_bytes "$WORK/lmydumper")
            else
                l_fail L_MYD_STATUS "\`mydumper\` failed against MySQL $MYSQL_VERSION: $(first_err "$WORK/stderr.ldump-mydumper")"
                L_MYL_STATUS="no mydumper output to load ($L_MYD_STATUS)"
            fi
        fi
    done
    rm -rf "$WORK/repo-lrun"
    zstd -d -q -f "$WORK/lbench.sql.zst" -o "$WORK/lbench.sql"
    L_SQL_SIZE=$(stat -c %s "$WORK/lbench.sql")

    l_reset() { msql "$lt" -e 'DROP DATABASE IF EXISTS lbench; DROP DATABASE IF EXISTS zrm; RESET BINARY LOGS AND GTIDS'; }
    l_check() { # TOOL RUN
        [ "$2" = 1 ] || return 0
        msql "$lt" -e "CHECKSUM TABLE $L_LIST" >"$WORK/lsums.$1" 2>&1 || true
        local v
        v=$(same_sums "$WORK/lsums.source" "$WORK/lsums.$1" "$L_NTABLES")
        printf -v "L_SUMS_$(tr '[:lower:]' '[:upper:]' <<<"$1")" '%s' "$v"
        say "CHECKSUM TABLE of lbench after $1, against the source: $v"
    }
    step "MySQL logical, load of lbench into ltarget: $RUNS runs each, interleaved, $THREADS threads"
    for run in $(seq 1 "$RUNS"); do
        if [ "$L_LOAD_STATUS" = measured ]; then
            l_reset
            if try_measure lload-zrm "$run" "$ZRM" -c "$LCONF" -q restore --no-progress --set lbench \
                --target ltarget --backup "$L_BACKUP_ID" --no-binlogs --parallel "$THREADS"; then
                l_check zrm "$run"
            else
                l_fail L_LOAD_STATUS "\`zrm restore --set lbench --target ltarget\` failed in run $run: $(first_err "$WORK/stderr.lload-zrm")"
            fi
        fi
        if [ "$L_MYL_STATUS" = measured ]; then
            l_reset
            if try_measure lload-myloader "$run" myloader --socket="$lt" --user=root --threads="$THREADS" \
                --directory="$WORK/lmydumper" --overwrite-tables; then
                l_check myloader "$run"
            else
                l_fail L_MYL_STATUS "\`myloader\` failed against MySQL $MYSQL_VERSION: $(first_err "$WORK/stderr.lload-myloader")"
            fi
        fi
        l_reset
        try_measure lload-sql "$run" bash -c '"$1/mysql" --no-defaults -S "$2" -uroot <"$3"' _ "$MYBIN" "$lt" "$WORK/lbench.sql" \
            || die "mysql < dump.sql failed"
        l_check sql "$run"
    done
    step "MySQL logical: stopping lsrc and ltarget"
    my_stop "$L_SRC_PID"
    my_stop "$L_TGT_PID"
    rm -rf "$lsrc" "$ltgt" "$WORK/repo-l" "$WORK/lmydumper" "$WORK/lbench.sql" "$WORK/lbench.sql.zst"
}

# --- 4. replay -----------------------------------------------------------------------------------

R_STATUS=measured
R_SUMS=() # "label run verdict" of every checked replay
r_fail() { R_STATUS=$1; warn "replay not measured: $1"; }
R_TSV="$WORK/replay.tsv" # label, run, wall, base_duration_s, duration_s, lanes, commits, pipeline units, conflicts, parallelism
: >"$R_TSV"

# r_checksum SOCKET: CHECKSUM TABLE of every sbtest table.
r_checksum() { msql "$1" -e "CHECKSUM TABLE $(seq 1 "$R_TABLES" | awk '{ printf "%ssbtest.sbtest%d", (NR > 1 ? "," : ""), $1 }')"; }
r_verify() { # LABEL RUN SOCKET
    local v
    r_checksum "$3" >"$WORK/rsums.$1.$2" 2>&1 || true
    v=$(same_sums "$WORK/rsums.source" "$WORK/rsums.$1.$2" "$R_TABLES")
    R_SUMS+=("$1 $2 $v")
    say "CHECKSUM TABLE after [$1] run $2, against the source: $v"
    [ "$v" = MATCH ] || warn "[$1] run $2 left data that differs from the source"
}
r_zrm() { # LABEL RUN ARGS...: one zrm replay into rzrm, reset first
    local label=$1 run=$2 out="$WORK/r.$1.$2.json" wall
    shift 2
    [ "${R_KEEP_GTIDS:-0}" = 1 ] || msql "$WORK/rzrm/s.sock" -e 'RESET BINARY LOGS AND GTIDS'
    if ! MEASURE_STDOUT=$out try_measure "$label" "$run" "$ZRM" -c "$RCONF" -q restore --no-progress --format json \
        --set rsrc --target rzrm --until-position "$R_UNTIL" --replace "$@"; then
        return 1
    fi
    wall=$(awk -F'\t' -v l="$label" -v r="$run" '$1 == l && $2 == r { print $3 }' "$TIMES")
    jq -r --arg l "$label" --arg r "$run" --arg w "$wall" '[$l, $r, $w, .base_duration_s, .duration_s,
        (.applier.lanes // "client"), (.applier.commits // ""), (.applier.pipeline_units // ""),
        (.applier.conflicts // ""), (.applier.parallelism // "")] | @tsv' "$out" >>"$R_TSV"
    say "[$label] run $run: replay $(jq -r '.duration_s - .base_duration_s | . * 100 | round / 100' "$out") s; applier: $(jq -c '.applier // "client pipeline"' "$out")"
    jq -r '.warnings[]?' "$out" | sed 's/^/    zrm warning: /' >&2
    r_verify "$label" "$run" "$WORK/rzrm/s.sock"
}
r_base() { # RUN
    local run=$1
    msql "$WORK/rbase/s.sock" -e 'RESET BINARY LOGS AND GTIDS'
    "$ZRM" -c "$RCONF" -q restore --no-progress --set rsrc --target rbase --no-binlogs --replace >"$WORK/rbase-reload.log" 2>&1 \
        || { r_fail "\`zrm restore --no-binlogs\` into rbase failed in run $run: $(first_err "$WORK/rbase-reload.log")"; return 1; }
    try_measure replay-base "$run" bash -c 'set -o pipefail; "$1/mysqlbinlog" --no-defaults --start-position="$2" "${@:4}" | "$1/mysql" --no-defaults -S "$3" -uroot' \
        _ "$MYBIN" "$R_CP_POS" "$WORK/rbase/s.sock" "${R_FILES[@]}" \
        || { r_fail "the baseline \`mysqlbinlog | mysql\` failed in run $run: $(first_err "$WORK/stderr.replay-base")"; return 1; }
    r_verify replay-base "$run" "$WORK/rbase/s.sock"
}

bench_replay() {
    local rs="$WORK/rsrc/s.sock" f run n
    step "MySQL replay: source rsrc, sysbench $R_TABLES tables x $R_ROWS rows"
    mapfile -t opts < <(source_opts "$WORK/rsrc")
    my_start "$WORK/rsrc" 51 1G "${opts[@]}"
    msql "$rs" -e 'CREATE DATABASE sbtest'
    SB=(sysbench --db-driver=mysql --mysql-socket="$rs" --mysql-user=root --mysql-db=sbtest --tables="$R_TABLES" --table-size="$R_ROWS")
    "${SB[@]}" --threads="$THREADS" oltp_write_only prepare >"$WORK/rsb-prepare.log" 2>&1 \
        || { tail "$WORK/rsb-prepare.log" >&2; die "sysbench prepare failed"; }
    msql "$rs" -e 'FLUSH BINARY LOGS'
    R_FIRST_LOG=$(msql "$rs" -e 'SHOW BINARY LOG STATUS' | cut -f1)
    RCONF="$WORK/zrm-r.toml"
    tool_config "$RCONF" "$WORK/repo-r"
    "$ZRM" -c "$RCONF" -q backup --set rsrc >"$WORK/rbackup.log" 2>&1 \
        || { r_fail "\`zrm backup --set rsrc\` failed: $(first_err "$WORK/rbackup.log")"; return 0; }

    r_logs() { msql "$rs" -e 'SHOW BINARY LOGS' | awk -F'\t' -v f="$R_FIRST_LOG" '$1 >= f { print $1 "\t" $2 }'; }
    r_bytes() { r_logs | awk -F'\t' '{ s += $2 } END { print s + 0 }'; }
    step "MySQL replay: sysbench oltp_write_only ($THREADS threads) until the binlogs reach $R_MIB MiB"
    R_LOAD_S=0 R_LOAD_TRX=0 R_LOAD_CHUNKS=0
    while [ "$(r_bytes)" -lt $((R_MIB * 1048576)) ]; do
        "${SB[@]}" --threads="$THREADS" --time="$R_CHUNK" --report-interval=0 oltp_write_only run >"$WORK/rsb-run.log" 2>&1 \
            || { tail "$WORK/rsb-run.log" >&2; die "sysbench run failed"; }
        R_LOAD_TRX=$((R_LOAD_TRX + $(awk '/transactions:/ { print $2; exit }' "$WORK/rsb-run.log")))
        R_LOAD_S=$(calc "$R_LOAD_S + $(awk '/total time:/ { sub(/s$/, "", $3); print $3; exit }' "$WORK/rsb-run.log")" %.1f)
        R_LOAD_CHUNKS=$((R_LOAD_CHUNKS + 1))
        say "$R_LOAD_S s of load, $R_LOAD_TRX transactions, $(mib "$(r_bytes)" %.0f) MiB of binlog"
        [ "$R_LOAD_CHUNKS" -lt 200 ] || die "the binlogs do not grow: see $WORK/rsb-run.log"
    done
    msql "$rs" -e 'FLUSH BINARY LOGS'
    mapfile -t R_LOGS < <(r_logs | sed '$d' | cut -f1)
    r_checksum "$rs" >"$WORK/rsums.source"

    step "MySQL replay: zrm binlog archive --set rsrc"
    "$ZRM" -c "$RCONF" -q binlog archive --format json --set rsrc >"$WORK/rarchive.json" 2>"$WORK/rarchive.err" \
        || { r_fail "\`zrm binlog archive --set rsrc\` failed: $(first_err "$WORK/rarchive.err")"; return 0; }
    "$ZRM" -c "$RCONF" -q show --format json --set rsrc latest >"$WORK/rshow.json" 2>"$WORK/rshow.err" \
        || { r_fail "\`zrm show --set rsrc latest\` failed: $(first_err "$WORK/rshow.err")"; return 0; }
    R_CP_FILE=$(jq -r '.consistent_point.binlog_file // empty' "$WORK/rshow.json")
    R_CP_POS=$(jq -r '.consistent_point.binlog_pos // empty' "$WORK/rshow.json")
    [ -n "$R_CP_FILE" ] && [ -n "$R_CP_POS" ] || { r_fail "the base backup records no consistent point"; return 0; }
    local last=${R_LOGS[-1]}
    R_UNTIL="$last:$(stat -c %s "$WORK/rsrc/binlog/$last")"
    R_FILES=()
    for f in $(msql "$rs" -e 'SHOW BINARY LOGS' | cut -f1 | awk -v a="$R_CP_FILE" -v b="$last" '$1 >= a && $1 <= b'); do
        R_FILES+=("$WORK/rsrc/binlog/$f")
    done
    [ "${#R_FILES[@]}" -gt 0 ] || { r_fail "the consistent point $R_CP_FILE is not among the source's binlogs"; return 0; }
    R_BYTES=$(($(stat -c %s "${R_FILES[@]}" | awk '{ s += $1 } END { print s }') - R_CP_POS))
    cat "${R_FILES[@]}" >/dev/null

    step "MySQL replay: two fresh targets (rzrm: zrm, rbase: mysqlbinlog | mysql)"
    my_start "$WORK/rzrm" 52 1G --skip-log-bin
    my_start "$WORK/rbase" 53 1G --skip-log-bin
    "$ZRM" -c "$RCONF" -q restore --format json --set rsrc --target rzrm --until-position "$R_UNTIL" --replace --dry-run \
        >"$WORK/rplan.json" 2>"$WORK/rplan.err" || { r_fail "\`zrm restore --dry-run\` failed: $(first_err "$WORK/rplan.err")"; return 0; }
    R_TRX=$(jq -r .plan.transactions "$WORK/rplan.json")
    say "plan: $(mib "$(jq -r .plan.bytes "$WORK/rplan.json")") MiB from $R_CP_FILE:$R_CP_POS to $R_UNTIL, $R_TRX transactions (the load ran $R_LOAD_TRX in $R_LOAD_S s)"

    step "MySQL replay: $R_RUNS run(s) per tool, the order alternating"
    for run in $(seq 1 "$R_RUNS"); do
        if [ $((run % 2)) = 1 ]; then
            r_zrm replay-zrm "$run" || { r_fail "\`zrm restore --until-position\` failed in run $run: $(first_err "$WORK/stderr.replay-zrm")"; return 0; }
            r_base "$run" || return 0
        else
            r_base "$run" || return 0
            r_zrm replay-zrm "$run" || { r_fail "\`zrm restore --until-position\` failed in run $run: $(first_err "$WORK/stderr.replay-zrm")"; return 0; }
        fi
    done
    for n in $LANES_TRY; do
        step "MySQL replay: --replay-lanes $n (one run)"
        r_zrm "lanes-$n" 1 --replay-lanes "$n" || warn "--replay-lanes $n failed: $(first_err "$WORK/stderr.lanes-$n")"
    done
    # Diagnostic: the target keeps the GTIDs of the previous replay (no RESET), so zrm replays
    # without the source's GTIDs (it warns) and may put several transactions in one commit.
    step "MySQL replay: zrm into a target that already holds the source's GTIDs (one run)"
    R_KEEP_GTIDS=1 r_zrm new-gtids 1 || warn "the replay with new GTIDs failed: $(first_err "$WORK/stderr.new-gtids")"
    step "MySQL replay: zrm --skip-gtids (one run)"
    r_zrm skip-gtids 1 --skip-gtids || warn "--skip-gtids failed: $(first_err "$WORK/stderr.skip-gtids")"
    if [ "$DO_CLIENT" = 1 ]; then
        step "MySQL replay: --applier client (one run)"
        r_zrm applier-client 1 --applier client || warn "--applier client failed: $(first_err "$WORK/stderr.applier-client")"
    fi
}

[ "$DO_LOGICAL" = 1 ] && bench_logical
R_LOAD_S="" R_TRX=0 R_BYTES=0
if [ "$DO_REPLAY" = 1 ]; then bench_replay; else R_STATUS="skipped (\`BENCH_MYSQL_NO_REPLAY=1\`)"; fi
[ "$DO_LOGICAL" = 1 ] || { L_STATUS="skipped (\`BENCH_MYSQL_NO_LOGICAL=1\`)"; L_LOAD_STATUS=$L_STATUS; }

# --- 5. the section ------------------------------------------------------------------------------

med_or_na() { if [ "$2" = measured ] && has "$1"; then med_secs "$1"; else echo n/a; fi; }
LD_Z=$(med_or_na ldump-zrm "$L_STATUS") LD_B=$(med_or_na ldump-base "$L_STATUS") LD_M=$(med_or_na ldump-mydumper "$L_MYD_STATUS")
LL_Z=$(med_or_na lload-zrm "$L_LOAD_STATUS") LL_S=$(med_or_na lload-sql "$L_LOAD_STATUS") LL_M=$(med_or_na lload-myloader "$L_MYL_STATUS")
[ "$DO_LOGICAL" = 1 ] && { LD_B=$(med_or_na ldump-base measured); LL_S=$(med_or_na lload-sql measured); }
R_LDUMP=$(ratio_raw "$LD_B" "$LD_Z") R_LLOAD=$(ratio_raw "$LL_S" "$LL_Z") R_LMYL=$(ratio_raw "$LL_M" "$LL_Z")
# Replay figures: zrm's replay is duration_s - base_duration_s.
r_col() { awk -F'\t' -v l="$1" -v c="$2" '$1 == l { if (c == "replay") printf "%.2f\n", $5 - $4; else print $c }' "$R_TSV"; }
RP_Z=n/a RP_B=n/a R_REPLAY=n/a R_LOADR=n/a RP_RSS=n/a
if [ "$R_STATUS" = measured ] && has replay-base && [ -n "$(r_col replay-zrm replay)" ]; then
    RP_Z=$(r_col replay-zrm replay | median) RP_B=$(med_secs replay-base)
    R_REPLAY=$(ratio_raw "$RP_B" "$RP_Z") R_LOADR=$(ratio_raw "$R_LOAD_S" "$RP_Z")
    RP_RSS=$(rss_mib replay-zrm)
fi
R_SUMS_ALL=n/a
if [ "${#R_SUMS[@]}" -gt 0 ]; then
    R_SUMS_ALL=MATCH
    for s in "${R_SUMS[@]}"; do [ "${s##* }" = MATCH ] || R_SUMS_ALL=DIFFER; done
fi
sums_verdict() { case "$1" in MATCH) echo "**MET**" ;; DIFFER) echo "**NOT MET**" ;; *) echo "NOT MEASURED" ;; esac; }
said() { # RATIO TEXT A B
    if [ "$1" = n/a ]; then echo "not measured (see the MySQL section)"; else echo "$2 = $(show3 "$1")× ($3 s / $4 s)"; fi
}
LOAD_AVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

goals() {
    echo "| MySQL 9.7: zrm logical dump ≥ ${GOAL_DUMP}× faster than \`mysqldump \\| zstd -3\` | $(said "$R_LDUMP" "baseline/zrm" "$LD_B" "$LD_Z") | $(goal "$R_LDUMP" ">=" "$GOAL_DUMP") |"
    echo "| MySQL 9.7: \`zrm restore\` of a logical backup ≥ ${GOAL_LOAD}× faster than \`mysql < dump.sql\` | $(said "$R_LLOAD" "(mysql < dump.sql)/zrm" "$LL_S" "$LL_Z") | $(goal "$R_LLOAD" ">=" "$GOAL_LOAD") |"
    echo "| MySQL 9.7: \`zrm restore\` of the logical backup gives the source's data (\`CHECKSUM TABLE\`) | ${L_SUMS_ZRM:-not checked} | $(sums_verdict "${L_SUMS_ZRM:-}") |"
    echo "| MySQL 9.7: zrm's replay (parallel applier) ≥ ${GOAL_REPLAY}× faster than \`mysqlbinlog \\| mysql\` | $(said "$R_REPLAY" "baseline/zrm" "$RP_B" "$RP_Z"); zrm peak RSS $RP_RSS MiB | $(goal "$R_REPLAY" ">=" "$GOAL_REPLAY") |"
    echo "| MySQL 9.7: zrm's replay faster than the load that wrote the binlogs | $(said "$R_LOADR" "load/replay" "${R_LOAD_S:-n/a}" "$RP_Z") | $(goal_gt1 "$R_LOADR") |"
    echo "| MySQL 9.7: every replay (both tools, every run) ends with the source's data (\`CHECKSUM TABLE\`) | $R_SUMS_ALL (${#R_SUMS[@]} checks) | $(sums_verdict "$R_SUMS_ALL") |"
}
# goal() knows >=, <= and <; "faster than" is a ratio above 1.
goal_gt1() { awk -v v="$1" 'BEGIN { if (v == "n/a") print "NOT MEASURED"; else print (v + 0 > 1) ? "**MET**" : "**NOT MET**" }'; }

row() { # TOOL COMMAND LABEL SIZE
    if has "$3"; then
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$(med_secs "$3")" "$(all_secs "$3")" "$(med_cpu "$3")" "$4" "$(rss_mib "$3")"
    else
        printf '| %s | %s | not measured | | | | |\n' "$1" "$2"
    fi
}
rrow() { # LABEL TEXT: one row of zrm replay runs
    has "$1" || { printf '| %s | not measured | | | | | | | |\n' "$2"; return 0; }
    local rep
    rep=$(r_col "$1" replay | median)
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$rep" "$(r_col "$1" replay | paste -sd/ - | sed 's|/| / |g')" \
        "$(per_sec "$R_TRX" "$rep")" "$(r_col "$1" 6 | head -n 1)" "$(r_col "$1" 7 | median)" "$(r_col "$1" 9 | paste -sd/ -)" \
        "$(r_col "$1" 10 | awk '$1 != "" { printf "%s%.1f", (NR > 1 ? "/" : ""), $1 }')" "$(rss_mib "$1")"
}
per_sec() { awk -v n="$1" -v s="$2" 'BEGIN { if (s ~ /^[0-9.]+$/ && s > 0) printf "%.0f", n / s; else print "n/a" }'; }

section() {
    echo "## Oracle MySQL 9.7"
    echo
    echo "Generated by \`scripts/bench_mysql.sh\` (\`BENCH_SCALE=$SCALE\`, $RUNS runs per dump and load, $R_RUNS"
    echo "per replay tool) on $(date -u '+%Y-%m-%d %H:%M UTC') in $(($(date +%s) - T_START)) s, on the same shared 2-core box"
    echo "(load average at the end: $LOAD_AVG_END): every comparison is zrm against its peer in the same run,"
    echo "interleaved, medians."
    echo
    echo "- Server: Oracle MySQL $MYSQL_VERSION (Debian sid's \`mysql-server-core\`, run from the chroot of"
    echo "  \`scripts/mysql-chroot.sh\`), \`mysqld --no-defaults --skip-networking --gtid-mode=ON"
    echo "  --enforce-gtid-consistency=ON --local-infile=ON\`, sources \`--log-bin --binlog-format=ROW\`, targets"
    echo "  \`--skip-log-bin\`; other settings default (\`innodb_flush_log_at_trx_commit = 1\`)."
    echo "- Tools: MySQL's own \`mysqldump\`, \`mysql\` and \`mysqlbinlog\` $("$MYBIN/mysqlbinlog" --version 2>/dev/null | sed 's/^.*Ver //; s/ for .*//' | head -n 1);"
    if [ "$HAVE_MYDUMPER" = 1 ]; then echo "  $(mydumper --version 2>&1 | head -n 1) (Debian's)."; else echo "  no mydumper."; fi
    echo "- zrm: $ZRM_VERSION, $ZRM_DESC."
    echo
    echo "### Logical engine"
    echo
    if [ "$DO_LOGICAL" = 1 ]; then
        echo "Dataset \`lbench\`: sysbench \`oltp_read_write prepare\`, $L_TABLES tables × $L_ROWS rows, and \`lbench.wide\`,"
        echo "$L_WIDE rows (\`VARCHAR\` of random text, a \`BLOB\` of 512–1024 random bytes, \`TEXT\` with NULLs,"
        echo "\`DOUBLE\`, \`DATETIME(6)\`): $L_MIB MiB of InnoDB data and indexes. Every tool with $THREADS threads"
        echo "(connections); the dumps read from a warm buffer pool; loads go into a second fresh server with"
        echo "\`lbench\` dropped and \`RESET BINARY LOGS AND GTIDS\` before every run."
        echo
        echo "| tool | command | median s | runs s | CPU s | size MiB | peak RSS MiB |"
        echo "|---|---|---|---|---|---|---|"
        row "zrm, logical (zstd level 1)" "\`zrm backup --set lbench\` (\`parallel = $THREADS\`)" ldump-zrm "$(mib "${L_ZRM_SIZE:-0}") (stored)"
        row "mysqldump + zstd (baseline)" "\`mysqldump --single-transaction --databases lbench \\| zstd -3\`" ldump-base "$(mib "${L_BASE_SIZE:-0}")"
        if [ "$HAVE_MYDUMPER" = 1 ]; then row "mydumper, uncompressed (reference)" "\`mydumper --database=lbench --threads=$THREADS\`" ldump-mydumper "$(mib "${L_MYD_SIZE:-0}") (plain)"; fi
        row "zrm restore" "\`zrm restore --set lbench --target ltarget --no-binlogs --parallel $THREADS\`" lload-zrm "$(mib "${L_BACKUP_BYTES:-0}") (the backup)"
        row "mysql < dump.sql (baseline)" "\`mysql --no-defaults -S SOCK -uroot < dump.sql\`" lload-sql "$(mib "${L_SQL_SIZE:-0}") (plain SQL)"
        if [ "$HAVE_MYDUMPER" = 1 ]; then row "myloader (reference)" "\`myloader --threads=$THREADS --overwrite-tables\`" lload-myloader "$(mib "${L_MYD_SIZE:-0}")"; fi
        echo
        for st in "$L_STATUS" "$L_LOAD_STATUS" "$L_MYD_STATUS" "$L_MYL_STATUS"; do
            [ "$st" = measured ] || echo "**Not measured:** $st."
        done | awk '!seen[$0]++ { print; n++ } END { if (n) print "" }'
        if [ "$L_MYD_STATUS" = measured ]; then
            echo "mydumper $(mydumper --version 2>&1 | awk '{ print $2 }' | tr -d ,) connects to MySQL 9.7 and dumps, but its \`metadata\` file has no"
            echo "binlog position (it asks \`SHOW MASTER STATUS\`, which MySQL 9 removed): not usable as a"
            echo "point-in-time base there."
            echo
        fi
        echo "For reference: myloader/zrm load $(show3 "$R_LMYL")×; mydumper (plain)/zrm dump $(show3 "$(ratio_raw "$LD_M" "$LD_Z")")×."
        echo "\`CHECKSUM TABLE\` of the $L_NTABLES tables after each tool's first load, against the source (untimed):"
        echo "zrm **${L_SUMS_ZRM:-not checked}**, \`mysql < dump.sql\` **${L_SUMS_SQL:-not checked}**, myloader **${L_SUMS_MYLOADER:-not checked}**."
    else
        echo "**Not measured:** $L_STATUS."
    fi
    echo
    echo "### Point-in-time replay"
    echo
    if [ "$RP_Z" != n/a ]; then
        echo "- Source: sysbench \`oltp_write_only\`, $R_TABLES tables × $R_ROWS rows; base \`zrm backup --set rsrc\`"
        echo "  (logical) after \`prepare\` and \`FLUSH BINARY LOGS\`; then **the load: \`oltp_write_only run\` with $THREADS"
        echo "  threads, $R_LOAD_TRX transactions in $R_LOAD_S s** ($R_LOAD_CHUNKS chunk(s) of $R_CHUNK s), until its ROW binlogs"
        echo "  reached $R_MIB MiB; \`FLUSH BINARY LOGS\`, \`zrm binlog archive\`."
        echo "- Replayed: from the consistent point \`$R_CP_FILE:$R_CP_POS\` to \`--until-position $R_UNTIL\`: $R_BYTES"
        echo "  bytes ($(mib "$R_BYTES") MiB), $R_TRX transactions (zrm's plan)."
        echo "- Targets: two fresh servers (\`--skip-log-bin\`, durable commits), each reloaded from the base"
        echo "  backup before every run, \`RESET BINARY LOGS AND GTIDS\` first (the source's GTIDs are kept, as on"
        echo "  a fresh server). zrm: \`zrm restore --set rsrc --target rzrm --until-position … --replace\`, its"
        echo "  replay is \`duration_s − base_duration_s\`; baseline: \`zrm restore --no-binlogs --replace\` (untimed),"
        echo "  then \`mysqlbinlog --start-position=$R_CP_POS FILES | mysql\` (timed). $R_RUNS run(s) each, alternating."
        echo
        echo "| replay | median s | runs s | transactions/s | lanes | target commits | conflicts | parallelism | peak RSS MiB |"
        echo "|---|---|---|---|---|---|---|---|---|"
        rrow replay-zrm "zrm, default applier (4 lanes)"
        if has replay-base; then
            printf '| %s | %s | %s | %s | 1 | | | | %s |\n' "\`mysqlbinlog FILES \\| mysql\` (baseline)" "$RP_B" "$(all_secs replay-base)" "$(per_sec "$R_TRX" "$RP_B")" "$(rss_mib replay-base)"
        fi
        for n in $LANES_TRY; do rrow "lanes-$n" "zrm \`--replay-lanes $n\` (one run)"; done
        rrow new-gtids "zrm, target already holding the source's GTIDs: replayed with new GTIDs, batched commits (one run)"
        rrow skip-gtids "zrm \`--skip-gtids\`: the source's GTIDs not kept, batched commits (one run)"
        [ "$DO_CLIENT" = 1 ] && rrow applier-client "zrm \`--applier client\` (the pipeline inside zrm; one run)"
        echo
        echo "Ratios of medians: baseline/zrm = **$(show3 "$R_REPLAY")×**; the load that wrote the binlogs"
        echo "($R_LOAD_S s) / zrm's replay = **$(show3 "$R_LOADR")×**. Peak RSS is the largest process of the command"
        echo "(zrm, or a \`mysqlbinlog\` it runs for ranges the applier leaves to the pipeline)."
        echo
        echo "\`CHECKSUM TABLE\` of every sbtest table against the source after every run (untimed):"
        printf '%s\n' "${R_SUMS[@]}" | awk '{ printf "%s`%s` run %s %s", (NR > 1 ? ", " : ""), $1, $2, $3 } END { print "." }'
    else
        echo "**Not measured:** $R_STATUS."
    fi
}

if [ -n "$OUT" ]; then section >"$OUT"; else section; fi
if [ -n "$GOALS_OUT" ]; then goals >"$GOALS_OUT"; fi
step "MySQL 9.7 done in $(($(date +%s) - T_START)) s"
say "dump: zrm ${LD_Z}s, mysqldump|zstd ${LD_B}s ($(show3 "$R_LDUMP")x); load: zrm ${LL_Z}s, mysql<dump ${LL_S}s ($(show3 "$R_LLOAD")x), checksums ${L_SUMS_ZRM:-n/a}"
say "replay: zrm ${RP_Z}s, mysqlbinlog|mysql ${RP_B}s ($(show3 "$R_REPLAY")x), load ${R_LOAD_S:-n/a}s ($(show3 "$R_LOADR")x), zrm peak RSS ${RP_RSS} MiB, checksums $R_SUMS_ALL"
