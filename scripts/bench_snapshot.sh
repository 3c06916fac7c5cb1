#!/usr/bin/env bash
# Benchmarks zrm's btrfs snapshot backups (`method = "btrfs"`) and prints a markdown section
# "## Snapshot backups (btrfs)": how long commits are blocked while the snapshot is cut, on an
# idle server and under a write load, and how fast the datadir is copied out of the snapshot
# against `tar | zstd -1` on the same files.
#
#   scripts/bench_snapshot.sh                       # BENCH_SCALE=full: ~1 GiB of InnoDB (~4 min + build)
#   BENCH_SCALE=small scripts/bench_snapshot.sh     # ~50 MiB, a quick check (~1 min + build)
#
# Needs root (it loop-mounts a btrfs image); installs what it lacks on Debian (btrfs-progs,
# sysbench, zstd, time, jq, mariadb-server/-client).
#
# What it does:
#   1. builds zrm in release mode (or takes BENCH_ZRM) and copies the binary aside,
#   2. makes a sparse btrfs image under the temp dir, loop-mounts it and creates a subvolume
#      `vol` holding `data/` (the datadir) and `binlog/` (the binary logs, outside the datadir),
#   3. starts a throwaway `mariadbd --no-defaults` there (a free port, its own socket, error log
#      and tmpdir outside the image; never the default instance on 3306) and stops it on exit,
#   4. loads sysbench `oltp_read_write prepare` tables (full: 8 x 500,000 rows, ~1 GiB of InnoDB;
#      small: 4 x 50,000 rows, ~50 MiB), writes every dirty page, purges the load's binlogs,
#   5. lock hold, idle: BENCH_SNAPSHOT_RUNS backups (default 20) by `zrm backup --set bench
#      --format json` (`method = "btrfs"`, `parallel = 2`), recording `lock_hold_ms`, `cut_ms`
#      and `lock_wait_ms` of each; the repository (outside the image) is emptied before each,
#   6. lock hold under load: the same while `sysbench oltp_write_only --threads=2 --time=0` runs
#      (started 5 s before, its rate sampled 15 s without backups and then over the series),
#   7. copy throughput, idle again, BENCH_SNAPSHOT_COPY_RUNS runs each (default 3), rotated:
#      zrm's backup against `tar -C DATADIR -cf - . | zstd -1` and `| zstd -1 -T2` on a
#      read-only snapshot of the same subvolume taken by the script (deleted after each run),
#   8. writes the section to BENCH_SNAPSHOT_OUT (default: stdout).
#
# Knobs: BENCH_SCALE=full|small, BENCH_SNAPSHOT_RUNS=N, BENCH_SNAPSHOT_COPY_RUNS=N,
# BENCH_SNAPSHOT_OUT=FILE, BENCH_SNAPSHOT_GOALS=FILE (also write the two rows of the "Goals at a
# glance" table of docs/BENCHMARKS.md there; scripts/bench.sh uses it), BENCH_ZRM=PATH (bench
# that zrm binary, no build; BENCH_ZRM_DESC=TEXT says what it was built from), BENCH_NO_BUILD=1
# (use target/release/zrm as it is), BENCH_REV=COMMIT (build that commit from a clean `git
# archive` export in target/bench-rev instead of the working tree), BENCH_IMAGE_GIB=N (size of
# the sparse image; default 6 at full scale, 2 at small), BENCH_KEEP=1 (leave the server stopped
# but the image mounted and the temp dir in place), BENCH_TMPDIR=DIR (parent of the temp dir;
# default /var/tmp).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SCALE="${BENCH_SCALE:-full}"
case "$SCALE" in
    small) TABLES=4; ROWS=50000; IMAGE_GIB_DEFAULT=2 ;;
    full) TABLES=8; ROWS=500000; IMAGE_GIB_DEFAULT=6 ;;
    *) echo "error: BENCH_SCALE must be small or full, not '$SCALE'" >&2; exit 2 ;;
esac
LOCK_RUNS="${BENCH_SNAPSHOT_RUNS:-20}"
COPY_RUNS="${BENCH_SNAPSHOT_COPY_RUNS:-3}"
IMAGE_GIB="${BENCH_IMAGE_GIB:-$IMAGE_GIB_DEFAULT}"
for v in LOCK_RUNS COPY_RUNS IMAGE_GIB; do
    case "${!v}" in '' | *[!0-9]* | 0) echo "error: $v must be a positive integer, not '${!v}'" >&2; exit 2 ;; esac
done
OUT="${BENCH_SNAPSHOT_OUT:-}"
GOALS_OUT="${BENCH_SNAPSHOT_GOALS:-}"
# zrm's set: copy parts (threads) and, for the load, sysbench threads.
PARALLEL=2
LOAD_THREADS=2
# Goals, in milliseconds of lock hold (median of the series).
GOAL_IDLE_MS=50
GOAL_LOAD_MS=250

case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin" ;; esac

# shellcheck source=scripts/bench_lib.sh
. "$ROOT/scripts/bench_lib.sh"

T_START=$(date +%s)
LOAD_AVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- packages ----------------------------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || die "run as root: the benchmark loop-mounts a btrfs image (mount -o loop) and runs btrfs subvolume commands"
step "Checking packages"
required=()
command -v mkfs.btrfs >/dev/null && command -v btrfs >/dev/null || required+=(btrfs-progs)
command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null || required+=(mariadb-server)
command -v mariadb >/dev/null || required+=(mariadb-client)
command -v sysbench >/dev/null || required+=(sysbench)
command -v zstd >/dev/null || required+=(zstd)
[ -x /usr/bin/time ] || required+=(time)
command -v jq >/dev/null || required+=(jq)
if [ ${#required[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || die "missing ${required[*]} and no apt-get: install them by hand"
    export DEBIAN_FRONTEND=noninteractive
    say "installing: ${required[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${required[@]}" >/dev/null
else
    say "all present"
fi

# --- temp dir and cleanup ----------------------------------------------------------------------

WORK=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/zrm-snapbench.XXXXXX")
DB="$WORK/db"    # socket, error log, pid file, tmpdir: outside the image
MNT="$WORK/mnt"  # the btrfs file system
IMG="$WORK/btrfs.img"
VOL="$MNT/vol"   # the subvolume: data/ and binlog/
DATADIR="$VOL/data"
SOCK="$DB/s.sock"
REPO="$WORK/repo"
CONF="$WORK/zrm.toml"
SERVER_PID="" SB_PID="" TAR_SNAP=""

stop_sysbench() {
    if [ -n "$SB_PID" ]; then
        kill -TERM "$SB_PID" 2>/dev/null || true
        wait "$SB_PID" 2>/dev/null || true
        SB_PID=""
    fi
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local rc=$?
    set +e
    stop_sysbench
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 1 120); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            warn "mariadbd (pid $SERVER_PID) did not stop within 60 s: killing it"
            kill -KILL "$SERVER_PID"
        fi
        wait "$SERVER_PID" 2>/dev/null
    fi
    [ "$rc" -ne 0 ] && [ -f "$DB/err.log" ] && { echo "--- tail of $DB/err.log" >&2; tail -n 20 "$DB/err.log" >&2; }
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        printf 'temp dir left in place: %s' "$WORK" >&2
        mountpoint -q "$MNT" 2>/dev/null && printf ' (the image is still mounted: umount %s)' "$MNT" >&2
        printf '\n' >&2
    else
        if mountpoint -q "$MNT" 2>/dev/null; then
            [ -n "$TAR_SNAP" ] && [ -d "$TAR_SNAP" ] && btrfs subvolume delete "$TAR_SNAP" >/dev/null 2>&1
            for _ in 1 2 3 4 5; do umount "$MNT" 2>/dev/null && break; sleep 1; done
        fi
        if mountpoint -q "$MNT" 2>/dev/null; then
            warn "could not unmount $MNT: leaving $WORK in place (umount it, then remove the directory)"
        elif [ "$rc" -ne 0 ]; then
            # Keep the logs of a failed run, not the gigabytes.
            rm -rf "$IMG" "$MNT" "$REPO" "$WORK/copy" "$WORK/zrm"
            printf 'logs left in place: %s\n' "$WORK" >&2
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- zrm -------------------------------------------------------------------------------------

bench_zrm

# --- btrfs and the server ----------------------------------------------------------------------

step "A ${IMAGE_GIB} GiB sparse btrfs image, loop-mounted at $MNT"
mkdir -p "$MNT" "$DB/tmp" "$WORK/json" "$WORK/copy"
truncate -s "${IMAGE_GIB}G" "$IMG"
mkfs.btrfs -q "$IMG" >"$WORK/mkfs.log" 2>&1 || { cat "$WORK/mkfs.log" >&2; die "mkfs.btrfs failed"; }
mount -o loop "$IMG" "$MNT" 2>"$WORK/mount.err" || { cat "$WORK/mount.err" >&2; die "mount -o loop $IMG failed (loop devices missing?)"; }
btrfs subvolume create "$VOL" >/dev/null
mkdir -p "$VOL/binlog"
IMG_FS=$(findmnt -n -o FSTYPE -T "$WORK" 2>/dev/null || stat -f -c %T "$WORK")
say "image on $IMG_FS ($(df -h --output=avail "$WORK" | tail -n 1 | tr -d ' ') free there), subvolume $VOL"

PORT=$(free_port)
sql() { mariadb --no-defaults -S "$SOCK" -uroot -N -B "$@"; }
SERVER_OPTS=(--port="$PORT" --bind-address=127.0.0.1 --log-bin="$VOL/binlog/mysql-bin" --server-id=1
    --binlog-format=ROW --innodb-buffer-pool-size=256M)

step "Starting a throwaway MariaDB server (datadir $DATADIR, port $PORT)"
mariadb-install-db --no-defaults --datadir="$DATADIR" --user=root --tmpdir="$DB/tmp" \
    --auth-root-authentication-method=normal --skip-test-db >"$DB/install-db.log" 2>&1 \
    || { cat "$DB/install-db.log" >&2; die "mariadb-install-db failed"; }
mariadbd --no-defaults --datadir="$DATADIR" --socket="$SOCK" --user=root --log-error="$DB/err.log" \
    --pid-file="$DB/pid" --tmpdir="$DB/tmp" "${SERVER_OPTS[@]}" >/dev/null 2>&1 &
SERVER_PID=$!
for i in $(seq 1 120); do
    sql -e 'select 1' >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { SERVER_PID=""; die "mariadbd exited during startup (see $DB/err.log)"; }
    [ "$i" -eq 120 ] && die "mariadbd not ready after 60 s"
    sleep 0.5
done
MARIADB_VERSION=$(sql -e 'select version()')
say "MariaDB $MARIADB_VERSION ready (pid $SERVER_PID)"

# --- data ----------------------------------------------------------------------------------------

SB=(sysbench --db-driver=mysql --mysql-socket="$SOCK" --mysql-user=root --mysql-db=sbtest
    --tables="$TABLES" --table-size="$ROWS")
TABLE_LIST=$(seq 1 "$TABLES" | awk '{ printf "%ssbtest.sbtest%d", (NR > 1 ? "," : ""), $1 }')
# Every dirty page written, so an idle server has nothing left to flush during the backups.
flush_pages() { sql -e "FLUSH TABLES $TABLE_LIST FOR EXPORT; UNLOCK TABLES"; }

step "sysbench oltp_read_write prepare: $TABLES tables x $ROWS rows"
sql -e 'CREATE DATABASE sbtest'
t0=$(date +%s)
"${SB[@]}" --threads=2 oltp_read_write prepare >"$WORK/sb-prepare.log" 2>&1 \
    || { tail "$WORK/sb-prepare.log" >&2; die "sysbench prepare failed"; }
PREPARE_S=$(($(date +%s) - t0))
sql -e "ANALYZE TABLE $TABLE_LIST" >/dev/null
flush_pages
# The prepare's binlogs (about the size of the data) are not what is measured: purged, to keep
# the image small.
sql -e 'FLUSH BINARY LOGS'
sql -e "PURGE BINARY LOGS TO '$(sql -e 'SHOW MASTER STATUS' | cut -f1)'"
DATA_BYTES=$(sql -e "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sbtest'")
DATA_MIB=$(calc "$DATA_BYTES / 1048576" %.0f)
say "sbtest: $DATA_MIB MiB of InnoDB data and indexes, prepared in $PREPARE_S s; datadir $(du -sh --apparent-size "$DATADIR" | cut -f1)"

# --- zrm backups ---------------------------------------------------------------------------------

printf '[repository]\npath = "%s"\n[defaults]\nuser = "root"\n[sets.bench]\nsocket = "%s"\nmethod = "btrfs"\nparallel = %s\n' \
    "$REPO" "$SOCK" "$PARALLEL" >"$CONF"
RUNS_TSV="$WORK/runs.tsv" # series run wait_ms hold_ms cut_ms copy_s bytes files duration_s wall_s cpu_s stored
FAILS="$WORK/failures"
: >"$RUNS_TSV"
: >"$FAILS"
TIMEF="$WORK/time.out"

# backup SERIES RUN: one `zrm backup` into an emptied repository; a row in RUNS_TSV, or a line
# in FAILS (the run goes on).
backup() {
    local series=$1 run=$2 json="$WORK/json/$1.$2.json" err="$WORK/json/$1.$2.err"
    local wall user sys
    rm -rf "$REPO"
    if ! /usr/bin/time -f '%e %U %S' -o "$TIMEF" timeout 1800 "$ZRM" -c "$CONF" -q backup --set bench \
        --format json >"$json" 2>"$err"; then
        local msg
        msg=$(grep -v '^Command exited' "$err" | grep . | head -n 3 | paste -sd' ' -)
        printf '%s run %s: %s\n' "$series" "$run" "${msg:-no message (exit status $(tail -n 1 "$TIMEF"))}" >>"$FAILS"
        warn "[$series] run $run failed: $msg"
        return 0
    fi
    read -r wall user sys < <(tail -n 1 "$TIMEF")
    jq -r --arg s "$series" --arg r "$run" --arg w "$wall" --arg c "$(calc "$user + $sys")" '
        [$s, $r, .backup.physical.lock_wait_ms, .backup.physical.lock_hold_ms, .backup.physical.cut_ms,
         .backup.physical.copy_seconds, .backup.physical.bytes, .backup.physical.file_count,
         .duration_s, $w, $c, ([.backup.files[].stored_size] | add)] | @tsv' "$json" >>"$RUNS_TSV"
    if [ -s "$err" ]; then
        say "[$series] run $run stderr: $(head -n 2 "$err" | paste -sd' ' -)"
        printf '%s run %s (backup succeeded), stderr: %s\n' "$series" "$run" "$(head -n 3 "$err" | paste -sd' ' -)" >>"$WORK/stderr-notes"
    fi
    say "[$series] run $run: lock hold $(tail -n 1 "$RUNS_TSV" | cut -f4) ms (cut $(tail -n 1 "$RUNS_TSV" | cut -f5) ms, wait $(tail -n 1 "$RUNS_TSV" | cut -f3) ms), copy $(calc "$(tail -n 1 "$RUNS_TSV" | cut -f6)") s, whole $wall s"
}
col() { awk -F'\t' -v s="$1" -v c="$2" '$1 == s { print $c }' "$RUNS_TSV"; }
leftovers() { find "$MNT" -maxdepth 1 -name '.zrm-snapshot-*' | wc -l; }

# Probe: one backup first, so a zrm that cannot back up at all fails here, clearly.
step "Probe: one zrm backup (untimed)"
backup probe 1
if [ -s "$FAILS" ]; then
    die "zrm backup --set bench failed: $(cat "$FAILS")"
fi
LOCK_KIND=$(jq -r .backup.physical.lock "$WORK/json/probe.1.json")
SOURCE=$(jq -r .backup.physical.source "$WORK/json/probe.1.json")
say "lock: $LOCK_KIND; source: $SOURCE; $(col probe 8) files, $(calc "$(col probe 7) / 1048576" %.0f) MiB copied"

step "Lock hold, idle: $LOCK_RUNS backups"
for run in $(seq 1 "$LOCK_RUNS"); do backup idle "$run"; done

# Transactions written by the load: each sysbench transaction is one binlog commit (zrm's own
# statements are not binlogged).
commits() { sql -e "SHOW GLOBAL STATUS LIKE 'Binlog_commits'" | cut -f2; }
now() { date +%s.%N; }
step "Lock hold under load: sysbench oltp_write_only ($LOAD_THREADS threads) and $LOCK_RUNS backups"
"${SB[@]}" --threads="$LOAD_THREADS" --time=0 --report-interval=0 oltp_write_only run >"$WORK/sb-run.log" 2>&1 &
SB_PID=$!
sleep 5
kill -0 "$SB_PID" 2>/dev/null || { tail "$WORK/sb-run.log" >&2; die "sysbench oltp_write_only run exited"; }
c0=$(commits) t0=$(now)
sleep 15
c1=$(commits) t1=$(now)
TPS_QUIET=$(calc "($c1 - $c0) / ($t1 - $t0)" %.0f)
say "load alone: $TPS_QUIET transactions/s"
LOAD_STATUS=measured
for run in $(seq 1 "$LOCK_RUNS"); do
    if ! kill -0 "$SB_PID" 2>/dev/null; then
        LOAD_STATUS="sysbench exited during the series (before run $run): $(tail -n 3 "$WORK/sb-run.log" | paste -sd' ' -)"
        warn "$LOAD_STATUS"
        break
    fi
    backup load "$run"
done
c2=$(commits) t2=$(now)
TPS_BACKUPS=$(calc "($c2 - $c1) / ($t2 - $t1)" %.0f)
LOAD_SERIES_S=$(calc "$t2 - $t1" %.0f)
say "during the backups: $TPS_BACKUPS transactions/s over $LOAD_SERIES_S s"
stop_sysbench
SB_VERSION=$(sysbench --version)
LEFT_AFTER_LOCK=$(leftovers)

# --- copy throughput -----------------------------------------------------------------------------

step "Copy throughput: $COPY_RUNS runs each (zrm, tar | zstd -1, tar | zstd -1 -T2), idle server"
flush_pages
sleep 5
COPY_TSV="$WORK/copy.tsv" # tool run wall_s cpu_s bytes out_bytes
: >"$COPY_TSV"
TAR_SNAP="$MNT/bench-tar-snapshot"
# tar_run TOOL RUN ZSTD-OPTIONS...: a read-only snapshot of the subvolume (untimed), then the
# timed pipeline on its datadir, then the snapshot deleted.
tar_run() {
    local tool=$1 run=$2 out="$WORK/copy/out.tar.zst" wall user sys bytes
    shift 2
    btrfs subvolume snapshot -r "$VOL" "$TAR_SNAP" >/dev/null
    bytes=$(find "$TAR_SNAP/data" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
    /usr/bin/time -f '%e %U %S' -o "$TIMEF" bash -c 'set -o pipefail; tar -C "$1" -cf - . | zstd "${@:3}" -q >"$2"' \
        _ "$TAR_SNAP/data" "$out" "$@" 2>"$WORK/copy/$tool.err" \
        || { cat "$WORK/copy/$tool.err" >&2; die "[$tool] tar | zstd $* failed"; }
    read -r wall user sys < <(tail -n 1 "$TIMEF")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$run" "$wall" "$(calc "$user + $sys")" "$bytes" "$(stat -c %s "$out")" >>"$COPY_TSV"
    say "[$tool] run $run: $wall s, $(calc "$bytes / 1048576 / $wall" %.1f) MiB/s"
    rm -f "$out"
    btrfs subvolume delete "$TAR_SNAP" >/dev/null
}
zrm_run() {
    local run=$1
    backup copy "$run"
    grep -q "^copy run $run:" "$FAILS" && return 0
    local row
    row=$(tail -n 1 "$RUNS_TSV")
    printf 'zrm\t%s\t%s\t%s\t%s\t%s\n' "$run" "$(cut -f10 <<<"$row")" "$(cut -f11 <<<"$row")" "$(cut -f7 <<<"$row")" "$(cut -f12 <<<"$row")" >>"$COPY_TSV"
}
# Untimed: read the datadir once from a fresh snapshot, so every tool starts from the same cache.
btrfs subvolume snapshot -r "$VOL" "$TAR_SNAP" >/dev/null
tar -C "$TAR_SNAP/data" -cf - . | cat >/dev/null
btrfs subvolume delete "$TAR_SNAP" >/dev/null
TOOLS=(zrm zstd1 zstd1t2)
for run in $(seq 1 "$COPY_RUNS"); do
    for k in 0 1 2; do
        case "${TOOLS[$(((k + run - 1) % 3))]}" in
            zrm) zrm_run "$run" ;;
            zstd1) tar_run zstd1 "$run" -1 ;;
            zstd1t2) tar_run zstd1t2 "$run" -1 -T2 ;;
        esac
    done
done
TAR_SNAP=""
rm -rf "$REPO"
LEFT_AFTER=$(leftovers)
LOAD_AVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the section -----------------------------------------------------------------------------------

step "Writing the section${OUT:+ to $OUT}"
goal_le() { awk -v v="$1" -v g="$2" 'BEGIN { if (v == "n/a") print "NOT MEASURED"; else print (v + 0 <= g + 0) ? "**MET**" : "**NOT MET**" }'; }
mib() { awk -v v="$1" -v f="${2:-%.1f}" 'BEGIN { if (v ~ /^[0-9.]+([eE][-+]?[0-9]+)?$/) printf f, v / 1048576; else print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
cmed() { awk -F'\t' -v t="$1" -v c="$2" '$1 == t { print $c }' "$COPY_TSV" | median; }
call() { awk -F'\t' -v t="$1" -v c="$2" '$1 == t { print $c }' "$COPY_TSV" | paste -sd/ - | sed 's|/| / |g'; }
# MiB/s of each run (bytes / seconds of column C), median.
crate() { awk -F'\t' -v t="$1" '$1 == t && $3 > 0 { printf "%.6f\n", $5 / 1048576 / $3 }' "$COPY_TSV" | median; }

IDLE_N=$(col idle 4 | wc -l) LOAD_N=$(col load 4 | wc -l)
IDLE_MED=$(col idle 4 | median) IDLE_MAX=$(col idle 4 | maxof) IDLE_P90=$(col idle 4 | pct 90)
LOAD_MED=$(col load 4 | median) LOAD_MAX=$(col load 4 | maxof) LOAD_P90=$(col load 4 | pct 90)
IDLE_CUT=$(col idle 5 | median) LOAD_CUT=$(col load 5 | median)
IDLE_CUT_MAX=$(col idle 5 | maxof) LOAD_CUT_MAX=$(col load 5 | maxof)
IDLE_WAIT=$(col idle 3 | median) LOAD_WAIT=$(col load 3 | median) LOAD_WAIT_MAX=$(col load 3 | maxof)
[ "$LOAD_STATUS" = measured ] || LOAD_MED_VERDICT="NOT MEASURED"
IDLE_VERDICT=$(goal_le "$IDLE_MED" "$GOAL_IDLE_MS")
LOAD_VERDICT=${LOAD_MED_VERDICT:-$(goal_le "$LOAD_MED" "$GOAL_LOAD_MS")}
COPY_BYTES=$(awk -F'\t' '$1 == "zrm" { b = $5 } END { print b + 0 }' "$COPY_TSV")
COPY_FILES=$(col copy 8 | tail -n 1)
# zrm: the copy alone (copy_seconds) and the whole command (duration_s), MiB/s of each run.
Z_COPY_S=$(col copy 6 | median) Z_DUR_S=$(col copy 9 | median)
Z_COPY_RATE=$(awk -F'\t' '$1 == "copy" && $6 > 0 { printf "%.6f\n", $7 / 1048576 / $6 }' "$RUNS_TSV" | median)
Z_DUR_RATE=$(awk -F'\t' '$1 == "copy" && $9 > 0 { printf "%.6f\n", $7 / 1048576 / $9 }' "$RUNS_TSV" | median)
Z_WALL_RATE=$(crate zrm)
T1_RATE=$(crate zstd1) T2_RATE=$(crate zstd1t2)
rows_of() { # SERIES: every run's hold/cut/wait ms
    awk -F'\t' -v s="$1" '$1 == s { printf "| %s | %s | %s | %s | %s | %.2f |\n", s, $2, $4, $5, $3, $6 }' "$RUNS_TSV"
}

{
    echo "## Snapshot backups (btrfs)"
    echo
    echo "Generated by \`scripts/bench_snapshot.sh\` (\`BENCH_SCALE=$SCALE\`) on $(date -u '+%Y-%m-%d %H:%M UTC');"
    echo "the run took $(($(date +%s) - T_START)) s$([ "$BUILD_S" -lt 5 ] || echo " (the first $BUILD_S s building zrm)"). A shared 2-core box: load average $LOAD_AVG_START at the"
    echo "start, $LOAD_AVG_END at the end; other work may have run at the same time."
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| zrm | $ZRM_VERSION, $ZRM_DESC |"
    echo "| MariaDB | $MARIADB_VERSION, a throwaway \`mariadbd --no-defaults --innodb-buffer-pool-size=256M --log-bin --server-id=1 --binlog-format=ROW\` (other settings default) |"
    echo "| file system | a sparse $IMAGE_GIB GiB image file on the temp dir's $IMG_FS, \`mkfs.btrfs\` (defaults), \`mount -o loop\`; subvolume \`vol\` holds \`data/\` (the datadir) and \`binlog/\` (the binary logs, outside the datadir) |"
    echo "| data | sysbench \`oltp_read_write prepare\`, $TABLES tables × $ROWS rows: **$DATA_MIB MiB** of InnoDB data and indexes (\`information_schema\`, after \`ANALYZE TABLE\`); the datadir as zrm copied it: $COPY_FILES files, $(mib "$COPY_BYTES") MiB |"
    echo "| zrm set | \`method = \"btrfs\"\`, \`parallel = $PARALLEL\`, repository compression left at its default (zstd level 1); the repository is a directory on the temp dir's $IMG_FS (not in the image), emptied before every backup |"
    echo "| lock | \`$LOCK_KIND\` (what zrm chose for this server) |"
    echo "| load | $SB_VERSION, \`oltp_write_only --threads=$LOAD_THREADS --time=0 --report-interval=0\` over the socket |"
    echo
    echo "### Lock hold"
    echo
    echo "\`lock_hold_ms\` is zrm's own measure of how long commits were blocked: from the moment the"
    echo "lock was granted to the server's confirmation of its release. In between zrm runs"
    echo "\`FLUSH NO_WRITE_TO_BINLOG ENGINE LOGS\`, reads the binary-log position and cuts the snapshot"
    echo "(\`btrfs subvolume snapshot -r\`); \`cut_ms\` is the snapshot command alone. \`lock_wait_ms\` is"
    echo "the time spent getting the lock (commits are not blocked yet). Each backup then copies the"
    echo "whole datadir out of the snapshot; the next one starts when it is done."
    echo
    echo "- Idle: $LOCK_RUNS backups one after another, nothing else writing."
    echo "- Under load: sysbench started 5 s before; its rate measured 15 s without backups ($TPS_QUIET"
    echo "  transactions/s), then $LOCK_RUNS backups one after another (over $LOAD_SERIES_S s, during which the"
    echo "  load ran $TPS_BACKUPS transactions/s: the copy competes with it for the 2 cores)."
    echo "  Transactions counted as \`Binlog_commits\`."
    [ "$LOAD_STATUS" = measured ] || echo "- **The load series is incomplete:** $LOAD_STATUS."
    echo
    echo "| series | n | lock hold median ms | p90 ms | max ms | cut median ms | cut max ms | lock wait median ms | goal (median) | status |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    echo "| idle | $IDLE_N | $IDLE_MED | $IDLE_P90 | $IDLE_MAX | $IDLE_CUT | $IDLE_CUT_MAX | $IDLE_WAIT | ≤ $GOAL_IDLE_MS ms | $IDLE_VERDICT |"
    echo "| under load | $LOAD_N | $LOAD_MED | $LOAD_P90 | $LOAD_MAX | $LOAD_CUT | $LOAD_CUT_MAX | $LOAD_WAIT (max $LOAD_WAIT_MAX) | ≤ $GOAL_LOAD_MS ms | $LOAD_VERDICT |"
    echo
    if [ -s "$FAILS" ]; then
        echo "**Failed backups** (left out of the figures):"
        echo
        sed 's/^/- /' "$FAILS"
        echo
    fi
    if [ -s "$WORK/stderr-notes" ]; then
        echo "zrm wrote to stderr in backups that succeeded:"
        echo
        sed 's/^/- /' "$WORK/stderr-notes"
        echo
    fi
    echo "zrm snapshots left behind in the btrfs file system: $LEFT_AFTER_LOCK after the lock series, $LEFT_AFTER at the end."
    echo
    echo "<details><summary>every run (ms)</summary>"
    echo
    echo "| series | run | lock hold | cut | lock wait | copy s |"
    echo "|---|---|---|---|---|---|"
    rows_of idle
    rows_of load
    echo
    echo "</details>"
    echo
    echo "### Copy throughput"
    echo
    echo "The same datadir ($(mib "$COPY_BYTES") MiB in $COPY_FILES files) on the idle server, after the"
    echo "load: zrm's backup against \`tar | zstd\` of a read-only snapshot the script took of the same"
    echo "subvolume (untimed, deleted after each run). $COPY_RUNS runs each, the order rotated from run"
    echo "to run; the datadir was read once from a fresh snapshot before the first run. Every output goes to"
    echo "the temp dir's $IMG_FS, outside the image. MiB/s is of the uncompressed datadir bytes; medians."
    echo "zrm writes $PARALLEL tar parts in parallel, each zstd level 1 on one thread, computes each part's"
    echo "SHA-256 and fsyncs it; the pipelines do neither."
    echo
    echo "| tool | command | median s | runs s | CPU s | MiB/s | output MiB | zrm's MiB/s ÷ this |"
    echo "|---|---|---|---|---|---|---|---|"
    echo "| zrm, the copy (\`copy_seconds\`) | \`zrm backup --set bench\` | $(num "$Z_COPY_S") | $(col copy 6 | awk '{ printf "%.2f\n", $1 }' | paste -sd/ - | sed 's|/| / |g') | | $(num "$Z_COPY_RATE" %.1f) | $(mib "$(cmed zrm 6)") | |"
    echo "| zrm, the whole command (\`duration_s\`) | (the same) | $(num "$Z_DUR_S") | $(col copy 9 | awk '{ printf "%.2f\n", $1 }' | paste -sd/ - | sed 's|/| / |g') | | $(num "$Z_DUR_RATE" %.1f) | | |"
    echo "| zrm, wall time of the process | (the same) | $(cmed zrm 3) | $(call zrm 3) | $(cmed zrm 4) | $(num "$Z_WALL_RATE" %.1f) | | |"
    echo "| tar \\| zstd -1 | \`tar -C DATADIR -cf - . \\| zstd -1 -q > FILE\` | $(cmed zstd1 3) | $(call zstd1 3) | $(cmed zstd1 4) | $(num "$T1_RATE" %.1f) | $(mib "$(cmed zstd1 6)") | $(ratio "$Z_COPY_RATE" "$T1_RATE")× (whole command: $(ratio "$Z_DUR_RATE" "$T1_RATE")×) |"
    echo "| tar \\| zstd -1 -T2 | \`tar -C DATADIR -cf - . \\| zstd -1 -T2 -q > FILE\` | $(cmed zstd1t2 3) | $(call zstd1t2 3) | $(cmed zstd1t2 4) | $(num "$T2_RATE" %.1f) | $(mib "$(cmed zstd1t2 6)") | $(ratio "$Z_COPY_RATE" "$T2_RATE")× (whole command: $(ratio "$Z_DUR_RATE" "$T2_RATE")×) |"
    echo
    echo "Above 1 in the last column: zrm copies faster. The CPU column is user + system seconds of the"
    echo "process and its children (\`/usr/bin/time\`; for zrm the whole command)."
    if [ "$SCALE" = small ]; then
        echo
        echo "**\`BENCH_SCALE=small\`:** the copies take a fraction of a second; the full scale is the measurement."
    fi
    echo
    echo "Reproduce: \`BENCH_SCALE=$SCALE BENCH_SNAPSHOT_RUNS=$LOCK_RUNS BENCH_SNAPSHOT_COPY_RUNS=$COPY_RUNS${BENCH_REV:+ BENCH_REV=$BENCH_REV} scripts/bench_snapshot.sh\` (as root)."
} >"$WORK/section.md"

if [ -n "$GOALS_OUT" ]; then
    {
        echo "| btrfs snapshot backup: commits blocked (\`lock_hold_ms\`, median of $IDLE_N) ≤ $GOAL_IDLE_MS ms, idle | $IDLE_MED ms (max $IDLE_MAX ms) | $IDLE_VERDICT |"
        echo "| the same under \`sysbench oltp_write_only\` ($LOAD_THREADS threads) ≤ $GOAL_LOAD_MS ms | $LOAD_MED ms (max $LOAD_MAX ms, n = $LOAD_N) | $LOAD_VERDICT |"
    } >"$GOALS_OUT"
fi
if [ -n "$OUT" ]; then
    mkdir -p "$(dirname "$OUT")"
    cp "$WORK/section.md" "$OUT"
else
    cat "$WORK/section.md"
fi

step "Done in $(($(date +%s) - T_START)) s"
say "lock hold idle: median $IDLE_MED ms, max $IDLE_MAX ms (n $IDLE_N) $IDLE_VERDICT; under load: median $LOAD_MED ms, max $LOAD_MAX ms (n $LOAD_N) $LOAD_VERDICT"
say "cut median: idle $IDLE_CUT ms, load $LOAD_CUT ms; copy MiB/s: zrm $(num "$Z_COPY_RATE" %.1f) (whole $(num "$Z_DUR_RATE" %.1f)), tar|zstd -1 $(num "$T1_RATE" %.1f), -T2 $(num "$T2_RATE" %.1f)"
[ -s "$FAILS" ] && warn "$(wc -l <"$FAILS") backup(s) failed: see the section"
exit 0
