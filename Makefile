# objfs developer entry points (see README.md).
#
#   make demo     set up, create ./demo-store with a versioned bucket "demo",
#                 mount it at ./mnt (or, without FUSE, run a short CLI tour)
#   make test     set up, run the test suite (tests/bench excluded)
#   make bench    set up, run the benchmarks (tests/bench/run.py --cluster)
#   make lint     ruff check + ruff format --check + mypy within its budget
#   make umount   unmount ./mnt
#   make clean    unmount, remove the demo store and caches (keeps .venv)
#   make distclean  clean, and remove .venv
#
# "Set up" is idempotent: missing apt packages are installed (with sudo when
# not root), .venv is created with the machine's python3 (>= 3.11) and objfs
# is installed into it in editable mode with its test extras.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
OBJFS := $(VENV)/bin/objfs
STAMP := $(VENV)/.objfs-installed
DEMO_STORE := $(CURDIR)/demo-store
MNT := $(CURDIR)/mnt
APT_PACKAGES := fuse3 libfuse3-dev pkg-config attr rsync git
# Only the test suite needs these: tests/test_docs.py runs groff on the man
# pages and systemd-analyze on contrib/; tests/s3api/test_browser.py (and
# test_post_object.py, a form posted from another origin) drive
# headless Chromium through chromedriver, test_rclone.py runs rclone (all
# fail without them in CI); tests/postgres.py starts a throwaway cluster of
# Debian's postgresql server (the metadata engine of a cluster store).
TEST_PACKAGES := groff-base systemd chromium chromium-driver rclone postgresql
# The benchmarks drive the S3 API with wrk (a C load generator: the cores go
# to the servers measured): tests/bench/httpload.py (pre-signed URLs, objfs
# serve against SeaweedFS) and the cluster rows of tests/bench/cluster.py,
# which also run a throwaway PostgreSQL.
BENCH_PACKAGES := postgresql wrk

.PHONY: help demo test bench lint umount clean distclean deps

help:
	@sed -n '3,11s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

# -- set-up -----------------------------------------------------------------

# System packages: pyfuse3 compiles against libfuse3-dev (found through
# pkg-config) and Python's headers; the tests drive fusermount3, attr, rsync
# and git. apt runs only when something is missing.
deps:
	@missing=""; \
	for pkg in $(APT_PACKAGES) $(EXTRA_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q "ok installed" \
	    || missing="$$missing $$pkg"; \
	done; \
	command -v gcc >/dev/null || missing="$$missing gcc"; \
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  found=$$(command -v $(PYTHON) >/dev/null && $(PYTHON) --version 2>&1 || echo "not installed"); \
	  echo "objfs needs Python >= 3.11, but '$(PYTHON)' is: $$found" >&2; \
	  echo "Install python3.11 (or newer) and run: make $(MAKECMDGOALS) PYTHON=python3.11" >&2; \
	  exit 1; }; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	$(PYTHON) -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
	  || missing="$$missing python3-dev"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "installing system packages:$$missing"; \
	if ! command -v apt-get >/dev/null; then \
	  echo "no apt-get here: install$$missing with your package manager, then re-run make" >&2; exit 1; \
	fi; \
	sudo=""; \
	if [ "$$(id -u)" != 0 ]; then \
	  command -v sudo >/dev/null || { echo "need root or sudo to install:$$missing" >&2; exit 1; }; \
	  sudo="sudo"; \
	fi; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing

$(PY): | deps
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

# -- demo -------------------------------------------------------------------

demo: $(STAMP)
	@if [ ! -e "$(DEMO_STORE)/meta.db" ]; then $(OBJFS) --store "$(DEMO_STORE)" init; fi
	@$(OBJFS) -q --store "$(DEMO_STORE)" bucket versioning demo >/dev/null 2>&1 \
	  || $(OBJFS) --store "$(DEMO_STORE)" bucket create demo --versioning
	@if grep -qs " $(MNT) " /proc/mounts; then \
	  echo "demo bucket already mounted at ./mnt"; \
	  echo "unmount with: make umount   (or: $(OBJFS) umount mnt)"; \
	elif [ -e /dev/fuse ] && command -v fusermount3 >/dev/null \
	     && $(PY) -c 'import objfs.fs.daemon' 2>/dev/null; then \
	  mkdir -p "$(MNT)"; \
	  if $(OBJFS) --store "$(DEMO_STORE)" mount demo "$(MNT)"; then \
	    echo; \
	    echo "bucket 'demo' of ./demo-store is mounted at ./mnt. Try:"; \
	    echo "  cp README.md mnt/ && echo more >> mnt/README.md && ls -l mnt/"; \
	    echo "  ls mnt/.versions/README.md/"; \
	    echo "  $(OBJFS) --store demo-store versions s3://demo/"; \
	    echo "unmount with: make umount   (or: $(OBJFS) umount mnt)"; \
	  else \
	    echo "mounting failed (see above); showing the CLI tour instead" >&2; \
	    $(MAKE) --no-print-directory demo-tour; \
	  fi; \
	else \
	  echo "FUSE mounting is not available here; showing the CLI tour instead"; \
	  $(MAKE) --no-print-directory demo-tour; \
	fi

.PHONY: demo-tour
demo-tour: $(STAMP)
	@set -x; \
	echo "hello, objfs (v1)" | $(OBJFS) --store demo-store put - s3://demo/hello.txt; \
	echo "hello, objfs (v2)" | $(OBJFS) --store demo-store put - s3://demo/hello.txt; \
	$(OBJFS) --store demo-store ls s3://demo; \
	$(OBJFS) --store demo-store versions s3://demo/hello.txt; \
	$(OBJFS) --store demo-store get s3://demo/hello.txt -

# -- test, bench, lint ---------------------------------------------------------

# Some tests need root (a second uid on an allow_other mount, a full tmpfs,
# a key file another user must not read). Under CI they must run, never skip:
# a non-root CI user runs pytest through sudo, and OBJFS_REQUIRE_ROOT=1 makes
# a root-only test fail rather than skip.
test: EXTRA_PACKAGES = $(TEST_PACKAGES)
test: $(STAMP)
	@if [ -n "$$CI" ] && [ "$$(id -u)" != 0 ]; then \
	  echo "== CI as $$(id -un): running the tests as root with sudo"; \
	  sudo --preserve-env=CI,OBJFS_REQUIRE_FUSE,PYTHONUNBUFFERED env OBJFS_REQUIRE_ROOT=1 \
	    $(PY) -m pytest -q tests --ignore=tests/bench; \
	else \
	  $(if $(CI),OBJFS_REQUIRE_ROOT=1 )$(PY) -m pytest -q tests --ignore=tests/bench; \
	fi

bench: EXTRA_PACKAGES = $(BENCH_PACKAGES)
bench: deps $(STAMP)
	$(PY) tests/bench/run.py --cluster

lint: $(STAMP)
	$(VENV)/bin/ruff check objfs tests
	$(VENV)/bin/ruff format --check objfs tests
	$(PY) .ci/mypy-budget

# -- clean-up -----------------------------------------------------------------

umount:
	@if grep -qs " $(MNT) " /proc/mounts; then \
	  if [ -x $(OBJFS) ]; then $(OBJFS) umount "$(MNT)"; else fusermount3 -u "$(MNT)"; fi; \
	  echo "unmounted ./mnt"; \
	else \
	  echo "./mnt is not mounted"; \
	fi

# Never `rm -rf mnt`: if the unmount failed it would delete through the mount.
clean: umount
	rm -rf "$(DEMO_STORE)" .pytest_cache .ruff_cache .hypothesis build dist bench-results*.json
	@if [ -d "$(MNT)" ]; then rmdir "$(MNT)" || echo "left ./mnt in place: it is not empty" >&2; fi
	find objfs tests -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
