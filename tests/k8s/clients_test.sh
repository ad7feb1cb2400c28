#!/usr/bin/env bash
# Runs clients_test.py with Debian's python3 (Bazel 4's py_test stub wants `python`).
exec /usr/bin/python3 "$TEST_SRCDIR/$TEST_WORKSPACE/tests/k8s/clients_test.py" "$@"
