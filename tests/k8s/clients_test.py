#!/usr/bin/python3
"""Proves tests/k8s/fake_apiserver.py against real Kubernetes clients.

- Debian's python3-kubernetes: list, Watch().stream() sees ADDED/MODIFIED/DELETED in order,
  resumes from a resourceVersion, gets a 410 ApiException after compaction; paging with
  limit/continue; 409 on a stale update; status subresource patches; CustomObjectsApi on the
  Gateway API group.
- kubectl: `get --raw` (discovery, lists, a chunked watch), `get -w` with --server/--token/
  --certificate-authority seeing changes, `create`/`delete`.
- npm's @kubernetes/client-node (its ListWatch informer), when installed in LB_K8S_NODE_CLIENT
  (default /opt/lb-k8s-client-node; bazel/install_deps.sh installs it); skipped otherwise.

Everything on loopback; every wait bounded. Run from clients_test.sh.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
import ssl

import kubernetes
from kubernetes import client
from kubernetes.client.rest import ApiException

HERE = os.path.join(os.environ.get("TEST_SRCDIR", ""), os.environ.get("TEST_WORKSPACE", ""),
                    "tests/k8s") if os.environ.get("TEST_SRCDIR") else os.path.dirname(
                        os.path.abspath(__file__))
TOKEN = "test-token-123"
NODE_CLIENT_DIR = os.environ.get("LB_K8S_NODE_CLIENT", "/opt/lb-k8s-client-node")


class FakeServer:
    """The fake API server as a child process, with TLS and a bearer token."""

    def __init__(self, extra_flags=()):
        self.dir = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        subprocess.run([os.path.join(HERE, "make_test_certs"), self.dir], check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        self.ca = os.path.join(self.dir, "k8s-ca.crt")
        ready = os.path.join(self.dir, "ready.json")
        self.log = open(os.path.join(self.dir, "fake.log"), "w")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "fake_apiserver.py"), "--ready_file=" + ready,
             "--cert=" + os.path.join(self.dir, "apiserver.crt"),
             "--key=" + os.path.join(self.dir, "apiserver.key"), "--token=" + TOKEN,
             "--bookmark_interval=0.2", *extra_flags],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the fake API server did not start: " + self.log_tail())
            time.sleep(0.05)
        with open(ready) as f:
            info = json.load(f)
        self.port = info["port"]
        self.url = info["url"]
        self.ssl = ssl.create_default_context(cafile=self.ca)
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        with open(self.kubeconfig, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "fake",
                       "clusters": [{"name": "fake", "cluster": {
                           "server": self.url, "certificate-authority": self.ca}}],
                       "users": [{"name": "fake", "user": {"token": TOKEN}}],
                       "contexts": [{"name": "fake", "context": {
                           "cluster": "fake", "user": "fake", "namespace": "default"}}]}, f)

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "fake.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()

    def call(self, method, path, body=None, token=TOKEN, ctype="application/json"):
        """(status, parsed JSON body)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, context=self.ssl, timeout=15) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            with e:
                return e.code, json.loads(e.read() or b"null")

    def control(self, path, body=None):
        status, answer = self.call("POST", "/__fake/" + path, body)
        if status != 200:
            raise RuntimeError(f"/__fake/{path}: {status} {answer}")
        return answer

    def api_client(self):
        conf = client.Configuration()
        conf.host = self.url
        conf.ssl_ca_cert = self.ca
        conf.api_key = {"authorization": TOKEN}
        conf.api_key_prefix = {"authorization": "Bearer"}
        return client.ApiClient(conf)


def slice_obj(name, ips, service="web", ns="default"):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}


class PythonClientTest(unittest.TestCase):
    """Debian's python3-kubernetes against the fake."""

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeServer()
        cls.api = cls.fake.api_client()
        cls.discovery = client.DiscoveryV1Api(cls.api)
        cls.core = client.CoreV1Api(cls.api)
        cls.networking = client.NetworkingV1Api(cls.api)
        cls.custom = client.CustomObjectsApi(cls.api)

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def watch_events(self, count, **kwargs):
        """Runs Watch().stream on endpointslices in namespace w (bounded by timeout_seconds)
        in a thread; returns (thread, list that fills with (type, name, rv))."""
        events = []
        ready = threading.Event()

        def run():
            w = kubernetes.watch.Watch()
            ready.set()
            for ev in w.stream(self.discovery.list_namespaced_endpoint_slice, "w",
                               timeout_seconds=10, **kwargs):
                if ev["type"] == "BOOKMARK":
                    continue
                obj = ev["object"]
                events.append((ev["type"], obj.metadata.name, obj.metadata.resource_version))
                if len(events) >= count:
                    w.stop()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        ready.wait(5)
        return t, events

    def wait_watch_open(self, before):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.fake.call("GET", "/__fake/state")[1]["openWatches"] > before:
                return
            time.sleep(0.05)
        self.fail("the watch did not open")

    def test_watch_sees_changes_in_order_resumes_and_gets_410(self):
        listed = self.discovery.list_namespaced_endpoint_slice("w")
        self.assertEqual(listed.items, [])
        start_rv = listed.metadata.resource_version
        before = self.fake.call("GET", "/__fake/state")[1]["openWatches"]
        t, events = self.watch_events(3, resource_version=start_rv)
        self.wait_watch_open(before)
        created = self.discovery.create_namespaced_endpoint_slice(
            "w", slice_obj("a", ["10.0.0.1"], ns="w"))
        body = created.to_dict()
        patched = self.discovery.patch_namespaced_endpoint_slice(
            "a", "w", {"endpoints": [{"addresses": ["10.0.0.2"],
                                      "conditions": {"ready": False}}]})
        self.assertEqual(patched.endpoints[0].addresses, ["10.0.0.2"])
        self.assertFalse(patched.endpoints[0].conditions.ready)
        self.discovery.delete_namespaced_endpoint_slice("a", "w")
        t.join(15)
        self.assertFalse(t.is_alive())
        self.assertEqual([(e[0], e[1]) for e in events],
                         [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")])
        rvs = [int(e[2]) for e in events]
        self.assertEqual(rvs, sorted(rvs))
        self.assertEqual(events[0][2], body["metadata"]["resource_version"])

        # Resume after the MODIFIED event: only the DELETED one follows.
        t, resumed = self.watch_events(1, resource_version=events[1][2])
        t.join(15)
        self.assertEqual(resumed, [events[2]])

        # After compaction the old resourceVersion is gone: 410 Expired.
        self.fake.control("compact")
        with self.assertRaises(ApiException) as caught:
            for _ in kubernetes.watch.Watch().stream(
                    self.discovery.list_namespaced_endpoint_slice, "w",
                    resource_version=start_rv, timeout_seconds=5):
                pass
        self.assertEqual(caught.exception.status, 410)
        self.assertIn("Expired", caught.exception.reason)

        # A fresh list gives a resourceVersion to watch from again.
        fresh = self.discovery.list_namespaced_endpoint_slice("w").metadata.resource_version
        self.assertGreaterEqual(int(fresh), rvs[-1])

    def test_injected_410_then_relist(self):
        self.fake.control("inject_410?count=1")
        with self.assertRaises(ApiException) as caught:
            for _ in kubernetes.watch.Watch().stream(self.core.list_namespaced_service, "x",
                                                     resource_version="1", timeout_seconds=5):
                pass
        self.assertEqual(caught.exception.status, 410)
        # The next watch is normal (and a timeout ends it cleanly).
        events = list(kubernetes.watch.Watch().stream(
            self.core.list_namespaced_service, "x",
            resource_version=self.core.list_namespaced_service("x").metadata.resource_version,
            timeout_seconds=1))
        self.assertEqual(events, [])

    def test_paging_and_selectors(self):
        for i in range(7):
            self.fake.control("objects", slice_obj(f"p{i}", [f"10.1.0.{i}"],
                                                    service="a" if i % 2 else "b", ns="page"))
        page = self.discovery.list_namespaced_endpoint_slice("page", limit=3)
        names = [s.metadata.name for s in page.items]
        self.assertEqual(names, ["p0", "p1", "p2"])
        self.assertEqual(page.metadata.remaining_item_count, 4)
        # A change between pages does not show in the pages of the first list.
        self.fake.control("objects", slice_obj("p00", ["10.1.1.1"], ns="page"))
        cont = page.metadata._continue
        while cont:
            page = self.discovery.list_namespaced_endpoint_slice("page", limit=3,
                                                                 _continue=cont)
            names += [s.metadata.name for s in page.items]
            cont = page.metadata._continue
        self.assertEqual(names, [f"p{i}" for i in range(7)])
        odd = self.discovery.list_namespaced_endpoint_slice(
            "page", label_selector="kubernetes.io/service-name=a")
        self.assertEqual([s.metadata.name for s in odd.items], ["p1", "p3", "p5"])
        one = self.discovery.list_endpoint_slice_for_all_namespaces(
            field_selector="metadata.name=p4,metadata.namespace=page")
        self.assertEqual([s.metadata.name for s in one.items], ["p4"])
        both = self.discovery.list_namespaced_endpoint_slice(
            "page", label_selector="kubernetes.io/service-name in (a,b),!nothing")
        self.assertEqual(len(both.items), 7)
        with self.assertRaises(ApiException) as caught:
            self.discovery.list_namespaced_endpoint_slice("page", field_selector="spec.x=1")
        self.assertEqual(caught.exception.status, 400)
        # A continue token from before a compaction (of a later write): 410.
        page = self.discovery.list_namespaced_endpoint_slice("page", limit=2)
        self.fake.control("objects", slice_obj("p9", ["10.1.0.9"], ns="page"))
        self.fake.control("compact")
        with self.assertRaises(ApiException) as caught:
            self.discovery.list_namespaced_endpoint_slice("page", limit=2,
                                                          _continue=page.metadata._continue)
        self.assertEqual(caught.exception.status, 410)

    def test_conflict_and_status_subresource(self):
        ing = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "site", "namespace": "default"},
               "spec": {"ingressClassName": "lb", "rules": [{"host": "a.example"}]}}
        created = self.networking.create_namespaced_ingress("default", ing)
        rv = created.metadata.resource_version
        with self.assertRaises(ApiException) as caught:
            self.networking.create_namespaced_ingress("default", ing)
        self.assertEqual(caught.exception.status, 409)
        created.spec.rules[0].host = "b.example"
        updated = self.networking.replace_namespaced_ingress("site", "default", created)
        self.assertEqual(updated.metadata.generation, 2)
        created.metadata.resource_version = rv  # Stale now.
        with self.assertRaises(ApiException) as caught:
            self.networking.replace_namespaced_ingress("site", "default", created)
        self.assertEqual(caught.exception.status, 409)
        self.assertIn("the object has been modified", caught.exception.body)

        status = {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}
        after = self.networking.patch_namespaced_ingress_status("site", "default", status)
        self.assertEqual(after.status.load_balancer.ingress[0].ip, "192.0.2.1")
        self.assertEqual(after.spec.rules[0].host, "b.example")
        self.assertGreater(int(after.metadata.resource_version),
                           int(updated.metadata.resource_version))
        self.assertEqual(after.metadata.generation, 2)  # Status writes leave generation.
        # A status write cannot change the spec, and a spec write cannot change the status.
        code, body = self.fake.call(
            "PATCH", "/apis/networking.k8s.io/v1/namespaces/default/ingresses/site/status",
            {"spec": {"rules": []}, "status": {"loadBalancer": {}}},
            ctype="application/merge-patch+json")
        self.assertEqual(code, 200)
        self.assertEqual(body["spec"]["rules"][0]["host"], "b.example")
        lb_status = {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
        self.assertEqual(body["status"], lb_status)  # Merged: {} changes nothing.
        code, body = self.fake.call(
            "PATCH", "/apis/networking.k8s.io/v1/namespaces/default/ingresses/site",
            {"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}}},
            ctype="application/strategic-merge-patch+json")
        self.assertEqual(code, 200)
        self.assertEqual(body["status"], lb_status)
        # A PUT of status with a stale resourceVersion conflicts.
        stale = dict(body, metadata=dict(body["metadata"], resourceVersion=rv))
        code, body = self.fake.call(
            "PUT", "/apis/networking.k8s.io/v1/namespaces/default/ingresses/site/status", stale)
        self.assertEqual(code, 409)
        # No status subresource on endpointslices.
        code, _ = self.fake.call(
            "PATCH", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/x/status",
            {}, ctype="application/merge-patch+json")
        self.assertEqual(code, 404)

    def test_gateway_api_custom_objects_and_status(self):
        route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                 "metadata": {"name": "r", "namespace": "default"},
                 "spec": {"parentRefs": [{"name": "gw"}],
                          "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}}
        self.custom.create_namespaced_custom_object("gateway.networking.k8s.io", "v1",
                                                    "default", "httproutes", route)
        listed = self.custom.list_namespaced_custom_object("gateway.networking.k8s.io", "v1",
                                                           "default", "httproutes")
        self.assertEqual(listed["kind"], "HTTPRouteList")
        # Custom resources' list items keep kind/apiVersion (built-in ones do not).
        self.assertEqual(listed["items"][0]["kind"], "HTTPRoute")
        status = {"status": {"parents": [{"parentRef": {"name": "gw"},
                                          "controllerName": "lb.dev/gateway-controller",
                                          "conditions": [{"type": "Accepted",
                                                          "status": "True"}]}]}}
        after = self.custom.patch_namespaced_custom_object_status(
            "gateway.networking.k8s.io", "v1", "default", "httproutes", "r", status)
        self.assertEqual(after["status"], status["status"])
        slices = self.fake.call("GET", "/apis/discovery.k8s.io/v1/endpointslices")[1]
        for item in slices["items"]:
            self.assertNotIn("kind", item)

    def test_auth_and_bad_requests(self):
        code, body = self.fake.call("GET", "/api/v1/services", token="")
        self.assertEqual((code, body["reason"]), (401, "Unauthorized"))
        code, _ = self.fake.call("GET", "/api/v1/services", token="wrong")
        self.assertEqual(code, 401)
        code, body = self.fake.call("POST", "/api/v1/namespaces/default/services",
                                    {"kind": "Service", "apiVersion": "v1",
                                     "metadata": {"name": "Bad_Name"}})
        self.assertEqual(code, 422)
        code, _ = self.fake.call("GET", "/api/v1/namespaces/default/pods")
        self.assertEqual(code, 404)


class NoGatewayApiTest(unittest.TestCase):
    def test_gateway_group_is_absent(self):
        fake = FakeServer(["--no_gateway_api"])
        try:
            code, groups = fake.call("GET", "/apis")
            self.assertEqual(code, 200)
            names = [g["name"] for g in groups["groups"]]
            self.assertEqual(names, ["discovery.k8s.io", "networking.k8s.io"])
            code, body = fake.call("GET", "/apis/gateway.networking.k8s.io/v1/httproutes")
            self.assertEqual((code, body["reason"]), (404, "NotFound"))
            api = client.CustomObjectsApi(fake.api_client())
            with self.assertRaises(ApiException) as caught:
                api.list_cluster_custom_object("gateway.networking.k8s.io", "v1", "gateways")
            self.assertEqual(caught.exception.status, 404)
        finally:
            fake.stop()


def kubectl():
    path = shutil.which("kubectl")
    if path is None:
        raise unittest.SkipTest("kubectl is not installed (bazel/install_deps.sh installs it)")
    return path


class KubectlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.kubectl = kubectl()
        cls.fake = FakeServer()
        cls.flags = [f"--server={cls.fake.url}", f"--token={TOKEN}",
                     f"--certificate-authority={cls.fake.ca}"]

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def run_kubectl(self, *args, stdin=None):
        env = dict(os.environ, HOME=self.fake.dir, KUBECONFIG=self.fake.kubeconfig)
        done = subprocess.run([self.kubectl, *args], input=stdin, capture_output=True,
                              text=True, timeout=60, env=env)
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stdout

    def test_get_raw(self):
        apis = json.loads(self.run_kubectl("get", "--raw", "/apis", *self.flags))
        self.assertIn("gateway.networking.k8s.io", [g["name"] for g in apis["groups"]])
        self.fake.control("objects", slice_obj("raw-1", ["10.2.0.1"], ns="raw"))
        listed = json.loads(self.run_kubectl(
            "get", "--raw", "/apis/discovery.k8s.io/v1/namespaces/raw/endpointslices",
            *self.flags))
        self.assertEqual(listed["kind"], "EndpointSliceList")
        self.assertEqual([i["metadata"]["name"] for i in listed["items"]], ["raw-1"])
        rv = listed["metadata"]["resourceVersion"]
        self.fake.control("objects", slice_obj("raw-1", ["10.2.0.2"], ns="raw"))
        # A watch through --raw: chunked, newline-delimited events, ended by timeoutSeconds.
        out = self.run_kubectl(
            "get", "--raw", "/apis/discovery.k8s.io/v1/namespaces/raw/endpointslices"
            f"?watch=1&resourceVersion={rv}&timeoutSeconds=1", *self.flags)
        events = [json.loads(line) for line in out.splitlines() if line.strip()]
        self.assertEqual([e["type"] for e in events], ["MODIFIED"])
        self.assertEqual(events[0]["object"]["endpoints"][0]["addresses"], ["10.2.0.2"])
        version = json.loads(self.run_kubectl("get", "--raw", "/version", *self.flags))
        self.assertEqual(version["major"], "1")

    def test_get_watch_sees_changes(self):
        self.fake.control("objects", slice_obj("first", ["10.3.0.1"], ns="kw"))
        env = dict(os.environ, HOME=self.fake.dir)
        proc = subprocess.Popen(
            [self.kubectl, "get", "endpointslices", "-n", "kw", "-w", "--output-watch-events",
             "--request-timeout=30s", *self.flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()

        def wait_for(text):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if any(text in " ".join(line.split()) for line in list(lines)):
                    return
                time.sleep(0.05)
            self.fail(f"kubectl -w did not print {text!r}: {lines} {proc.stderr}")

        try:
            wait_for("ADDED first")
            self.fake.control("objects", slice_obj("second", ["10.3.0.2"], ns="kw"))
            wait_for("ADDED second")
            self.run_kubectl("delete", "endpointslice", "first", "-n", "kw", *self.flags)
            wait_for("DELETED first")
            self.fake.control("objects", slice_obj("second", ["10.3.0.3"], ns="kw"))
            wait_for("MODIFIED second")
        finally:
            proc.terminate()
            proc.wait(10)
            reader.join(10)
            proc.stdout.close()
            proc.stderr.close()

    def test_create_and_get(self):
        manifest = json.dumps({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                               "metadata": {"name": "k", "namespace": "default"},
                               "spec": {"ingressClassName": "lb",
                                        "rules": [{"host": "k.example"}]}})
        self.run_kubectl("create", "-f", "-", "--validate=false", *self.flags, stdin=manifest)
        got = json.loads(self.run_kubectl("get", "ingress", "k", "-o", "json", *self.flags))
        self.assertEqual(got["spec"]["rules"][0]["host"], "k.example")
        names = self.run_kubectl("get", "ing", "-A", "-o", "name", *self.flags).split()
        self.assertIn("ingress.networking.k8s.io/k", names)
        self.run_kubectl("get", "httproutes,gateways,gatewayclasses", "-A", *self.flags)


class NodeClientTest(unittest.TestCase):
    def test_informer(self):
        node = shutil.which("node")
        if node is None or not os.path.isdir(os.path.join(NODE_CLIENT_DIR, "node_modules",
                                                          "@kubernetes", "client-node")):
            raise unittest.SkipTest(f"@kubernetes/client-node is not installed in "
                                    f"{NODE_CLIENT_DIR} (bazel/install_deps.sh installs it)")
        fake = FakeServer()
        proc = None
        try:
            env = dict(os.environ, NODE_PATH=os.path.join(NODE_CLIENT_DIR, "node_modules"),
                       KUBECONFIG=fake.kubeconfig, HOME=fake.dir)
            proc = subprocess.Popen([node, os.path.join(HERE, "node_client_test.mjs"),
                                     NODE_CLIENT_DIR],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=env)
            out_lines = []

            def expect(prefix):
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    line = proc.stdout.readline()
                    if not line:
                        break
                    out_lines.append(line.strip())
                    if line.startswith(prefix):
                        return line.strip()
                self.fail(f"node client: no {prefix!r} in {out_lines}: "
                          f"{proc.stderr.read() if proc.poll() is not None else ''}")

            fake.control("objects", slice_obj("n1", ["10.4.0.1"], ns="node"))
            expect("started")
            fake.control("objects", slice_obj("n2", ["10.4.0.2"], ns="node"))
            self.assertEqual(expect("add n2"), "add n2")
            fake.control("objects", slice_obj("n1", ["10.4.0.9"], ns="node"))
            self.assertEqual(expect("update n1"), "update n1 10.4.0.9")
            code, _ = fake.call("DELETE",
                                "/apis/discovery.k8s.io/v1/namespaces/node/endpointslices/n2")
            self.assertEqual(code, 200)
            self.assertEqual(expect("delete n2"), "delete n2")
            # Compact (past the informer's last resourceVersion) and cut: the informer's resumed
            # watch gets 410 and it relists.
            fake.control("objects", {"apiVersion": "v1", "kind": "Service",
                                     "metadata": {"name": "other", "namespace": "node"}})
            fake.control("compact")
            fake.control("cut_watches")
            fake.control("objects", slice_obj("n3", ["10.4.0.3"], ns="node"))
            self.assertEqual(expect("add n3"), "add n3")
            counters = fake.call("GET", "/__fake/state")[1]["counters"]
            self.assertGreaterEqual(counters.get("expired_watches", 0), 1, out_lines)
            proc.stdin.close()
            self.assertEqual(proc.wait(15), 0)
        finally:
            if proc is not None:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
                for f in (proc.stdin, proc.stdout, proc.stderr):
                    if not f.closed:
                        f.close()
            fake.stop()


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
