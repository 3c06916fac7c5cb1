#!/usr/bin/env bash
# Builds (once per machine) an Oracle MySQL 9.7 from Debian sid in a chroot, and small wrappers that
# run its programs on the host through the chroot's own loader and libraries.
#
#   bash scripts/mysql-chroot.sh            # build if missing; print the wrapper directory
#
# Debian 12 ships only MariaDB; sid carries Oracle MySQL (mysql-server-core, mysql-client-core),
# which needs sid's libc, hence the chroot. The result is cached under $ZRM_MYSQL_ROOT
# (default /var/cache/zrm-test/mysql-sid); the wrappers land in $ZRM_MYSQL_ROOT/../mysql-bin:
# mysqld, mysql, mysqldump, mysqlbinlog, mysqladmin, mysql_tzinfo_to_sql. Putting that directory first on PATH gives a
# shell what a MySQL host has. Idempotent; a half-built root (interrupted) is rebuilt.
set -euo pipefail

root=${ZRM_MYSQL_ROOT:-/var/cache/zrm-test/mysql-sid}
bindir=$(dirname "$root")/mysql-bin
stamp="$root/.zrm-complete"

say() { printf '%s\n' "$*" >&2; }

if [ ! -f "$stamp" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        say "error: building the MySQL chroot needs root (debootstrap, chroot); run: sudo bash $0"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! command -v debootstrap >/dev/null; then
        say "installing debootstrap"
        apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
    # The machine's own Debian mirror: the only archive these machines reach.
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    if [ -z "$mirror" ]; then
        mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    fi
    mirror=${mirror:-http://deb.debian.org/debian}
    say "building the MySQL 9.7 chroot in $root from $mirror (about 2 minutes, once per machine)"
    rm -rf "$root"
    mkdir -p "$root"
    debootstrap --variant=minbase sid "$root" "$mirror" >"$root.debootstrap.log" 2>&1 \
        || { say "error: debootstrap failed; see $root.debootstrap.log"; exit 1; }
    # sid's Release file may be past its Valid-Until date on a snapshot mirror.
    chroot "$root" bash -c 'apt-get -o Acquire::Check-Valid-Until=false update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            mysql-server-core mysql-client-core >/dev/null' \
        || { say "error: installing mysql-server-core in the chroot failed"; exit 1; }
    touch "$stamp"
fi

if ! { mkdir -p "$bindir" && [ -w "$bindir" ]; } 2>/dev/null; then
    # Not root: wrappers written earlier (by root) do.
    if [ -x "$bindir/mysqld" ]; then
        echo "$bindir"
        exit 0
    fi
    say "error: cannot write the wrappers in $bindir; run: sudo bash $0"
    exit 1
fi
# mysqld's compiled-in directories (share, plugins, secure_file_priv) are the chroot's: run from
# the host it needs them named, as a native install finds them itself. They go right after a
# leading --no-defaults/--defaults-file (which must stay first); later arguments still win.
mkdir -p "$root/var/lib/mysql-files"
libs="$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu"
for prog in mysql mysqldump mysqlbinlog mysqladmin mysqld mysql_tzinfo_to_sql; do
    path="$root/usr/bin/$prog"
    [ -x "$path" ] || path="$root/usr/sbin/$prog"
    [ -x "$path" ] || continue
    if [ "$prog" = mysqld ]; then
        cat >"$bindir/$prog.new" <<WRAP
#!/bin/sh
# Oracle MySQL's mysqld from the sid chroot $root, run on the host through the chroot's loader,
# with the installation's directories named (a native install knows them).
first=
case "\$1" in --no-defaults|--defaults-file=*|--defaults-extra-file=*) first=\$1; shift ;; esac
exec "$root/lib64/ld-linux-x86-64.so.2" --library-path "$libs" "$path" \${first:+"\$first"} \\
    --basedir="$root/usr" --lc-messages-dir="$root/usr/share/mysql" \\
    --character-sets-dir="$root/usr/share/mysql/charsets" \\
    --plugin-dir="$root/usr/lib/mysql/plugin" --secure-file-priv="$root/var/lib/mysql-files" "\$@"
WRAP
    else
        cat >"$bindir/$prog.new" <<WRAP
#!/bin/sh
# Oracle MySQL's $prog from the sid chroot $root, run on the host through the chroot's loader.
exec "$root/lib64/ld-linux-x86-64.so.2" --library-path "$libs" "$path" "\$@"
WRAP
    fi
    chmod 0755 "$bindir/$prog.new"
    mv "$bindir/$prog.new" "$bindir/$prog"
done
echo "$bindir"
