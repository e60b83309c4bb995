#!/usr/bin/env bash
# pgbouncer.sh - a throw-away PgBouncer in front of a tests/pg/pg.sh server,
# in pool_mode = transaction with few server connections, so that the
# transactions of many clients really interleave over them (issue 12.6).
#
#   pgbouncer.sh start [PGDIR]  starts PgBouncer for the server in PGDIR
#                               (default $FERRY_PG_DIR) on a free port, its
#                               files in PGDIR/bouncer; prints the
#                               environment as shell `export` lines
#   pgbouncer.sh stop [PGDIR]   stops it; always exits 0
#
# Exported: FERRY_PGB_DIR, FERRY_PGB_PORT, FERRY_TEST_PGB (the role 'app'
# through PgBouncer, password included, as FERRY_TEST_PG is direct).
# Clients authenticate with SCRAM against an auth_file that holds the role's
# password, which PgBouncer also uses to log in to the server. PgBouncer
# 1.18 (Debian 12) refuses a startup parameter it does not know unless told
# to ignore it: `options` is ignored, as a pooler in transaction mode cannot
# keep a session's settings anyway (ferry sets them per transaction).
#
# Environment: FERRY_PGB_POOL_SIZE (default 4), FERRY_PGB_POOL_MODE
# (default transaction). Debian package: pgbouncer.
set -u

PASSWORD='Fy-s3cret-Pw9' # pg.sh's
ROLE=app
DB=ferry_test

die() { echo "pgbouncer.sh: $*" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
	local p i
	for i in $(seq 1 50); do
		p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
		if port_free "$p"; then echo "$p"; return 0; fi
	done
	return 1
}

start() {
	local pgdir=${1:-${FERRY_PG_DIR:-}} dir port pgport bin i
	[ -n "$pgdir" ] && [ -f "$pgdir/port" ] || die "no server in '$pgdir' (run 'pg.sh start')"
	bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
	[ -x "$bin" ] || die "no pgbouncer (apt-get install pgbouncer)"
	pgport=$(cat "$pgdir/port")
	dir=$pgdir/bouncer
	mkdir -p "$dir" || die "cannot create '$dir'"
	port=$(pick_port) || die "no free port"
	printf '"%s" "%s"\n' "$ROLE" "$PASSWORD" >"$dir/userlist.txt"
	cat >"$dir/pgbouncer.ini" <<EOF
[databases]
$DB = host=$pgdir port=$pgport dbname=$DB

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir = $dir
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = ${FERRY_PGB_POOL_MODE:-transaction}
max_client_conn = 200
default_pool_size = ${FERRY_PGB_POOL_SIZE:-4}
min_pool_size = 0
reserve_pool_size = 0
ignore_startup_parameters = extra_float_digits, options
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
	if [ "$(id -u)" = 0 ]; then
		chown -R postgres: "$dir"
	fi
	as_owner "$bin" -d "$dir/pgbouncer.ini" >>"$dir/start.log" 2>&1 ||
		{ cat "$dir/start.log" "$dir/pgbouncer.log" >&2 2>/dev/null; die "cannot start pgbouncer"; }
	for i in $(seq 1 100); do
		! port_free "$port" && break
		sleep 0.05
	done
	port_free "$port" && die "pgbouncer does not listen on $port (see $dir/pgbouncer.log)"
	echo "$port" >"$dir/port"
	cat <<EOF
export FERRY_PGB_DIR='$dir'
export FERRY_PGB_PORT='$port'
export FERRY_TEST_PGB='postgresql://$ROLE:$PASSWORD@127.0.0.1:$port/$DB'
EOF
}

stop() {
	local pgdir=${1:-${FERRY_PG_DIR:-}} pid
	[ -n "$pgdir" ] || return 0
	pid=$(cat "$pgdir/bouncer/pgbouncer.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null
	rm -rf "$pgdir/bouncer"
	return 0
}

case ${1:-} in
	start) start "${2:-}" ;;
	stop) stop "${2:-}"; exit 0 ;;
	*) echo "usage: pgbouncer.sh start|stop [PGDIR]" >&2; exit 2 ;;
esac
