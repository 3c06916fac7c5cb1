#!/usr/bin/env bash
# Backups of a sharded cluster from cron: coordinated full backups weekly, incrementals nightly,
# a checkpoint every hour, a test restore weekly. Every step uses `--format json` and exit
# codes, writes one JSON document per run into $ZRM_LOG_DIR, and exits non-zero when any shard
# failed (cron mails that; a monitoring check can read the JSON).
#
#   cluster-nightly.sh full       CLUSTER   # coordinated full backup of every shard (one cut)
#   cluster-nightly.sh nightly    CLUSTER   # per shard: archive the binlogs, incremental backup
#   cluster-nightly.sh checkpoint CLUSTER   # a named consistent cut, no backup (hourly)
#   cluster-nightly.sh verify     CLUSTER   # per shard: verify the latest backup by restoring it
#
# Environment: ZRM (default: zrm on PATH), ZRM_CONFIG (default: /etc/zrm/zrm.toml),
# ZRM_LOG_DIR (default: /var/log/zrm). Needs jq.
#
# Crontab (crontab -e as the user that runs zrm; times are the server's):
#   # m  h  dom mon dow  command
#   0    2  *   *   0    /usr/local/lib/zrm/cluster-nightly.sh full       app
#   0    2  *   *   1-6  /usr/local/lib/zrm/cluster-nightly.sh nightly    app
#   5    *  *   *   *    /usr/local/lib/zrm/cluster-nightly.sh checkpoint app
#   0    5  *   *   0    /usr/local/lib/zrm/cluster-nightly.sh verify     app
#
# Restoring the whole cluster to one point later (each shard to its own coordinates):
#   zrm restore --cluster app --until-checkpoint hourly-20261126T1005Z
#   zrm restore --cluster app --until-gsn 48151623
set -uo pipefail

usage() {
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
[ $# -eq 2 ] || usage
step=$1
cluster=$2
ZRM=${ZRM:-zrm}
ZRM_CONFIG=${ZRM_CONFIG:-/etc/zrm/zrm.toml}
ZRM_LOG_DIR=${ZRM_LOG_DIR:-/var/log/zrm}
export ZRM_CONFIG

command -v jq >/dev/null || { echo "cluster-nightly: jq is required" >&2; exit 2; }
mkdir -p "$ZRM_LOG_DIR" || exit 2
stamp=$(date -u +%Y%m%dT%H%M%SZ)
log="$ZRM_LOG_DIR/$cluster-$step-$stamp.json"

# Run zrm with JSON output into the log (appended, one document per call); returns its exit code.
zrm_json() {
    local out rc
    out=$("$ZRM" --quiet --format json "$@")
    rc=$?
    printf '%s\n' "$out" >>"$log"
    return $rc
}

# The cluster's shards, from zrm itself (the configuration is the one source of truth).
shards() {
    "$ZRM" --quiet --format json list --cluster "$cluster" | jq -r '.sets[]'
}

failed=0
case "$step" in
    full)
        zrm_json backup --cluster "$cluster" --coordinated || failed=1
        ;;
    nightly)
        for set in $(shards); do
            zrm_json binlog archive --set "$set" || failed=1
        done
        # auto: every shard's incremental on its last backup (a full one where none can
        # follow), one cluster record when all succeed.
        zrm_json backup --cluster "$cluster" --level auto || failed=1
        ;;
    checkpoint)
        zrm_json checkpoint --cluster "$cluster" --name "hourly-$(date -u +%Y%m%dT%H%MZ)" || failed=1
        ;;
    verify)
        for set in $(shards); do
            zrm_json verify --set "$set" --restore || failed=1
        done
        ;;
    *)
        usage
        ;;
esac

if [ "$failed" -ne 0 ]; then
    echo "cluster-nightly: $step of cluster '$cluster' FAILED; details in $log" >&2
    exit 1
fi
exit 0
