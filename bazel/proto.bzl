"""Generates C++ from .proto files with Debian's protoc and grpc_cpp_plugin.

Import paths are relative to //proto, so `import "lb/v1/lb.proto";` and the generated
`#include "lb/v1/lb.pb.h"` both work. Well-known types come from /usr/include.
"""

load("@rules_cc//cc:defs.bzl", "cc_library")

def lb_cc_proto(name, srcs, deps = [], grpc = False, visibility = None):
    """One cc_library holding the generated code of `srcs` (paths relative to //proto)."""
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc"]
        if grpc:
            outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    plugin = ""
    if grpc:
        plugin = " --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin --grpc_out=$(GENDIR)/proto"
    native.genrule(
        name = name + "_gen",
        srcs = srcs + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = ("/usr/bin/protoc -Iproto -I/usr/include -I/usr/share/grpc-proto" +
               " --cpp_out=$(GENDIR)/proto" + plugin + " " +
               " ".join(["proto/" + s for s in srcs])),
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = srcs + [d + "_srcs" for d in deps],
        visibility = visibility,
    )
    cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        includes = ["."],
        deps = deps + ["//bazel:protobuf"] + (["//bazel:grpc"] if grpc else []),
        visibility = visibility,
    )
