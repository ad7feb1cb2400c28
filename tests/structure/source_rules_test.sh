#!/usr/bin/env bash
# Checks rules of docs/architecture.md that the compiler cannot see, over the production code
# (proxy/, controller/, common/, cli/; not tests/):
#  1. Only proxy/event/ (the proxy's event seam) and common/http/evhttp_server.cc (the evhttp
#     seam) include libevent.
#  2. Time comes from a clock object (lb::Clock, Dispatcher::Now and timers): no absl::Now(),
#     absl::GetCurrentTimeNanos, std::chrono clocks' now(), sleeps or bare timed waits on a
#     Mutex/CondVar/Notification in proxy/, controller/ or common/. A use that must be real time
#     (a gRPC deadline or alarm, the real clock itself) says so with a comment containing
#     "real time" or "real clock" on its line or the line before.
#  3. The "type.googleapis.com/" of xDS type URLs is written only in common/xds/type_urls.h.
# Prints every violation as file:line: text and fails if there is one.
set -uo pipefail
script=$(readlink -f "$0")
root=$(cd "$(dirname "$script")/../.." && pwd)
cd "$root" || exit 1
[ -f WORKSPACE ] && [ -d proxy ] && [ -d controller ] || { echo "workspace not found at $root"; exit 1; }

sources() { find "$@" -type f \( -name '*.cc' -o -name '*.h' \) | sort; }

violations() {
  # 1. libevent.
  sources proxy controller common cli | grep -v '^proxy/event/' |
    grep -vx 'common/http/evhttp_server.cc' |
    xargs grep -nE '#include\s*[<"]event2/' /dev/null | sed 's/^/libevent outside its seams: /'

  # 2. Time. common/time/ is the seam itself; comment lines do not count.
  local pattern='absl::Now\(\)|absl::GetCurrentTimeNanos|_clock::now\(\)|absl::SleepFor|this_thread::sleep_|\busleep\(|\bnanosleep\(|[A-Za-z_]\.(Await|Wait)With(Timeout|Deadline)\(|WaitForNotificationWithTimeout\('
  local f n text prev
  for f in $(sources proxy controller common | grep -v '^common/time/'); do
    grep -nE "$pattern" "$f" | while IFS=: read -r n text; do
      [[ "$text" =~ ^[[:space:]]*// ]] && continue
      prev=$(sed -n "$((n > 1 ? n - 1 : 1))p" "$f")
      printf '%s\n%s\n' "$prev" "$text" | grep -qiE 'real (time|clock)' && continue
      echo "time not from a clock: $f:$n:$text"
    done
  done

  # 3. xDS type URLs.
  sources proxy controller common cli | grep -vx 'common/xds/type_urls.h' |
    xargs grep -n 'type\.googleapis\.com/' /dev/null |
    sed 's|^|type URL outside common/xds/type_urls.h: |'
}

found=$(violations)
if [ -n "$found" ]; then
  echo "$found"
  echo "FAIL: $(echo "$found" | wc -l) violation(s) (see docs/architecture.md)"
  exit 1
fi
echo "PASS"
