#!/usr/bin/env python3
"""Writes a C++ source holding files as byte arrays, for controller/ui:assets (no build step
for the console: the files under static/ are served as they are).

usage: embed.py OUT.cc FILE...   (each FILE is served under /ui/ by its base name)
"""
import hashlib
import os
import sys

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}


def main():
    out, files = sys.argv[1], sys.argv[2:]
    lines = ['#include "controller/ui/assets.h"', "", "namespace lb::ui {", "namespace {", ""]
    entries = []
    for i, path in enumerate(sorted(files, key=os.path.basename)):
        name = os.path.basename(path)
        ext = os.path.splitext(name)[1]
        if ext not in TYPES:
            sys.exit("embed.py: no content type for %s" % name)
        with open(path, "rb") as f:
            data = f.read()
        etag = '"%s"' % hashlib.sha256(data).hexdigest()[:16]
        # char may be signed: bytes over 127 are written as their negative twin.
        values = [str(b - 256 if b > 127 else b) for b in data]
        body = ",\n".join(",".join(values[j:j + 24]) for j in range(0, len(values), 24))
        lines.append("constexpr char kData%d[] = {\n%s};" % (i, body or "0"))
        entries.append('    {"%s", "%s", absl::string_view(kData%d, %d), "%s"},' %
                       (name, TYPES[ext], i, len(data), etag.replace('"', '\\"')))
    lines += ["", "constexpr Asset kAssets[] = {"] + entries + ["};", "", "}  // namespace", "",
              "absl::Span<const Asset> Assets() { return kAssets; }", "",
              "}  // namespace lb::ui", ""]
    with open(out, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
