#!/usr/bin/env bash
# Runs console_test.mjs (the web console's browser tests) with the binaries from runfiles, the
# system's headless Chromium and puppeteer-core from $LB_PUPPETEER (installed by
# bazel/install_deps.sh; default /opt/lb-ui-test).
set -euo pipefail
runfiles="${TEST_SRCDIR:-$0.runfiles}/lb"
export LB_CONTROLLER="$runfiles/controller/controller"
export LB_PROXY="$runfiles/proxy/proxy"
export LB_BACKEND="$runfiles/tests/test_common/backend_main"
export LB_NACK_CLIENT="$runfiles/tests/ui/nack_client"
export LB_PUPPETEER="${LB_PUPPETEER:-/opt/lb-ui-test}"
if [ -z "${LB_CHROMIUM:-}" ]; then
  for c in /usr/bin/chromium-headless-shell /usr/bin/chromium; do
    if [ -x "$c" ]; then LB_CHROMIUM=$c; break; fi
  done
fi
export LB_CHROMIUM="${LB_CHROMIUM:-}"
if [ -z "$LB_CHROMIUM" ] || [ ! -d "$LB_PUPPETEER/node_modules/puppeteer-core" ]; then
  echo "console_test: needs chromium-headless-shell and puppeteer-core in $LB_PUPPETEER" \
       "(run bazel/install_deps.sh)" >&2
  exit 1
fi
exec node "$runfiles/tests/ui/console_test.mjs"
