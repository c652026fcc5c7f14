# ngx_http_collab_module: build, run and test.
#
#   make run    install what is needed, build, start PostgreSQL + Redis +
#               nginx on 127.0.0.1:8080 and serve the editor (Ctrl-C stops)
#   make test   install test dependencies, build, run every suite
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

.PHONY: all deps module unit test-unit fuzz fuzz-short test-fuzz test-ot \
        test-nginx test-js test run stop clean

all: module

deps:
	bash .ci/deps.sh

module:
	bash .ci/build-module.sh

$(BUILD)/unit/%: t/unit/%.c $(PURE_SRCS) $(PURE_HDRS) t/unit/collab_test.h
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(PURE_SRCS) $(LIBS)

unit: $(UNIT_TESTS)

test-unit: unit
	@set -e; for t in $(UNIT_TESTS); do \
	    echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t; done

$(BUILD)/fuzz/%: t/fuzz/%.c $(PURE_SRCS) $(PURE_HDRS)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(PURE_SRCS) $(LIBS)

fuzz-build: $(FUZZERS)

test-fuzz: $(FUZZERS)
	@set -e; for f in $(FUZZERS); do \
	    n=$$(basename $$f); mkdir -p $(BUILD)/corpus/$$n; \
	    seeds=; [ -d t/fuzz/seeds/$$n ] && seeds=t/fuzz/seeds/$$n; \
	    echo "== $$n ($(FUZZ_SECONDS)s)"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
	        $(BUILD)/corpus/$$n $$seeds 2>&1 | tail -3; \
	    test $${PIPESTATUS[0]} -eq 0; done

fuzz:
	$(MAKE) test-fuzz FUZZ_SECONDS=600

test-ot:
	bash t/ot/run.sh

test-nginx: module
	prove -v -r t/

test-js: module
	bash t/js/run.sh

test: deps
	$(MAKE) module
	$(MAKE) test-unit
	$(MAKE) test-ot
	$(MAKE) test-fuzz
	$(MAKE) test-nginx

run: deps module
	bash .ci/stack.sh run

stop:
	bash .ci/stack.sh stop

clean:
	rm -rf $(BUILD)
