#!/usr/bin/env bash
# Benchmarks zrm's S3 repository (against moto_server on 127.0.0.1) and its client-side
# encryption, and prints a markdown section "## S3 repository and encryption": upload and
# download throughput of `zrm replicate` against boto3 on the same file and the same server,
# zrm's peak RSS during the multi-GB upload, and what encryption costs a logical backup and its
# restore.
#
#   scripts/bench_s3.sh                       # BENCH_SCALE=full: a 2 GiB file, ~1 GiB of InnoDB (~10 min + build)
#   BENCH_SCALE=small scripts/bench_s3.sh     # 256 MiB, ~50 MiB of InnoDB, a quick check (~1 min + build)
#
# moto holds the objects in memory while it serves them: at full scale its peak RSS reached ~9 GiB.
#
# Needs moto_server (pip `moto[server]`, 5.2.5 as scripts/test.sh pins it) and python3 with
# boto3; installs what else it lacks on Debian (sysbench, time, jq, mariadb-server/-client).
#
# What it does:
#   1. builds zrm in release mode (or takes BENCH_ZRM) and copies the binary aside,
#   2. starts `moto_server -H 127.0.0.1 -p PORT` (a free port; its temp files under the temp dir)
#      and creates the bucket `bench` with boto3,
#   3. S3 throughput: writes a file of random (incompressible) bytes, 2 GiB at full scale, 256 MiB
#      small, as the one data file of a hand-made local zrm repository
#      (`zrm-repo.json`, `sets/bench/backups/20260101T000000Z/data/big`), then BENCH_RUNS times
#      (default 3), the order of zrm and boto3 alternating from run to run:
#        - upload: `zrm replicate --set bench` to `[repository.replica] url = "s3://bench/rep"`
#          (the replica's objects deleted with boto3 before each run, so each copies everything),
#          against boto3 `upload_file` of the same file (default TransferConfig) to `s3://bench/peer`,
#          and against boto3 `upload_file` followed by a streamed GET of the object hashed with
#          SHA-256 (zrm reads every copy back and compares its SHA-256: the like-for-like peer),
#        - download: `zrm replicate --set bench --to DIR` with the S3 replica as the repository,
#          against boto3 on the same object: one streamed `get_object` written to a file, and
#          `download_file` (default TransferConfig) in the first BENCH_S3_DOWNLOAD_FILE_RUNS runs
#          (default 1 at full scale, all small: moto serves its ranged GETs in quadratic time),
#      peak RSS of zrm (`/usr/bin/time`, the largest of the runs) in each direction,
#   4. encryption: starts a throwaway `mariadbd --no-defaults` (a free port, its own socket, never
#      the default instance) and a second one as the restore target, loads sysbench
#      `oltp_read_write prepare` tables (full: 8 x 500,000 rows, ~1 GiB of InnoDB; small: 4 x
#      50,000 rows), generates a key with `zrm key generate`, then BENCH_RUNS times, alternating:
#      `zrm backup --set s` (method logical, the repository's default compression, zstd level 1)
#      into a fresh local repository without and with `encryption_key_file`; then as many
#      `zrm restore --set s --target t --replace --no-binlogs` of the last backup of each,
#      alternating (BENCH_S3_NO_RESTORE=1 skips the restores),
#   5. writes the section to BENCH_S3_OUT (default: stdout).
#
# Knobs: BENCH_SCALE=full|small, BENCH_RUNS=N (default 3), BENCH_S3_FILE_MIB=N (size of the file;
# default 2048 at full scale, 256 small), BENCH_S3_DOWNLOAD_FILE_RUNS=N, BENCH_S3_OUT=FILE, BENCH_S3_GOALS=FILE (also write the
# rows of the "Goals at a glance" table of docs/BENCHMARKS.md there; scripts/bench.sh uses it),
# BENCH_ZRM=PATH (bench that zrm binary, no build; BENCH_ZRM_DESC=TEXT says what it was built
# from), BENCH_NO_BUILD=1 (use target/release/zrm as it is), BENCH_S3_NO_ENCRYPTION=1 (skip step
# 4), BENCH_S3_NO_RESTORE=1 (skip the restores of step 4), BENCH_KEEP=1 (leave the temp dir),
# BENCH_TMPDIR=DIR (parent of the temp dir; default /var/tmp).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SCALE="${BENCH_SCALE:-full}"
case "$SCALE" in
    small) FILE_MIB_DEFAULT=256; TABLES=4; ROWS=50000; POOL=256M; DF_RUNS_DEFAULT=3 ;;
    full) FILE_MIB_DEFAULT=2048; TABLES=8; ROWS=500000; POOL=2G; DF_RUNS_DEFAULT=1 ;;
    *) echo "error: BENCH_SCALE must be small or full, not '$SCALE'" >&2; exit 2 ;;
esac
RUNS="${BENCH_RUNS:-3}"
FILE_MIB="${BENCH_S3_FILE_MIB:-$FILE_MIB_DEFAULT}"
# Runs of boto3 `download_file`: moto answers each of its ranged GETs (8 MiB parts, 10 threads) by
# reading the whole object, so it takes minutes per GiB there; the streamed single GET runs every time.
DF_RUNS="${BENCH_S3_DOWNLOAD_FILE_RUNS:-$DF_RUNS_DEFAULT}"
[ "$DF_RUNS" -le "$RUNS" ] 2>/dev/null || DF_RUNS=$RUNS
for v in RUNS FILE_MIB DF_RUNS; do
    case "${!v}" in '' | *[!0-9]* | 0) echo "error: $v must be a positive integer, not '${!v}'" >&2; exit 2 ;; esac
done
OUT="${BENCH_S3_OUT:-}"
GOALS_OUT="${BENCH_S3_GOALS:-}"
DO_ENC=1 DO_RESTORE=1
[ "${BENCH_S3_NO_ENCRYPTION:-0}" = 1 ] && DO_ENC=0
[ "${BENCH_S3_NO_RESTORE:-0}" = 1 ] && DO_RESTORE=0
# Goal: zrm's peak RSS while uploading the multi-GB file, MiB.
GOAL_RSS_MIB=200
BUCKET=bench
SET_ID=20260101T000000Z

case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin" ;; esac

# shellcheck source=scripts/bench_lib.sh
. "$ROOT/scripts/bench_lib.sh"

T_START=$(date +%s)
LOAD_AVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- packages ----------------------------------------------------------------------------------

step "Checking packages"
command -v moto_server >/dev/null || die "moto_server not found: pip install 'moto[server]==5.2.5' (as scripts/test.sh does)"
python3 -c 'import boto3' 2>/dev/null || die "python3 with boto3 not found: pip install boto3"
required=()
if [ "${BENCH_S3_NO_ENCRYPTION:-0}" != 1 ]; then
    command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null || required+=(mariadb-server)
    command -v mariadb >/dev/null || required+=(mariadb-client)
    command -v sysbench >/dev/null || required+=(sysbench)
fi
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
MOTO_VERSION=$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || echo unknown)
BOTO3_VERSION=$(python3 -c 'import boto3; print(boto3.__version__)')

# --- temp dir and cleanup ----------------------------------------------------------------------

WORK=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/zrm-s3bench.XXXXXX")
MOTO_PID=""
SERVER_PIDS=()

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local rc=$?
    set +e
    local pid alive
    if [ -n "$MOTO_PID" ]; then
        kill -TERM "$MOTO_PID" 2>/dev/null
        wait "$MOTO_PID" 2>/dev/null
    fi
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
        # Keep the logs of a failed run, not the gigabytes.
        rm -rf "$WORK/local" "$WORK/moto-tmp" "$WORK/down" "$WORK/down-peer" "$WORK"/repo-* "$WORK/src" "$WORK/tgt" "$WORK/zrm"
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


# --- moto ------------------------------------------------------------------------------------

MOTO_PORT=$(free_port)
ENDPOINT="http://127.0.0.1:$MOTO_PORT"
step "Starting moto_server $MOTO_VERSION on $ENDPOINT"
mkdir -p "$WORK/moto-tmp"
# moto spools object bodies to temp files: under the temp dir, not a shared (maybe tmpfs) /tmp.
TMPDIR="$WORK/moto-tmp" moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
for i in $(seq 1 120); do
    (exec 3<>"/dev/tcp/127.0.0.1/$MOTO_PORT") 2>/dev/null && break
    kill -0 "$MOTO_PID" 2>/dev/null || { tail "$WORK/moto.log" >&2; MOTO_PID=""; die "moto_server exited during startup"; }
    [ "$i" -eq 120 ] && die "moto_server not listening after 60 s"
    sleep 0.5
done
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_DEFAULT_REGION=us-east-1

# s3py ACTION ARGS...: boto3 against moto (the helper below); prints what the action returns.
S3PY="$WORK/s3.py"
cat >"$S3PY" <<'EOF'
import hashlib, sys, time
import boto3

ep, action, *args = sys.argv[1:]
c = boto3.client("s3", endpoint_url=ep, region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing")
if action == "mkbucket":
    c.create_bucket(Bucket=args[0])
elif action == "clear":  # bucket prefix: delete every object and open upload under prefix
    b, p = args
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=b, Prefix=p):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            c.delete_objects(Bucket=b, Delete={"Objects": keys})
    for u in c.list_multipart_uploads(Bucket=b, Prefix=p).get("Uploads", []):
        c.abort_multipart_upload(Bucket=b, Key=u["Key"], UploadId=u["UploadId"])
elif action == "list":  # bucket prefix: "key<TAB>size" lines
    b, p = args
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=b, Prefix=p):
        for o in page.get("Contents", []):
            print(f"{o['Key']}\t{o['Size']}")
elif action == "upload":  # file bucket key: seconds of upload_file
    f, b, k = args
    t0 = time.monotonic()
    c.upload_file(f, b, k)
    print(f"{time.monotonic() - t0:.3f}")
elif action == "upload-verify":  # file bucket key: seconds of upload_file + a hashed GET
    f, b, k = args
    t0 = time.monotonic()
    c.upload_file(f, b, k)
    t1 = time.monotonic()
    h = hashlib.sha256()
    body = c.get_object(Bucket=b, Key=k)["Body"]
    for chunk in body.iter_chunks(1 << 20):
        h.update(chunk)
    t2 = time.monotonic()
    print(f"{t2 - t0:.3f}\t{t1 - t0:.3f}\t{h.hexdigest()}")
elif action == "download-stream":  # bucket key file: seconds of one streamed get_object to the file
    b, k, f = args
    t0 = time.monotonic()
    body = c.get_object(Bucket=b, Key=k)["Body"]
    with open(f, "wb") as out:
        for chunk in body.iter_chunks(1 << 20):
            out.write(chunk)
    print(f"{time.monotonic() - t0:.3f}")
elif action == "download":  # bucket key file: seconds of download_file
    b, k, f = args
    t0 = time.monotonic()
    c.download_file(b, k, f)
    print(f"{time.monotonic() - t0:.3f}")
else:
    sys.exit(f"unknown action {action}")
EOF
s3py() { python3 "$S3PY" "$ENDPOINT" "$@"; }
s3py mkbucket "$BUCKET" || die "could not create the bucket $BUCKET in moto"

# --- 3. S3 throughput ------------------------------------------------------------------------

LOCAL="$WORK/local"
REL="sets/bench/backups/$SET_ID/data/big"
BIG="$LOCAL/$REL"
FILE_BYTES=$((FILE_MIB * 1048576))
step "A $FILE_MIB MiB file of random bytes in a hand-made local repository"
mkdir -p "$(dirname "$BIG")"
REPO_UUID=$(cat /proc/sys/kernel/random/uuid)
printf '{"format_version":1,"repository_id":"%s","created":"%s","created_by":"bench","encryption_key_id":null}\n' \
    "$REPO_UUID" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$LOCAL/zrm-repo.json"
t0=$(date +%s)
head -c "$FILE_BYTES" /dev/urandom >"$BIG"
BIG_SHA=$(sha256sum "$BIG" | cut -d' ' -f1)
say "written in $(($(date +%s) - t0)) s; SHA-256 ${BIG_SHA:0:16}…"

UP_CONF="$WORK/zrm-up.toml"
DOWN_CONF="$WORK/zrm-down.toml"
s3_block() { # URL
    printf 'url = "%s"\nregion = "us-east-1"\nendpoint = "%s"\npath_style = true\n' "$1" "$ENDPOINT"
}
{
    printf '[repository]\npath = "%s"\n\n[repository.replica]\n' "$LOCAL"
    s3_block "s3://$BUCKET/rep"
    printf '\n[defaults]\nuser = "root"\n\n[sets.bench]\nsocket = "%s"\n' "$WORK/nonexistent.sock"
} >"$UP_CONF"
{
    printf '[repository]\n'
    s3_block "s3://$BUCKET/rep"
    printf '\n[defaults]\nuser = "root"\n\n[sets.bench]\nsocket = "%s"\n' "$WORK/nonexistent.sock"
} >"$DOWN_CONF"

XFER_TSV="$WORK/xfer.tsv" # tool run wall_s rss_kib cpu_s inner_s
: >"$XFER_TSV"
FAILS="$WORK/failures"
: >"$FAILS"
TIMEF="$WORK/time.out"
fail() { # TEXT
    printf '%s\n' "$1" >>"$FAILS"
    warn "$1"
}
zerr() { grep -v '^Command exited' "$1" | grep . | head -n 3 | paste -sd' ' -; }

# zrm_xfer TOOL RUN CONF ARGS...: one timed `zrm replicate`; a row in XFER_TSV.
zrm_xfer() {
    local tool=$1 run=$2 conf=$3 json="$WORK/$1.$2.json" err="$WORK/$1.$2.err" wall rss user sys bytes
    shift 3
    if ! /usr/bin/time -f '%e %M %U %S' -o "$TIMEF" "$ZRM" -c "$conf" -q replicate --set bench \
        --format json "$@" >"$json" 2>"$err"; then
        fail "[$tool] run $run: \`zrm replicate --set bench $*\` failed: $(zerr "$err")"
        return 0
    fi
    read -r wall rss user sys < <(tail -n 1 "$TIMEF")
    bytes=$(jq -r '.replicated.copied_bytes' "$json")
    [ "$bytes" -ge "$FILE_BYTES" ] || fail "[$tool] run $run: copied_bytes $bytes < $FILE_BYTES"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$run" "$wall" "$rss" "$(calc "$user + $sys")" \
        "$(jq -r '.replicated.duration_s' "$json")" >>"$XFER_TSV"
    say "[$tool] run $run: $wall s, $(calc "$FILE_MIB / $wall" %.1f) MiB/s, peak RSS $((rss / 1024)) MiB"
}
# py_xfer TOOL RUN ACTION ARGS...: one timed boto3 transfer (the python process under
# /usr/bin/time; the transfer itself timed inside it); a row in XFER_TSV.
py_xfer() {
    local tool=$1 run=$2 out="$WORK/$1.$2.out" err="$WORK/$1.$2.err" wall rss user sys inner
    shift 2
    if ! /usr/bin/time -f '%e %M %U %S' -o "$TIMEF" python3 "$S3PY" "$ENDPOINT" "$@" >"$out" 2>"$err"; then
        fail "[$tool] run $run: boto3 $1 failed: $(tail -n 1 "$err")"
        return 0
    fi
    read -r wall rss user sys < <(tail -n 1 "$TIMEF")
    inner=$(cut -f1 "$out")
    if [ "$1" = upload-verify ] && [ "$(cut -f3 "$out")" != "$BIG_SHA" ]; then
        fail "[$tool] run $run: the object read back has SHA-256 $(cut -f3 "$out"), not $BIG_SHA"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$run" "$wall" "$rss" "$(calc "$user + $sys")" "$inner" >>"$XFER_TSV"
    say "[$tool] run $run: $inner s in python ($wall s process), $(calc "$FILE_MIB / $inner" %.1f) MiB/s"
}
check_copy() { # FILE WHAT
    if [ ! -f "$1" ]; then
        fail "$2: $1 is missing"
    elif [ "$(stat -c %s "$1")" != "$FILE_BYTES" ] || [ "$(sha256sum "$1" | cut -d' ' -f1)" != "$BIG_SHA" ]; then
        fail "$2: $1 differs from the source file"
    fi
}

step "S3 throughput: $RUNS runs, zrm and boto3 alternating"
# Untimed: the source file read once (the page cache holds it, as for every run after).
cat "$BIG" >/dev/null
DOWN="$WORK/down" DOWN_PEER="$WORK/down-peer"
for run in $(seq 1 "$RUNS"); do
    s3py clear "$BUCKET" rep/
    s3py clear "$BUCKET" peer/
    if [ $((run % 2)) = 1 ]; then order="zrm boto3"; else order="boto3 zrm"; fi
    # Upload.
    for who in $order; do
        case $who in
            zrm) zrm_xfer up-zrm "$run" "$UP_CONF" ;;
            boto3)
                py_xfer up-boto3 "$run" upload "$BIG" "$BUCKET" peer/big
                s3py clear "$BUCKET" peer/
                py_xfer up-boto3-verify "$run" upload-verify "$BIG" "$BUCKET" peer/big
                s3py clear "$BUCKET" peer/
                ;;
        esac
    done
    if [ "$run" = 1 ]; then
        # What the replica holds: the data file, the repository description (no lock left).
        s3py list "$BUCKET" rep/ >"$WORK/replica-list.txt"
        say "replica objects: $(cut -f1 "$WORK/replica-list.txt" | paste -sd' ' -)"
    fi
    # Download (of the replica zrm just wrote).
    grep -q "^rep/$REL	$FILE_BYTES\$" <(s3py list "$BUCKET" rep/) || { fail "run $run: the replica lacks rep/$REL: download not measured"; continue; }
    for who in $order; do
        rm -rf "$DOWN" "$DOWN_PEER"
        case $who in
            zrm)
                zrm_xfer down-zrm "$run" "$DOWN_CONF" --to "$DOWN"
                check_copy "$DOWN/$REL" "[down-zrm] run $run"
                ;;
            boto3)
                mkdir -p "$DOWN_PEER"
                py_xfer down-boto3-get "$run" download-stream "$BUCKET" "rep/$REL" "$DOWN_PEER/big"
                check_copy "$DOWN_PEER/big" "[down-boto3-get] run $run"
                rm -f "$DOWN_PEER/big"
                if [ "$run" -le "$DF_RUNS" ]; then
                    py_xfer down-boto3 "$run" download "$BUCKET" "rep/$REL" "$DOWN_PEER/big"
                    check_copy "$DOWN_PEER/big" "[down-boto3] run $run"
                fi
                ;;
        esac
        rm -rf "$DOWN" "$DOWN_PEER"
    done
done
s3py clear "$BUCKET" rep/
s3py clear "$BUCKET" peer/
rm -rf "$LOCAL"
MOTO_RSS_MIB=$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$MOTO_PID/status" 2>/dev/null || echo n/a)

# --- 4. encryption ---------------------------------------------------------------------------

ENC_STATUS=measured
ENC_TSV="$WORK/enc.tsv" # tool run wall_s rss_kib cpu_s duration_s stored_bytes
: >"$ENC_TSV"
if [ "$DO_ENC" = 0 ]; then
    ENC_STATUS="skipped (\`BENCH_S3_NO_ENCRYPTION=1\`)"
else
    # start_server DIR MARIADBD-OPTIONS...: a throwaway server (data, socket DIR/s.sock, error
    # log and tmpdir under DIR); sets STARTED_PID.
    start_server() {
        local dir=$1 i
        shift
        mkdir -p "$dir/data" "$dir/tmp"
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
    SRC="$WORK/src" TGT="$WORK/tgt"
    sql() { mariadb --no-defaults -S "$SRC/s.sock" -uroot -N -B "$@"; }
    step "Encryption: a source and a target server, sysbench $TABLES tables x $ROWS rows"
    mkdir -p "$SRC/binlog"
    start_server "$SRC" --port="$(free_port)" --bind-address=127.0.0.1 --log-bin="$SRC/binlog/mysql-bin" \
        --server-id=1 --binlog-format=ROW --innodb-buffer-pool-size="$POOL"
    start_server "$TGT" --skip-networking --server-id=2 --innodb-buffer-pool-size="$POOL"
    MARIADB_VERSION=$(sql -e 'select version()')
    sql -e 'CREATE DATABASE sbtest'
    t0=$(date +%s)
    sysbench --db-driver=mysql --mysql-socket="$SRC/s.sock" --mysql-user=root --mysql-db=sbtest \
        --tables="$TABLES" --table-size="$ROWS" --threads=2 oltp_read_write prepare >"$WORK/sb-prepare.log" 2>&1 \
        || { tail "$WORK/sb-prepare.log" >&2; die "sysbench prepare failed"; }
    PREPARE_S=$(($(date +%s) - t0))
    TABLE_LIST=$(seq 1 "$TABLES" | awk '{ printf "%ssbtest.sbtest%d", (NR > 1 ? "," : ""), $1 }')
    sql -e "ANALYZE TABLE $TABLE_LIST" >/dev/null
    sql -e "FLUSH TABLES $TABLE_LIST FOR EXPORT; UNLOCK TABLES"
    # The prepare's binlogs are not what is measured.
    sql -e 'FLUSH BINARY LOGS'
    sql -e "PURGE BINARY LOGS TO '$(sql -e 'SHOW MASTER STATUS' | cut -f1)'"
    DATA_BYTES=$(sql -e "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sbtest'")
    DATA_MIB=$(calc "$DATA_BYTES / 1048576" %.0f)
    sql -e "CHECKSUM TABLE $TABLE_LIST" >"$WORK/sums.source"
    say "sbtest: $DATA_MIB MiB of InnoDB data and indexes, prepared in $PREPARE_S s"

    KEY="$WORK/repo.key"
    "$ZRM" key generate --out "$KEY" >/dev/null || die "zrm key generate --out $KEY failed"
    enc_conf() { # FILE REPO [KEY]
        {
            printf '[repository]\npath = "%s"\n' "$2"
            [ -z "${3:-}" ] || printf 'encryption_key_file = "%s"\n' "$3"
            printf '\n[defaults]\nuser = "root"\n\n[sets.s]\nsocket = "%s"\n\n[sets.t]\nsocket = "%s"\n' \
                "$SRC/s.sock" "$TGT/s.sock"
        } >"$1"
    }
    enc_conf "$WORK/zrm-plain.toml" "$WORK/repo-plain"
    enc_conf "$WORK/zrm-enc.toml" "$WORK/repo-enc" "$KEY"
    # enc_backup TOOL RUN: one `zrm backup --set s` into an emptied repository.
    enc_backup() {
        local tool=$1 run=$2 conf repo json="$WORK/$1.$2.json" err="$WORK/$1.$2.err" wall rss user sys
        case $tool in bk-plain) conf="$WORK/zrm-plain.toml" repo="$WORK/repo-plain" ;; *) conf="$WORK/zrm-enc.toml" repo="$WORK/repo-enc" ;; esac
        rm -rf "$repo"
        if ! /usr/bin/time -f '%e %M %U %S' -o "$TIMEF" "$ZRM" -c "$conf" -q backup --set s --format json >"$json" 2>"$err"; then
            fail "[$tool] run $run: \`zrm backup --set s\` failed: $(zerr "$err")"
            return 0
        fi
        read -r wall rss user sys < <(tail -n 1 "$TIMEF")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$run" "$wall" "$rss" "$(calc "$user + $sys")" \
            "$(jq -r .duration_s "$json")" "$(find "$repo" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')" >>"$ENC_TSV"
        say "[$tool] run $run: $wall s, $(calc "$DATA_MIB / $wall" %.1f) MiB/s, peak RSS $((rss / 1024)) MiB"
    }
    enc_restore() {
        local tool=$1 run=$2 conf json="$WORK/$1.$2.json" err="$WORK/$1.$2.err" wall rss user sys
        case $tool in rs-plain) conf="$WORK/zrm-plain.toml" ;; *) conf="$WORK/zrm-enc.toml" ;; esac
        if ! /usr/bin/time -f '%e %M %U %S' -o "$TIMEF" "$ZRM" -c "$conf" -q restore --set s --target t \
            --replace --no-binlogs --no-progress --format json >"$json" 2>"$err"; then
            fail "[$tool] run $run: \`zrm restore --set s --target t --replace --no-binlogs\` failed: $(zerr "$err")"
            return 0
        fi
        read -r wall rss user sys < <(tail -n 1 "$TIMEF")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t\n' "$tool" "$run" "$wall" "$rss" "$(calc "$user + $sys")" \
            "$(jq -r .duration_s "$json")" >>"$ENC_TSV"
        say "[$tool] run $run: $wall s, $(calc "$DATA_MIB / $wall" %.1f) MiB/s, peak RSS $((rss / 1024)) MiB"
    }
    step "Encryption: $RUNS backups each, plain and encrypted alternating"
    # Untimed: one backup first, which also warms the buffer pool and checks the set works.
    enc_backup probe 0
    [ -s "$FAILS" ] && grep -q '^\[probe\]' "$FAILS" && die "the probe backup failed: $(grep '^\[probe\]' "$FAILS")"
    sed -i '/^probe\t/d' "$ENC_TSV"
    for run in $(seq 1 "$RUNS"); do
        if [ $((run % 2)) = 1 ]; then enc_backup bk-plain "$run"; enc_backup bk-enc "$run"
        else enc_backup bk-enc "$run"; enc_backup bk-plain "$run"; fi
    done
    # Is the encrypted repository encrypted? Its description names the key; no data file starts
    # with the zstd magic.
    ENC_REPO_KEY=$(jq -r '.encryption_key_id // "null"' "$WORK/repo-enc/zrm-repo.json" 2>/dev/null || echo "?")
    ZSTD_MAGIC_FILES=$(find "$WORK/repo-enc/sets" -type f -size +1k -exec sh -c 'head -c 4 "$1" | od -An -tx1 | tr -d " \n"; echo' _ {} \; | grep -c '^28b52ffd' || true)
    ZSTD_MAGIC_PLAIN=$(find "$WORK/repo-plain/sets" -type f -size +1k -exec sh -c 'head -c 4 "$1" | od -An -tx1 | tr -d " \n"; echo' _ {} \; | grep -c '^28b52ffd' || true)
    say "encrypted repository: key id $ENC_REPO_KEY; data files starting with the zstd magic: $ZSTD_MAGIC_FILES (plain repository: $ZSTD_MAGIC_PLAIN)"
    RESTORE_STATUS=measured SUMS_plain="" SUMS_enc=""
    if [ "$DO_RESTORE" = 0 ]; then
        RESTORE_STATUS="skipped (\`BENCH_S3_NO_RESTORE=1\`)"
    else
        step "Encryption: $RUNS restores each of the last backups, plain and encrypted alternating"
        tsums() { mariadb --no-defaults -S "$TGT/s.sock" -uroot -N -B -e "CHECKSUM TABLE $TABLE_LIST"; }
        for run in $(seq 1 "$RUNS"); do
            if [ $((run % 2)) = 1 ]; then set -- rs-plain rs-enc; else set -- rs-enc rs-plain; fi
            for tool in "$@"; do
                enc_restore "$tool" "$run"
                if [ "$run" = 1 ]; then
                    if tsums >"$WORK/sums.$tool" 2>/dev/null && cmp -s "$WORK/sums.source" "$WORK/sums.$tool"; then
                        printf -v "SUMS_${tool#rs-}" MATCH
                    else
                        printf -v "SUMS_${tool#rs-}" DIFFER
                    fi
                fi
            done
        done
    fi
fi
LOAD_AVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the section -----------------------------------------------------------------------------

step "Writing the section${OUT:+ to $OUT}"
col() { awk -F'\t' -v t="$1" -v c="$2" '$1 == t { print $c }' "$3"; }
xmed() { col "$1" "$2" "$XFER_TSV" | median; }
xall() { col "$1" "$2" "$XFER_TSV" | awk '{ printf "%.2f\n", $1 }' | paste -sd/ - | sed 's|/| / |g'; }
# MiB/s of each run (FILE_MIB / seconds of column C), median.
xrate() { col "$1" "$2" "$XFER_TSV" | awk -v m="$FILE_MIB" '$1 > 0 { printf "%.6f\n", m / $1 }' | median; }
xrss() { col "$1" 4 "$XFER_TSV" | maxof | awk '{ if ($1 ~ /^[0-9]+$/) printf "%.1f", $1 / 1024; else print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
goal_lt() { awk -v v="$1" -v g="$2" 'BEGIN { if (v == "n/a") print "NOT MEASURED"; else print (v + 0 < g + 0) ? "**MET**" : "**NOT MET**" }'; }
xrow() { # LABEL COMMAND TOOL TIME-COL
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$(num "$(xmed "$3" "$4")")" "$(xall "$3" "$4")" \
        "$(num "$(xmed "$3" 5)")" "$(num "$(xrate "$3" "$4")" %.1f)" "$(xrss "$3")"
}
UP_RATE=$(xrate up-zrm 3) UP_DUR_RATE=$(xrate up-zrm 6)
UPB_RATE=$(xrate up-boto3 6) UPV_RATE=$(xrate up-boto3-verify 6)
DOWN_RATE=$(xrate down-zrm 3) DOWNB_RATE=$(xrate down-boto3 6) DOWNG_RATE=$(xrate down-boto3-get 6)
UP_RSS=$(xrss up-zrm) DOWN_RSS=$(xrss down-zrm)
RSS_VERDICT=$(goal_lt "$UP_RSS" "$GOAL_RSS_MIB")
UP_N=$(col up-zrm 3 "$XFER_TSV" | wc -l)
# Encryption figures: MiB/s of the InnoDB data per run, medians; overhead = enc/plain wall − 1.
emed() { col "$1" "$2" "$ENC_TSV" | median; }
eall() { col "$1" "$2" "$ENC_TSV" | awk '{ printf "%.2f\n", $1 }' | paste -sd/ - | sed 's|/| / |g'; }
erate() { col "$1" 3 "$ENC_TSV" | awk -v m="${DATA_MIB:-0}" '$1 > 0 { printf "%.6f\n", m / $1 }' | median; }
erss() { col "$1" 4 "$ENC_TSV" | maxof | awk '{ if ($1 ~ /^[0-9]+$/) printf "%.1f", $1 / 1024; else print "n/a" }'; }
overhead() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%+.1f %%", (a / b - 1) * 100; else print "n/a" }'; }
erow() { # LABEL COMMAND TOOL SIZE
    if [ -z "$(col "$3" 3 "$ENC_TSV")" ]; then
        printf '| %s | %s | not measured | | | | | | |\n' "$1" "$2"
        return
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$(num "$(emed "$3" 3)")" "$(eall "$3" 3)" \
        "$(num "$(emed "$3" 6)")" "$(num "$(emed "$3" 5)")" "$(num "$(erate "$3")" %.1f)" "$4" "$(erss "$3")"
}
BK_OVER=$(overhead "$(emed bk-enc 3)" "$(emed bk-plain 3)")
RS_OVER=$(overhead "$(emed rs-enc 3)" "$(emed rs-plain 3)")
BK_CPU_OVER=$(overhead "$(emed bk-enc 5)" "$(emed bk-plain 5)")
RS_CPU_OVER=$(overhead "$(emed rs-enc 5)" "$(emed rs-plain 5)")

{
    echo "## S3 repository and encryption"
    echo
    echo "Generated by \`scripts/bench_s3.sh\` (\`BENCH_SCALE=$SCALE\`, $RUNS runs per measurement) on $(date -u '+%Y-%m-%d %H:%M UTC');"
    echo "the run took $(($(date +%s) - T_START)) s$([ "$BUILD_S" -lt 5 ] || echo " (the first $BUILD_S s building zrm)"). A shared 2-core box: load average $LOAD_AVG_START at the"
    echo "start, $LOAD_AVG_END at the end; other work may have run at the same time."
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| zrm | $ZRM_VERSION, $ZRM_DESC |"
    echo "| S3 | moto_server $MOTO_VERSION on 127.0.0.1 (\`moto_server -H 127.0.0.1 -p PORT\`, one Python process; it spools object bodies to temp files on the temp dir's disk); peak RSS of moto over the throughput runs $MOTO_RSS_MIB MiB |"
    echo "| peer | boto3 $BOTO3_VERSION, \`upload_file\` / \`download_file\` with the default \`TransferConfig\` (8 MiB parts, 10 threads); zrm: 8 MiB parts, up to 10 in flight within 96 MiB |"
    [ "$DO_ENC" = 1 ] && echo "| MariaDB | $MARIADB_VERSION, a throwaway \`mariadbd --no-defaults --innodb-buffer-pool-size=$POOL --log-bin --binlog-format=ROW\` (the source) and a second one without binary log (the restore target) |"
    echo
    echo "### Throughput to and from S3 (moto)"
    echo
    echo "One file of $FILE_MIB MiB of random bytes (incompressible) placed by hand as the only data file of a"
    echo "local zrm repository (\`sets/bench/backups/$SET_ID/data/big\`, next to a \`zrm-repo.json\`),"
    echo "read once before the runs (the page cache holds it)."
    echo
    echo "- Upload: \`zrm replicate --set bench\` to \`[repository.replica] url = \"s3://$BUCKET/rep\"\`"
    echo "  (\`path_style = true\`, moto's endpoint); the replica's objects deleted with boto3 before every"
    echo "  run, so every run copies the whole file. zrm reads each copy back from S3 and compares its"
    echo "  SHA-256 with the source's before it counts as copied: its time is an upload **and** a"
    echo "  download. The boto3 rows: \`upload_file\` alone, and \`upload_file\` followed by a streamed"
    echo "  \`get_object\` hashed with SHA-256 (the same work as zrm's)."
    echo "- Download: with the S3 replica as the repository, \`zrm replicate --set bench --to DIR\` (a"
    echo "  fresh directory every run; zrm streams the object with one GET, writes it, then reads the local"
    echo "  copy back and compares its SHA-256) against boto3 on the same object: one streamed"
    echo "  \`get_object\` written to a file (zrm's way), and \`download_file\` (default \`TransferConfig\`:"
    echo "  ranged GETs of 8 MiB on 10 threads). moto answers every ranged GET by reading the whole object"
    echo "  (its time grows with the square of the size: minutes per GiB here, not what S3 does), so"
    echo "  \`download_file\` ran in $DF_RUNS of the $RUNS runs. Every copy was checked against the source's SHA-256."
    echo "- Runs alternate (zrm first in odd runs, boto3 first in even ones); medians of $RUNS. zrm's"
    echo "  seconds are the wall time of the process (\`/usr/bin/time\`); boto3's are timed inside Python"
    echo "  around the transfer call (without the interpreter's start and boto3's import). CPU s is the"
    echo "  process's user + system time (for boto3 the whole Python process). MiB/s = $FILE_MIB MiB / seconds."
    echo
    echo "| direction | command | median s | runs s | CPU s | MiB/s | peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|"
    xrow "upload, zrm (upload + read back)" "\`zrm replicate --set bench\`" up-zrm 3
    xrow "upload, boto3" "\`upload_file\`" up-boto3 6
    xrow "upload, boto3 + read back" "\`upload_file\`, then \`get_object\` + SHA-256" up-boto3-verify 6
    xrow "download, zrm" "\`zrm replicate --set bench --to DIR\`" down-zrm 3
    xrow "download, boto3, one streamed GET" "\`get_object\`, the body written to a file" down-boto3-get 6
    xrow "download, boto3 \`download_file\`$([ "$DF_RUNS" = "$RUNS" ] || echo " ($DF_RUNS run(s))")" "\`download_file\`" down-boto3 6
    echo
    echo "zrm's own \`duration_s\` (inside the process) for the upload: median $(num "$(xmed up-zrm 6)") s ($(num "$UP_DUR_RATE" %.1f) MiB/s);"
    echo "for the download: $(num "$(xmed down-zrm 6)") s. boto3 upload alone against zrm's verified upload:"
    echo "zrm/boto3 MiB/s = $(ratio "$UP_RATE" "$UPB_RATE")×; against boto3 upload + read back: $(ratio "$UP_RATE" "$UPV_RATE")×;"
    echo "download zrm/boto3 \`get_object\`: $(ratio "$DOWN_RATE" "$DOWNG_RATE")×; zrm/boto3 \`download_file\`: $(ratio "$DOWN_RATE" "$DOWNB_RATE")× (above 1: zrm faster)."
    echo
    echo "| goal | measured | status |"
    echo "|---|---|---|"
    echo "| peak RSS of zrm uploading a $FILE_MIB MiB file to S3 < $GOAL_RSS_MIB MiB | $UP_RSS MiB (largest of $UP_N runs; download: $DOWN_RSS MiB) | $RSS_VERDICT |"
    echo
    if [ "$SCALE" = small ]; then
        echo "**\`BENCH_SCALE=small\`:** a $FILE_MIB MiB file, not the multi-GB one the RSS goal is about; the full scale is the measurement."
        echo
    fi
    echo "### Encryption"
    echo
    if [ "$ENC_STATUS" != measured ]; then
        echo "**Not measured:** $ENC_STATUS."
    else
        echo "A logical backup (\`method\` left at its default, \`logical\`; the repository's compression left at"
        echo "its default, zstd level 1) of sysbench \`oltp_read_write prepare\`, $TABLES tables × $ROWS rows:"
        echo "**$DATA_MIB MiB** of InnoDB data and indexes, into a local repository on the temp dir's disk, a"
        echo "fresh one for every backup, without and with \`encryption_key_file\` (a key of \`zrm key"
        echo "generate\`). The encrypted repository's \`zrm-repo.json\` names key \`$ENC_REPO_KEY\`; data files"
        echo "starting with the zstd magic number: $ZSTD_MAGIC_FILES in the encrypted repository, $ZSTD_MAGIC_PLAIN in the plain one."
        echo "One untimed backup first (it warms the buffer pool). Then the restores of the last backup of each"
        echo "repository into the target server (\`--replace\` drops the database first). Runs alternate;"
        echo "medians of $RUNS. MiB/s is of the $DATA_MIB MiB of InnoDB data, through the wall time."
        echo
        echo "| measurement | command | median s | runs s | zrm's \`duration_s\` | CPU s | MiB/s | stored MiB | peak RSS MiB |"
        echo "|---|---|---|---|---|---|---|---|---|"
        erow "backup, plain" "\`zrm backup --set s\`" bk-plain "$(calc "$(emed bk-plain 7) / 1048576" %.1f)"
        erow "backup, encrypted" "(the same, \`encryption_key_file\` set)" bk-enc "$(calc "$(emed bk-enc 7) / 1048576" %.1f)"
        if [ "$RESTORE_STATUS" = measured ]; then
            erow "restore, plain" "\`zrm restore --set s --target t --replace --no-binlogs\`" rs-plain ""
            erow "restore, encrypted" "(the same, \`encryption_key_file\` set)" rs-enc ""
        fi
        echo
        echo "Encryption overhead (encrypted/plain median wall time − 1): backup **$BK_OVER** (CPU time $BK_CPU_OVER)$([ "$RESTORE_STATUS" = measured ] && echo ", restore **$RS_OVER** (CPU time $RS_CPU_OVER)")."
        if [ "$RESTORE_STATUS" = measured ]; then
            echo "\`CHECKSUM TABLE\` of the target after the first restore of each, against the source: plain **${SUMS_plain:-n/a}**, encrypted **${SUMS_enc:-n/a}**."
        else
            echo "Restores: $RESTORE_STATUS."
        fi
        echo "CPU s is the client side (zrm and its children), not the server's work."
    fi
    echo
    if [ -s "$FAILS" ]; then
        echo "**Failures** (left out of the figures):"
        echo
        sed 's/^/- /' "$FAILS"
        echo
    fi
    echo "Reproduce: \`BENCH_SCALE=$SCALE BENCH_RUNS=$RUNS scripts/bench_s3.sh\` (needs moto_server and boto3)."
} >"$WORK/section.md"

if [ -n "$GOALS_OUT" ]; then
    echo "| peak RSS of zrm uploading a $FILE_MIB MiB file to S3 (\`zrm replicate\`) < $GOAL_RSS_MIB MiB | $UP_RSS MiB | $RSS_VERDICT |" >"$GOALS_OUT"
fi
if [ -n "$OUT" ]; then
    mkdir -p "$(dirname "$OUT")"
    cp "$WORK/section.md" "$OUT"
else
    cat "$WORK/section.md"
fi

step "Done in $(($(date +%s) - T_START)) s"
say "upload: zrm $(num "$UP_RATE" %.1f) MiB/s (boto3 $(num "$UPB_RATE" %.1f), boto3 + read back $(num "$UPV_RATE" %.1f)); download: zrm $(num "$DOWN_RATE" %.1f) MiB/s (boto3 get_object $(num "$DOWNG_RATE" %.1f), download_file $(num "$DOWNB_RATE" %.1f))"
say "zrm peak RSS uploading: $UP_RSS MiB $RSS_VERDICT"
[ "$ENC_STATUS" = measured ] && say "encryption overhead: backup $BK_OVER, restore $RS_OVER"
[ -s "$FAILS" ] && warn "$(wc -l <"$FAILS") failure(s): see the section"
exit 0
