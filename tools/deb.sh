#!/bin/sh
# deb.sh [OUT] - builds the Debian packages (debian/) from a copy of the tree
# in OUT/src (default build-deb), so that nothing is written into the tree:
# dpkg-buildpackage -us -uc -b, then lintian on the result. The .deb files
# and the lintian report (lintian.txt) land in OUT. Fails on a build error
# or a lintian error; lintian's warnings are kept in OUT/lintian.txt.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-build-deb}
case $out in /*) ;; *) out="$top/$out" ;; esac
version=$(sed -n '1s/^ferry (\([^)]*\)).*/\1/p' "$top/debian/changelog")
src="$out/src/ferry-$version"
rm -rf "$out"
mkdir -p "$src"
# The tree's files as git sees them (untracked ones too, ignored ones not);
# without git, everything but the build folders.
cd "$top"
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -co --exclude-standard | while IFS= read -r f; do
		[ -e "$f" ] && printf '%s\n' "$f"
	done | tar -c -T - | tar -x -C "$src"
else
	tar -c --exclude='./build*' --exclude=./tmp --exclude=./bench/.cache . | tar -x -C "$src"
fi
cd "$src"
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS-nocheck}"
dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1 || {
	tail -40 "$out/build.log" >&2
	echo "ferry: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
	exit 1
}
cd "$out/src"
mv ./*.deb ./*.changes ./*.buildinfo "$out/"
cd "$out"
lintian -I --pedantic ./*.changes 2>&1 | grep -v "^running with root" >lintian.txt || true
rm -rf "$out/src"
ls ./*.deb
if grep -q '^E: ' lintian.txt; then
	grep '^E: ' lintian.txt >&2
	echo "ferry: lintian found errors (all of its report: $out/lintian.txt)" >&2
	exit 1
fi
n=$(grep -c '^W: ' lintian.txt || true)
echo "lintian: no errors, $n warning(s) (report: $out/lintian.txt)"
