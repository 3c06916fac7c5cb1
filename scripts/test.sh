#!/usr/bin/env bash
# Runs the whole test suite on a Debian 12 machine, installing what it lacks.
#
#   bash scripts/test.sh [extra args for cargo test]
#
# Tests start their own throwaway servers of both flavors (temp dirs, free ports, --no-defaults):
# MariaDB 10.11 from Debian, and Oracle MySQL 9.7 from Debian sid in a chroot that
# scripts/mysql-chroot.sh builds once per machine (cached under /var/cache/zrm-test; about
# 2 minutes the first time). Nothing here uses or needs a server already running on
# 127.0.0.1:3306. With CI=true (see .ci/run), a missing MariaDB or MySQL fails the tests instead
# of skipping them.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

# mariadbd lives in /usr/sbin, which a non-root PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin" ;; esac

step "Checking system packages"
missing=()
if ! command -v mariadbd >/dev/null || ! command -v mariadb-install-db >/dev/null; then
    missing+=(mariadb-server)
fi
if ! command -v mariadb >/dev/null || ! command -v mariadb-dump >/dev/null \
    || ! command -v mariadb-binlog >/dev/null || ! command -v mariadb-tzinfo-to-sql >/dev/null; then
    missing+=(mariadb-client)
fi
if [ ! -d /usr/share/zoneinfo ]; then
    missing+=(tzdata)
fi
if ! command -v cc >/dev/null; then
    missing+=(build-essential)
fi
# Snapshot tests: a real btrfs file system on a loop device.
if ! command -v mkfs.btrfs >/dev/null || ! command -v btrfs >/dev/null; then
    missing+=(btrfs-progs)
fi
# The install test reads the installed man pages with man.
if ! command -v man >/dev/null; then
    missing+=(man-db)
fi
# The report's html page is rendered by headless Chromium in the tests.
if ! command -v chromium >/dev/null; then
    missing+=(chromium)
fi
# scripts/cluster-nightly.sh (tested) reads zrm's JSON with jq.
if ! command -v jq >/dev/null; then
    missing+=(jq)
fi
# The real LVM test runs where the kernel has device-mapper snapshots; it needs the tools.
if ! command -v lvcreate >/dev/null && ! [ -x /sbin/lvcreate ]; then
    missing+=(lvm2)
fi

if [ ${#missing[@]} -gt 0 ]; then
    step "Installing: ${missing[*]}"
    if ! command -v apt-get >/dev/null; then
        echo "error: missing ${missing[*]} and apt-get is not available; install them by hand" >&2
        exit 1
    fi
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null; then
            sudo=(sudo)
        else
            echo "error: missing ${missing[*]}; run as root or install sudo" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo "all present: mariadbd, mariadb-install-db, mariadb, mariadb-dump, mariadb-binlog, cc, btrfs, lvm2, jq, chromium, man"
fi

# EBS and S3 tests run against moto_server on 127.0.0.1. Pinned: moto 5.2.0 and 5.2.1 answer
# CompleteMultipartUpload with a root element the AWS SDK for Rust rejects (getmoto/moto#10055),
# which breaks every multipart upload; 5.2.5 is known good here.
MOTO_VERSION=5.2.5
step "Checking moto_server ($MOTO_VERSION)"
have_moto=$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || true)
if ! command -v moto_server >/dev/null || [ "$have_moto" != "$MOTO_VERSION" ]; then
    if ! command -v pip3 >/dev/null && ! command -v pip >/dev/null; then
        echo "error: moto_server $MOTO_VERSION is missing and pip is not available; install python3-pip" >&2
        exit 1
    fi
    "$(command -v pip3 || command -v pip)" install --quiet "moto[server]==$MOTO_VERSION"
    hash -r
    if command -v pyenv >/dev/null; then pyenv rehash; fi
fi
command -v moto_server

step "Checking Oracle MySQL 9.7 (chroot, built once per machine)"
chroot_sudo=()
if [ "$(id -u)" -ne 0 ] && [ ! -f "${ZRM_MYSQL_ROOT:-/var/cache/zrm-test/mysql-sid}/.zrm-complete" ]; then
    chroot_sudo=(sudo)
fi
ZRM_TEST_MYSQL_BIN=$("${chroot_sudo[@]}" bash scripts/mysql-chroot.sh)
export ZRM_TEST_MYSQL_BIN
"$ZRM_TEST_MYSQL_BIN/mysqld" --version

step "Checking the Rust toolchain"
if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null; then
    echo "error: cargo not found; install Rust (https://rustup.rs) — Debian's own cargo is too old" >&2
    exit 1
fi
cargo --version
rustc --version
mariadbd --version

step "cargo test --all-targets $*"
cargo test --all-targets --no-fail-fast "$@"

step "All tests passed"
