#!/bin/sh
# Builds data/search/titles.txt from the notes (script step): work that
# needs a program, not SQL. ferry runs it as `<file> forward|backward|check`
# in the installation's root, with FERRY_DB_MAIN set to the database's path.
# ferry:timeout 60
set -eu
case "$1" in
check)
	# exit 0: needed; exit 1: already done
	[ -s data/search/titles.txt ] && exit 1
	exit 0
	;;
forward)
	sqlite3 "$FERRY_DB_MAIN" "SELECT id || ' ' || lower(title) FROM notes ORDER BY id" \
		>data/search/titles.txt.tmp
	mv data/search/titles.txt.tmp data/search/titles.txt
	echo "indexed $(wc -l <data/search/titles.txt) note titles"
	;;
backward)
	rm -f data/search/titles.txt
	;;
esac
