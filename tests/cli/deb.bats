#!/usr/bin/env bats
# deb.bats - `make deb` (issue 13 point 5): the Debian packages built from a
# copy of the tree (tools/deb.sh), unpacked into a scratch root with
# dpkg-deb -x, and the tool run from there on a real installation. The
# build takes about a minute; it is made once for the whole file.

bats_require_minimum_version 1.5.0

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

setup_file() {
	export DEB_OUT="$BATS_FILE_TMPDIR/deb"
	export DEB_ROOT="$BATS_FILE_TMPDIR/root"
	sh "$TOP/tools/deb.sh" "$DEB_OUT" >"$BATS_FILE_TMPDIR/deb.out" 2>&1 ||
		{ cat "$BATS_FILE_TMPDIR/deb.out" >&2; return 1; }
	mkdir -p "$DEB_ROOT"
	local d
	for d in "$DEB_OUT"/*.deb; do
		dpkg-deb -x "$d" "$DEB_ROOT"
	done
	export MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
}

# The tool of the package, with the package's library (not the build's).
pkg_ferry() {
	LD_LIBRARY_PATH="$DEB_ROOT/usr/lib/$MA" "$DEB_ROOT/usr/bin/ferry" "$@"
}

@test "deb: three packages (and their debug symbols) and lintian reports no error" {
	ls "$DEB_OUT"/ferry_*.deb "$DEB_OUT"/libferry0_*.deb "$DEB_OUT"/libferry-dev_*.deb
	[ -f "$DEB_OUT/lintian.txt" ]
	run grep -c '^E: ' "$DEB_OUT/lintian.txt"
	[ "$output" = 0 ]
	grep -q 'lintian: no errors' "$BATS_FILE_TMPDIR/deb.out"
}

@test "deb: each file is in the package and the place it belongs" {
	run dpkg-deb -c "$DEB_OUT"/ferry_*.deb
	[[ "$output" == *" ./usr/bin/ferry"* ]]
	[[ "$output" == *" ./usr/share/man/man1/ferry.1.gz"* ]]
	[[ "$output" == *" ./usr/share/bash-completion/completions/ferry"* ]]
	[[ "$output" == *" ./usr/share/zsh/vendor-completions/_ferry"* ]]
	[[ "$output" == *" ./usr/share/fish/vendor_completions.d/ferry.fish"* ]]
	run dpkg-deb -c "$DEB_OUT"/libferry0_*.deb
	[[ "$output" == *" ./usr/lib/$MA/libferry.so.0.1.0"* ]]
	[[ "$output" == *" ./usr/lib/$MA/libferry.so.0 -> libferry.so.0.1.0"* ]]
	run dpkg-deb -c "$DEB_OUT"/libferry-dev_*.deb
	[[ "$output" == *" ./usr/include/ferry.h"* ]]
	[[ "$output" == *" ./usr/lib/$MA/pkgconfig/ferry.pc"* ]]
	[[ "$output" == *" ./usr/lib/$MA/libferry.so -> libferry.so.0"* ]]
	# The pc file names the installed places.
	grep -q "^libdir=\${prefix}/lib/$MA" "$DEB_ROOT/usr/lib/$MA/pkgconfig/ferry.pc"
	grep -q '^prefix=/usr$' "$DEB_ROOT/usr/lib/$MA/pkgconfig/ferry.pc"
	# The completions are the tool's own, and the man page is ferry(1).
	grep -q 'complete' "$DEB_ROOT/usr/share/bash-completion/completions/ferry"
	zcat "$DEB_ROOT/usr/share/man/man1/ferry.1.gz" | grep -q '^\.TH FERRY 1'
	run dpkg-deb -f "$DEB_OUT"/ferry_*.deb Depends
	[[ "$output" == *"libferry0 (= "* ]]
}

@test "deb: the packaged tool runs from the scratch root with the packaged library" {
	run pkg_ferry --version
	[ "$status" -eq 0 ]
	[[ "$output" == *"0.1.0"* ]]
	# It links the packaged libferry.so.0, not one of the build's.
	run env LD_LIBRARY_PATH="$DEB_ROOT/usr/lib/$MA" ldd "$DEB_ROOT/usr/bin/ferry"
	[[ "$output" == *"libferry.so.0 => $DEB_ROOT/usr/lib/$MA/libferry.so.0"* ]]
}

@test "deb: the packaged tool upgrades a real SQLite installation (init, new, up)" {
	local dir="$BATS_TEST_TMPDIR/app"
	mkdir -p "$dir"
	run pkg_ferry -C "$dir" init
	[ "$status" -eq 0 ]
	run pkg_ferry -C "$dir" new 1.0.0 create_notes
	[ "$status" -eq 0 ]
	local f
	f=$(ls "$dir"/migrations/*/*create_notes.sql)
	printf -- '-- ferry:up\nCREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);\n' >"$f"
	printf 'INSERT INTO notes(body) VALUES (%s);\n' "'first'" >>"$f"
	printf -- '-- ferry:down\nDROP TABLE notes;\n' >>"$f"
	run pkg_ferry -C "$dir" up
	[ "$status" -eq 0 ]
	run pkg_ferry -C "$dir" version
	[ "$output" = "1.0.0" ]
	run sqlite3 "$dir/data/app.db" 'SELECT body FROM notes'
	[ "$output" = "first" ]
	# The backup it took is a real archive the packaged tool verifies.
	run pkg_ferry -C "$dir" --json backup list
	[ "$status" -eq 0 ]
	id=$(printf '%s' "$output" | jq -r '.backups[0].id')
	[ -n "$id" ] && [ "$id" != null ]
	run pkg_ferry -C "$dir" backup verify "$id"
	[ "$status" -eq 0 ]
}

@test "deb: the build wrote nothing into the source tree" {
	cd "$TOP"
	# No file the build would make (debian/.debhelper, debian/tmp, debian/files, ../*.deb).
	[ ! -e debian/.debhelper ] && [ ! -e debian/tmp ] && [ ! -e debian/files ]
	[ ! -e debian/ferry ] && [ ! -e obj-"$(dpkg-architecture -qDEB_HOST_GNU_TYPE)" ]
	[ -z "$(ls "$TOP"/.. | grep -E '^(ferry|libferry).*\.(deb|changes|buildinfo)$' || true)" ]
}
