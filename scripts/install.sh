#!/usr/bin/env bash
# Installs zrm under a prefix (default /usr/local):
#
#   bash scripts/install.sh [--prefix DIR] [--destdir DIR] [--no-build] [--binary PATH]
#
#   --prefix DIR    where zrm goes (default /usr/local; any directory you can write, e.g. ~/.local)
#   --destdir DIR   stage the files under DIR/PREFIX instead (for packaging); links stay relative
#   --no-build      do not run `cargo build --release`; install target/release/zrm as it is
#   --binary PATH   install this zrm binary (implies --no-build)
#
# What goes where, under PREFIX:
#   bin/zrm                                   the binary
#   bin/mysql-zrm -> zrm                      the mysql-zrm compatible front end (same binary)
#   bin/mysql-zrm-backup … -> zrm             ZRM's other program names (mysql-zrm-ACTION,
#                                             mysql-zrm-scheduler, mysql-zrm-reporter,
#                                             zrm-pre-scheduler), so ZRM's crontab lines run
#   share/man/man1/zrm*.1.gz                  man pages of zrm and its subcommands
#   share/man/man5/zrm.toml.5.gz              man page of the configuration file
#   share/bash-completion/completions/zrm     bash completion
#   share/zsh/site-functions/_zrm             zsh completion
#   share/fish/vendor_completions.d/zrm.fish  fish completion
#   share/doc/zrm/zrm.toml.example            the example configuration (conf/zrm.toml)
#   lib/zrm/cluster-nightly.sh                the cron script for sharded clusters
#
# Running it again overwrites the same files (nothing else is touched). It never writes
# /etc/zrm/zrm.toml: copy the example there yourself.
set -euo pipefail

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

die() {
    echo "install.sh: error: $*" >&2
    exit 1
}

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix=/usr/local
destdir=
build=1
binary=

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || usage; prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#*=}"; shift ;;
        --destdir) [ $# -ge 2 ] || usage; destdir="$2"; shift 2 ;;
        --destdir=*) destdir="${1#*=}"; shift ;;
        --no-build) build=0; shift ;;
        --binary) [ $# -ge 2 ] || usage; binary="$2"; build=0; shift 2 ;;
        --binary=*) binary="${1#*=}"; build=0; shift ;;
        -h|--help) usage ;;
        *) echo "install.sh: unknown argument: $1" >&2; usage ;;
    esac
done

[ -n "$prefix" ] || die "--prefix must not be empty"
case "$prefix" in
    /*) ;;
    *) prefix="$(pwd)/$prefix" ;;
esac
prefix="${prefix%/}"
[ -n "$prefix" ] || prefix=/
root="${destdir%/}$prefix"
root="${root%/}"

for tool in install gzip ln; do
    command -v "$tool" >/dev/null || die "$tool not found on PATH"
done

# ---------------------------------------------------------------------------------------------
# The binary
# ---------------------------------------------------------------------------------------------
if [ "$build" = 1 ]; then
    command -v cargo >/dev/null \
        || die "cargo not found: install Rust (https://rustup.rs), or pass --binary PATH"
    echo "==> Building zrm (cargo build --release)"
    (cd "$src" && cargo build --release)
fi
if [ -z "$binary" ]; then
    binary="$src/target/release/zrm"
    [ -f "$binary" ] || die "$binary does not exist: build it (cargo build --release), drop --no-build, or pass --binary PATH"
fi
[ -f "$binary" ] && [ -x "$binary" ] || die "$binary is not an executable file"
"$binary" --version >/dev/null 2>&1 || die "$binary --version failed: is it a zrm binary for this machine?"

# Generated files that are committed (see tests/man_pages.rs).
for f in man/zrm.1 man/zrm.toml.5 completions/zrm.bash completions/_zrm completions/zrm.fish \
    conf/zrm.toml scripts/cluster-nightly.sh; do
    [ -f "$src/$f" ] || die "$src/$f is missing (regenerate with ZRM_UPDATE_MAN=1 cargo test --test man_pages)"
done

# ---------------------------------------------------------------------------------------------
# Where it goes
# ---------------------------------------------------------------------------------------------
# The first existing ancestor of the root must be writable (a clear message instead of a
# failure halfway through when a non-root user forgets --prefix).
probe="$root"
while [ ! -e "$probe" ]; do probe="$(dirname "$probe")"; done
[ -d "$probe" ] || die "$probe is not a directory"
[ -w "$probe" ] || die "cannot write to $probe: run as root (sudo), or choose a prefix you own, e.g. --prefix ~/.local"

echo "==> Installing zrm $("$binary" --version 2>/dev/null | awk '{print $2}') into ${destdir:+$destdir (staged) for }$prefix"

# install FILE MODE DEST: copies through a temp file in the destination directory and renames
# it, so a running zrm is not overwritten in place.
put() {
    local file="$1" mode="$2" dest="$3" tmp
    install -d -m 0755 "$(dirname "$dest")"
    tmp="$(dirname "$dest")/.$(basename "$dest").tmp.$$"
    install -m "$mode" "$file" "$tmp"
    mv -f "$tmp" "$dest"
    echo "    $dest"
}

# put_gz FILE DEST: a gzipped copy (no name or time stamp in the header, so it is reproducible).
put_gz() {
    local file="$1" dest="$2" tmp
    install -d -m 0755 "$(dirname "$dest")"
    tmp="$(dirname "$dest")/.$(basename "$dest").tmp.$$"
    gzip -9 -n -c "$file" >"$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$dest"
    echo "    $dest"
}

put "$binary" 0755 "$root/bin/zrm"

# The names zrm answers to with ZRM's syntax (src/cli/compat.rs: PROGRAM and PROGRAMS).
for name in mysql-zrm mysql-zrm-backup mysql-zrm-restore mysql-zrm-list mysql-zrm-purge \
    mysql-zrm-check mysql-zrm-verify-backup mysql-zrm-parse-binlogs mysql-zrm-scheduler \
    mysql-zrm-reporter zrm-pre-scheduler; do
    link="$root/bin/$name"
    if [ -e "$link" ] && [ ! -L "$link" ]; then
        die "$link exists and is not a link (ZRM's own program?): move it aside first"
    fi
    ln -sfn zrm "$link"
    echo "    $link -> zrm"
done

shopt -s nullglob
pages=("$src"/man/*.1)
shopt -u nullglob
[ "${#pages[@]}" -gt 0 ] || die "no man pages in $src/man"
for page in "${pages[@]}"; do
    put_gz "$page" "$root/share/man/man1/$(basename "$page").gz"
done
put_gz "$src/man/zrm.toml.5" "$root/share/man/man5/zrm.toml.5.gz"

put "$src/completions/zrm.bash" 0644 "$root/share/bash-completion/completions/zrm"
put "$src/completions/_zrm" 0644 "$root/share/zsh/site-functions/_zrm"
put "$src/completions/zrm.fish" 0644 "$root/share/fish/vendor_completions.d/zrm.fish"

put "$src/conf/zrm.toml" 0644 "$root/share/doc/zrm/zrm.toml.example"
put "$src/scripts/cluster-nightly.sh" 0755 "$root/lib/zrm/cluster-nightly.sh"

# ---------------------------------------------------------------------------------------------
# Hints
# ---------------------------------------------------------------------------------------------
echo "==> Done."
if [ -n "$destdir" ]; then
    exit 0
fi
case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "    $prefix/bin is not on your PATH: export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
if command -v manpath >/dev/null && ! manpath 2>/dev/null | tr ':' '\n' | grep -qx "$prefix/share/man"; then
    echo "    man does not search $prefix/share/man: export MANPATH=\"$prefix/share/man:\$(manpath)\""
else
    echo "    Read the manual with: man zrm, man zrm.toml"
fi
case "$prefix" in
    /usr|/usr/local) ;;
    *)
        echo "    Completions: bash reads $prefix/share/bash-completion/completions when"
        echo "    XDG_DATA_DIRS includes $prefix/share; zsh needs fpath+=($prefix/share/zsh/site-functions);"
        echo "    fish needs $prefix/share in XDG_DATA_DIRS too."
        ;;
esac
if [ ! -e /etc/zrm/zrm.toml ]; then
    echo "    No /etc/zrm/zrm.toml yet: start from $prefix/share/doc/zrm/zrm.toml.example"
fi
