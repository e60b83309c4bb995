#!/usr/bin/env bash
# tests/browser/run.sh URL [SCREENSHOT] - runs dashboard.js against a running
# `ferry serve`, installing what it needs when missing (CI is a fresh
# machine): Debian's chromium (apt-get) and puppeteer-core (npm, into
# FERRY_NPM, default ~/.cache/ferry-npm, outside the tree). Its exit status
# is the test's.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export FERRY_NPM=${FERRY_NPM:-$HOME/.cache/ferry-npm}
if [ ! -x /usr/bin/chromium ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm >/dev/null
fi
if [ ! -d "$FERRY_NPM/node_modules/puppeteer-core" ]; then
	mkdir -p "$FERRY_NPM"
	npm install --prefix "$FERRY_NPM" --no-audit --no-fund puppeteer-core >/dev/null
fi
exec node "$here/dashboard.js" "$@"
