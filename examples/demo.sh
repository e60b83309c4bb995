#!/bin/sh
# demo.sh FERRY - a real upgrade of the demo installation (examples/demo),
# in a temporary copy: status, plan, up, list, verify, and the rows after.
set -e
ferry=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-demo.XXXXXX")
cp -R "$here/demo/." "$work/"
rm -rf "$work/.ferry" "$work/data/"*.db
sqlite3 "$work/data/notebook.db" < "$work/seed.sql"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
cd "$work"
echo "The demo installation is a copy in $work: notebook 0.5.0 with an SQLite database."
step "sqlite3 data/notebook.db 'SELECT count(*) FROM notes'"
sqlite3 data/notebook.db 'SELECT count(*) || '"' notes by '"' || count(DISTINCT user_id) || '"' users'"' FROM notes'
step "ferry status"
"$ferry" status
step "ferry plan 1.0.0"
"$ferry" plan 1.0.0
step "ferry up"
"$ferry" up
step "ferry list"
"$ferry" list
step "ferry verify"
"$ferry" verify
step "sqlite3 data/notebook.db 'SELECT ...'   # the rows survived, in the 1.0 schema"
sqlite3 -header -column data/notebook.db \
	"SELECT n.id, substr(n.title, 1, 28) AS title, u.role, n.pinned,
	        (SELECT group_concat(t.name) FROM note_tags nt JOIN tags t ON t.id = nt.tag_id
	         WHERE nt.note_id = n.id) AS tags
	 FROM notes n JOIN users u ON u.id = n.user_id ORDER BY n.id LIMIT 6"
step "cat config/version.json"
cat config/version.json
printf '\nTry more in %s: ferry history, ferry down 0.7.0, ferry up --dry-run\n' "$work"
