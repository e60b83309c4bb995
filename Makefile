# The two commands of the README, and a few more. Each installs the Debian
# packages it is missing (as root; otherwise it prints the apt line and
# stops), configures with Meson, builds with Ninja and runs.
#
#   make demo      a real upgrade of examples/demo on SQLite
#   make test      every unit and command-line test; ends "N passed, N failed"
#   make crash-test  ferry killed at every action boundary and 600 delays (slow)
#   make sanitize  the test suite under AddressSanitizer + UBSan (deb.bats, which tests
#                  the package and not this build, runs in make test only)
#   make valgrind  the unit tests and the tool under valgrind (leaks are errors)
#   make bench     the engine benchmarks (SQLite, dbmate, the no-op floors) on a
#                  release build (build-rel/), printed as one table with targets
#   make bench-backup, make bench-postgres: backups of 1 GiB; PostgreSQL
#   make fuzz      every libFuzzer target (tests/fuzz, clang) for FUZZ_SECONDS each
#   make deb       the Debian packages (debian/: ferry, libferry0, libferry-dev),
#                  built from a copy of the tree, into build-deb/ with lintian's report

BUILD ?= build
PACKAGES := meson ninja-build pkg-config gcc g++ jq libsqlite3-dev libyaml-dev libjansson-dev \
            libssl-dev libcmocka-dev libpq-dev libarchive-dev libzstd-dev zstd bats sqlite3 \
            valgrind postgresql-15 libmicrohttpd-dev chromium debhelper dpkg-dev lintian time \
            pgbouncer groff-base strace
.PHONY: all deps demo test crash-test sanitize valgrind bench bench-backup bench-postgres fuzz deb clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	@sh tools/ensure-packages.sh $(PACKAGES)

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_ARGS)

demo: all
	@sh examples/demo.sh $(BUILD)/ferry

test: all
	@bash tests/run.sh $(BUILD)

# The crash campaign (issue 10): ferry killed at every boundary between actions
# and at 300 delays over a mixed run, then at 300 more with its children (a
# power loss), and with the main database on PostgreSQL (a server of its own,
# tests/pg/pg.sh). tests/cli/crash.bats is its short version inside `make test`.
crash-test: all
	@bash tests/crash/campaign.sh $(BUILD)/ferry 50
	@POWER=1 bash tests/crash/campaign.sh $(BUILD)/ferry 50 0
	@DB=postgres bash tests/crash/campaign.sh $(BUILD)/ferry 25

sanitize: deps
	@[ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false $(MESON_ARGS)
	ninja -C build-asan
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 FERRY_SUITE_APART=deb \
		bash tests/run.sh build-asan

valgrind: all
	@bash tests/valgrind.sh $(BUILD)

bench: all
	@bash bench/run.sh $(BUILD)

# The published numbers are a release build's (bench/run.sh makes build-rel/
# itself; these two are given it).
build-rel/build.ninja: | deps
	meson setup build-rel --buildtype=release $(MESON_ARGS)

bench-backup: build-rel/build.ninja
	ninja -C build-rel
	@bash bench/backup.sh build-rel

bench-postgres: build-rel/build.ninja
	ninja -C build-rel
	@bash bench/postgres.sh build-rel

# tests/fuzz/run.sh prints each target's executions, coverage and crashes;
# it fails on a crash (its reproducer is in tests/fuzz/crashes/).
FUZZ_SECONDS ?= 30
fuzz: deps
	@sh tools/ensure-packages.sh clang
	@[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false
	ninja -C build-fuzz fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh build-fuzz

# tools/deb.sh: dpkg-buildpackage -us -uc -b in build-deb/src (a copy of the
# tree), then lintian; an error from lintian fails it, warnings are listed.
# The package build skips meson test (DEB_BUILD_OPTIONS=nocheck) unless told
# otherwise: `make test` runs them. tests/cli/deb.bats builds it in `make test`.
deb: deps
	@sh tools/deb.sh build-deb

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-deb
