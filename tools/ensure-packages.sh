#!/bin/sh
# ensure-packages.sh PKG... - installs the Debian packages that are missing.
# As root it runs apt-get; otherwise it prints the exact line and fails.
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "ferry: missing Debian packages:$missing" >&2
	echo "run as root:  apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q $missing >/dev/null 2>&1 || {
	apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $missing >/dev/null
} || { echo "ferry: apt-get install -y$missing failed" >&2; exit 1; }
