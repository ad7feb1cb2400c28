#!/usr/bin/env bash
# Runs kustomize_test.py with Debian's python3 (Bazel 4's py_test stub wants `python`).
exec python3 "$TEST_SRCDIR/$TEST_WORKSPACE/tests/deploy/kustomize_test.py" "$@"
