#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian 12 machine: installs what is missing, builds
# everything with Bazel (offline) and runs every test twice: with GCC (the default optimized
# build), then with clang (--config=clang: lock annotations checked, LB_DCHECK contracts on).
# Warnings are errors in both builds. Ends with "N passed, N failed" over both runs (test cases,
# counted from each test's JUnit XML; a target that failed without XML counts as one).
# Extra arguments go to both `bazel test` runs.
set -uo pipefail
cd "$(dirname "$0")"
bash bazel/install_deps.sh || { echo "dependency installation failed" >&2; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
# run_suite NAME [BAZEL_FLAGS...]: runs every test; adds its counts to passed/failed. Counts are
# taken before the next run, which replaces bazel-testlogs.
run_suite() {
  local name=$1
  shift
  local log="/tmp/lb-test-output-$name.txt"
  local start=$SECONDS
  bazel test //... "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local counts
  counts=$(python3 - "$rc" "$log" <<'PY'
import glob, os, re, sys, xml.etree.ElementTree as ET
passed = failed = 0
with open(sys.argv[2], errors="replace") as f:
    summary = f.read()
for line in summary.splitlines():
    m = re.match(r"^(//\S+)\s+(?:\(cached\)\s+)?(PASSED|FAILED|TIMEOUT|NO STATUS|FLAKY|FAILED TO BUILD)", line.strip())
    if not m:
        continue
    target, state = m.group(1), m.group(2)
    path = target[2:].replace(":", "/")
    xml = os.path.join("bazel-testlogs", path, "test.xml")
    counted = False
    if os.path.exists(xml) and state in ("PASSED", "FAILED", "FLAKY"):
        try:
            root = ET.parse(xml).getroot()
            cases = root.iter("testcase")
            for c in cases:
                if c.find("failure") is not None or c.find("error") is not None:
                    failed += 1
                else:
                    passed += 1
                counted = True
        except ET.ParseError:
            pass
    if not counted:
        if state == "PASSED":
            passed += 1
        else:
            failed += 1
rc = int(sys.argv[1])
if rc != 0 and failed == 0:
    failed = 1  # Build failure or no tests: never report green.
print(passed, failed)
PY
  ) || counts="0 1"
  local p f
  read -r p f <<<"$counts"
  echo "$name build: $p test cases passed, $f failed in $((SECONDS - start)) s"
  passed=$((passed + p))
  failed=$((failed + f))
}

run_suite gcc "$@"
run_suite clang --config=clang "$@"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
