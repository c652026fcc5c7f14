# ngx_http_collab_module: build, run and test.
#
#   make run    install what is needed, build, start PostgreSQL + Redis +
#               nginx on 127.0.0.1:8080 and serve the editor (Ctrl-C stops)
#   make test   install test dependencies, build, run every suite
#   make web    build the editor into web/dist (npm ci from its lockfile)
#   make deb    build libnginx-mod-http-collab_<version>_amd64.deb (pkg/)
#   make test-docker  the compose stack built, run and tested (docker/)
#
# Everything built lands in build/ (ignored by git).

SHELL        := /bin/bash
BUILD        := build
PURE_SRCS    := $(sort $(wildcard src/*/collab_*.c))
PURE_HDRS    := $(sort $(wildcard src/*/collab_*.h))
UNIT_TESTS   := $(patsubst t/unit/%.c,$(BUILD)/unit/%,\
                  $(sort $(wildcard t/unit/test_*.c)))
FUZZERS      := $(patsubst t/fuzz/%.c,$(BUILD)/fuzz/%,\
                  $(sort $(wildcard t/fuzz/fuzz_*.c)))

CC           ?= cc
CLANG        ?= clang
UNIT_CFLAGS  := -std=gnu99 -g -O1 -Wall -Wextra -Werror -Isrc -It/unit \
                -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_CFLAGS  := -g -O1 -Isrc -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all
LIBS         := -lyajl

# a short, bounded fuzz run per target inside `make test`; `make fuzz` for
# a long one
FUZZ_SECONDS ?= 20

.PHONY: all deps module web unit test-unit fuzz fuzz-build test-fuzz test-ot \
        test-nginx test run stop status clean module-asan test-asan

all: module

deps:
	bash .ci/deps.sh

module:
	bash .ci/build-module.sh

# npm ci only when node_modules is missing or older than the lockfile
web:
	cd web && { [ node_modules/.package-lock.json -nt package-lock.json ] \
	    || npm ci --no-audit --no-fund --loglevel=error; } && npm run build

$(BUILD)/unit/%: t/unit/%.c $(PURE_SRCS) $(PURE_HDRS) t/unit/collab_test.h
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(PURE_SRCS) $(LIBS) $(UNIT_LDFLAGS)

# the op cost test counts the engine's allocations through these wrappers
$(BUILD)/unit/test_op_cost: UNIT_LDFLAGS := \
    -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free

unit: $(UNIT_TESTS)

# each unit test must exit 0 and end with "N passed, 0 failed"
test-unit: unit
	@set -e; for t in $(UNIT_TESTS); do \
	    echo "== $$t"; \
	    ASAN_OPTIONS=detect_leaks=1 $$t 2>&1 | tee $$t.log; \
	    test $${PIPESTATUS[0]} -eq 0; \
	    tail -1 $$t.log | grep -Eq '^[0-9]+ passed, 0 failed$$' \
	        || { echo "test-unit: $$t did not report 0 failed" >&2; \
	             exit 1; }; \
	done

$(BUILD)/fuzz/%: t/fuzz/%.c $(PURE_SRCS) $(PURE_HDRS)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(PURE_SRCS) $(LIBS)

fuzz-build: $(FUZZERS)

# a fuzzer's full output is kept in build/fuzz/<name>.log; the tail is
# shown, all of it when it fails
test-fuzz: $(FUZZERS)
	@set -e; for f in $(FUZZERS); do \
	    n=$$(basename $$f); mkdir -p $(BUILD)/corpus/$$n; \
	    seeds=; [ -d t/fuzz/seeds/$$n ] && seeds=t/fuzz/seeds/$$n; \
	    echo "== $$n ($(FUZZ_SECONDS)s)"; \
	    if $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
	           $(BUILD)/corpus/$$n $$seeds > $$f.log 2>&1; then \
	        tail -2 $$f.log; \
	    else \
	        tail -60 $$f.log; echo "test-fuzz: $$n FAILED ($$f.log)"; \
	        exit 1; \
	    fi; done

fuzz:
	$(MAKE) test-fuzz FUZZ_SECONDS=600

test-ot:
	bash t/ot/run.sh

# nginx-level tests (t/*.t, see t/README.md); fails unless prove got to
# its summary line and it says PASS
PROVE_FLAGS ?= -v
test-nginx: module web
	@mkdir -p $(BUILD); set -o pipefail; \
	prove $(PROVE_FLAGS) t/*.t 2>&1 | tee $(BUILD)/prove.log; \
	rc=$${PIPESTATUS[0]}; \
	if ! tail -1 $(BUILD)/prove.log | grep -q '^Result: PASS$$'; then \
	    echo "test-nginx: prove did not finish with Result: PASS" \
	         "(exit $$rc, log $(BUILD)/prove.log)" >&2; exit 1; \
	fi; exit $$rc

# the nginx-level suite against the ASan+UBSan build of the module (see
# "sanitizer mode" in t/lib/Test/Collab.pm): any sanitizer report fails
# the block; log in build/asan/prove.log
module-asan:
	COLLAB_SANITIZE=1 bash .ci/build-module.sh

# in `make test`: every file but the long, timing-bound ones (convergence
# volume, trace replay, browser), which run on the normal build
ASAN_TESTS ?= $(filter-out t/42-convergence.t t/43-traces.t t/6%.t,\
                $(wildcard t/*.t))
test-asan: module-asan web
	@mkdir -p $(BUILD)/asan; set -o pipefail; \
	TEST_COLLAB_SANITIZE=1 prove $(PROVE_FLAGS) $(ASAN_TESTS) 2>&1 \
	    | tee $(BUILD)/asan/prove.log; \
	rc=$${PIPESTATUS[0]}; \
	if ! tail -1 $(BUILD)/asan/prove.log | grep -q '^Result: PASS$$'; then \
	    echo "test-asan: prove did not finish with Result: PASS" \
	         "(exit $$rc, log $(BUILD)/asan/prove.log)" >&2; exit 1; \
	fi; exit $$rc


# every suite runs even when an earlier one failed; the exit status is
# non-zero if any failed
SUITES := test-unit test-ot test-fuzz test-nginx test-asan test-docker \
          test-deb
test: deps
	@$(MAKE) --no-print-directory module
	@failed=; for s in $(SUITES); do \
	    echo "==== $$s"; \
	    $(MAKE) --no-print-directory $$s || failed="$$failed $$s"; \
	done; \
	if [ -n "$$failed" ]; then echo "==== FAILED:$$failed"; exit 1; fi; \
	echo "==== all suites passed: $(SUITES)"

# the compose stack (docker/): built on a debootstrapped bookworm base,
# started, then convergence and a node killed mid-edit through the load
# balancer; prints "skipped: <reason>" where Docker cannot run
.PHONY: test-docker deb test-deb
test-docker: web
	bash .ci/test-docker.sh

# the Debian package, built with dh and nginx-dev's nginx sequence from
# pkg/debian (copied into build/deb/, see pkg/build-deb.sh); lintian's
# report in build/deb/lintian.txt
deb: web
	bash pkg/build-deb.sh

# the package installed with apt into a clean bookworm container:
# nginx -t with the example configuration, one WebSocket handshake
test-deb: deb
	bash .ci/test-deb.sh

run: deps module web
	bash .ci/stack.sh run

stop:
	bash .ci/stack.sh stop

status:
	bash .ci/stack.sh status

clean:
	rm -rf $(BUILD)

# benchmarks (bench/run.sh): every scenario of performance.md against our
# module and the reference ShareDB server, medians of 3 runs, writes
# docs/benchmarks.md; bench-quick is a subset that takes under 2 minutes
.PHONY: bench bench-quick

bench:
	bash bench/run.sh

bench-quick:
	bash bench/run.sh --quick

# the soak (figures, not a test): 200 documents, 2,000 connections (5%
# typing), 20,000 idle ones, 10 minutes; SOAK_SECONDS etc. in bench/run.sh
.PHONY: soak
soak:
	BENCH_ONLY=soak BENCH_SERVERS=ours BENCH_RUNS=1 bash bench/run.sh --quick

# OT engine benchmark (figures, not a test): bench/ot/run.sh
.PHONY: bench-ot
bench-ot:
	bash bench/ot/run.sh

# what verifying a token costs (HS256, RS256, ES256)
.PHONY: bench-auth
bench-auth:
	bash bench/auth/run.sh

# refresh the README's screenshot from the last browser test run
.PHONY: screenshot
screenshot:
	cp build/screenshot-editors.png docs/screenshot-editors.png
