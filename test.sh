#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian 12 machine: installs what is missing, builds
# everything with Bazel (offline) and runs every test. Ends with "N passed, N failed" (test
# cases, counted from each test's JUnit XML; a target that failed without XML counts as one).
set -uo pipefail
cd "$(dirname "$0")"
bash bazel/install_deps.sh || { echo "dependency installation failed" >&2; echo "0 passed, 1 failed"; exit 1; }
bazel test //... "$@" 2>&1 | tee /tmp/lb-test-output.txt
rc=${PIPESTATUS[0]}
python3 - "$rc" <<'PY'
import glob, os, re, sys, xml.etree.ElementTree as ET
passed = failed = 0
with open("/tmp/lb-test-output.txt", errors="replace") as f:
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
print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 and rc == 0 else 1)
PY
