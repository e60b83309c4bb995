#!/bin/sh
# Tests the demo's SQL migrations with the sqlite3 shell alone (no ferry):
# builds the 0.5.0 database from seed.sql, runs every step's check/up/verify
# along the path the planner takes (and along the long path and a fresh
# install), requires each step's down to restore the dump it started from,
# checks the migrated rows and the backfilled values, then runs all the downs
# in reverse and requires the dump to be identical to the original.
#
#   sh examples/demo/check-migrations.sh        # needs sqlite3 >= 3.35
#
# Exit 0 when everything holds; otherwise the first failure is printed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
m="$here/migrations"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-demo-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }

# section FILE NAME: the lines after "-- ferry:NAME" up to the next marker.
section() {
    awk -v want="-- ferry:$2" '
        /^-- ferry:(up|down|check|verify)[ \t]*$/ { sub(/[ \t]+$/, ""); on = ($0 == want); next }
        on' "$1"
}

q() { sqlite3 -bail -batch "$1" "PRAGMA foreign_keys = ON;" "$2"; }

# run DB SQL: execute in one transaction with foreign keys on.
run() {
    { echo "PRAGMA foreign_keys = ON;"; echo "BEGIN;"; cat; echo "COMMIT;"; } |
        sqlite3 -bail -batch "$1" >/dev/null || fail "$2"
}

# Steps of each transition, in file-name order.
steps() { for _x in "$m/$1"/*.sql; do echo "$_x"; done; }

up_step() {   # DB FILE
    _db=$1 _f=$2 _id=${2#"$m"/}
    _r=$(section "$_f" check | sqlite3 -bail -batch "$_db") || fail "$_id: check errors"
    if [ "$_r" = 0 ]; then echo "  skip  $_id"; return 1; fi
    [ "$_r" = 1 ] || fail "$_id: check returned '$_r'"
    # Each down must undo its own up exactly: up, down, compare, up again.
    sqlite3 "$_db" .dump > "$_db.before"
    section "$_f" up | run "$_db" "$_id: up failed"
    section "$_f" down | run "$_db" "$_id: down failed"
    sqlite3 "$_db" .dump > "$_db.after"
    diff -u "$_db.before" "$_db.after" || fail "$_id: down does not undo up exactly"
    section "$_f" up | run "$_db" "$_id: up failed the second time"
    _r=$(section "$_f" verify | sqlite3 -bail -batch "$_db") || fail "$_id: verify errors"
    [ -z "$_r" ] || [ "$_r" = 1 ] || fail "$_id: verify returned '$_r'"
    _r=$(section "$_f" check | sqlite3 -bail -batch "$_db") || fail "$_id: check errors after up"
    [ "$_r" = 0 ] || fail "$_id: check still says needed after up (got '$_r')"
    echo "  up    $_id"
}

down_step() { # DB FILE
    section "$2" down | run "$1" "${2#"$m"/}: down failed"
    echo "  down  ${2#"$m"/}"
}

# forward DB TRANSITION...: run every step of each transition; the applied
# step files are appended to DB.applied for the way back. A step whose check
# says it is not needed is skipped, as ferry does, and has no down to run.
forward() {
    _fdb=$1; shift
    for _t in "$@"; do
        if [ -d "$m/$_t" ]; then _list=$(steps "$_t"); else _list="$m/$_t"; fi
        for _s in $_list; do
            if up_step "$_fdb" "$_s"; then echo "$_s" >> "$_fdb.applied"; fi
        done
    done
}

backward() {  # DB: undo every applied step, newest first
    for _s in $(sed -n '1!G;h;$p' "$1.applied"); do down_step "$1" "$_s"; done
    : > "$1.applied"
}

sane() {      # DB: integrity and foreign keys
    [ "$(q "$1" 'PRAGMA integrity_check;')" = ok ] || fail "integrity_check on $1"
    [ -z "$(q "$1" 'PRAGMA foreign_key_check;')" ] || fail "foreign_key_check on $1"
}

eq() {        # DB SQL EXPECTED
    _got=$(q "$1" "$2")
    [ "$_got" = "$3" ] || fail "$2
  expected: $3
  got:      $_got"
}

echo "sqlite3 $(sqlite3 -version | cut -d' ' -f1)"

# --- The planner's path: 0.5.0 -> 0.6.0 -> 0.7.0 -> (shortcut) 0.9.0 -> 1.0.0
echo "shortcut path from the seeded 0.5.0 installation:"
short="$tmp/short.db"
sqlite3 -bail "$short" < "$here/seed.sql"
sqlite3 "$short" .dump > "$tmp/seed.dump"
sane "$short"
forward "$short" v0.5.0_to_v0.6.0 v0.6.0_to_v0.7.0 v0.7.x_to_v0.9.0 v0.9.0_to_v1.0.0
sane "$short"

# Rows survive.
eq "$short" "SELECT count(*) FROM users;" 3
eq "$short" "SELECT count(*) FROM notes;" 12
eq "$short" "SELECT content FROM notes WHERE id = 9;" "coffee beans, oat milk, batteries (AA), bin bags"
eq "$short" "SELECT count(*) FROM notes WHERE pinned = 0 AND archived_at IS NULL;" 12
# 0.7.0 backfill: 16 distinct (user, tag) pairs, 17 links, untidy strings cleaned.
eq "$short" "SELECT count(*) FROM tags;" 16
eq "$short" "SELECT count(*) FROM note_tags;" 17
eq "$short" "SELECT group_concat(name, ',') FROM (SELECT name FROM tags WHERE user_id = 1 ORDER BY id);" \
    "baking,books,garden,homelab,ideas,ops,recipes,todo"
eq "$short" "SELECT group_concat(t.name, ',') FROM (SELECT t.name FROM note_tags nt JOIN tags t ON t.id = nt.tag_id WHERE nt.note_id = 4 ORDER BY t.name) t;" \
    "baking,recipes"
eq "$short" "SELECT group_concat(t.name, ',') FROM (SELECT t.name FROM note_tags nt JOIN tags t ON t.id = nt.tag_id WHERE nt.note_id = 8 ORDER BY t.name) t;" \
    "planning,work"
eq "$short" "SELECT count(*) FROM notes n WHERE NOT EXISTS (SELECT 1 FROM note_tags WHERE note_id = n.id);" 3
eq "$short" "SELECT tags FROM notes WHERE id = 8;" " Work , planning "
# 0.9.0 backfill: the oldest account is the administrator.
eq "$short" "SELECT group_concat(username || ':' || role, ' ') FROM (SELECT * FROM users ORDER BY id);" \
    "ada:admin bruno:member chen:member"
# 1.0.0 search index is usable.
q "$short" "EXPLAIN QUERY PLAN SELECT id FROM notes WHERE user_id = 1 AND title = 'reading LIST' COLLATE NOCASE;" |
    grep -q notes_user_title_nocase || fail "title search does not use notes_user_title_nocase"
eq "$short" "SELECT id FROM notes WHERE user_id = 1 AND title = 'reading LIST' COLLATE NOCASE;" 3

sqlite3 "$short" .schema > "$tmp/short.schema"
sqlite3 "$short" .dump > "$tmp/short.dump"

# ferry runs an all-SQL plan on one database in a single transaction (§6.7):
# the same ups in one transaction must give the same result.
echo "the same path in one transaction:"
one="$tmp/one.db"
sqlite3 -bail "$one" < "$here/seed.sql"
for _s in $(cat "$short.applied"); do section "$_s" up; done | run "$one" "one-transaction up failed"
sqlite3 "$one" .dump > "$tmp/one.dump"
diff -u "$tmp/short.dump" "$tmp/one.dump" || fail "one-transaction result differs"
for _s in $(sed -n '1!G;h;$p' "$short.applied"); do section "$_s" down; done | run "$one" "one-transaction down failed"
sqlite3 "$one" .dump > "$tmp/one-back.dump"
diff -u "$tmp/seed.dump" "$tmp/one-back.dump" || fail "one-transaction up+down differs from the seed's"
echo "  ok"

echo "down again to 0.5.0:"
backward "$short"
sane "$short"
sqlite3 "$short" .dump > "$tmp/back.dump"
diff -u "$tmp/seed.dump" "$tmp/back.dump" || fail "dump after up+down differs from the seed's"

# --- The long path: 0.7.0 -> 0.8.0 -> 0.9.0 must end where the shortcut does.
echo "long path from the seeded 0.5.0 installation:"
long="$tmp/long.db"
sqlite3 -bail "$long" < "$here/seed.sql"
forward "$long" v0.5.0_to_v0.6.0 v0.6.0_to_v0.7.0 v0.7.0_to_v0.8.0 v0.8.0_to_v0.9.0 v0.9.0_to_v1.0.0
sane "$long"
sqlite3 "$long" .schema > "$tmp/long.schema"
diff -u "$tmp/short.schema" "$tmp/long.schema" || fail "long path schema differs from the shortcut's"
sqlite3 "$long" .dump > "$tmp/long.dump"
diff -u "$tmp/short.dump" "$tmp/long.dump" || fail "long path data differs from the shortcut's"
echo "down again to 0.5.0:"
backward "$long"
sqlite3 "$long" .dump > "$tmp/longback.dump"
diff -u "$tmp/seed.dump" "$tmp/longback.dump" || fail "long path up+down differs from the seed's"

# --- A fresh install: 0.0.0 -> 0.5.0 (the flat step) -> ... -> 1.0.0.
echo "fresh install from 0.0.0:"
fresh="$tmp/fresh.db"
sqlite3 "$fresh" "VACUUM;"
sqlite3 "$fresh" .dump > "$tmp/empty.dump"
forward "$fresh" 0.5.0_initial_schema.sql
sqlite3 "$fresh" .schema > "$tmp/fresh050.schema"
sqlite3 "$tmp/seedschema.db" < "$here/seed.sql"
sqlite3 "$tmp/seedschema.db" .schema > "$tmp/seed.schema"
diff -u "$tmp/seed.schema" "$tmp/fresh050.schema" || fail "0.5.0_initial_schema.sql and seed.sql disagree"
forward "$fresh" v0.5.0_to_v0.6.0 v0.6.0_to_v0.7.0 v0.7.x_to_v0.9.0 v0.9.0_to_v1.0.0
sane "$fresh"
sqlite3 "$fresh" .schema > "$tmp/fresh.schema"
diff -u "$tmp/short.schema" "$tmp/fresh.schema" || fail "fresh install schema differs"
echo "down again to 0.0.0:"
backward "$fresh"
sqlite3 "$fresh" .dump > "$tmp/freshback.dump"
diff -u "$tmp/empty.dump" "$tmp/freshback.dump" || fail "fresh install up+down is not empty"

echo "OK: all steps apply, verify and undo exactly"
