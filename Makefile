# sTask: build the extension, run the demo, run every test, measure.
#   make demo   the demo on the embedded SQLite default
#   make test   every test (engine, extension, stubs)
#   make bench  benchmarks: SQLite against plain PDO; 1, 2 and 4 workers on every backend
PHP      ?= php
CARGO    ?= cargo
EXT      := $(CURDIR)/target/release/libstask.so
PHP_EXT  := $(PHP) -d extension=$(EXT)
PHPUNIT  ?= /usr/bin/phpunit
# The conformance suite and the fault tests run on these servers too; an empty value skips one
# (each skipped test says so). CI machines run both servers locally.
STASK_TEST_PG_URL    ?= postgres://postgres@127.0.0.1:5432/test
STASK_TEST_MYSQL_URL ?= mysql://root@127.0.0.1:3306/test
export STASK_TEST_PG_URL STASK_TEST_MYSQL_URL

.PHONY: all deps build servers test test-engine test-php check-stubs stubs demo bench clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	$(CARGO) build --release -p stask

test: build servers test-engine test-php check-stubs

servers:
	@./scripts/start-test-servers.sh

test-engine:
	$(CARGO) test --workspace --exclude stask

test-php:
	STASK_EXTENSION=$(EXT) $(PHP_EXT) $(PHPUNIT)

check-stubs:
	./scripts/check-stubs.sh

stubs: deps
	./scripts/gen-stubs.sh > stubs/stask.stubs.php

demo: build
	$(PHP_EXT) examples/demo.php

bench: build
	$(PHP_EXT) bench/native.php
	$(PHP_EXT) bench/workers.php

clean:
	$(CARGO) clean
