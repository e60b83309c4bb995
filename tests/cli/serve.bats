#!/usr/bin/env bats
# ferry serve (cli/cmd_serve.c, cli/serve_*.c): the dashboard's API by curl.
# The token (401 without it; the header or the page's cookie), POST only for
# what changes state (405), no CORS header, each document the same as the
# command's --json, up / pause / resume / rollback through the API, 409 on a
# second up, the events of a run, and a clean stop on SIGTERM.

load helpers
load fault_helpers

setup() {
	fault_install 0.1.0
	step 0.1.0 0.2.0 001_nick "ALTER TABLE users ADD COLUMN nick TEXT;" \
		"ALTER TABLE users DROP COLUMN nick;"
	step 0.2.0 0.3.0 001_tags "CREATE TABLE tags (x); INSERT INTO tags VALUES (1);" \
		"DROP TABLE tags;"
}

teardown() {
	fault_teardown
}

_url_line() {
	grep -qE '^http://' "$BATS_TEST_TMPDIR/serve.out" 2>/dev/null
}

# Starts `ferry serve`; URL, BASE and TOKEN from its first line.
start_serve() {
	"$FERRY" -C "$ROOT" serve "$@" >"$BATS_TEST_TMPDIR/serve.out" \
		2>"$BATS_TEST_TMPDIR/serve.err" 3>&- &
	SERVE_PID=$!
	BG_PIDS+=("$SERVE_PID")
	wait_until 10 _url_line
	URL=$(head -1 "$BATS_TEST_TMPDIR/serve.out")
	BASE=${URL%%/\?token=*}
	TOKEN=${URL##*token=}
}

# get PATH / post PATH BODY: with the token; the body in $BATS_TEST_TMPDIR/r.json, the status printed.
get() {
	curl -s -o "$BATS_TEST_TMPDIR/r.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE$1"
}

post() {
	curl -s -o "$BATS_TEST_TMPDIR/r.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' -X POST --data "$2" "$BASE$1"
}

api_current() {
	[ "$(get /api/status)" = 200 ] && jq -r .current "$BATS_TEST_TMPDIR/r.json"
}

_at() {
	[ "$(api_current)" = "$1" ] && [ "$(get /api/status)" = 200 ] &&
		[ "$(jq -r '.locked_by' "$BATS_TEST_TMPDIR/r.json")" = null ]
}

_api_paused() {
	[ "$(get /api/status)" = 200 ] && [ "$(jq -r '.paused.by' "$BATS_TEST_TMPDIR/r.json")" = "the dashboard" ]
}

# same DOC CMD...: the API's document equals `ferry --json CMD` (keys sorted; ages dropped).
same() {
	local path=$1
	shift
	[ "$(get "$path")" = 200 ]
	"$FERRY" -C "$ROOT" --json "$@" >"$BATS_TEST_TMPDIR/cmd.json"
	local norm='del(.. | .age_seconds?)'
	diff <(jq -S "$norm" "$BATS_TEST_TMPDIR/r.json") <(jq -S "$norm" "$BATS_TEST_TMPDIR/cmd.json")
}

@test "serve: the first line is the address with a 64-hex token, on 127.0.0.1 and a free port" {
	start_serve
	[[ "$URL" =~ ^http://127\.0\.0\.1:[0-9]+/\?token=[0-9a-f]{64}$ ]]
	[[ "$BASE" != *:0 ]]
	# Another server gets another token.
	local first=$TOKEN
	kill -TERM "$SERVE_PID"
	wait_exit "$SERVE_PID" 10
	[ "$WAIT_RC" = 0 ]
	start_serve --port 0
	[ "$TOKEN" != "$first" ]
}

@test "serve: 401 without the token or with a wrong one; 200 with the header and with the page's cookie" {
	start_serve
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/status")" = 401 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$BASE/api/status")" = 401 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/api/up")" = 401 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/")" = 401 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/?token=${TOKEN}x")" = 401 ]
	[ "$(get /api/status)" = 200 ]
	# The page with ?token sets an HttpOnly, SameSite=Strict cookie that the API takes.
	curl -s -D "$BATS_TEST_TMPDIR/h.txt" -c "$BATS_TEST_TMPDIR/jar" -o "$BATS_TEST_TMPDIR/page.html" "$URL"
	grep -qi '^set-cookie: ferry_token=.*HttpOnly.*SameSite=Strict' "$BATS_TEST_TMPDIR/h.txt"
	grep -q '<script src="/app.js">' "$BATS_TEST_TMPDIR/page.html"
	[ "$(curl -s -o /dev/null -w '%{http_code}' -b "$BATS_TEST_TMPDIR/jar" "$BASE/api/status")" = 200 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' -b "$BATS_TEST_TMPDIR/jar" "$BASE/app.js")" = 200 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' -b "$BATS_TEST_TMPDIR/jar" "$BASE/style.css")" = 200 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' -b 'ferry_token=wrong' "$BASE/api/status")" = 401 ]
}

@test "serve: state-changing calls are POST only (405), documents GET only; no CORS header; 404" {
	start_serve
	local p
	for p in up pause resume rollback; do
		[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/api/$p")" = 405 ]
	done
	for p in status plan history backups events; do
		[ "$(post "/api/$p" '{}')" = 405 ]
	done
	curl -s -D "$BATS_TEST_TMPDIR/h.txt" -o /dev/null -H "Authorization: Bearer $TOKEN" \
		"$BASE/api/up"
	grep -qi '^allow: POST' "$BATS_TEST_TMPDIR/h.txt"
	curl -s -D "$BATS_TEST_TMPDIR/h.txt" -o /dev/null -H "Authorization: Bearer $TOKEN" \
		-H 'Origin: http://evil.example' "$BASE/api/status"
	grep -q '^HTTP/1.1 200' "$BATS_TEST_TMPDIR/h.txt"
	[ "$(grep -ci '^access-control-' "$BATS_TEST_TMPDIR/h.txt")" = 0 ]
	curl -s -D "$BATS_TEST_TMPDIR/h.txt" -o /dev/null -X OPTIONS -H "Authorization: Bearer $TOKEN" \
		-H 'Origin: http://evil.example' "$BASE/api/up"
	[ "$(grep -ci '^access-control-' "$BATS_TEST_TMPDIR/h.txt")" = 0 ]
	[ "$(get /api/nothing)" = 404 ]
	[ "$(post /api/up 'not json')" = 400 ]
}

@test "serve: status, plan, history, one run, backups: the same documents as the commands' --json" {
	start_serve
	same /api/status status
	same /api/plan plan
	same '/api/plan?target=0.2.0' plan 0.2.0
	"$FERRY" -C "$ROOT" up 0.2.0 >/dev/null 2>&1
	same /api/status status
	same /api/plan plan
	same /api/history history
	same '/api/history?run=1' history 1
	same /api/backups backup list
	[ "$(jq '.backups | length' "$BATS_TEST_TMPDIR/r.json")" -ge 1 ]
	[ "$(get '/api/history?run=99')" = 400 ]
	[ "$(get '/api/history?run=x')" = 400 ]
}

@test "serve: POST /api/up runs on the server; status then shows the new version; its events stream" {
	start_serve
	curl -s -N -H "Authorization: Bearer $TOKEN" "$BASE/api/events" >"$BATS_TEST_TMPDIR/ev.txt" &
	BG_PIDS+=("$!")
	sleep 0.3
	[ "$(post /api/up '{}')" = 202 ]
	[ "$(jq -r .started "$BATS_TEST_TMPDIR/r.json")" = up ]
	wait_until 30 _at 0.3.0
	[ "$(sqlite3 "$ROOT/.ferry/state.db" "SELECT value FROM meta WHERE key = 'version'")" = 0.3.0 ]
	[ "$(file_version)" = 0.3.0 ]
	[ "$(recorded_ids | paste -sd ' ')" = "0.2.0/001_nick.sql 0.3.0/001_tags.sql" ]
	[ "$(sql_main 'SELECT count(*) FROM tags')" = 1 ]
	wait_until 10 grep -q '"event":"job_finished"' "$BATS_TEST_TMPDIR/ev.txt"
	grep -q '^data: {"event":"action_start","index":0' "$BATS_TEST_TMPDIR/ev.txt"
	grep -q '"event":"action_end".*"id":"0.3.0/001_tags.sql".*"status":"applied"' "$BATS_TEST_TMPDIR/ev.txt"
	grep -q '"event":"finished","status":"success","code":0' "$BATS_TEST_TMPDIR/ev.txt"
	grep -q '^id: [0-9]' "$BATS_TEST_TMPDIR/ev.txt"
}

@test "serve: a target; pause and resume through the API; 409 on a second up" {
	tx_step
	slow_step 0.2.0 0.3.0 002_slow_a
	slow_step 0.2.0 0.3.0 003_slow_b
	slow_step 0.2.0 0.3.0 004_slow_c
	start_serve
	[ "$(post /api/pause '{}')" = 409 ]
	[[ "$(jq -r .error "$BATS_TEST_TMPDIR/r.json")" == *"no run in progress"* ]]
	[ "$(post /api/up '{"target": "0.2.0"}')" = 202 ]
	wait_until 30 _at 0.2.0
	[ "$(post /api/up '{"target": "0.3.0"}')" = 202 ]
	wait_log 20 "$(applying_re 0.3.0/002_slow_a.sql)"
	[ "$(post /api/up '{}')" = 409 ]
	[ "$(post /api/pause '{}')" = 200 ]
	wait_until 20 _api_paused
	local n
	n=$(record_count)
	sleep 1.2
	[ "$(record_count)" = "$n" ]
	[ "$(post /api/up '{}')" = 409 ]
	run "$FERRY" -C "$ROOT" up --wait 0
	[ "$status" -eq 4 ]
	[ "$(post /api/resume '{}')" = 200 ]
	wait_until 60 _at 0.3.0
	[ "$(record_count)" = 5 ]
	[ "$(post /api/resume '{}')" = 409 ]
}

@test "serve: rollback down to a version, and to a backup" {
	start_serve
	[ "$(post /api/up '{}')" = 202 ]
	wait_until 30 _at 0.3.0
	[ "$(post /api/rollback '{"version": "0.2.0"}')" = 200 ]
	[ "$(jq -r .status "$BATS_TEST_TMPDIR/r.json")" = success ]
	[ "$(api_current)" = 0.2.0 ]
	[ "$(recorded_ids | paste -sd ' ')" = "0.2.0/001_nick.sql" ]
	[ "$(sql_main "SELECT count(*) FROM sqlite_master WHERE name = 'tags'")" = 0 ]
	# The pre-run backup of the up was taken at 0.1.0: restoring it goes back there.
	local id
	id=$("$FERRY" -C "$ROOT" --json backup list | jq -r '[.backups[] | select(.type == "pre-run")][0].id')
	[ -n "$id" ] && [ "$id" != null ]
	[ "$(post /api/rollback "{\"backup\": \"$id\"}")" = 200 ]
	[ "$(jq -r .restored "$BATS_TEST_TMPDIR/r.json")" = "$id" ]
	[ "$(api_current)" = 0.1.0 ]
	[ -z "$(recorded_ids)" ]
	[ "$(sql_main "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'nick'")" = 0 ]
	[ "$(post /api/rollback '{"backup": "no-such-backup"}')" != 200 ]
	[ "$(post /api/rollback '{"backup": "x", "version": "0.1.0"}')" = 400 ]
}

@test "serve: SIGTERM during a run on the server stops it cleanly (undone, exit 130)" {
	tx_step
	slow_step 0.2.0 0.3.0 002_slow_a
	slow_step 0.2.0 0.3.0 003_slow_b
	snapshot
	start_serve
	[ "$(post /api/up '{}')" = 202 ]
	wait_log 20 "$(applying_re 0.3.0/002_slow_a.sql)"
	kill -TERM "$SERVE_PID"
	wait_exit "$SERVE_PID" 30
	[ "$WAIT_RC" = 130 ] || { cat "$BATS_TEST_TMPDIR/serve.err" >&2; return 1; }
	assert_same_data
	[ "$(record_count)" = 0 ]
	"$FERRY" -C "$ROOT" --json status >"$BATS_TEST_TMPDIR/st.json"
	[ "$(jget "$BATS_TEST_TMPDIR/st.json" '$.interrupted')" = 0 ]
}

@test "serve: --listen and --port are checked" {
	run "$FERRY" -C "$ROOT" serve --listen nowhere:80
	[ "$status" -eq 2 ]
	run "$FERRY" -C "$ROOT" serve --port 70000
	[ "$status" -eq 2 ]
	start_serve --listen 127.0.0.1:0
	[[ "$URL" =~ ^http://127\.0\.0\.1:[0-9]+/\?token= ]]
	[ "$(get /api/status)" = 200 ]
}

@test "serve: in a real browser (chromium, puppeteer-core): Upgrade, each step applied, Pause, Resume" {
	tx_step
	slow_step 0.1.0 0.2.0 002_slow_a
	slow_step 0.2.0 0.3.0 002_slow_b
	slow_step 0.2.0 0.3.0 003_slow_c
	start_serve
	run "$BATS_TEST_DIRNAME/../browser/run.sh" "$URL" "${FERRY_SCREENSHOT:-$BATS_TEST_TMPDIR/dashboard.png}"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "ok: 5 steps applied, paused and resumed" ]]
	[ "$(api_current)" = 0.3.0 ]
	[ "$(record_count)" = 5 ]
	[ -s "${FERRY_SCREENSHOT:-$BATS_TEST_TMPDIR/dashboard.png}" ]
}

@test "serve --json: the first line is {url, port, token}" {
	"$FERRY" -C "$ROOT" --json serve >"$BATS_TEST_TMPDIR/serve.out" 2>/dev/null 3>&- &
	SERVE_PID=$!
	BG_PIDS+=("$SERVE_PID")
	wait_until 10 grep -q '^{' "$BATS_TEST_TMPDIR/serve.out"
	local line
	line=$(head -1 "$BATS_TEST_TMPDIR/serve.out")
	TOKEN=$(echo "$line" | jq -r .token)
	BASE="http://127.0.0.1:$(echo "$line" | jq -r .port)"
	[ "$(echo "$line" | jq -r .url)" = "$BASE/?token=$TOKEN" ]
	[ "$(get /api/status)" = 200 ]
}
