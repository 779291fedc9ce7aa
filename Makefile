# jwtd - build, test, fuzz, bench.
#
# Sources are discovered by directory, so adding a file to src/<subsystem>/ or a test to
# tests/unit/ needs no edit here. Targets:
#
#   make            build/jwtd, build/libjwtv.a, build/libjwtv.so
#   make run        bootstrap (apt when root), build, start jwtd on the embedded defaults
#   make test       bootstrap, then every test: unit, unit+integration under ASan+UBSan,
#                   fuzz-corpus replay, standalone jwtv link check, packaging (as root)
#   make asan       the same binaries with ASan+UBSan into build/asan/
#   make tsan       the threaded tests under ThreadSanitizer (build/tsan/)
#   make fuzz       libFuzzer targets (clang) into build/fuzz/, each run FUZZ_SECONDS
#   make format / check-format / lint
#   make openapi-check  docs/openapi.json through a strict OpenAPI 3 validator (npm)
#   make bench      the headline benchmarks (bench/run-all, a few minutes), the table that
#                   opens BENCH.md; bench/run, bench/run-tokens, ... write the sections below
#   make soak       60 s mixed attack load under wrk (tests/soak/soak.py; SOAK_SECONDS)
#   make install    jwtd, libjwtv, headers, jwtv.pc, man pages, unit, sample configuration
#                   into DESTDIR/PREFIX (/usr/local); make uninstall (docs/install.md)
#   make deb        the Debian packages jwtd, libjwtv0, libjwtv-dev into build/deb/
#   make package-test   make install into a temp tree, then the packages installed and purged

CC        ?= gcc
BUILD     ?= build
SAN       ?=
PYTHON    := /usr/bin/python3
NPROC     ?= $(shell nproc 2>/dev/null || echo 2)
LLHTTP_DIR := /usr/share/llhttp
LLHTTP_INC := /usr/share/include/llhttp

PKGS_JWTV := openssl jansson
PKGS_ALL  := $(PKGS_JWTV) libuv hiredis sqlite3 libpq libargon2 libcurl libcbor libqrencode

OPT       ?= -O2
WARN      := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wstrict-prototypes \
             -Wmissing-prototypes -Wformat=2 -Wvla
CPPFLAGS  += -D_GNU_SOURCE -Iinclude -Isrc -I$(LLHTTP_INC)
CFLAGS    += -std=c11 $(OPT) -g -fPIC -fno-strict-aliasing $(WARN) -MMD -MP \
             $(shell pkg-config --cflags $(PKGS_ALL) 2>/dev/null)
LDLIBS_JWTV := $(shell pkg-config --libs $(PKGS_JWTV) 2>/dev/null)
LDLIBS_ALL  := $(shell pkg-config --libs $(PKGS_ALL) 2>/dev/null) -lcrypt -lpthread -lm

ifeq ($(SAN),asan)
  OPT      := -O1
  CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS  += -fsanitize=address,undefined
endif
ifeq ($(SAN),tsan)
  OPT      := -O1
  CFLAGS   += -fsanitize=thread -fno-omit-frame-pointer
  LDFLAGS  += -fsanitize=thread
endif
ifeq ($(SAN),fuzz)
  OPT      := -O1
  CFLAGS   += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined -DJWTD_FUZZING
  LDFLAGS  += -fsanitize=address,undefined
endif

# --- sources --------------------------------------------------------------------------------
# libjwtv: listed file by file (the library's boundary is a decision, not a glob). It is the
# portable core of src/common/ that the JOSE code uses, jose/ and lib/; nothing of the
# server runtime (src/runtime/: log, metrics, aborting allocator, HTTP error table).
JWTV_SRC   := src/common/b64url.c src/common/buf.c src/common/clock.c src/common/json_scan.c \
              src/jose/alg.c src/jose/jwk.c src/jose/jws.c src/jose/jwt.c src/jose/keyring.c \
              src/jose/mem.c src/lib/jwtv.c src/lib/revset.c
# The rest of the portable core (pure helpers only jwtd needs), then the server.
CORE_SRC   := $(filter-out $(JWTV_SRC),$(wildcard src/common/*.c))
SERVER_SRC := $(CORE_SRC) $(wildcard src/runtime/*.c src/http/*.c src/config/*.c src/store/*.c \
                                     src/db/*.c src/auth/*.c src/api/*.c src/api/*/*.c \
                                     src/resource/*.c src/root/*.c src/cli/*.c)
MAIN_SRC   := src/main.c
UNIT_SRC   := $(shell find tests/unit -name '*.c' 2>/dev/null | sort)
FUZZ_SRC   := $(filter-out fuzz/replay_main.c,$(wildcard fuzz/*.c))
FUZZ_NAMES := $(basename $(notdir $(FUZZ_SRC)))
LLHTTP_SRC := $(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c $(LLHTTP_DIR)/llhttp.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

# --- version --------------------------------------------------------------------------------
# JWTD_VERSION, the one version symbol (jwtd version, /metrics build info): the semantic
# version in the VERSION file, plus SemVer build metadata naming the commit when built from a
# git checkout that is not exactly the release tag v<VERSION> (0.9.0+g8dfa538, .dirty when
# the tree has changes). Characters outside [A-Za-z0-9.+_-] are dropped so the value is safe
# inside the -D quoting. It is defined for every compilation, but only the objects listed in
# VERSIONED_SRC use it: they depend on $(BUILD)/version, rewritten only when the value
# changes, so a new commit recompiles those few files and nothing else. JWTD_GIT_BUILD may
# come from the environment instead: `make deb` builds a copy without .git and passes it.
JWTD_BASE_VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
JWTD_GIT_BUILD ?= $(shell [ -e .git ] && ! git describe --tags --exact-match --match 'v$(JWTD_BASE_VERSION)' >/dev/null 2>&1 && \
                          git describe --always --dirty --abbrev=7 --exclude '*' 2>/dev/null | sed 's/^/+g/; s/-dirty$$/.dirty/')
JWTD_VERSION := $(shell printf '%s%s' '$(JWTD_BASE_VERSION)' '$(JWTD_GIT_BUILD)' | tr -cd 'A-Za-z0-9.+_-')
CPPFLAGS += -DJWTD_VERSION=\"$(JWTD_VERSION)\"
VERSIONED_SRC := src/cli/cli.c src/api/routes/metrics.c tests/unit/cli/cli.c
$(shell mkdir -p $(BUILD) && { [ "$$(cat $(BUILD)/version 2>/dev/null)" = "$(JWTD_VERSION)" ] || \
        echo "$(JWTD_VERSION)" > $(BUILD)/version; })
$(call obj,$(VERSIONED_SRC)): $(BUILD)/version
# The shared library's ABI version: the major number of VERSION.
JWTV_SONAME := libjwtv.so.$(firstword $(subst ., ,$(JWTD_BASE_VERSION)))
# --- the web UI built into jwtd ----------------------------------------------------------------
# scripts/embed-web writes $(BUILD)/gen/web_files.c: the files of web/app/ included by the
# assembler (.incbin, paths relative to this directory) and their table, which
# src/api/routes/static.c serves under /app/ by default. It depends on every file and
# directory below web/app/ (a directory's time changes when a file is added or removed), so
# editing, adding or removing a file regenerates and recompiles it.
WEB_UI      := web/app
WEB_UI_DEPS := $(shell find -L $(WEB_UI) -name '.?*' -prune -o -print 2>/dev/null)
WEB_UI_C    := $(BUILD)/gen/web_files.c
WEB_UI_OBJ  := $(BUILD)/obj/gen/web_files.o
$(WEB_UI_C): scripts/embed-web $(WEB_UI_DEPS)
	@mkdir -p $(dir $@)
	scripts/embed-web $(WEB_UI) > $@.tmp && mv $@.tmp $@
$(WEB_UI_OBJ): $(WEB_UI_C)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

JWTV_OBJ   := $(call obj,$(JWTV_SRC))
SERVER_OBJ := $(call obj,$(SERVER_SRC)) $(WEB_UI_OBJ)
MAIN_OBJ   := $(call obj,$(MAIN_SRC))
UNIT_OBJ   := $(call obj,$(UNIT_SRC))
LLHTTP_OBJ := $(patsubst $(LLHTTP_DIR)/%.c,$(BUILD)/obj/llhttp/%.o,$(LLHTTP_SRC))

.PHONY: all clean run test unit asan tsan fuzz fuzz-build fuzz-replay integration test-pg examples \
        jwtv-check format check-format lint bootstrap bench e2e soak openapi-check version-file \
        fault-test
.DEFAULT_GOAL := all

all: $(BUILD)/jwtd $(BUILD)/libjwtv.a $(BUILD)/libjwtv.so $(BUILD)/unit_tests $(BUILD)/resource-server

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# llhttp is compiled from Debian's node-llhttp sources, never copied into the repo. It is
# third-party code: our warning set does not apply to it.
$(BUILD)/obj/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) -I$(LLHTTP_INC) $(filter-out $(WARN) -MMD -MP,$(CFLAGS)) -w -c -o $@ $<

# libjwtv.a exports the public API only, like libjwtv.so's version script: the objects are
# linked into one relocatable object whose globals other than jwtv_* are made local. jwtd,
# the unit tests and the fuzzers use the internals (jose_*, b64url_*, ...) and link the
# plain archive $(JWTV_INTERNAL) instead.
JWTV_INTERNAL := $(BUILD)/libjwtv-internal.a
$(BUILD)/libjwtv.a: $(JWTV_OBJ)
	@rm -f $@
	$(LD) -r -o $(BUILD)/obj/jwtv-public.o $^
	objcopy --wildcard --keep-global-symbol='jwtv_*' $(BUILD)/obj/jwtv-public.o
	ar rcs $@ $(BUILD)/obj/jwtv-public.o

$(JWTV_INTERNAL): $(JWTV_OBJ)
	@rm -f $@
	ar rcs $@ $^

# libjwtv.so carries the SONAME libjwtv.so.<major of VERSION>; the build names the file
# libjwtv.so and links that name to it, so programs linked with -Lbuild -ljwtv run with
# LD_LIBRARY_PATH=build. `make install` installs it as libjwtv.so.<VERSION> with both links.
$(BUILD)/libjwtv.so: $(JWTV_OBJ) src/lib/jwtv.map VERSION
	$(CC) -shared $(LDFLAGS) -Wl,-soname,$(JWTV_SONAME) -Wl,--version-script=src/lib/jwtv.map \
	    -o $@ $(JWTV_OBJ) $(LDLIBS_JWTV)
	ln -sf libjwtv.so $(BUILD)/$(JWTV_SONAME)

$(BUILD)/jwtd: $(MAIN_OBJ) $(SERVER_OBJ) $(LLHTTP_OBJ) $(JWTV_INTERNAL)
	$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(SERVER_OBJ) $(LLHTTP_OBJ) $(JWTV_INTERNAL) $(LDLIBS_ALL)

# bench/micro-rate's program: the rate limiter's per-request work against the server's objects
$(BUILD)/micro_rate: bench/micro_rate.c $(SERVER_OBJ) $(LLHTTP_OBJ) $(JWTV_INTERNAL)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(SERVER_OBJ) $(LLHTTP_OBJ) $(JWTV_INTERNAL) \
	    $(LDLIBS_ALL)

# bench/run-costs' program: the revocation index's resident memory per million revoked ids
$(BUILD)/revindex_mem: bench/revindex_mem.c $(SERVER_OBJ) $(LLHTTP_OBJ) $(JWTV_INTERNAL)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(SERVER_OBJ) $(LLHTTP_OBJ) $(JWTV_INTERNAL) \
	    $(LDLIBS_ALL)

$(BUILD)/unit_tests: $(UNIT_OBJ) $(SERVER_OBJ) $(LLHTTP_OBJ) $(JWTV_INTERNAL)
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJ) $(SERVER_OBJ) $(LLHTTP_OBJ) $(JWTV_INTERNAL) $(LDLIBS_ALL)

$(BUILD)/obj/tests/unit/%.o: CPPFLAGS += -Itests/unit

# openapi.c embeds docs/openapi.json with .incbin (invisible to -MMD).
$(BUILD)/obj/src/api/routes/openapi.o: docs/openapi.json

# --- examples: a C resource server that links only libjwtv (+ OpenSSL, jansson) ----------------
examples: $(BUILD)/resource-server
$(BUILD)/resource-server: examples/resource-server-c/server.c $(BUILD)/libjwtv.a
	$(CC) -Iinclude $(filter-out -MMD -MP,$(CFLAGS)) $(LDFLAGS) -o $@ $< $(BUILD)/libjwtv.a \
	    $(LDLIBS_JWTV) -lpthread

# --- jwtv standalone: proves the library links with OpenSSL and jansson only ---------------
$(BUILD)/jwtv_standalone: tests/jwtv/standalone.c $(BUILD)/libjwtv.a
	$(CC) $(CPPFLAGS) -Iinclude $(filter-out -MMD -MP,$(CFLAGS)) $(LDFLAGS) -o $@ $< \
	    $(BUILD)/libjwtv.a $(LDLIBS_JWTV)

# ... and that the archive defines no global symbol outside the jwtv_* API.
jwtv-check: $(BUILD)/jwtv_standalone
	@if [ -f tests/jwtv/standalone.c ]; then ./$(BUILD)/jwtv_standalone tests/vectors; fi
	@leak=$$(nm -g --defined-only $(BUILD)/libjwtv.a | awk 'NF == 3 && $$3 !~ /^jwtv_/ {print $$3}'); \
	if [ -n "$$leak" ]; then echo "libjwtv.a exports non-jwtv_ symbols:" $$leak; exit 1; fi; \
	n=$$(nm -g --defined-only $(BUILD)/libjwtv.a | awk 'NF == 3' | wc -l); \
	[ "$$n" -gt 0 ] || { echo "libjwtv.a defines no jwtv_* symbol"; exit 1; }; \
	echo "libjwtv.a: $$n global symbols, all jwtv_*"

# --- install -------------------------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=] (docs/install.md). The configuration and
# logrotate files go to SYSCONFDIR (/etc, whatever the prefix) and are never overwritten;
# the paths in the unit, jwtv.pc and the sample configuration are filled in here, so they
# always match the PREFIX of this installation. The man pages are generated from the binary
# (scripts/gen-man), so they cannot drift from it.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
INSTALL    ?= install
JWTV_REAL  := libjwtv.so.$(JWTD_BASE_VERSION)
DIST_SUBST  = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
                  -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
                  -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@VERSION@|$(JWTD_BASE_VERSION)|g'

.PHONY: install uninstall man deb package-test
man: $(BUILD)/man/jwtd.1 $(BUILD)/man/jwtd.conf.5
$(BUILD)/man/jwtd.1 $(BUILD)/man/jwtd.conf.5 &: $(BUILD)/jwtd scripts/gen-man
	scripts/gen-man $(BUILD)/jwtd $(BUILD)/man

# Installs FILE to DEST (mode 0644 then MODE) unless DEST exists: $(call install_keep,FILE,DEST,MODE)
install_keep = if [ -e $(2) ]; then echo "install: kept the existing $(2)"; \
               else $(INSTALL) -m $(3) $(1) $(2); fi

install: $(BUILD)/jwtd $(BUILD)/libjwtv.a $(BUILD)/libjwtv.so man
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/jwtv \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/jwtd $(DESTDIR)$(SYSCONFDIR)/logrotate.d
	$(INSTALL) -m 0755 $(BUILD)/jwtd $(DESTDIR)$(BINDIR)/jwtd
	$(INSTALL) -m 0644 $(BUILD)/libjwtv.a $(DESTDIR)$(LIBDIR)/libjwtv.a
	$(INSTALL) -m 0644 $(BUILD)/libjwtv.so $(DESTDIR)$(LIBDIR)/$(JWTV_REAL)
	ln -sf $(JWTV_REAL) $(DESTDIR)$(LIBDIR)/$(JWTV_SONAME)
	ln -sf $(JWTV_SONAME) $(DESTDIR)$(LIBDIR)/libjwtv.so
	$(INSTALL) -m 0644 include/jwtv/*.h $(DESTDIR)$(INCLUDEDIR)/jwtv/
	$(DIST_SUBST) dist/jwtv.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/jwtv.pc
	$(INSTALL) -m 0644 $(BUILD)/man/jwtd.1 $(DESTDIR)$(MANDIR)/man1/jwtd.1
	$(INSTALL) -m 0644 $(BUILD)/man/jwtd.conf.5 $(DESTDIR)$(MANDIR)/man5/jwtd.conf.5
	$(DIST_SUBST) dist/jwtd.service.in > $(DESTDIR)$(UNITDIR)/jwtd.service
	$(DIST_SUBST) dist/jwtd.conf.in > $(BUILD)/jwtd.conf
	@$(call install_keep,$(BUILD)/jwtd.conf,$(DESTDIR)$(SYSCONFDIR)/jwtd/jwtd.conf,0640)
	@$(call install_keep,examples/logrotate/jwtd,$(DESTDIR)$(SYSCONFDIR)/logrotate.d/jwtd,0644)

# Removes what install installed; the configuration and logrotate files only when they are
# still the installed ones (an edited file is kept, and said so).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/jwtd $(DESTDIR)$(LIBDIR)/libjwtv.a $(DESTDIR)$(LIBDIR)/$(JWTV_REAL) \
	    $(DESTDIR)$(LIBDIR)/$(JWTV_SONAME) $(DESTDIR)$(LIBDIR)/libjwtv.so \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/jwtv.pc $(DESTDIR)$(MANDIR)/man1/jwtd.1 \
	    $(DESTDIR)$(MANDIR)/man5/jwtd.conf.5 $(DESTDIR)$(UNITDIR)/jwtd.service
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/jwtv/,$(notdir $(wildcard include/jwtv/*.h)))
	rmdir $(DESTDIR)$(INCLUDEDIR)/jwtv 2>/dev/null || true
	@$(DIST_SUBST) dist/jwtd.conf.in | cmp -s - $(DESTDIR)$(SYSCONFDIR)/jwtd/jwtd.conf && \
	    rm -f $(DESTDIR)$(SYSCONFDIR)/jwtd/jwtd.conf || \
	    { [ ! -e $(DESTDIR)$(SYSCONFDIR)/jwtd/jwtd.conf ] || \
	      echo "uninstall: kept the edited $(DESTDIR)$(SYSCONFDIR)/jwtd/jwtd.conf"; }
	@cmp -s examples/logrotate/jwtd $(DESTDIR)$(SYSCONFDIR)/logrotate.d/jwtd && \
	    rm -f $(DESTDIR)$(SYSCONFDIR)/logrotate.d/jwtd || \
	    { [ ! -e $(DESTDIR)$(SYSCONFDIR)/logrotate.d/jwtd ] || \
	      echo "uninstall: kept the edited $(DESTDIR)$(SYSCONFDIR)/logrotate.d/jwtd"; }
	rmdir $(DESTDIR)$(SYSCONFDIR)/jwtd 2>/dev/null || true

# --- Debian packages ------------------------------------------------------------------------
# make deb: jwtd, libjwtv0 and libjwtv-dev (debian/) into build/deb/, by dpkg-buildpackage
# in a copy of the tree (build/deb/src/), then lintian. One build with Debian's flags, no
# tests (`make test` runs them); scripts/build-deb.
deb: BOOTSTRAP_PROFILE = package
deb: bootstrap
	JWTD_GIT_BUILD='$(JWTD_GIT_BUILD)' scripts/build-deb build/deb

# The tests of this section (tests/package): make install into a temp tree, then the
# packages of `make deb` installed with dpkg (as root), run as the unit runs jwtd, purged.
package-test: deb all
	JWTD_BUILD=$(CURDIR)/$(BUILD) JWTD_DEB_DIR=$(CURDIR)/build/deb $(PYTHON) -m pytest -q \
	    -p no:cacheprovider tests/package $(PYTEST_ARGS)

# --- fuzzing --------------------------------------------------------------------------------
# Replay binaries: each target linked with fuzz/replay_main.c (gcc, any SAN), run over its
# corpus by `make test`. libFuzzer binaries: clang, built by `make fuzz`.
$(BUILD)/fuzz-replay/%: fuzz/%.c fuzz/replay_main.c $(SERVER_OBJ) $(LLHTTP_OBJ) $(JWTV_INTERNAL)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(filter-out -MMD -MP,$(CFLAGS)) $(LDFLAGS) -o $@ $< fuzz/replay_main.c \
	    $(SERVER_OBJ) $(LLHTTP_OBJ) $(JWTV_INTERNAL) $(LDLIBS_ALL)

$(BUILD)/fuzz-bin/%: fuzz/%.c $(SERVER_OBJ) $(LLHTTP_OBJ) $(JWTV_INTERNAL)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(filter-out -MMD -MP,$(CFLAGS)) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< \
	    $(SERVER_OBJ) $(LLHTTP_OBJ) $(JWTV_INTERNAL) $(LDLIBS_ALL)

fuzz-replay: $(addprefix $(BUILD)/fuzz-replay/,$(FUZZ_NAMES))
	@set -e; for t in $(FUZZ_NAMES); do \
	    ./$(BUILD)/fuzz-replay/$$t fuzz/corpus/$$t; \
	done

FUZZ_SECONDS ?= 60
fuzz-build:
	$(MAKE) BUILD=build/fuzz CC=clang SAN=fuzz $(addprefix build/fuzz/fuzz-bin/,$(FUZZ_NAMES))

fuzz: fuzz-build
	@set -e; mkdir -p fuzz/artifacts; for t in $(FUZZ_NAMES); do \
	    echo "== fuzz $$t ($(FUZZ_SECONDS)s)"; \
	    mkdir -p build/fuzz/corpus/$$t; \
	    dict=""; [ -f fuzz/$$t.dict ] && dict="-dict=fuzz/$$t.dict"; \
	    ./build/fuzz/fuzz-bin/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	        -artifact_prefix=fuzz/artifacts/$$t- $$dict build/fuzz/corpus/$$t fuzz/corpus/$$t; \
	done

# --- tests ----------------------------------------------------------------------------------
bootstrap:
	@scripts/bootstrap $(BOOTSTRAP_PROFILE)

unit: $(BUILD)/unit_tests
	JWTD_SRC_ROOT=$(CURDIR) ./$(BUILD)/unit_tests

asan:
	$(MAKE) BUILD=build/asan SAN=asan all

tsan:
	$(MAKE) BUILD=build/tsan SAN=tsan all
	TSAN_OPTIONS=halt_on_error=1 JWTD_SRC_ROOT=$(CURDIR) ./build/tsan/unit_tests thread

PYTEST_ARGS ?=
# The integration suites run on pytest-xdist workers, one test file per worker at a time
# (loadfile: a file's module-scoped servers start once). Most of a test's time is waiting
# (process start, hashing, timers), so 2 workers on 2 cores nearly halve the run.
# PYTEST_JOBS= runs them serially.
PYTEST_JOBS ?= -n 2 --dist loadfile
integration:
	JWTD_BIN=$(CURDIR)/$(JWTD_BIN_DIR)/jwtd $(PYTHON) -m pytest -q -p no:cacheprovider \
	    $(PYTEST_JOBS) tests/integration $(PYTEST_ARGS)
	JWTD_BIN=$(CURDIR)/$(JWTD_BIN_DIR)/jwtd $(PYTHON) -m pytest -q -p no:cacheprovider \
	    $(PYTEST_JOBS) tests/security $(PYTEST_ARGS)
JWTD_BIN_DIR ?= build/asan

# One test suite, two databases: the db unit tests (and those of the modules storing through
# db, resource_post_) and the database-touching integration tests again, against a real
# PostgreSQL server the tests start (tests/pg/pg-server).
PG_TESTS ?= test_passkeys.py test_simplejwt_obtain.py test_simplejwt_refresh.py test_simplejwt_blacklist.py \
	    test_simplejwt_me.py test_revocation.py test_cookie_flow.py test_service_auth.py \
	    test_smoke_tokens.py test_posts.py test_import_django.py test_pg_backend.py \
	    test_oidc_provider.py test_mfa.py test_mail_lifecycle.py \
	    test_admin_api.py test_revocation_feed.py
test-pg:
	JWTD_TEST_PG=1 JWTD_SRC_ROOT=$(CURDIR) ./$(JWTD_BIN_DIR)/unit_tests db_
	JWTD_TEST_PG=1 JWTD_SRC_ROOT=$(CURDIR) ./$(JWTD_BIN_DIR)/unit_tests resource_post_
	JWTD_TEST_DB=pg JWTD_BIN=$(CURDIR)/$(JWTD_BIN_DIR)/jwtd $(PYTHON) -m pytest -q \
	    -p no:cacheprovider $(PYTEST_JOBS) $(addprefix tests/integration/,$(PG_TESTS)) $(PYTEST_ARGS)

# Fault injection (tests/fault, docs/reliability.md): HAProxy in front of 3 instances on
# PostgreSQL and Redis Sentinel, a mixed load, faults injected, the history checked by
# tests/fault/check.py. FAULT_SECONDS=60 by default (the report run: 300 or more).
FAULT_SECONDS ?= 60
fault-test:
	FAULT_SECONDS=$(FAULT_SECONDS) JWTD_BIN=$(CURDIR)/$(FAULT_BIN_DIR)/jwtd $(PYTHON) tests/fault/run.py
FAULT_BIN_DIR ?= build

# Browser flow: the JS client's unit tests (node's test runner, against a real jwtd) and the
# end-to-end tests in Debian's Chromium (tests/e2e: playwright-core, installed by bootstrap).
e2e:
	cd clients/js && JWTD_BIN=$(CURDIR)/$(JWTD_BIN_DIR)/jwtd node --test test/client.test.js
	cd tests/e2e && JWTD_BIN=$(CURDIR)/$(JWTD_BIN_DIR)/jwtd node --test *.test.js

# docs/openapi.json against the OpenAPI 3 schema plus the rules a strict linter adds (unique
# operationIds, no empty `required`, path parameters declared); tests/openapi/validate.js,
# its validator installed from npm by bootstrap.
openapi-check:
	cd tests/openapi && node validate.js $(CURDIR)/docs/openapi.json

export ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1

test: BOOTSTRAP_PROFILE = test
test: bootstrap
	$(MAKE) check-format
	$(MAKE) openapi-check
	$(MAKE) lint
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) asan
	$(MAKE) BUILD=build/asan SAN=asan unit
	$(MAKE) BUILD=build/asan SAN=asan fuzz-replay
	$(MAKE) jwtv-check
	$(MAKE) integration JWTD_BIN_DIR=build/asan
	$(MAKE) test-pg JWTD_BIN_DIR=build/asan
	$(MAKE) e2e JWTD_BIN_DIR=build/asan
	$(MAKE) package-test

run: BOOTSTRAP_PROFILE = build
run: bootstrap
	$(MAKE) all
	scripts/run-dev

bench: all
	bench/run-all

SOAK_SECONDS ?= 60
soak: all
	$(PYTHON) tests/soak/soak.py --duration $(SOAK_SECONDS) --bin $(CURDIR)/$(BUILD)/jwtd

# --- style ----------------------------------------------------------------------------------
FORMAT_FILES = $(shell find src include tests fuzz bench examples -name '*.[ch]' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)

check-format:
	clang-format --dry-run -Werror $(FORMAT_FILES)

# clang-tidy with .clang-tidy (the static analyzer; warnings are errors), files in parallel.
lint:
	scripts/lint-banned
	scripts/lint-layers
	printf '%s\n' $(JWTV_SRC) $(SERVER_SRC) $(MAIN_SRC) | xargs -P$(NPROC) -n6 sh -c \
	    'clang-tidy --quiet "$$@" -- $(CPPFLAGS) -std=c11 $(shell pkg-config --cflags $(PKGS_ALL) 2>/dev/null)' lint

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
