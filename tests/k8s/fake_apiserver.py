#!/usr/bin/python3
"""A stand-in Kubernetes API server for tests (Python 3 standard library only).

It speaks the real list/watch protocol for the kinds the controller follows, so that real
clients (kubectl, python3-kubernetes, client-go style clients, the controller's sync) work
against it unchanged:

  core/v1                        services, secrets
  discovery.k8s.io/v1            endpointslices
  networking.k8s.io/v1           ingresses, ingressclasses (cluster-scoped)
  gateway.networking.k8s.io/v1   gateways, httproutes, gatewayclasses (cluster-scoped);
                                 absent (404, not in discovery) with --no_gateway_api

Usage:
  fake_apiserver.py --ready_file=F [--cert=C --key=K | --plain] [--token=T] [--token_file=P]
                    [--listen=127.0.0.1] [--port=0] [--no_gateway_api] [--objects=FILE]
                    [--history_limit=10000] [--bookmark_interval=1] ...
  (`--help` lists every flag and its default.)

Once it listens it writes --ready_file atomically: {"pid": PID, "port": PORT, "url": URL}
(and "plain_port": N with --plain_port, a second, plain-HTTP listener for test code).
Every request needs `Authorization: Bearer TOKEN` (the --token, or the current contents of
--token_file, re-read on every request so tests can rotate it): 401 Status otherwise. With
neither flag, no authentication.

Protocol (as the real server): discovery (/api, /api/v1, /apis, /apis/G, /apis/G/V, /version,
/healthz, /readyz, /livez); list (namespaced and all-namespace paths) with kind XList,
metadata.resourceVersion, labelSelector, fieldSelector (metadata.name, metadata.namespace),
limit/continue (pages consistent at the first page's resourceVersion; 410 once it is
compacted), resourceVersion/resourceVersionMatch (Exact below the compacted revision: 410);
watch (`watch=1|true`) streaming newline-delimited JSON events in chunked transfer encoding
(ADDED/MODIFIED/DELETED/BOOKMARK/ERROR), `allowWatchBookmarks` (a BOOKMARK every
--bookmark_interval), `timeoutSeconds`, `sendInitialEvents`, and an ERROR event carrying a
Status with code 410 reason Expired for a resourceVersion older than the compacted history;
get/create (POST)/update (PUT)/patch (merge, strategic-merge treated as merge, JSON patch)/
delete with resourceVersion conflicts (409) and preconditions; the status subresource
(.../NAME/status: PUT and PATCH change only .status and bump the resourceVersion).

Test control surface (needs the token too; see tests/k8s/README.md):
  GET  /__fake/state               counters, current and compacted resourceVersion, open watches
  GET  /__fake/requests            the last requests (method, path, query), oldest first
  POST /__fake/objects             body: an object or a List; create-or-replace each (no RV check)
  DELETE /__fake/objects/RESOURCE/NAMESPACE/NAME   ("_" as NAMESPACE for cluster-scoped kinds)
  POST /__fake/batch               {"ops":[{"op":"upsert","object":{..}},
                                           {"op":"delete","resource":R,"namespace":N,"name":X}]}
  POST /__fake/compact             forget all history: any older resourceVersion now gets 410
  POST /__fake/cut_watches         close every open watch stream abruptly (?mode=end: cleanly)
  POST /__fake/inject_410?count=N  the next N watch requests get an ERROR 410 event and end

Limits (each a flag): request body bytes, objects, history events, open watches, open
connections, watch duration, request-log entries. Every loop is bounded by them or a deadline.
"""

import argparse
import base64
import copy
import http.server
import json
import os
import random
import re
import socket
import socketserver
import ssl
import string
import sys
import threading
import time
import urllib.parse
import uuid
from collections import deque

# --- Resource table ------------------------------------------------------------------------


class Resource:
    def __init__(self, group, version, name, singular, kind, namespaced, status, short=(),
                 crd=False, generation=True):
        self.group = group
        self.version = version
        self.name = name
        self.singular = singular
        self.kind = kind
        self.namespaced = namespaced
        self.status = status  # Has a status subresource.
        self.short = list(short)
        self.crd = crd  # Custom resource: list items keep kind/apiVersion.
        self.generation = generation  # metadata.generation tracks spec changes.

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self):  # "endpointslices.discovery.k8s.io", "services"
        return f"{self.name}.{self.group}" if self.group else self.name


GATEWAY_GROUP = "gateway.networking.k8s.io"
RESOURCES = [
    Resource("", "v1", "services", "service", "Service", True, True, ["svc"], generation=False),
    Resource("", "v1", "secrets", "secret", "Secret", True, False, generation=False),
    Resource("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice",
             True, False, generation=False),
    Resource("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", True, True, ["ing"]),
    Resource("networking.k8s.io", "v1", "ingressclasses", "ingressclass", "IngressClass",
             False, False),
    Resource(GATEWAY_GROUP, "v1", "gateways", "gateway", "Gateway", True, True, ["gtw"],
             crd=True),
    Resource(GATEWAY_GROUP, "v1", "httproutes", "httproute", "HTTPRoute", True, True, crd=True),
    Resource(GATEWAY_GROUP, "v1", "gatewayclasses", "gatewayclass", "GatewayClass", False, True,
             ["gc"], crd=True),
]
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
LABEL_KEY_RE = re.compile(r"^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


class ApiError(Exception):
    """An error answered as a metav1.Status."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self):
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


def not_found(res, name):
    return ApiError(404, "NotFound", f'{res.qualified} "{name}" not found',
                    {"name": name, "group": res.group, "kind": res.name})


def expired(message):
    return ApiError(410, "Expired", message)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


# --- Selectors -----------------------------------------------------------------------------


def parse_label_selector(text):
    """Returns a list of (key, op, values); ops: =, !=, in, notin, exists, !exists."""
    reqs = []
    text = (text or "").strip()
    if not text:
        return reqs
    # Split on commas outside parentheses.
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    if len(parts) > 100:
        raise bad_request("labelSelector: too many requirements")
    for raw in parts:
        part = raw.strip()
        m = re.match(r"^(\S+)\s+(in|notin)\s+\(([^)]*)\)$", part)
        if m:
            values = [v.strip() for v in m.group(3).split(",") if v.strip()]
            reqs.append((m.group(1), m.group(2), values))
        elif part.startswith("!"):
            reqs.append((part[1:].strip(), "!exists", []))
        elif "!=" in part:
            k, v = part.split("!=", 1)
            reqs.append((k.strip(), "!=", [v.strip()]))
        elif "==" in part:
            k, v = part.split("==", 1)
            reqs.append((k.strip(), "=", [v.strip()]))
        elif "=" in part:
            k, v = part.split("=", 1)
            reqs.append((k.strip(), "=", [v.strip()]))
        else:
            reqs.append((part, "exists", []))
    for key, _, values in reqs:
        if not LABEL_KEY_RE.match(key):
            raise bad_request(f'unable to parse requirement: invalid label key "{key}"')
        for v in values:
            if not LABEL_VALUE_RE.match(v):
                raise bad_request(f'unable to parse requirement: invalid label value: "{v}"')
    return reqs


def labels_match(reqs, obj):
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for key, op, values in reqs:
        present = key in labels
        value = labels.get(key)
        if op == "=" and value != values[0]:
            return False
        if op == "!=" and present and value == values[0]:
            return False
        if op == "in" and value not in values:
            return False
        if op == "notin" and present and value in values:
            return False
        if op == "exists" and not present:
            return False
        if op == "!exists" and present:
            return False
    return True


def parse_field_selector(text):
    reqs = []
    for raw in (text or "").split(","):
        part = raw.strip()
        if not part:
            continue
        if "!=" in part:
            k, v, op = *part.split("!=", 1), "!="
        elif "==" in part:
            k, v, op = *part.split("==", 1), "="
        elif "=" in part:
            k, v, op = *part.split("=", 1), "="
        else:
            raise bad_request(f'invalid selector: \'{text}\'; can\'t understand \'{part}\'')
        k = k.strip()
        if k not in ("metadata.name", "metadata.namespace"):
            raise bad_request(f'"{k}" is not a known field selector: only "metadata.name", '
                              f'"metadata.namespace"')
        reqs.append((k, op, v.strip()))
    return reqs


def fields_match(reqs, obj):
    meta = obj.get("metadata") or {}
    for key, op, value in reqs:
        actual = meta.get("name" if key == "metadata.name" else "namespace", "")
        if (actual == value) != (op == "="):
            return False
    return True


# --- Patches -------------------------------------------------------------------------------


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_pointer_parts(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(doc, ops):
    """RFC 6902 JSON patch: add, remove, replace, test, copy, move."""
    if not isinstance(ops, list) or len(ops) > 10000:
        raise bad_request("json patch must be a list of at most 10000 operations")
    doc = copy.deepcopy(doc)

    def walk(parts):
        node = doc
        for p in parts[:-1]:
            if isinstance(node, list):
                node = node[int(p)]
            else:
                node = node[p]
        return node

    def get(path):
        node = doc
        for p in json_pointer_parts(path):
            node = node[int(p)] if isinstance(node, list) else node[p]
        return node

    def put(path, value, replace):
        parts = json_pointer_parts(path)
        parent = walk(parts)
        last = parts[-1]
        if isinstance(parent, list):
            if last == "-":
                parent.append(value)
            elif replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            if replace and last not in parent:
                raise KeyError(last)
            parent[last] = value

    def remove(path):
        parts = json_pointer_parts(path)
        parent = walk(parts)
        if isinstance(parent, list):
            return parent.pop(int(parts[-1]))
        return parent.pop(parts[-1])

    try:
        for op in ops:
            kind = op.get("op")
            if kind == "add":
                put(op["path"], copy.deepcopy(op["value"]), False)
            elif kind == "remove":
                remove(op["path"])
            elif kind == "replace":
                put(op["path"], copy.deepcopy(op["value"]), True)
            elif kind == "test":
                if get(op["path"]) != op["value"]:
                    raise ApiError(422, "Invalid", f"json patch test failed at {op['path']}")
            elif kind == "copy":
                put(op["path"], copy.deepcopy(get(op["from"])), False)
            elif kind == "move":
                put(op["path"], remove(op["from"]), False)
            else:
                raise bad_request(f"json patch: unknown op {kind!r}")
    except ApiError:
        raise
    except (KeyError, IndexError, ValueError, TypeError, AttributeError) as e:
        raise ApiError(422, "Invalid", f"json patch failed: {e!r}")
    return doc


# --- Store ---------------------------------------------------------------------------------


class Event:
    __slots__ = ("rv", "res", "key", "type", "obj", "prev")

    def __init__(self, rv, res, key, etype, obj, prev):
        self.rv = rv
        self.res = res
        self.key = key  # (namespace, name)
        self.type = etype  # ADDED, MODIFIED, DELETED
        self.obj = obj  # The object after the change (for DELETED: the last state, new RV).
        self.prev = prev  # The object before (None for ADDED).


class Store:
    """All objects and a bounded event history, under one condition variable.

    resourceVersion is one counter for all kinds, as etcd's revision. `floor` is the oldest
    resourceVersion a watch may start from: every event after it is in `history`.
    """

    def __init__(self, args):
        self.args = args
        self.cond = threading.Condition()
        self.rv = 1
        self.floor = 1
        self.objects = {r.name: {} for r in RESOURCES}  # name -> {(ns, name): obj}
        self.history = deque()
        self.count = 0
        self.cut_epoch = 0
        self.cut_mode = "close"
        self.inject_410 = 0
        self.open_watches = 0
        self.counters = {}
        self.requests = deque(maxlen=args.request_log_limit)

    def bump(self, counter, n=1):
        self.counters[counter] = self.counters.get(counter, 0) + n

    # All methods below are called with self.cond held.

    def _record(self, res, key, etype, obj, prev):
        self.history.append(Event(self.rv, res, key, etype, obj, prev))
        while len(self.history) > self.args.history_limit:
            dropped = self.history.popleft()
            self.floor = dropped.rv
        self.cond.notify_all()

    def _next_rv(self):
        self.rv += 1
        return self.rv

    def compact(self):
        self.history.clear()
        self.floor = self.rv
        self.bump("compactions")
        self.cond.notify_all()

    def get(self, res, ns, name):
        obj = self.objects[res.name].get((ns, name))
        if obj is None:
            raise not_found(res, name)
        return obj

    def create(self, res, ns, obj):
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(random.choice(string.ascii_lowercase + string.digits)
                             for _ in range(5))
            meta["name"] = meta["generateName"] + suffix
        name = meta.get("name", "")
        key = (ns, name)
        if key in self.objects[res.name]:
            raise ApiError(409, "AlreadyExists", f'{res.qualified} "{name}" already exists',
                           {"name": name, "group": res.group, "kind": res.name})
        if self.count >= self.args.max_objects:
            raise ApiError(507, "InternalError",
                           f"fake apiserver: --max_objects={self.args.max_objects} reached")
        rv = self._next_rv()
        meta["resourceVersion"] = str(rv)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        meta.pop("deletionTimestamp", None)
        if res.generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        self.objects[res.name][key] = obj
        self.count += 1
        self._record(res, key, "ADDED", obj, None)
        return obj

    def replace(self, res, ns, obj, check_rv, status_only=False):
        """Update (PUT semantics). status_only: only .status changes; otherwise .status is
        kept from the stored object for kinds with a status subresource."""
        meta = obj.setdefault("metadata", {})
        name = meta.get("name", "")
        key = (ns, name)
        old = self.objects[res.name].get(key)
        if old is None:
            raise not_found(res, name)
        want_rv = meta.get("resourceVersion")
        if check_rv and want_rv and want_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict",
                           f'Operation cannot be fulfilled on {res.qualified} "{name}": the '
                           f'object has been modified; please apply your changes to the '
                           f'latest version and try again',
                           {"name": name, "group": res.group, "kind": res.name})
        if status_only:
            new = copy.deepcopy(old)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
        else:
            new = obj
            if res.status:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            # Server-owned metadata.
            for f in ("uid", "creationTimestamp"):
                new["metadata"][f] = old["metadata"][f]
            if res.generation:
                gen = old["metadata"].get("generation", 1)
                if new.get("spec") != old.get("spec"):
                    gen += 1
                new["metadata"]["generation"] = gen
        # An update that changes nothing keeps the resourceVersion and makes no event.
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old:
            return old
        new["metadata"]["resourceVersion"] = str(self._next_rv())
        self.objects[res.name][key] = new
        self._record(res, key, "MODIFIED", new, old)
        return new

    def delete(self, res, ns, name, precondition_rv=None, precondition_uid=None):
        key = (ns, name)
        old = self.objects[res.name].get(key)
        if old is None:
            raise not_found(res, name)
        if precondition_rv and precondition_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict",
                           f'Operation cannot be fulfilled on {res.qualified} "{name}": '
                           f'Precondition failed: ResourceVersion in precondition: '
                           f'{precondition_rv}, ResourceVersion in object meta: '
                           f'{old["metadata"]["resourceVersion"]}')
        if precondition_uid and precondition_uid != old["metadata"]["uid"]:
            raise ApiError(409, "Conflict",
                           f'Operation cannot be fulfilled on {res.qualified} "{name}": '
                           f'Precondition failed: UID in precondition: {precondition_uid}, '
                           f'UID in object meta: {old["metadata"]["uid"]}')
        del self.objects[res.name][key]
        self.count -= 1
        gone = copy.deepcopy(old)
        gone["metadata"]["resourceVersion"] = str(self._next_rv())
        self._record(res, key, "DELETED", gone, old)
        return gone

    def state_at(self, res, rv):
        """The objects of `res` as they were at resourceVersion `rv` (floor <= rv <= now)."""
        state = dict(self.objects[res.name])
        for ev in reversed(self.history):
            if ev.rv <= rv:
                break
            if ev.res is not res:
                continue
            if ev.prev is None:
                state.pop(ev.key, None)
            else:
                state[ev.key] = ev.prev
        return state


# --- HTTP ----------------------------------------------------------------------------------


def with_type(res, obj):
    out = dict(obj)
    out["kind"] = res.kind
    out["apiVersion"] = res.api_version
    # kind/apiVersion first, as the real server prints them.
    return {"kind": out.pop("kind"), "apiVersion": out.pop("apiVersion"), **out}


def list_item(res, obj):
    """Built-in kinds' list items carry no kind/apiVersion; custom resources' do."""
    if res.crd:
        return with_type(res, obj)
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


def encode_continue(rv, start):
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_continue(token):
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode() + b"==="))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError):
        raise bad_request("continue key is not valid: incorrect encoded start "
                          "resourceVersion (version meta.k8s.io/v1)")


def parse_rv(text, what="resourceVersion"):
    try:
        value = int(text)
        if value < 0:
            raise ValueError
        return value
    except ValueError:
        raise bad_request(f'{what}: Invalid value: "{text}": must be a non-negative integer')


def is_true(value):
    return value in ("1", "true", "True")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-apiserver"
    sys_version = ""

    # Set by main().
    store = None
    args = None
    ssl_context = None
    conn_slots = None

    def setup(self):
        self.request.settimeout(self.args.io_timeout)
        if self.ssl_context is not None:
            self.request = self.ssl_context.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, fmt, *a):
        if self.args.verbose:
            sys.stderr.write("fake-apiserver: " + (fmt % a) + "\n")

    # --- answers ---

    def send_json(self, code, body, extra_headers=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error_status(self, err):
        self.send_json(err.code, err.status())

    def read_body(self):
        """The request body (read once, in dispatch, before any answer: an unread body would
        be taken for the next request, or reset the connection under the answer)."""
        if self.body is not None:
            return self.body
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise ApiError(411, "BadRequest", "chunked request bodies are not supported")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise bad_request("bad Content-Length")
        if length < 0:
            raise bad_request("bad Content-Length")
        if length > self.args.max_body_bytes:
            self.close_connection = True
            raise ApiError(413, "RequestEntityTooLarge",
                           f"request body of {length} bytes is over the limit of "
                           f"{self.args.max_body_bytes} (--max_body_bytes)")
        self.body = self.rfile.read(length) if length else b""
        return self.body

    def read_json(self):
        raw = self.read_body()
        try:
            return json.loads(raw or b"null")
        except ValueError as e:
            raise bad_request(f"the request body is not JSON: {e}")

    # --- dispatch ---

    def do_GET(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def authorized(self):
        tokens = []
        if self.args.token:
            tokens.append(self.args.token)
        if self.args.token_file:
            try:
                with open(self.args.token_file, encoding="utf-8") as f:
                    tokens.append(f.read(16384).strip())
            except OSError:
                pass
        if not tokens:
            return not (self.args.token or self.args.token_file)
        auth = self.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[len("Bearer "):].strip() in tokens

    def dispatch(self):
        url = urllib.parse.urlsplit(self.path)
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        path = url.path
        self.body = None
        with self.store.cond:
            self.store.requests.append({"method": self.command, "path": path,
                                        "query": url.query, "time": time.time()})
            self.store.bump("requests")
        try:
            self.read_body()
            if not self.authorized():
                with self.store.cond:
                    self.store.bump("unauthorized")
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if path.startswith("/__fake/"):
                self.control(path)
            else:
                self.api(path)
        except ApiError as e:
            self.send_error_status(e)
        except (BrokenPipeError, ConnectionResetError, socket.timeout, ssl.SSLError):
            self.close_connection = True

    # --- discovery ---

    def visible(self):
        return [r for r in RESOURCES if r.group != GATEWAY_GROUP or not self.args.no_gateway_api]

    def groups(self):
        seen = []
        for r in self.visible():
            if r.group and r.group not in seen:
                seen.append(r.group)
        return seen

    def group_body(self, group):
        gv = {"groupVersion": f"{group}/v1", "version": "v1"}
        return {"name": group, "versions": [gv], "preferredVersion": gv}

    def resource_list(self, group, version):
        resources = []
        for r in self.visible():
            if r.group != group or r.version != version:
                continue
            entry = {"name": r.name, "singularName": r.singular, "namespaced": r.namespaced,
                     "kind": r.kind, "verbs": VERBS}
            if r.short:
                entry["shortNames"] = r.short
            if r.name in ("services", "ingresses", "httproutes", "gateways"):
                entry["categories"] = ["all"]
            resources.append(entry)
            if r.status:
                resources.append({"name": r.name + "/status", "singularName": "",
                                  "namespaced": r.namespaced, "kind": r.kind,
                                  "verbs": ["get", "patch", "update"]})
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                "resources": resources}

    def api(self, path):
        parts = [p for p in path.split("/") if p]
        if path in ("/healthz", "/readyz", "/livez"):
            data = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if path == "/version":
            self.send_json(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-fake",
                                 "gitCommit": "0" * 40, "gitTreeState": "clean",
                                 "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.22",
                                 "compiler": "gc", "platform": "linux/amd64"})
            return
        if parts == ["api"]:
            host, port = self.server.server_address[:2]
            self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                 "serverAddressByClientCIDRs": [
                                     {"clientCIDR": "0.0.0.0/0",
                                      "serverAddress": f"{host}:{port}"}]})
            return
        if parts == ["apis"]:
            self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                 "groups": [self.group_body(g) for g in self.groups()]})
            return
        if parts == ["api", "v1"]:
            self.send_json(200, self.resource_list("", "v1"))
            return
        if len(parts) == 2 and parts[0] == "apis" and parts[1] in self.groups():
            body = self.group_body(parts[1])
            body.update({"kind": "APIGroup", "apiVersion": "v1"})
            self.send_json(200, body)
            return
        if len(parts) == 3 and parts[0] == "apis" and parts[1] in self.groups() \
                and parts[2] == "v1":
            self.send_json(200, self.resource_list(parts[1], "v1"))
            return
        # Resource paths: /api/v1/... or /apis/G/V/...
        if len(parts) >= 3 and parts[0] == "api" and parts[1] == "v1":
            group, rest = "", parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis" and parts[2] == "v1":
            group, rest = parts[1], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        ns = None
        if len(rest) >= 2 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
            if not rest:
                raise ApiError(404, "NotFound",
                               "the server could not find the requested resource "
                               "(namespaces are not served by the fake)")
        res = next((r for r in self.visible() if r.group == group and r.name == rest[0]), None)
        if res is None or len(rest) > 3 or (res.namespaced is False and ns is not None):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if res.namespaced and ns is None and len(rest) > 1:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) >= 2 else None
        sub = rest[2] if len(rest) == 3 else None
        if sub is not None and (sub != "status" or not res.status):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        key_ns = ns if res.namespaced else ""
        if name is None:
            if self.command in ("GET", "HEAD"):
                if is_true(self.query.get("watch", "")):
                    self.watch(res, ns)
                else:
                    self.list(res, ns)
            elif self.command == "POST" and (ns is not None or not res.namespaced):
                self.create(res, key_ns)
            else:
                raise ApiError(405, "MethodNotAllowed",
                               f"the server does not allow this method on the requested "
                               f"resource")
            return
        if self.command in ("GET", "HEAD"):
            with self.store.cond:
                obj = copy.deepcopy(self.store.get(res, key_ns, name))
            self.send_json(200, with_type(res, obj))
        elif self.command == "PUT":
            self.update(res, key_ns, name, sub == "status")
        elif self.command == "PATCH":
            self.patch(res, key_ns, name, sub == "status")
        elif self.command == "DELETE" and sub is None:
            self.delete(res, key_ns, name)
        else:
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource")

    # --- writes ---

    def check_object(self, res, ns, obj, name=None):
        if not isinstance(obj, dict):
            raise bad_request("the body must be a JSON object")
        if obj.get("kind", res.kind) != res.kind or \
                obj.get("apiVersion", res.api_version) != res.api_version:
            raise bad_request(f"the object is a {obj.get('apiVersion')}/{obj.get('kind')}, "
                              f"not a {res.api_version}/{res.kind}")
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if res.namespaced:
            if meta.get("namespace", ns) != ns:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if name is not None and meta.get("name", name) != name:
            raise bad_request("the name of the object does not match the name on the URL")
        if name is not None:
            meta["name"] = name
        n = meta.get("name") or ""
        if n and not NAME_RE.match(n):
            raise ApiError(422, "Invalid",
                           f'{res.kind} "{n}" is invalid: metadata.name: Invalid value: '
                           f'"{n}": a lowercase RFC 1123 subdomain must consist of lower case '
                           f'alphanumeric characters, \'-\' or \'.\'')
        if not n and not meta.get("generateName"):
            raise ApiError(422, "Invalid", f"{res.kind} is invalid: metadata.name: Required "
                                           f"value: name or generateName is required")
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        return obj

    def create(self, res, ns):
        obj = self.check_object(res, ns, self.read_json())
        with self.store.cond:
            obj = copy.deepcopy(self.store.create(res, ns, obj))
            self.store.bump("creates")
        self.send_json(201, with_type(res, obj))

    def update(self, res, ns, name, status_only):
        obj = self.check_object(res, ns, self.read_json(), name)
        with self.store.cond:
            obj = copy.deepcopy(self.store.replace(res, ns, obj, True, status_only))
            self.store.bump("status_writes" if status_only else "updates")
        self.send_json(200, with_type(res, obj))

    def patch(self, res, ns, name, status_only):
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        body = self.read_json()
        with self.store.cond:
            current = with_type(res, copy.deepcopy(self.store.get(res, ns, name)))
            if ctype in ("application/merge-patch+json",
                         "application/strategic-merge-patch+json"):
                if not isinstance(body, dict):
                    raise bad_request("a merge patch must be a JSON object")
                patched = merge_patch(current, body)
            elif ctype == "application/json-patch+json":
                patched = json_patch(current, body)
            else:
                raise ApiError(415, "UnsupportedMediaType",
                               f'the body of the request was in an unknown format - accepted '
                               f'media types include: application/json-patch+json, '
                               f'application/merge-patch+json, '
                               f'application/strategic-merge-patch+json (got "{ctype}")')
            obj = self.check_object(res, ns, patched, name)
            # A patch carrying a resourceVersion is checked like an update.
            check = "resourceVersion" in ((body.get("metadata") or {})
                                          if isinstance(body, dict) else {})
            obj = copy.deepcopy(self.store.replace(res, ns, obj, check, status_only))
            self.store.bump("status_writes" if status_only else "patches")
        self.send_json(200, with_type(res, obj))

    def delete(self, res, ns, name):
        body = self.read_json() or {}
        pre = body.get("preconditions") or {} if isinstance(body, dict) else {}
        with self.store.cond:
            gone = copy.deepcopy(self.store.delete(res, ns, name, pre.get("resourceVersion"),
                                                   pre.get("uid")))
            self.store.bump("deletes")
        self.send_json(200, with_type(res, gone))

    # --- list ---

    def selectors(self):
        return (parse_label_selector(self.query.get("labelSelector")),
                parse_field_selector(self.query.get("fieldSelector")))

    def matches(self, ns, labels, fields, obj):
        if ns is not None and obj["metadata"].get("namespace") != ns:
            return False
        return labels_match(labels, obj) and fields_match(fields, obj)

    def list(self, res, ns):
        labels, fields = self.selectors()
        limit = 0
        if "limit" in self.query:
            limit = parse_rv(self.query["limit"], "limit")
        rv_text = self.query.get("resourceVersion", "")
        match = self.query.get("resourceVersionMatch", "")
        token = self.query.get("continue", "")
        if match and match not in ("Exact", "NotOlderThan"):
            raise bad_request(f'resourceVersionMatch: Unsupported value: "{match}"')
        if match and not rv_text:
            raise bad_request("resourceVersionMatch is forbidden unless resourceVersion is "
                              "provided")
        if token and rv_text:
            raise bad_request("specifying resource version is not allowed when using continue")
        with self.store.cond:
            store = self.store
            store.bump("lists")
            start = ""
            if token:
                at, start = decode_continue(token)
                if at < store.floor:
                    raise expired("The provided continue parameter is too old to display a "
                                  "consistent list result. You can start a new list without "
                                  "the continue parameter.")
            elif rv_text and match == "Exact":
                at = parse_rv(rv_text)
                if at < store.floor:
                    raise expired(f"too old resource version: {at} ({store.floor})")
                if at > store.rv:
                    raise ApiError(504, "Timeout",
                                   f"Too large resource version: {at}, current: {store.rv}",
                                   {"causes": [{"reason": "ResourceVersionTooLarge",
                                                "message": "Too large resource version"}],
                                    "retryAfterSeconds": 1})
            else:
                at = store.rv
                if rv_text:
                    wanted = parse_rv(rv_text)
                    if wanted > store.rv:
                        raise ApiError(504, "Timeout",
                                       f"Too large resource version: {wanted}, current: "
                                       f"{store.rv}",
                                       {"causes": [{"reason": "ResourceVersionTooLarge",
                                                    "message": "Too large resource version"}],
                                        "retryAfterSeconds": 1})
                    if wanted == 0:
                        limit = 0  # Served from the watch cache: the limit is ignored.
            state = store.state_at(res, at) if at != store.rv else store.objects[res.name]
            keys = sorted(k for k in state if f"{k[0]}/{k[1]}" > start or not start)
            items, next_token, remaining = [], "", 0
            for i, k in enumerate(keys):
                obj = state[k]
                if not self.matches(ns, labels, fields, obj):
                    continue
                if limit and len(items) == limit:
                    next_token = encode_continue(at, f"{items[-1]['metadata'].get('namespace', '')}/"
                                                     f"{items[-1]['metadata']['name']}")
                    remaining = sum(1 for kk in keys[i:]
                                    if self.matches(ns, labels, fields, state[kk]))
                    break
                items.append(list_item(res, copy.deepcopy(obj)))
        meta = {"resourceVersion": str(at)}
        if next_token:
            meta["continue"] = next_token
            if not labels and not fields:
                meta["remainingItemCount"] = remaining
        self.send_json(200, {"kind": res.kind + "List", "apiVersion": res.api_version,
                             "metadata": meta, "items": items})

    # --- watch ---

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def event_line(self, etype, obj):
        return json.dumps({"type": etype, "object": obj}).encode() + b"\n"

    def watch(self, res, ns):
        labels, fields = self.selectors()
        timeout = self.args.max_watch_seconds
        if "timeoutSeconds" in self.query:
            timeout = min(timeout, parse_rv(self.query["timeoutSeconds"], "timeoutSeconds"))
        bookmarks = is_true(self.query.get("allowWatchBookmarks", ""))
        initial = self.query.get("sendInitialEvents")
        rv_text = self.query.get("resourceVersion", "")
        if initial is not None and not (rv_text == "" or
                                        self.query.get("resourceVersionMatch") == "NotOlderThan"):
            raise bad_request("sendInitialEvents requires resourceVersionMatch=NotOlderThan")
        pending = []  # Lines to send before following the history.
        with self.store.cond:
            store = self.store
            if store.open_watches >= self.args.max_watches:
                store.bump("watches_refused")
                raise ApiError(429, "TooManyRequests",
                               f"too many open watches (--max_watches={self.args.max_watches})",
                               {"retryAfterSeconds": 1})
            store.bump("watches")
            error = None
            if store.inject_410 > 0:
                store.inject_410 -= 1
                store.bump("injected_410")
                error = expired(f"too old resource version: {rv_text or 0} ({store.rv})")
            elif rv_text in ("", "0") or is_true(initial or ""):
                pos = store.rv
                if initial is None or is_true(initial):
                    for k in sorted(store.objects[res.name]):
                        obj = store.objects[res.name][k]
                        if self.matches(ns, labels, fields, obj):
                            pending.append(self.event_line("ADDED",
                                                           with_type(res, copy.deepcopy(obj))))
                if is_true(initial or ""):
                    pending.append(self.event_line("BOOKMARK", {
                        "kind": res.kind, "apiVersion": res.api_version,
                        "metadata": {"resourceVersion": str(pos),
                                     "annotations": {"k8s.io/initial-events-end": "true"}}}))
            else:
                pos = parse_rv(rv_text)
                if pos < store.floor:
                    store.bump("expired_watches")
                    error = expired(f"too old resource version: {pos} ({store.floor})")
            if error is None:
                store.open_watches += 1
            epoch = store.cut_epoch
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if error is not None:
            self.write_chunk(self.event_line("ERROR", error.status()))
            self.write_chunk(b"")
            return
        clean_end = True
        try:
            clean_end = self.follow(res, ns, labels, fields, pos, epoch, timeout, bookmarks,
                                    pending)
        finally:
            with self.store.cond:
                self.store.open_watches -= 1
        if clean_end:
            self.write_chunk(b"")
        else:
            self.close_connection = True
            try:
                self.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def follow(self, res, ns, labels, fields, pos, epoch, timeout, bookmarks, pending):
        """Streams events after `pos` until the deadline or a cut. True: end cleanly."""
        store = self.store
        deadline = time.monotonic() + timeout
        next_bookmark = time.monotonic() + self.args.bookmark_interval
        for line in pending:
            self.write_chunk(line)
        # Bounded: each round waits at least until the next event, bookmark, cut or deadline;
        # the deadline ends it.
        while True:
            lines = []
            with store.cond:
                now = time.monotonic()
                if now >= deadline:
                    return True
                if store.cut_epoch != epoch:
                    return store.cut_mode == "end"
                if pos < store.floor:
                    # Fell behind the bounded history (or it was compacted under us).
                    lines.append(self.event_line(
                        "ERROR", expired(f"too old resource version: {pos} "
                                         f"({store.floor})").status()))
                    store.bump("expired_watches")
                else:
                    for ev in store.history:
                        if ev.rv <= pos:
                            continue
                        pos = ev.rv
                        if ev.res is not res:
                            continue
                        now_in = ev.type != "DELETED" and self.matches(ns, labels, fields,
                                                                       ev.obj)
                        was_in = ev.prev is not None and self.matches(ns, labels, fields,
                                                                      ev.prev)
                        if ev.type == "DELETED":
                            etype = "DELETED" if was_in else None
                        elif now_in:
                            etype = "MODIFIED" if was_in else "ADDED"
                        elif was_in:
                            etype = "DELETED"  # No longer matches the selector.
                        else:
                            etype = None
                        if etype:
                            lines.append(self.event_line(etype,
                                                         with_type(res, copy.deepcopy(ev.obj))))
                        if len(lines) >= 1000:
                            break
                    if not lines and bookmarks and now >= next_bookmark:
                        lines.append(self.event_line("BOOKMARK", {
                            "kind": res.kind, "apiVersion": res.api_version,
                            "metadata": {"resourceVersion": str(pos)}}))
                        next_bookmark = now + self.args.bookmark_interval
                        store.bump("bookmarks")
                    if not lines:
                        wait = deadline - now
                        if bookmarks:
                            wait = min(wait, max(0.0, next_bookmark - now))
                        store.cond.wait(max(0.001, min(wait, 1.0)))
                        continue
            for line in lines:
                self.write_chunk(line)
            if lines and lines[-1].startswith(b'{"type": "ERROR"'):
                return True

    # --- control surface ---

    def resource_of(self, obj):
        if not isinstance(obj, dict):
            raise bad_request("objects must be JSON objects")
        for r in RESOURCES:
            if r.kind == obj.get("kind") and r.api_version == obj.get("apiVersion"):
                if r.group == GATEWAY_GROUP and self.args.no_gateway_api:
                    raise ApiError(404, "NotFound", "the Gateway API is off (--no_gateway_api)")
                return r
        raise bad_request(f"unknown kind {obj.get('apiVersion')}/{obj.get('kind')}")

    def upsert(self, obj):
        res = self.resource_of(obj)
        ns = (obj.get("metadata") or {}).get("namespace", "default") if res.namespaced else ""
        obj = self.check_object(res, ns, copy.deepcopy(obj))
        store = self.store
        if (ns, obj["metadata"].get("name")) in store.objects[res.name]:
            obj["metadata"].pop("resourceVersion", None)
            old = store.objects[res.name][(ns, obj["metadata"]["name"])]
            if res.status and "status" in obj and obj.get("status") != old.get("status"):
                # The test sets the status too: two writes, as a real client would.
                store.replace(res, ns, copy.deepcopy(obj), False, False)
                return store.replace(res, ns, obj, False, True)
            return store.replace(res, ns, obj, False, False)
        return store.create(res, ns, obj)

    def remove(self, resource, ns, name):
        res = next((r for r in RESOURCES if r.name == resource), None)
        if res is None:
            raise bad_request(f"unknown resource {resource!r}")
        return self.store.delete(res, "" if (ns in ("", "_") or not res.namespaced) else ns,
                                 name)

    def control(self, path):
        store = self.store
        if path == "/__fake/state" and self.command == "GET":
            with store.cond:
                body = {"resourceVersion": store.rv, "compactedResourceVersion": store.floor,
                        "history": len(store.history), "objects": store.count,
                        "openWatches": store.open_watches, "pendingInjected410":
                            store.inject_410, "counters": dict(store.counters)}
            self.send_json(200, body)
        elif path == "/__fake/requests" and self.command == "GET":
            with store.cond:
                body = {"requests": list(store.requests)}
            self.send_json(200, body)
        elif path == "/__fake/objects" and self.command in ("POST", "PUT"):
            body = self.read_json()
            objs = body.get("items") if isinstance(body, dict) and "items" in body else [body]
            if not isinstance(objs, list):
                raise bad_request("items must be a list")
            out = []
            with store.cond:
                for obj in objs:
                    out.append(self.upsert(obj)["metadata"]["resourceVersion"])
            self.send_json(200, {"resourceVersions": out, "resourceVersion": store.rv})
        elif path.startswith("/__fake/objects/") and self.command == "DELETE":
            parts = path.split("/")[3:]
            if len(parts) != 3:
                raise bad_request("DELETE /__fake/objects/RESOURCE/NAMESPACE/NAME")
            with store.cond:
                self.remove(*parts)
                rv = store.rv
            self.send_json(200, {"resourceVersion": rv})
        elif path == "/__fake/batch" and self.command == "POST":
            body = self.read_json()
            ops = body.get("ops") if isinstance(body, dict) else None
            if not isinstance(ops, list):
                raise bad_request('the body must be {"ops": [...]}')
            with store.cond:
                for op in ops:
                    if not isinstance(op, dict):
                        raise bad_request("each op must be an object")
                    if op.get("op") == "upsert":
                        self.upsert(op.get("object"))
                    elif op.get("op") == "delete":
                        self.remove(op.get("resource", ""), op.get("namespace", ""),
                                    op.get("name", ""))
                    else:
                        raise bad_request(f"unknown op {op.get('op')!r}")
                rv = store.rv
            self.send_json(200, {"resourceVersion": rv})
        elif path == "/__fake/compact" and self.command == "POST":
            with store.cond:
                store.compact()
                rv = store.rv
            self.send_json(200, {"compactedResourceVersion": rv})
        elif path == "/__fake/cut_watches" and self.command == "POST":
            mode = self.query.get("mode", "close")
            if mode not in ("close", "end"):
                raise bad_request("mode must be close or end")
            with store.cond:
                store.cut_epoch += 1
                store.cut_mode = mode
                store.bump("cuts")
                n = store.open_watches
                store.cond.notify_all()
            self.send_json(200, {"cut": n})
        elif path == "/__fake/inject_410" and self.command == "POST":
            count = parse_rv(self.query.get("count", "1"), "count")
            with store.cond:
                store.inject_410 = min(count, 1000000)
            self.send_json(200, {"pendingInjected410": count})
        else:
            raise ApiError(404, "NotFound", f"no control endpoint {self.command} {path}")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, family, max_connections):
        self.address_family = family
        self.slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        # Over --max_connections: close the new connection at once.
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout, ssl.SSLError, OSError)):
            return
        super().handle_error(request, client_address)


def load_objects(handler_cls, path):
    with open(path, encoding="utf-8") as f:
        body = json.load(f)
    objs = body.get("items") if isinstance(body, dict) and "items" in body else body
    if isinstance(objs, dict):
        objs = [objs]
    fake = handler_cls.__new__(handler_cls)  # Only its control helpers are used.
    with handler_cls.store.cond:
        for obj in objs:
            fake.upsert(obj)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ready_file", required=True)
    p.add_argument("--listen", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cert", default="", help="server certificate chain (PEM)")
    p.add_argument("--key", default="", help="server key (PEM)")
    p.add_argument("--plain", action="store_true", help="plain HTTP instead of TLS")
    p.add_argument("--plain_port", type=int, default=-1,
                   help="also serve plain HTTP (same API, same token) on this port of --listen "
                        "(0: any), for test code without a TLS client; -1: off")
    p.add_argument("--token", default="")
    p.add_argument("--token_file", default="", help="accepted token, re-read per request")
    p.add_argument("--no_gateway_api", action="store_true",
                   help="serve no gateway.networking.k8s.io group (no CRDs installed)")
    p.add_argument("--objects", default="", help="JSON object, list or List to load at start")
    p.add_argument("--history_limit", type=int, default=10000,
                   help="events kept for watches; older resourceVersions get 410")
    p.add_argument("--bookmark_interval", type=float, default=1.0, help="seconds")
    p.add_argument("--max_watch_seconds", type=int, default=1800)
    p.add_argument("--max_watches", type=int, default=256)
    p.add_argument("--max_connections", type=int, default=512)
    p.add_argument("--max_objects", type=int, default=200000)
    p.add_argument("--max_body_bytes", type=int, default=3 * 1024 * 1024)
    p.add_argument("--request_log_limit", type=int, default=1000)
    p.add_argument("--io_timeout", type=float, default=30.0, help="socket read/write seconds")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    for name in ("history_limit", "max_watch_seconds", "max_watches", "max_connections",
                 "max_objects", "max_body_bytes", "request_log_limit"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.bookmark_interval <= 0 or args.io_timeout <= 0:
        p.error("--bookmark_interval and --io_timeout must be positive")
    if args.plain == bool(args.cert and args.key) or bool(args.cert) != bool(args.key):
        p.error("give --cert and --key, or --plain")

    Handler.args = args
    Handler.store = Store(args)
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        ctx.set_alpn_protocols(["http/1.1"])
        Handler.ssl_context = ctx
    if args.objects:
        load_objects(Handler, args.objects)
    family = socket.AF_INET6 if ":" in args.listen else socket.AF_INET
    server = Server((args.listen, args.port), Handler, family, args.max_connections)
    port = server.server_address[1]
    scheme = "http" if args.plain else "https"
    host = f"[{args.listen}]" if ":" in args.listen else args.listen
    ready = {"pid": os.getpid(), "port": port, "url": f"{scheme}://{host}:{port}"}
    if args.plain_port >= 0:
        plain_handler = type("PlainHandler", (Handler,), {"ssl_context": None})
        plain = Server((args.listen, args.plain_port), plain_handler, family,
                       args.max_connections)
        ready["plain_port"] = plain.server_address[1]
        threading.Thread(target=plain.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(ready, f)
    os.rename(tmp, args.ready_file)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
