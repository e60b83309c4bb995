#!/usr/bin/env bash
# pg.sh - a throw-away PostgreSQL 15 server for the tests and benchmarks.
#
#   pg.sh start [DIR]   initdb a fresh cluster in DIR (default: a new folder
#                       under $TMPDIR), start it, create the database
#                       'ferry_test' and the role 'app' with a password;
#                       prints the environment as shell `export` lines
#   pg.sh env [DIR]     prints those lines again for a running server
#   pg.sh stop [DIR]    stops the server and removes DIR; always exits 0
#
# DIR defaults to $FERRY_PG_DIR for env and stop. The server listens on a
# Unix socket in DIR and on 127.0.0.1:$FERRY_PG_START_PORT (default: a free port).
# initdb refuses to run as root, so root runs the server as the 'postgres'
# user. Exported: FERRY_PG_DIR, FERRY_PG_PORT, FERRY_TEST_PG (the role's
# URI, password included), FERRY_TEST_PG_PASSWORD, FERRY_TEST_PG_KV (the
# same as key=value without the password), FERRY_TEST_PG_ADMIN (superuser
# key=value over the socket, no password needed), FERRY_PG_BIN.
#
#   eval "$(tests/pg/pg.sh start)"; ...; tests/pg/pg.sh stop
#
# Environment: FERRY_PG_BIN (default /usr/lib/postgresql/15/bin),
# FERRY_PG_START_PORT, FERRY_PG_FSYNC (off by default: tests need no durability).
# Debian packages: postgresql-15 (server) and postgresql-client-15.
set -u

BIN=${FERRY_PG_BIN:-/usr/lib/postgresql/15/bin}
PASSWORD='Fy-s3cret-Pw9'
ROLE=app
DB=ferry_test

die() { echo "pg.sh: $*" >&2; exit 1; }

# Runs a command as the cluster's owner: 'postgres' when we are root.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		if command -v runuser >/dev/null; then
			runuser -u postgres -- "$@"
		else
			su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
		fi
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

print_env() { # DIR
	local dir=$1 port
	port=$(cat "$dir/port" 2>/dev/null) || die "no server in '$dir' (run 'pg.sh start')"
	cat <<EOF
export FERRY_PG_DIR='$dir'
export FERRY_PG_PORT='$port'
export FERRY_PG_BIN='$BIN'
export FERRY_TEST_PG='postgresql://$ROLE:$PASSWORD@/$DB?host=$dir&port=$port'
export FERRY_TEST_PG_PASSWORD='$PASSWORD'
export FERRY_TEST_PG_KV='host=$dir port=$port user=$ROLE dbname=$DB'
export FERRY_TEST_PG_ADMIN='host=$dir port=$port user=postgres dbname=$DB'
EOF
}

# Gives up on a start: stops what it started, removes the folder it made.
start_failed() { # DIR MESSAGE
	if [ -f "$1/data/postmaster.pid" ]; then
		as_owner "$BIN/pg_ctl" -D "$1/data" -m immediate -w -t 30 stop >/dev/null 2>&1
	fi
	rm -rf "$1"
	die "$2"
}

start() {
	local dir=${1:-} port tries=0
	[ -x "$BIN/initdb" ] || die "no PostgreSQL server in '$BIN' (apt-get install postgresql-15)"
	if [ -z "$dir" ]; then
		dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-pg.XXXXXX") || die "cannot create a folder"
	else
		[ ! -e "$dir" ] || [ -z "$(ls -A "$dir")" ] || die "'$dir' is not empty"
		mkdir -p "$dir" || die "cannot create '$dir'"
	fi
	chmod 755 "$dir"
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$dir"
		as_owner test -w "$dir" ||
			start_failed "$dir" \
				"the 'postgres' user cannot reach '$dir' (make its parent folders searchable)"
	fi
	as_owner "$BIN/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 \
		--locale=C >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; start_failed "$dir" "initdb failed"; }
	cat >"$dir/data/pg_hba.conf" <<EOF
local all postgres trust
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
EOF
	while :; do
		port=${FERRY_PG_START_PORT:-$(pick_port)} || start_failed "$dir" "no free port"
		cat >>"$dir/data/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = ${FERRY_PG_FSYNC:-off}
max_connections = 100
shared_buffers = 32MB
logging_collector = off
EOF
		if as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
			>/dev/null 2>&1; then
			break
		fi
		tries=$((tries + 1))
		if [ -n "${FERRY_PG_START_PORT:-}" ] || [ $tries -ge 5 ]; then
			cat "$dir/server.log" >&2 2>/dev/null
			start_failed "$dir" "cannot start the server (see above)"
		fi
	done
	echo "$port" >"$dir/port"
	as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres \
		>/dev/null <<EOF || start_failed "$dir" "cannot create the role and database"
CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD';
CREATE DATABASE $DB OWNER $ROLE;
EOF
	print_env "$dir"
}

stop() {
	local dir=${1:-${FERRY_PG_DIR:-}}
	[ -n "$dir" ] || return 0
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
			kill -9 "$(head -1 "$dir/data/postmaster.pid")" 2>/dev/null
	fi
	case $dir in
		/|"") ;;
		*) if [ -f "$dir/port" ] || [ -d "$dir/data" ]; then
			rm -rf "$dir"
		elif [ -d "$dir" ] && [ -z "$(ls -A "$dir")" ]; then
			rmdir "$dir"
		fi ;;
	esac
	return 0
}

case ${1:-} in
	start) start "${2:-}" ;;
	env) print_env "${2:-${FERRY_PG_DIR:?pg.sh env: no DIR and no FERRY_PG_DIR}}" ;;
	stop) stop "${2:-}"; exit 0 ;;
	*) echo "usage: pg.sh start|env|stop [DIR]" >&2; exit 2 ;;
esac
