#!/usr/bin/env bash
# Benchmarks zrm's sharded-cluster commands on three throwaway MariaDB shards and prints a
# markdown section "## Sharded clusters": how long a coordinated backup (`zrm backup --cluster
# app --coordinated`, one cut across every shard) blocks commits, idle and under a write load,
# and how long `zrm restore --cluster app --until-time T` takes against restoring the shards one
# after the other.
#
#   scripts/bench_cluster.sh                       # BENCH_SCALE=full: ~190 MiB of InnoDB per shard (~7 min + build)
#   BENCH_SCALE=small scripts/bench_cluster.sh     # a few MiB per shard, a quick check (~1 min + build)
#
# Installs what it lacks on Debian (sysbench, time, jq, mariadb-server/-client).
#
# What it does:
#   1. builds zrm in release mode (or takes BENCH_ZRM) and copies the binary aside,
#   2. starts six throwaway `mariadbd --no-defaults` servers under the temp dir (free ports, their
#      own sockets; never the default instance on 3306): shards s1, s2, s3 (binary log on, ROW)
#      and restore targets t1, t2, t3 (no binary log); stops them on exit,
#   3. loads sysbench `oltp_read_write prepare` tables into each shard, the three at once
#      (full: 4 x 200,000 rows, ~190 MiB of InnoDB per shard; small: 2 x 10,000 rows) plus the
#      cluster's GSN table `app.gsn`; one configuration with sets s1-s3 and t1-t3 and
#      `[clusters.app] sets = ["s1", "s2", "s3"] gsn = { table = "app.gsn", column = "seq" }
#      restore_targets = { s1 = "t1", s2 = "t2", s3 = "t3" }` (everything else default),
#   4. lock hold, idle: BENCH_CLUSTER_RUNS (default 10) `zrm backup --cluster app --coordinated
#      --format json`, recording `.record.max_lock_hold_ms` and each shard's `lock_hold_ms`; the
#      repository is emptied before each,
#   5. lock hold under load: the same while `sysbench oltp_write_only --threads=1 --time=0` runs
#      on every shard (started 5 s before; its rate sampled 10 s without backups, then over the
#      series),
#   6. restore: a coordinated backup into a second repository (untimed), then `sysbench
#      oltp_write_only --threads=1` on every shard for BENCH_CLUSTER_LOAD_S seconds (full 30,
#      small 5), T = the next whole second after the last write, `FLUSH BINARY LOGS` (a second
#      later) and `zrm binlog archive --set sN` on each shard; then BENCH_RUNS (default 3) times,
#      alternating which goes first: `zrm restore --cluster app --until-time T --replace --format
#      json` (its `wall_s`, shards in parallel) against `zrm restore --set sN --target tN
#      --replace --until-time T` for s1, s2, s3 one after the other (their sum, and the slowest);
#      CHECKSUM TABLE of every target against its shard after the first of each,
#   7. writes the section to BENCH_CLUSTER_OUT (default: stdout).
#
# Knobs: BENCH_SCALE=full|small, BENCH_CLUSTER_RUNS=N (lock-hold backups per series, default 10),
# BENCH_RUNS=N (restore runs, default 3), BENCH_CLUSTER_LOAD_S=N, BENCH_CLUSTER_OUT=FILE,
# BENCH_CLUSTER_GOALS=FILE (also write the row of the "Goals at a glance" table of
# docs/BENCHMARKS.md there; scripts/bench.sh uses it), BENCH_ZRM=PATH (bench that zrm binary, no
# build; BENCH_ZRM_DESC=TEXT says what it was built from), BENCH_NO_BUILD=1 (use
# target/release/zrm as it is), BENCH_KEEP=1 (leave the temp dir), BENCH_TMPDIR=DIR (parent of
# the temp dir; default /var/tmp).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SCALE="${BENCH_SCALE:-full}"
case "$SCALE" in
    small) TABLES=2; ROWS=10000; POOL=128M; LOAD_S_DEFAULT=5 ;;
    full) TABLES=4; ROWS=200000; POOL=512M; LOAD_S_DEFAULT=30 ;;
    *) echo "error: BENCH_SCALE must be small or full, not '$SCALE'" >&2; exit 2 ;;
esac
LOCK_RUNS="${BENCH_CLUSTER_RUNS:-10}"
RUNS="${BENCH_RUNS:-3}"
LOAD_S="${BENCH_CLUSTER_LOAD_S:-$LOAD_S_DEFAULT}"
for v in LOCK_RUNS RUNS LOAD_S; do
    case "${!v}" in '' | *[!0-9]* | 0) echo "error: $v must be a positive integer, not '${!v}'" >&2; exit 2 ;; esac
done
OUT="${BENCH_CLUSTER_OUT:-}"
GOALS_OUT="${BENCH_CLUSTER_GOALS:-}"
SHARDS=(s1 s2 s3)
# Goal: the longest shard's lock hold of a coordinated backup, median over the idle series, ms.
GOAL_IDLE_MS=100

case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin" ;; esac

# shellcheck source=scripts/bench_lib.sh
. "$ROOT/scripts/bench_lib.sh"

T_START=$(date +%s)
LOAD_AVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- packages ----------------------------------------------------------------------------------

step "Checking packages"
required=()
command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null || required+=(mariadb-server)
command -v mariadb >/dev/null && command -v mariadb-binlog >/dev/null || required+=(mariadb-client)
command -v sysbench >/dev/null || required+=(sysbench)
[ -x /usr/bin/time ] || required+=(time)
command -v jq >/dev/null || required+=(jq)
if [ ${#required[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || die "missing ${required[*]} and no apt-get: install them by hand"
    [ "$(id -u)" -eq 0 ] || die "missing ${required[*]}: run as root or install them"
    export DEBIAN_FRONTEND=noninteractive
    say "installing: ${required[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${required[@]}" >/dev/null
else
    say "all present"
fi

# --- temp dir and cleanup ----------------------------------------------------------------------

WORK=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/zrm-clusterbench.XXXXXX")
SERVER_PIDS=()
SB_PIDS=()

stop_sysbench() {
    local p
    for p in "${SB_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${SB_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    SB_PIDS=()
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local rc=$?
    set +e
    local pid alive
    stop_sysbench
    for pid in "${SERVER_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && kill -TERM "$pid"; done
    for _ in $(seq 1 120); do
        alive=0
        for pid in "${SERVER_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.5
    done
    for pid in "${SERVER_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            warn "mariadbd (pid $pid) did not stop within 60 s: killing it"
            kill -KILL "$pid"
        fi
        wait "$pid" 2>/dev/null
    done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        printf 'temp dir left in place: %s\n' "$WORK" >&2
    elif [ "$rc" -ne 0 ]; then
        # Keep the logs (the servers' err.log too) and the JSON of a failed run, not the gigabytes.
        for d in s1 s2 s3 t1 t2 t3; do
            rm -rf "$WORK/$d/data" "$WORK/$d/binlog"
        done
        rm -rf "$WORK/repo" "$WORK/repo-lock" "$WORK/zrm"
        printf 'logs left in place: %s\n' "$WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- zrm -------------------------------------------------------------------------------------

bench_zrm

# --- servers -----------------------------------------------------------------------------------

# start_server DIR MARIADBD-OPTIONS...: a throwaway server (data, socket DIR/s.sock, error log
# and tmpdir under DIR), not waited for; sets STARTED_PID.
start_server() {
    local dir=$1
    shift
    mkdir -p "$dir/data" "$dir/tmp"
    mariadb-install-db --no-defaults --datadir="$dir/data" --user=root --tmpdir="$dir/tmp" \
        --auth-root-authentication-method=normal --skip-test-db >"$dir/install-db.log" 2>&1 \
        || { cat "$dir/install-db.log" >&2; die "mariadb-install-db failed in $dir"; }
    mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/s.sock" --user=root \
        --log-error="$dir/err.log" --pid-file="$dir/pid" --tmpdir="$dir/tmp" "$@" >/dev/null 2>&1 &
    STARTED_PID=$!
    SERVER_PIDS+=("$STARTED_PID")
}
wait_server() { # DIR PID
    local i
    for i in $(seq 1 120); do
        mariadb --no-defaults -S "$1/s.sock" -uroot -e 'select 1' >/dev/null 2>&1 && return 0
        kill -0 "$2" 2>/dev/null || { tail -n 20 "$1/err.log" >&2; die "mariadbd in $1 exited during startup"; }
        [ "$i" -eq 120 ] && die "mariadbd in $1 not ready after 60 s"
        sleep 0.5
    done
}
sqlon() { local d=$1; shift; mariadb --no-defaults -S "$WORK/$d/s.sock" -uroot -N -B "$@"; }

step "Starting six throwaway MariaDB servers: shards s1-s3 (binary log) and targets t1-t3"
declare -A PID_OF
i=0
for s in "${SHARDS[@]}"; do
    i=$((i + 1))
    mkdir -p "$WORK/$s/binlog"
    start_server "$WORK/$s" --port="$(free_port)" --bind-address=127.0.0.1 --log-bin="$WORK/$s/binlog/mysql-bin" \
        --server-id="$i" --binlog-format=ROW --innodb-buffer-pool-size="$POOL"
    PID_OF[$s]=$STARTED_PID
    start_server "$WORK/t$i" --skip-networking --server-id=$((10 + i)) --innodb-buffer-pool-size="$POOL"
    PID_OF[t$i]=$STARTED_PID
done
for d in s1 s2 s3 t1 t2 t3; do wait_server "$WORK/$d" "${PID_OF[$d]}"; done
MARIADB_VERSION=$(sqlon s1 -e 'select version()')
say "MariaDB $MARIADB_VERSION: 6 servers ready"

# --- data ----------------------------------------------------------------------------------------

# sb_args SHARD: SB_ARGS, the sysbench command line against that shard's sbtest. (An array run in
# the background, not a function: `$!` is then sysbench itself, which a TERM stops.)
sb_args() {
    SB_ARGS=(sysbench --db-driver=mysql --mysql-socket="$WORK/$1/s.sock" --mysql-user=root --mysql-db=sbtest
        --tables="$TABLES" --table-size="$ROWS")
}
TABLE_LIST=$(seq 1 "$TABLES" | awk '{ printf "%ssbtest.sbtest%d", (NR > 1 ? "," : ""), $1 }')
step "sysbench oltp_read_write prepare on the three shards at once: $TABLES tables x $ROWS rows each"
t0=$(date +%s)
pids=()
for s in "${SHARDS[@]}"; do
    sqlon "$s" -e "CREATE DATABASE sbtest; CREATE DATABASE app;
        CREATE TABLE app.gsn (seq BIGINT PRIMARY KEY, at DATETIME(6) NOT NULL) ENGINE=InnoDB;
        INSERT INTO app.gsn VALUES (1, NOW(6))"
    sb_args "$s"
    "${SB_ARGS[@]}" --threads=1 oltp_read_write prepare >"$WORK/$s/sb-prepare.log" 2>&1 &
    pids+=($!)
done
for j in 0 1 2; do
    wait "${pids[$j]}" || { tail "$WORK/${SHARDS[$j]}/sb-prepare.log" >&2; die "sysbench prepare on ${SHARDS[$j]} failed"; }
done
PREPARE_S=$(($(date +%s) - t0))
SHARD_MIB=()
for s in "${SHARDS[@]}"; do
    sqlon "$s" -e "ANALYZE TABLE $TABLE_LIST" >/dev/null
    sqlon "$s" -e "FLUSH TABLES $TABLE_LIST FOR EXPORT; UNLOCK TABLES"
    # The prepare's binlogs are not what is measured.
    sqlon "$s" -e 'FLUSH BINARY LOGS'
    sqlon "$s" -e "PURGE BINARY LOGS TO '$(sqlon "$s" -e 'SHOW MASTER STATUS' | cut -f1)'"
    SHARD_MIB+=("$(calc "$(sqlon "$s" -e "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sbtest'") / 1048576" %.0f)")
done
say "prepared in $PREPARE_S s: ${SHARD_MIB[*]} MiB of InnoDB data and indexes"

# write_conf FILE REPO: sets s1-s3, t1-t3 and cluster app, into repository REPO.
write_conf() {
    {
        printf '[repository]\npath = "%s"\n\n[defaults]\nuser = "root"\n' "$2"
        for d in s1 s2 s3 t1 t2 t3; do printf '\n[sets.%s]\nsocket = "%s"\n' "$d" "$WORK/$d/s.sock"; done
        printf '\n[clusters.app]\nsets = ["s1", "s2", "s3"]\ngsn = { table = "app.gsn", column = "seq" }\n'
        printf 'restore_targets = { s1 = "t1", s2 = "t2", s3 = "t3" }\n'
    } >"$1"
}
LOCK_CONF="$WORK/zrm-lock.toml" CONF="$WORK/zrm.toml"
write_conf "$LOCK_CONF" "$WORK/repo-lock"
write_conf "$CONF" "$WORK/repo"

# --- lock hold -----------------------------------------------------------------------------------

RUNS_TSV="$WORK/runs.tsv" # series run max_hold_ms hold_s1 hold_s2 hold_s3 wall_s dur_s1 dur_s2 dur_s3
FAILS="$WORK/failures"
: >"$RUNS_TSV"
: >"$FAILS"
TIMEF="$WORK/time.out"
mkdir -p "$WORK/json"
zerr() { grep -v '^Command exited' "$1" | grep . | head -n 3 | paste -sd' ' -; }

# cbackup SERIES RUN: one coordinated cluster backup into an emptied repository; a row in
# RUNS_TSV, or a line in FAILS (the run goes on).
cbackup() {
    local series=$1 run=$2 json="$WORK/json/$1.$2.json" err="$WORK/json/$1.$2.err" wall
    rm -rf "$WORK/repo-lock"
    if ! /usr/bin/time -f '%e' -o "$TIMEF" timeout 1800 "$ZRM" -c "$LOCK_CONF" -q backup --cluster app \
        --coordinated --format json >"$json" 2>"$err"; then
        local msg
        msg=$(jq -r '[.shards[] | select(.status != "ok") | "\(.set): \(.error)"] | join("; ")' "$json" 2>/dev/null || true)
        printf '%s run %s: %s\n' "$series" "$run" "${msg:-$(zerr "$err")}" >>"$FAILS"
        warn "[$series] run $run failed: ${msg:-$(zerr "$err")}"
        return 0
    fi
    wall=$(tail -n 1 "$TIMEF")
    jq -r --arg s "$series" --arg r "$run" --arg w "$wall" '
        ([.shards[] | {key: .set, value: .}] | from_entries) as $sh
        | [$s, $r, .record.max_lock_hold_ms, $sh.s1.lock_hold_ms, $sh.s2.lock_hold_ms, $sh.s3.lock_hold_ms,
           $w, $sh.s1.duration_s, $sh.s2.duration_s, $sh.s3.duration_s] | @tsv' "$json" >>"$RUNS_TSV"
    if [ -s "$err" ]; then
        printf '%s run %s (backup succeeded), stderr: %s\n' "$series" "$run" "$(zerr "$err")" >>"$WORK/stderr-notes"
    fi
    say "[$series] run $run: max lock hold $(tail -n 1 "$RUNS_TSV" | cut -f3) ms (shards $(tail -n 1 "$RUNS_TSV" | cut -f4-6 | tr '\t' '/')), $wall s"
}
col() { awk -F'\t' -v s="$1" -v c="$2" '$1 == s { print $c }' "$RUNS_TSV"; }

step "Probe: one coordinated backup (untimed)"
cbackup probe 1
[ -s "$FAILS" ] && die "zrm backup --cluster app --coordinated failed: $(cat "$FAILS")"
LOCK_KIND=$("$ZRM" -c "$LOCK_CONF" -q show --set s1 latest --format json 2>/dev/null | jq -r '.logical.snapshot.lock // .physical.lock // "?"' 2>/dev/null || echo "?")
METHOD=$(jq -r '.shards[0].method' "$WORK/json/probe.1.json")
STORED_MIB=$(jq -r '[.shards[].size] | add / 1048576 | floor' "$WORK/json/probe.1.json")
say "method $METHOD, lock $LOCK_KIND, $STORED_MIB MiB stored for the three shards"

step "Lock hold, idle: $LOCK_RUNS coordinated backups"
for run in $(seq 1 "$LOCK_RUNS"); do cbackup idle "$run"; done

commits() { local n=0 s; for s in "${SHARDS[@]}"; do n=$((n + $(sqlon "$s" -e "SHOW GLOBAL STATUS LIKE 'Binlog_commits'" | cut -f2))); done; echo "$n"; }
now() { date +%s.%N; }
start_load() { # [SECONDS]: sysbench oltp_write_only, one thread per shard
    local s
    for s in "${SHARDS[@]}"; do
        sb_args "$s"
        "${SB_ARGS[@]}" --threads=1 --time="${1:-0}" --report-interval=0 oltp_write_only run >"$WORK/$s/sb-run.log" 2>&1 &
        SB_PIDS+=($!)
    done
}
step "Lock hold under load: sysbench oltp_write_only (1 thread per shard) and $LOCK_RUNS coordinated backups"
start_load 0
sleep 5
for p in "${SB_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || die "sysbench oltp_write_only run exited: $(tail -n 3 "$WORK"/s*/sb-run.log | paste -sd' ' -)"; done
c0=$(commits) t0=$(now)
sleep 10
c1=$(commits) t1=$(now)
TPS_QUIET=$(calc "($c1 - $c0) / ($t1 - $t0)" %.0f)
say "load alone: $TPS_QUIET transactions/s (three shards)"
LOAD_STATUS=measured
for run in $(seq 1 "$LOCK_RUNS"); do
    for p in "${SB_PIDS[@]}"; do
        if ! kill -0 "$p" 2>/dev/null; then
            LOAD_STATUS="a sysbench exited during the series (before run $run)"
            warn "$LOAD_STATUS"
            break 2
        fi
    done
    cbackup load "$run"
done
c2=$(commits) t2=$(now)
TPS_BACKUPS=$(calc "($c2 - $c1) / ($t2 - $t1)" %.0f)
LOAD_SERIES_S=$(calc "$t2 - $t1" %.0f)
say "during the backups: $TPS_BACKUPS transactions/s over $LOAD_SERIES_S s"
stop_sysbench
rm -rf "$WORK/repo-lock"
SB_VERSION=$(sysbench --version)

# --- restore -------------------------------------------------------------------------------------

RESTORE_STATUS=measured
RS_TSV="$WORK/restore.tsv" # kind run wall_s zrm_wall_s dur_s1 dur_s2 dur_s3
: >"$RS_TSV"
step "Restore: the base (a coordinated backup), $LOAD_S s of load, binlogs archived"
if ! "$ZRM" -c "$CONF" -q backup --cluster app --coordinated --format json >"$WORK/json/base.json" 2>"$WORK/json/base.err"; then
    RESTORE_STATUS="the base backup (\`zrm backup --cluster app --coordinated\`) failed: $(jq -r '[.shards[] | select(.status != "ok") | "\(.set): \(.error)"] | join("; ")' "$WORK/json/base.json" 2>/dev/null || zerr "$WORK/json/base.err")"
    warn "$RESTORE_STATUS"
fi
if [ "$RESTORE_STATUS" = measured ]; then
    c0=$(commits)
    start_load "$LOAD_S"
    for p in "${SB_PIDS[@]}"; do wait "$p" || warn "sysbench (pid $p) exited with an error"; done
    SB_PIDS=()
    REPLAY_TRX=$(($(commits) - c0))
    sleep 1
    [ "$(commits)" = "$((c0 + REPLAY_TRX))" ] || die "the shards are still being written to after the load stopped"
    # T: a whole second after the last write; the rotate a second later puts the archive's end past it.
    sleep 1.2
    UNTIL=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    sleep 1.2
    for s in "${SHARDS[@]}"; do sqlon "$s" -e "CHECKSUM TABLE $TABLE_LIST" >"$WORK/sums.$s"; done
    for s in "${SHARDS[@]}"; do
        sqlon "$s" -e 'FLUSH BINARY LOGS'
        if ! "$ZRM" -c "$CONF" -q binlog archive --set "$s" >"$WORK/archive.$s.log" 2>&1; then
            RESTORE_STATUS="\`zrm binlog archive --set $s\` failed: $(zerr "$WORK/archive.$s.log")"
            warn "$RESTORE_STATUS"
            break
        fi
    done
    say "until $UNTIL: $REPLAY_TRX transactions on the three shards after the base backup"
fi
SUMS_CLUSTER="" SUMS_SINGLE=""
targets_match() { # MATCH if every target's sbtest checksums equal its shard's (taken at T)
    local i=0 s
    for s in "${SHARDS[@]}"; do
        i=$((i + 1))
        sqlon "t$i" -e "CHECKSUM TABLE $TABLE_LIST" 2>/dev/null | cmp -s - "$WORK/sums.$s" || { echo DIFFER; return; }
    done
    echo MATCH
}
rs_cluster() { # RUN
    local run=$1 json="$WORK/json/rc.$1.json" err="$WORK/json/rc.$1.err" wall
    if ! /usr/bin/time -f '%e' -o "$TIMEF" "$ZRM" -c "$CONF" -q restore --cluster app --until-time "$UNTIL" \
        --replace --format json >"$json" 2>"$err"; then
        local msg
        msg=$(jq -r '[.shards[] | select(.status != "ok") | "\(.set): \(.error)"] | join("; ")' "$json" 2>/dev/null || true)
        printf 'cluster restore run %s: %s\n' "$run" "${msg:-$(zerr "$err")}" >>"$FAILS"
        warn "[cluster restore] run $run failed: ${msg:-$(zerr "$err")}"
        return 0
    fi
    wall=$(tail -n 1 "$TIMEF")
    jq -r --arg r "$run" --arg w "$wall" '
        ([.shards[] | {key: .set, value: .duration_s}] | from_entries) as $d
        | ["cluster", $r, $w, .wall_s, $d.s1, $d.s2, $d.s3] | @tsv' "$json" >>"$RS_TSV"
    [ -n "$SUMS_CLUSTER" ] || SUMS_CLUSTER=$(targets_match)
    say "[cluster] run $run: $wall s (wall_s $(jq -r '.wall_s | . * 100 | floor / 100' "$json"), skew $(jq -r .skew_s "$json") s)"
}
rs_single() { # RUN: s1, s2, s3 one after the other
    local run=$1 i=0 s w d=() total=0
    for s in "${SHARDS[@]}"; do
        i=$((i + 1))
        if ! /usr/bin/time -f '%e' -o "$TIMEF" "$ZRM" -c "$CONF" -q restore --set "$s" --target "t$i" --replace \
            --until-time "$UNTIL" --no-progress --format json >"$WORK/json/rs.$run.$s.json" 2>"$WORK/json/rs.$run.$s.err"; then
            printf 'single restore run %s, %s: %s\n' "$run" "$s" "$(zerr "$WORK/json/rs.$run.$s.err")" >>"$FAILS"
            warn "[single restore] run $run, $s failed: $(zerr "$WORK/json/rs.$run.$s.err")"
            return 0
        fi
        w=$(tail -n 1 "$TIMEF")
        d+=("$w")
        total=$(calc "$total + $w")
    done
    printf 'single\t%s\t%s\t\t%s\t%s\t%s\n' "$run" "$total" "${d[0]}" "${d[1]}" "${d[2]}" >>"$RS_TSV"
    [ -n "$SUMS_SINGLE" ] || SUMS_SINGLE=$(targets_match)
    say "[one by one] run $run: $total s (${d[*]})"
}
if [ "$RESTORE_STATUS" = measured ]; then
    step "Restore: $RUNS runs of the cluster restore and of the three single-shard restores in turn"
    for run in $(seq 1 "$RUNS"); do
        if [ $((run % 2)) = 1 ]; then rs_cluster "$run"; rs_single "$run"; else rs_single "$run"; rs_cluster "$run"; fi
    done
fi
LOAD_AVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the section -----------------------------------------------------------------------------------

step "Writing the section${OUT:+ to $OUT}"
goal_le() { awk -v v="$1" -v g="$2" 'BEGIN { if (v == "n/a") print "NOT MEASURED"; else print (v + 0 <= g + 0) ? "**MET**" : "**NOT MET**" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# Per shard: every lock hold of the series, median.
shard_med() { col "$1" "$2" | median; }
IDLE_N=$(col idle 3 | wc -l) LOAD_N=$(col load 3 | wc -l)
IDLE_MED=$(col idle 3 | median) IDLE_MAX=$(col idle 3 | maxof) IDLE_P90=$(col idle 3 | pct 90)
LOAD_MED=$(col load 3 | median) LOAD_MAX=$(col load 3 | maxof) LOAD_P90=$(col load 3 | pct 90)
IDLE_WALL=$(col idle 7 | median) LOAD_WALL=$(col load 7 | median)
IDLE_VERDICT=$(goal_le "$IDLE_MED" "$GOAL_IDLE_MS")
rcol() { awk -F'\t' -v k="$1" -v c="$2" '$1 == k { print $c }' "$RS_TSV"; }
rall() { rcol "$1" "$2" | awk '{ printf "%.2f\n", $1 }' | paste -sd/ - | sed 's|/| / |g'; }
# The slowest single-shard restore of each run.
SLOWEST=$(awk -F'\t' '$1 == "single" { m = $5; if ($6 > m) m = $6; if ($7 > m) m = $7; print m }' "$RS_TSV")
C_WALL=$(rcol cluster 3 | median) C_ZWALL=$(rcol cluster 4 | median)
S_SUM=$(rcol single 3 | median) S_MAX=$(printf '%s\n' "$SLOWEST" | grep . | median)
rows_of() {
    awk -F'\t' -v s="$1" '$1 == s { printf "| %s | %s | %s | %s | %s | %s | %.2f |\n", s, $2, $3, $4, $5, $6, $7 }' "$RUNS_TSV"
}

{
    echo "## Sharded clusters"
    echo
    echo "Generated by \`scripts/bench_cluster.sh\` (\`BENCH_SCALE=$SCALE\`) on $(date -u '+%Y-%m-%d %H:%M UTC');"
    echo "the run took $(($(date +%s) - T_START)) s$([ "$BUILD_S" -lt 5 ] || echo " (the first $BUILD_S s building zrm)"). A shared 2-core box: load average $LOAD_AVG_START at the"
    echo "start, $LOAD_AVG_END at the end; other work may have run at the same time. Six MariaDB servers"
    echo "share the two cores."
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| zrm | $ZRM_VERSION, $ZRM_DESC |"
    echo "| MariaDB | $MARIADB_VERSION; shards s1, s2, s3: throwaway \`mariadbd --no-defaults --innodb-buffer-pool-size=$POOL --log-bin --binlog-format=ROW\`; restore targets t1, t2, t3: the same without binary log |"
    echo "| data | per shard: sysbench \`oltp_read_write prepare\`, $TABLES tables × $ROWS rows (${SHARD_MIB[*]} MiB of InnoDB data and indexes), and the GSN table \`app.gsn\` |"
    echo "| cluster | \`[clusters.app] sets = [\"s1\", \"s2\", \"s3\"]\`, \`gsn = { table = \"app.gsn\", column = \"seq\" }\`, \`restore_targets = { s1 = \"t1\", s2 = \"t2\", s3 = \"t3\" }\`; the sets leave everything at its default (method \`$METHOD\`, lock \`$LOCK_KIND\`, \`parallel\` 4, zstd level 1); $STORED_MIB MiB stored per coordinated backup |"
    echo "| load | $SB_VERSION, \`oltp_write_only --threads=1\` on each shard over its socket |"
    echo
    echo "### Coordinated backup: lock hold"
    echo
    echo "\`zrm backup --cluster app --coordinated --format json\`: every shard takes its lock, waits"
    echo "until all three hold theirs, records its point and releases it (one cut, all or nothing)."
    echo "\`.record.max_lock_hold_ms\` is the longest of the three shards' \`lock_hold_ms\` (zrm's measure of"
    echo "how long commits were blocked on that shard), the figure of each backup below; the per-shard"
    echo "columns are the medians of each shard's own hold. The repository is emptied before each backup."
    echo
    echo "- Idle: $LOCK_RUNS backups one after another, nothing else writing."
    echo "- Under load: sysbench on every shard started 5 s before; its rate measured 10 s without"
    echo "  backups ($TPS_QUIET transactions/s over the three shards), then $LOCK_RUNS backups one after another"
    echo "  (over $LOAD_SERIES_S s, during which the load ran $TPS_BACKUPS transactions/s). Transactions counted as \`Binlog_commits\`."
    [ "$LOAD_STATUS" = measured ] || echo "- **The load series is incomplete:** $LOAD_STATUS."
    echo
    echo "| series | n | max lock hold median ms | p90 ms | max ms | s1 median ms | s2 median ms | s3 median ms | backup wall median s | goal (median) | status |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    echo "| idle | $IDLE_N | $IDLE_MED | $IDLE_P90 | $IDLE_MAX | $(shard_med idle 4) | $(shard_med idle 5) | $(shard_med idle 6) | $(num "$IDLE_WALL") | ≤ $GOAL_IDLE_MS ms | $IDLE_VERDICT |"
    echo "| under load | $LOAD_N | $LOAD_MED | $LOAD_P90 | $LOAD_MAX | $(shard_med load 4) | $(shard_med load 5) | $(shard_med load 6) | $(num "$LOAD_WALL") | (reported) | |"
    echo
    if [ -s "$WORK/stderr-notes" ]; then
        echo "zrm wrote to stderr in backups that succeeded:"
        echo
        sed 's/^/- /' "$WORK/stderr-notes"
        echo
    fi
    echo "<details><summary>every backup (ms; wall time in s)</summary>"
    echo
    echo "| series | run | max lock hold | s1 | s2 | s3 | wall s |"
    echo "|---|---|---|---|---|---|---|"
    rows_of idle
    rows_of load
    echo
    echo "</details>"
    echo
    echo "### Cluster restore to one time"
    echo
    if [ "$RESTORE_STATUS" != measured ]; then
        echo "**Not measured:** $RESTORE_STATUS."
    else
        echo "The base: one coordinated backup (idle). Then $LOAD_S s of \`oltp_write_only --threads=1\` on every"
        echo "shard ($REPLAY_TRX transactions in all, replayed by every restore), T = \`$UNTIL\`, the next whole"
        echo "second after the last write; a second later \`FLUSH BINARY LOGS\` and \`zrm binlog archive --set sN\`"
        echo "on each shard. Each restore loads the base backup into the target (\`--replace\`) and replays"
        echo "the shard's binlogs up to T. $RUNS runs each, alternating which goes first; medians."
        echo
        echo "| measurement | command | median s | runs s |"
        echo "|---|---|---|---|"
        echo "| cluster restore, wall time of the process | \`zrm restore --cluster app --until-time T --replace --format json\` | $(num "$C_WALL") | $(rall cluster 3) |"
        echo "| cluster restore, its \`wall_s\` | (the same) | $(num "$C_ZWALL") | $(rall cluster 4) |"
        for k in 1 2 3; do
            echo "| — shard s$k inside it (\`.shards[].duration_s\`) | | $(num "$(rcol cluster $((k + 4)) | median)") | $(rall cluster $((k + 4))) |"
        done
        echo "| one by one, the sum | \`zrm restore --set sN --target tN --replace --until-time T\` for s1, s2, s3 in turn | $(num "$S_SUM") | $(rall single 3) |"
        for k in 1 2 3; do
            echo "| — s$k alone | | $(num "$(rcol single $((k + 4)) | median)") | $(rall single $((k + 4))) |"
        done
        echo "| one by one, the slowest shard of each run | | $(num "$S_MAX") | $(printf '%s\n' "$SLOWEST" | grep . | awk '{ printf "%.2f\n", $1 }' | paste -sd/ - | sed 's|/| / |g') |"
        echo
        echo "Sum of the single restores ÷ the cluster restore: **$(ratio "$S_SUM" "$C_WALL")×** (above 1: the cluster"
        echo "restore is faster); the cluster restore ÷ the slowest single restore: **$(ratio "$C_WALL" "$S_MAX")×** (1 would be"
        echo "perfect parallelism; on two cores three restores at once cannot get there)."
        echo "\`CHECKSUM TABLE\` of every target's sbtest tables against its shard at T, after the first cluster"
        echo "restore: **${SUMS_CLUSTER:-n/a}**; after the first single restores: **${SUMS_SINGLE:-n/a}**."
    fi
    echo
    if [ -s "$FAILS" ]; then
        echo "**Failures** (left out of the figures):"
        echo
        sed 's/^/- /' "$FAILS"
        echo
    fi
    if [ "$SCALE" = small ]; then
        echo "**\`BENCH_SCALE=small\`:** a few MiB per shard; the full scale is the measurement."
        echo
    fi
    echo "Reproduce: \`BENCH_SCALE=$SCALE BENCH_CLUSTER_RUNS=$LOCK_RUNS BENCH_RUNS=$RUNS scripts/bench_cluster.sh\`."
} >"$WORK/section.md"

if [ -n "$GOALS_OUT" ]; then
    echo "| coordinated cluster backup (3 shards): longest shard's lock hold (\`max_lock_hold_ms\`, median of $IDLE_N) ≤ $GOAL_IDLE_MS ms, idle | $IDLE_MED ms (max $IDLE_MAX ms; under load: median $LOAD_MED ms, max $LOAD_MAX ms) | $IDLE_VERDICT |" >"$GOALS_OUT"
fi
if [ -n "$OUT" ]; then
    mkdir -p "$(dirname "$OUT")"
    cp "$WORK/section.md" "$OUT"
else
    cat "$WORK/section.md"
fi

step "Done in $(($(date +%s) - T_START)) s"
say "coordinated lock hold idle: median $IDLE_MED ms, max $IDLE_MAX ms (n $IDLE_N) $IDLE_VERDICT; under load: median $LOAD_MED ms, max $LOAD_MAX ms (n $LOAD_N)"
say "restore: cluster $(num "$C_WALL") s, one by one $(num "$S_SUM") s (slowest $(num "$S_MAX") s)"
[ -s "$FAILS" ] && warn "$(wc -l <"$FAILS") failure(s): see the section"
exit 0
