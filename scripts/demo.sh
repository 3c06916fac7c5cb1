#!/usr/bin/env bash
# A guided tour of zrm on two throwaway MariaDB servers.
#
#   bash scripts/demo.sh
#
# It builds zrm (debug), starts two private MariaDB servers under ./.demo/ (a "source" with
# sample data and a "target"), takes a full backup of the source, lets business go on, drops a
# table by accident, takes an incremental backup, finds the DROP in the binary logs, restores
# the target to just before it, and compares the tables with their state before the accident. Nothing outside ./.demo/ is touched: the
# servers run with --no-defaults on free ports and their own sockets, and are stopped when the
# script ends (also on failure or Ctrl-C). ./.demo/ is left in place for a look afterwards
# (repository in .demo/repo, configuration in .demo/zrm.toml) and wiped by the next run.
#
# Needs: mariadb-server and mariadb-client (Debian: apt-get install mariadb-server
# mariadb-client; scripts/test.sh installs them), python3, and a Rust toolchain.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="$ROOT/.demo"
cd "$ROOT"

# mariadbd lives in /usr/sbin, which a non-root PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin" ;; esac

if [ -t 1 ]; then B=$'\e[1m'; G=$'\e[32m'; R=$'\e[31m'; N=$'\e[0m'; else B=; G=; R=; N=; fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
say() { printf '    %s\n' "$@"; }
# Show a command the way a user would type it, then run it.
run() { printf '\n%s$ %s%s\n' "$B" "$*" "$N"; "$@"; }
die() { printf '%serror:%s %s\n' "$R" "$N" "$*" >&2; exit 1; }

for tool in mariadbd mariadb-install-db mariadb mariadb-dump python3; do
    command -v "$tool" >/dev/null \
        || die "$tool not found: apt-get install mariadb-server mariadb-client python3 (or run scripts/test.sh)"
done
if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs)"

step "Building zrm (cargo build)"
cargo build --quiet
export PATH="$ROOT/target/debug:$PATH"
zrm --version

# --- throwaway servers -----------------------------------------------------------------------

# A previous run killed hard may have left its servers running: stop them by their pid files.
for pidfile in "$DEMO"/source/pid "$DEMO"/target/pid; do
    if [ -f "$pidfile" ]; then
        old=$(cat "$pidfile" 2>/dev/null || true)
        if [ -n "$old" ] && kill -0 "$old" 2>/dev/null \
            && grep -q mariadbd "/proc/$old/comm" 2>/dev/null; then
            echo "stopping a server left by an earlier demo run (pid $old)"
            kill -TERM "$old" || true
            for _ in $(seq 1 60); do kill -0 "$old" 2>/dev/null || break; sleep 0.5; done
        fi
    fi
done
rm -rf "$DEMO"
mkdir -p "$DEMO"

declare -A SERVER_PID=()

stop_servers() {
    local rc=$? name pid
    for name in "${!SERVER_PID[@]}"; do
        pid=${SERVER_PID[$name]}
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
            if kill -0 "$pid" 2>/dev/null; then
                echo "server $name (pid $pid) did not stop within 30s: killing it" >&2
                kill -KILL "$pid" 2>/dev/null || true
            fi
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [ "${#SERVER_PID[@]}" -gt 0 ]; then
        printf '\nstopped the demo servers; their files stay in %s\n' "$DEMO"
    fi
    exit "$rc"
}
trap stop_servers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Two free TCP ports, both held open while they are chosen so they differ.
read -r PORT_SOURCE PORT_TARGET < <(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')

# start_server NAME PORT SERVER_ID
start_server() {
    local name=$1 port=$2 id=$3 dir="$DEMO/$1"
    mkdir -p "$dir/binlog"
    mariadb-install-db --no-defaults --datadir="$dir/data" --user=root \
        --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 \
        || { cat "$dir/install.log" >&2; die "mariadb-install-db failed for $name"; }
    mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/s.sock" --port="$port" \
        --bind-address=127.0.0.1 --user=root --log-bin="$dir/binlog/mysql-bin" \
        --server-id="$id" --binlog-format=ROW --log-error="$dir/err.log" \
        --pid-file="$dir/pid" >/dev/null 2>&1 &
    SERVER_PID[$name]=$!
    for _ in $(seq 1 120); do
        if mariadb --no-defaults -S "$dir/s.sock" -uroot -e 'select 1' >/dev/null 2>&1; then
            say "$name: MariaDB on 127.0.0.1:$port, socket $dir/s.sock, server_id $id, binlog on"
            return 0
        fi
        kill -0 "${SERVER_PID[$name]}" 2>/dev/null || break
        sleep 0.5
    done
    tail -n 30 "$dir/err.log" >&2 || true
    die "the $name server did not start (log: $dir/err.log)"
}

# sql NAME [mariadb args…]: run SQL as root on a demo server (statements on stdin or -e).
sql() {
    local name=$1; shift
    mariadb --no-defaults --default-character-set=utf8mb4 -S "$DEMO/$name/s.sock" -uroot "$@"
}

step "Starting two throwaway MariaDB servers in $DEMO"
start_server source "$PORT_SOURCE" 1
start_server target "$PORT_TARGET" 2

# --- accounts, password file, configuration -------------------------------------------------

step "Creating the zrm account and the configuration"
# A '#' and a space: ZRM cut passwords at '#'; zrm passes every byte through.
PASSWORD='demo#Pass w0rd'
sql source <<SQL
CREATE USER zrm@localhost IDENTIFIED BY '$PASSWORD';
GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, PROCESS, BINLOG MONITOR,
      REPLICATION SLAVE ON *.* TO zrm@localhost;
SQL
sql target <<SQL
CREATE USER zrm@localhost IDENTIFIED BY '$PASSWORD';
GRANT ALL ON *.* TO zrm@localhost;
SQL
(umask 077 && printf '%s\n' "$PASSWORD" >"$DEMO/mysql.pass")
say "password file .demo/mysql.pass, mode $(stat -c %a "$DEMO/mysql.pass") (zrm refuses a wider one)"

cat >"$DEMO/zrm.toml" <<TOML
# zrm demo configuration (written by scripts/demo.sh).
# Relative paths are relative to this file: the repository is .demo/repo.
[repository]
path = "repo"
compression = "zstd"

[defaults]
user = "zrm"
password_file = "mysql.pass"

[sets.source]
socket = "$DEMO/source/s.sock"

[sets.target]
socket = "$DEMO/target/s.sock"
TOML
export ZRM_CONFIG="$DEMO/zrm.toml"
say "configuration .demo/zrm.toml (found through \$ZRM_CONFIG):"
sed 's/^/      /' "$DEMO/zrm.toml"

# --- sample data ----------------------------------------------------------------------------

step "Loading sample data into the source: database shop"
sql source <<'SQL'
CREATE DATABASE shop CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE shop;
-- Recursive CTEs stop after 1,000 rows by default.
SET SESSION max_recursive_iterations = 100000;

CREATE TABLE customers (
    id          INT PRIMARY KEY,
    name        VARCHAR(100) NOT NULL,
    email       VARCHAR(200) NOT NULL UNIQUE,
    city        VARCHAR(50),
    note        TEXT,
    avatar      BLOB,
    order_count INT NOT NULL DEFAULT 0,
    created_at  DATETIME NOT NULL
) ENGINE=InnoDB;

CREATE TABLE orders (
    id          INT AUTO_INCREMENT PRIMARY KEY,
    customer_id INT NOT NULL,
    amount      DECIMAL(10,2) NOT NULL,
    status      ENUM('new','paid','shipped','cancelled') NOT NULL,
    comment     VARCHAR(200),
    ordered_at  DATETIME NOT NULL,
    KEY (customer_id),
    CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE=InnoDB;

-- Keeps customers.order_count in step with orders.
CREATE TRIGGER orders_count AFTER INSERT ON orders FOR EACH ROW
    UPDATE customers SET order_count = order_count + 1 WHERE id = NEW.customer_id;

-- 2,000 customers: names in several scripts, emoji, quotes, and a binary avatar with NUL bytes.
INSERT INTO customers (id, name, email, city, note, avatar, created_at)
WITH RECURSIVE seq AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM seq WHERE n < 2000)
SELECT n,
       CONCAT(ELT(1 + n % 6, 'Zoë', 'Søren', '李雷', 'José 🎉', 'Ана 🦀', 'O''Brien'), ' #', n),
       CONCAT('customer', n, '@example.com'),
       ELT(1 + n % 4, 'Tokyo', 'København', 'São Paulo', 'Zürich'),
       IF(n % 10 = 0, NULL, CONCAT('likes ☕ and 🍣; line 1\nline 2\ttab "quoted" \\ backslash ', n)),
       CONCAT(x'00ff0a0d27225c', UNHEX(SHA2(n, 256))),
       '2026-01-01 00:00:00' + INTERVAL n HOUR
FROM seq;

-- 5,000 orders (the trigger counts them per customer).
INSERT INTO orders (customer_id, amount, status, comment, ordered_at)
WITH RECURSIVE seq AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM seq WHERE n < 5000)
SELECT 1 + (n * 7919) % 2000,
       ((n * 37) % 100000) / 100,
       ELT(1 + n % 4, 'new', 'paid', 'shipped', 'cancelled'),
       IF(n % 3 = 0, CONCAT('gift 🎁 #', n), NULL),
       '2026-03-01 00:00:00' + INTERVAL n MINUTE
FROM seq;

CREATE VIEW customer_totals AS
    SELECT c.id, c.name, COUNT(o.id) AS orders, COALESCE(SUM(o.amount), 0) AS total
    FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
    GROUP BY c.id, c.name;

DELIMITER //
CREATE PROCEDURE place_order(IN p_customer INT, IN p_amount DECIMAL(10,2))
BEGIN
    INSERT INTO orders (customer_id, amount, status, ordered_at)
    VALUES (p_customer, p_amount, 'new', NOW());
END //
DELIMITER ;

CALL place_order(42, 19.99);
SQL
sql source -t -e "SELECT
    (SELECT COUNT(*) FROM shop.customers) AS customers,
    (SELECT COUNT(*) FROM shop.orders) AS orders,
    (SELECT SUM(order_count) FROM shop.customers) AS counted_by_trigger,
    (SELECT name FROM shop.customers WHERE id = 3) AS a_name_with_emoji"

# --- the tour -------------------------------------------------------------------------------

step "1. Check the set: connection, privileges, binary log, tools, repository"
run zrm check --set source

step "2. Take a full backup (method logical: parallel consistent snapshot, compressed with zstd)"
run zrm backup --set source --comment "nightly full"

step "3. Business continues: new orders, one transaction each"
since=$(date -u '+%Y-%m-%d %H:%M:%S')
for i in $(seq 1 20); do
    sql source -e "INSERT INTO shop.orders (customer_id, amount, status, comment, ordered_at)
                   VALUES ($(( (i % 50) + 1 )), $i.25, 'new', 'after the full backup #$i', NOW())"
done
say "20 orders committed after the backup"
# What the data looks like just before the accident: this is what we want back.
before_orders=$(sql source -N -B -e "CHECKSUM TABLE shop.orders" | cut -f2)
before_customers=$(sql source -N -B -e "CHECKSUM TABLE shop.customers" | cut -f2)
objects="SELECT
    (SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'shop'),
    (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'),
    (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'shop')"
before_objects=$(sql source -N -B -e "$objects" | tr '\t' ' ')
sleep 1

step "4. The accident: someone drops the orders table (and business goes on)"
run sql source -e "DROP TABLE shop.orders"
sql source -e "INSERT INTO shop.customers (id, name, email, created_at)
               VALUES (999999, 'after the accident', 'late@example.com', NOW())"

step "5. An incremental backup: flush and archive the binary logs since the full"
run zrm backup --set source --level 1
run zrm list

step "6. Find the accident in the binary logs"
run zrm binlog find --set source --match 'DROP TABLE'
point=$(zrm binlog find --set source --match 'DROP TABLE' --format json \
    | python3 -c 'import json, sys; p = json.load(sys.stdin); print("%s:%d" % (p["file"], p["pos"]))')
run zrm binlog analyze --set source --by transaction --since "$since"

step "7. Plan the restore to just before the DROP (changes nothing)"
run zrm restore --set source --target target --until-position "$point" --dry-run

step "8. Restore into the second server: the full backup, then the binlogs up to $point"
run zrm restore --set source --target target --until-position "$point"

step "9. Restoring again is refused: shop now exists on the target and is not empty"
if run zrm restore --set source --target target --until-position "$point"; then
    die "a restore over a non-empty database was not refused"
fi
say "(exit 1, as expected: --replace would drop shop on the target first)"

# --- compare --------------------------------------------------------------------------------

step "10. The target against the source just before the accident"
differ=0
printf '\n    %-22s %16s %14s  %s\n' "TABLE" "BEFORE DROP" "TARGET" "CHECKSUM TABLE"
for pair in "shop.orders:$before_orders" "shop.customers:$before_customers"; do
    t=${pair%%:*}; a=${pair#*:}
    b=$(sql target -N -B -e "CHECKSUM TABLE $t" 2>/dev/null | cut -f2 || true)
    if [ -n "$a" ] && [ "$a" = "$b" ]; then verdict="${G}MATCH${N}"; else verdict="${R}DIFFER${N}"; differ=1; fi
    printf '    %-22s %16s %14s  %s\n' "$t" "$a" "${b:-missing}" "$verdict"
done
n=$(sql target -N -B -e "SELECT COUNT(*) FROM shop.orders WHERE comment LIKE 'after the full backup%'")
printf '    %-22s %16s %14s  %s\n' "orders after the full" "20" "$n" "$([ "$n" = 20 ] && echo "${G}MATCH${N}" || echo "${R}DIFFER${N}")"
[ "$n" = 20 ] || differ=1
late=$(sql target -N -B -e "SELECT COUNT(*) FROM shop.customers WHERE name = 'after the accident'")
printf '    %-22s %16s %14s  %s\n' "writes after the DROP" "0" "$late" "$([ "$late" = 0 ] && echo "${G}MATCH${N}" || echo "${R}DIFFER${N}")"
[ "$late" = 0 ] || differ=1

# (DROP TABLE dropped the orders trigger on the source too: compare with before the accident.)
a=$before_objects
b=$(sql target -N -B -e "$objects" | tr '\t' ' ')
if [ "$a" = "$b" ]; then verdict="${G}MATCH${N}"; else verdict="${R}DIFFER${N}"; differ=1; fi
printf '    %-22s %16s %14s  %s\n' "views/triggers/procs" "$a" "$b" "$verdict"

if [ "$differ" -ne 0 ]; then
    printf '\n%sFAILED: the target differs from the source before the accident%s\n' "$R" "$N"
    exit 1
fi
printf '\n%sDone: the dropped table is back with every order written before the accident,%s\n' "$G" "$N"
printf '%sand nothing written after it.%s\n' "$G" "$N"
say "Repository: .demo/repo    Configuration: .demo/zrm.toml" \
    "Try more with: ZRM_CONFIG=$DEMO/zrm.toml target/debug/zrm binlog analyze --set source --summary" \
    "(the servers are stopped now; run the demo again to get them back)"
