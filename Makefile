# sTask: build the extension, run the demo, run every test, measure.
#   make demo   the demo on the embedded SQLite default
#   make test   every test (engine, extension and package, stubs, the manager pages in Chromium)
#   make bench  benchmarks: sTask vs Laravel's database queue vs upstream-style PHP on every backend
#               (bench/results/), then the engine against plain PDO, 1/2/4 workers, discovery
#   make fuzz   the PHP value <-> JSON bridge fuzzed at length (STASK_FUZZ_CASES, STASK_FUZZ_SEED)
#   make memcheck  the native PHPUnit suite under valgrind: fails on any memory error or leak
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

.PHONY: all deps build servers test test-engine test-php test-browser check-stubs stubs demo bench clean assets screenshots test-platforms install fuzz memcheck

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	$(CARGO) build --release -p stask

test: build servers test-engine test-php check-stubs test-browser

servers:
	@./scripts/start-test-servers.sh

test-engine:
	$(CARGO) test --workspace --exclude stask

test-php:
	STASK_EXTENSION=$(EXT) $(PHP_EXT) $(PHPUNIT)

# The whole PHPUnit suite on Debian 12 / PHP 8.2 / Laravel 8 (here), Debian 13 / PHP 8.4 /
# Laravel 10 and Debian forky / PHP 8.4 / Laravel 13 (debootstrap roots cached under
# /var/cache/stask-platforms, STASK_PLATFORMS_DIR to move them). Needs root.
test-platforms: servers
	./scripts/test-platforms.sh

# Builds the extension for the PHP a site runs and enables it for the CLI and PHP-FPM:
#   make install   |   make install PHP=php8.4   |   make install PHP_CONFIG=/path/to/php-config
install:
	PHP="$(PHP)" $(if $(PHP_CONFIG),PHP_CONFIG="$(PHP_CONFIG)") ./scripts/install-extension.sh

# The manager pages in headless Chromium against the demo (screenshots to var/screenshots).
test-browser: build node_modules
	STASK_EXTENSION=$(EXT) node tests/browser/admin.mjs

# Refreshes the screenshots in docs/img from a browser-test run.
screenshots: build node_modules
	STASK_EXTENSION=$(EXT) STASK_SCREENSHOTS=docs/img node tests/browser/admin.mjs

# BridgeFuzzTest with many cases: random nested PHP values per backend (a fifth of them on each
# server) from a fixed seed; `make test` runs a few hundred. A failure names its case's seed.
STASK_FUZZ_CASES ?= 200000
fuzz: build servers
	STASK_FUZZ_CASES=$(STASK_FUZZ_CASES) STASK_EXTENSION=$(EXT) $(PHP_EXT) $(PHPUNIT) --filter BridgeFuzzTest

# The native PHPUnit suite under valgrind with PHP's allocator off (USE_ZEND_ALLOC=0) and PCRE's
# JIT off (valgrind cannot follow JIT code): any memory error, or any leak that is not known
# PHP/Rust noise (scripts/memcheck.supp, each entry says why), fails it. Installs valgrind.
VALGRIND ?= valgrind
memcheck: build servers
	@./scripts/install-deps.sh valgrind
	USE_ZEND_ALLOC=0 ZEND_DONT_UNLOAD_MODULES=1 STASK_EXTENSION=$(EXT) \
	  $(VALGRIND) --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,possible \
	  --suppressions=$(CURDIR)/scripts/memcheck.supp --num-callers=40 \
	  $(PHP) -d pcre.jit=0 -d auto_prepend_file=$(CURDIR)/scripts/memcheck-prepend.php -d extension=$(EXT) \
	  $(PHPUNIT) --testsuite native

check-stubs:
	./scripts/check-stubs.sh

stubs: deps
	./scripts/gen-stubs.sh > stubs/stask.stubs.php

demo: build
	$(PHP_EXT) examples/demo.php

bench: build servers
	STASK_EXTENSION=$(EXT) $(PHP_EXT) bench/compare.php
	$(PHP_EXT) bench/native.php
	$(PHP_EXT) bench/workers.php
	$(PHP_EXT) bench/discovery.php

# The manager pages' CSS (committed; users need no build step).
assets: node_modules
	npx tailwindcss -c tailwind.config.js -i assets/src/stask.css -o assets/dist/stask.css --minify

node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

clean:
	$(CARGO) clean
