"""Renders every deploy/kubernetes overlay with `kubectl kustomize` and checks the objects.

What is checked against the real binaries: every flag a container passes exists in the binary's
--helpfull; every HTTP probe names a container port that a listener of that binary really binds
(from its flag, or the flag's default), on all addresses (the kubelet probes the pod IP), and the
probe's path answers 200 on a controller and a proxy started by this test on loopback. From the
repository: the ClusterRole grants exactly docs/kubernetes-rbac.txt, and the image is the one
deploy/image/build.sh names. Invariants: security context, resources, preStop and grace period
against the proxy's drain timeout, a PodDisruptionBudget per workload, each overlay's own shape.

kubectl must be installed (bazel/install_deps.sh installs Debian's kubernetes-client when no
kubectl is present); without it the test fails, it does not skip.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import yaml

OVERLAYS = ("base", "ingress", "ha", "sidecar")
BINARIES = ("controller", "proxy", "lbctl")
# Which listener flag serves which probe paths, and the ready-file key of its port.
PROBED_LISTENERS = {
    "controller": {"rest_listen": "rest_port"},
    "proxy": {"admin_listen": "admin_port"},
}
DEADLINE_S = 30


def runfile(path):
    base = os.environ.get("TEST_SRCDIR", "")
    workspace = os.environ.get("TEST_WORKSPACE", "")
    candidate = os.path.join(base, workspace, path)
    return candidate if os.path.exists(candidate) else path


def parse_duration_s(text):
    """Seconds in an absl duration such as 15s, 1m30s, 500ms."""
    total = 0.0
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6, "ns": 1e-9}
    for number, unit in re.findall(r"([0-9.]+)(ms|us|ns|h|m|s)", text):
        total += float(number) * units[unit]
    if not re.fullmatch(r"([0-9.]+(ms|us|ns|h|m|s))+", text):
        raise ValueError("not a duration: %r" % text)
    return total


def helpfull(binary):
    """{flag name: default text} from `binary --helpfull`."""
    out = subprocess.run([binary, "--helpfull"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=DEADLINE_S,
                         universal_newlines=True).stdout
    flags = {}
    # "--name (help...); default: VALUE;" with the help wrapped over several lines.
    for m in re.finditer(r"^\s+--(\w+) \((.*?)\);\s+default: (.*?);$", out, re.M | re.S):
        flags[m.group(1)] = m.group(3).strip().strip('"')
    return flags


def container_args(container):
    """{flag: value} of a container's args (value None for a bare --flag)."""
    flags = {}
    for arg in container.get("args", []):
        if not arg.startswith("--"):
            raise AssertionError("positional argument %r in %s" % (arg, container["name"]))
        name, eq, value = arg[2:].partition("=")
        flags[name] = value if eq else None
    return flags


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def host_of(address):
    return address.rsplit(":", 1)[0]


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def wait_ready_file(path, proc):
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("process exited with %d before it was ready" % proc.returncode)
        if os.path.exists(path) and os.path.getsize(path) > 0:
            try:
                with open(path) as f:
                    return json.load(f)
            except ValueError:
                pass  # Being written.
        time.sleep(0.05)
    raise AssertionError("no ready file %s within %d s" % (path, DEADLINE_S))


def pod_templates(objects):
    """(object, pod spec, pod labels) of every workload."""
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            t = o["spec"]["template"]
            yield o, t["spec"], t["metadata"].get("labels", {})


class KustomizeTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.kubectl = shutil.which("kubectl")
        if cls.kubectl is None:
            raise AssertionError(
                "kubectl is not installed: run bazel/install_deps.sh (Debian's kubernetes-client)")
        # A copy: Bazel's runfiles are symlinks, and kustomize does not read a symlinked
        # kustomization.yaml.
        cls.root = os.path.join(tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")), "kubernetes")
        shutil.copytree(os.path.dirname(os.path.dirname(runfile(
            "deploy/kubernetes/base/kustomization.yaml"))), cls.root)
        cls.rendered = {}
        for overlay in OVERLAYS:
            r = subprocess.run([cls.kubectl, "kustomize", os.path.join(cls.root, overlay)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, timeout=60)
            if r.returncode != 0:
                raise AssertionError("kubectl kustomize %s: %s" % (overlay, r.stderr))
            cls.rendered[overlay] = [d for d in yaml.safe_load_all(r.stdout) if d]
        cls.bins = {b: runfile(os.path.join({"lbctl": "cli"}.get(b, b), b)) for b in BINARIES}
        cls.flags = {b: helpfull(cls.bins[b]) for b in ("controller", "proxy")}
        with open(runfile("deploy/image/build.sh")) as f:
            script = f.read()
        name = re.search(r"name=\$\{LB_IMAGE_NAME:-([^}]+)\}", script).group(1)
        tag = re.search(r"tag=\$\{LB_IMAGE_TAG:-([^}]+)\}", script).group(1)
        cls.image = "%s:%s" % (name, tag)
        cls.served = cls.start_binaries()

    @classmethod
    def start_binaries(cls):
        """Starts a controller and a proxy on loopback; {(binary, flag): base URL}."""
        cls.tmp = tempfile.mkdtemp(prefix="kustomize_test.", dir=os.environ.get("TEST_TMPDIR"))
        cls.procs = []
        ready = os.path.join(cls.tmp, "controller.ready")
        c = subprocess.Popen([cls.bins["controller"], "--grpc_listen=127.0.0.1:0",
                              "--rest_listen=127.0.0.1:0",
                              "--data_dir=" + os.path.join(cls.tmp, "data"),
                              "--ready_file=" + ready],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.procs.append(c)
        cready = wait_ready_file(ready, c)
        ready = os.path.join(cls.tmp, "proxy.ready")
        p = subprocess.Popen([cls.bins["proxy"], "--controller=127.0.0.1:%d" % cready["grpc_port"],
                              "--listen=127.0.0.1:0", "--admin_listen=127.0.0.1:0",
                              "--workers=1", "--ready_file=" + ready],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.procs.append(p)
        pready = wait_ready_file(ready, p)
        return {
            ("controller", "rest_listen"): "http://127.0.0.1:%d" % cready["rest_port"],
            ("proxy", "admin_listen"): "http://127.0.0.1:%d" % pready["admin_port"],
        }

    @classmethod
    def tearDownClass(cls):
        for p in getattr(cls, "procs", []):
            p.terminate()
            try:
                p.wait(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(getattr(cls, "tmp", ""), ignore_errors=True)

    # Our containers run one of the image's binaries.
    def ours(self, container):
        cmd = container.get("command", [])
        return bool(cmd) and os.path.basename(cmd[0]) in BINARIES

    def our_containers(self, overlay):
        for o, spec, labels in pod_templates(self.rendered[overlay]):
            for c in spec["containers"] + spec.get("initContainers", []):
                if self.ours(c):
                    yield o, spec, c

    def effective_flag(self, binary, container, name):
        args = container_args(container)
        return args[name] if name in args else self.flags[binary][name]

    def test_every_overlay_renders_objects(self):
        kinds = {o: sorted({d["kind"] for d in self.rendered[o]}) for o in OVERLAYS}
        for overlay in OVERLAYS:
            self.assertIn("Deployment", kinds[overlay], overlay)
            self.assertIn("ClusterRole", kinds[overlay], overlay)
            self.assertIn("PodDisruptionBudget", kinds[overlay], overlay)

    def test_kustomizations_use_fields_both_kustomize_versions_know(self):
        # Debian's kubectl 1.20 embeds kustomize 2.0.3, which rejects newer fields (patches,
        # components, labels); kustomize 5 still accepts these older ones (with a warning).
        known = {"namespace", "resources", "bases", "patchesStrategicMerge", "patchesJson6902",
                 "images", "commonLabels", "commonAnnotations", "namePrefix", "nameSuffix",
                 "configMapGenerator", "secretGenerator"}
        for overlay in OVERLAYS:
            with open(os.path.join(self.root, overlay, "kustomization.yaml")) as f:
                fields = set(yaml.safe_load(f))
            self.assertEqual(fields - known, set(), overlay)

    def test_our_images_are_the_built_image(self):
        for overlay in OVERLAYS:
            count = 0
            for o, spec, c in self.our_containers(overlay):
                count += 1
                self.assertEqual(c["image"], self.image, "%s %s" % (overlay, c["name"]))
                self.assertEqual(os.path.dirname(c["command"][0]), "/usr/local/bin")
            self.assertGreater(count, 0, overlay)
            # The built image runs nothing but our binaries.
            for o, spec, labels in pod_templates(self.rendered[overlay]):
                for c in spec["containers"]:
                    if c["image"] == self.image:
                        self.assertTrue(self.ours(c), "%s %s" % (overlay, c["name"]))

    def test_every_flag_exists_in_the_binary(self):
        for overlay in OVERLAYS:
            for o, spec, c in self.our_containers(overlay):
                binary = os.path.basename(c["command"][0])
                known = set(self.flags[binary])
                for name in container_args(c):
                    self.assertIn(name, known, "%s: %s has no flag --%s" % (overlay, binary, name))

    def test_probes_hit_real_listeners_and_paths(self):
        probed = 0
        for overlay in OVERLAYS:
            for o, spec, c in self.our_containers(overlay):
                binary = os.path.basename(c["command"][0])
                ports = {p["name"]: p["containerPort"] for p in c.get("ports", []) if "name" in p}
                listeners = {}
                for flag in PROBED_LISTENERS[binary]:
                    listeners[port_of(self.effective_flag(binary, c, flag))] = flag
                for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
                    probe = c.get(kind)
                    if binary != "lbctl":
                        self.assertIn(kind if kind != "startupProbe" else "readinessProbe", c,
                                      "%s %s" % (overlay, c["name"]))
                    if probe is None:
                        continue
                    where = "%s %s %s" % (overlay, c["name"], kind)
                    self.assertIn("httpGet", probe, where)
                    port = probe["httpGet"]["port"]
                    port = ports[port] if isinstance(port, str) else port
                    self.assertIn(port, [p["containerPort"] for p in c["ports"]], where)
                    self.assertIn(port, listeners, "%s: port %d is not one of %s" %
                                  (where, port, sorted(listeners)))
                    flag = listeners[port]
                    host = host_of(self.effective_flag(binary, c, flag))
                    self.assertIn(host, ("0.0.0.0", "[::]"),
                                  "%s: --%s binds %s, the kubelet cannot reach it" %
                                  (where, flag, host))
                    url = self.served[(binary, flag)] + probe["httpGet"]["path"]
                    deadline = time.monotonic() + DEADLINE_S
                    status, body = http_get(url)
                    # The proxy's /ready is 503 until its first configuration arrives.
                    while status in (0, 503) and time.monotonic() < deadline:
                        time.sleep(0.1)
                        status, body = http_get(url)
                    self.assertEqual(status, 200, "%s: GET %s: %s" % (where, url, body))
                    probed += 1
        self.assertGreater(probed, 8)

    def test_rbac_is_exactly_the_documented_set(self):
        with open(runfile("docs/kubernetes-rbac.txt")) as f:
            want = set()
            for line in f:
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                group, resource, verbs = line.split()
                for verb in verbs.split(","):
                    want.add(("" if group == "core" else group, resource, verb))
        self.assertGreater(len(want), 10)
        for overlay in OVERLAYS:
            objs = self.rendered[overlay]
            roles = [o for o in objs if o["kind"] in ("ClusterRole", "Role")]
            self.assertEqual([r["metadata"]["name"] for r in roles], ["lb-controller"], overlay)
            got = set()
            for rule in roles[0]["rules"]:
                self.assertNotIn("*", rule["verbs"] + rule["resources"] + rule["apiGroups"])
                self.assertNotIn("resourceNames", rule)
                for g in rule["apiGroups"]:
                    for r in rule["resources"]:
                        for v in rule["verbs"]:
                            got.add((g, r, v))
            self.assertEqual(got, want, overlay)
            # Bound to the controller's ServiceAccount, and only the controller has a token.
            bindings = [o for o in objs if o["kind"] == "ClusterRoleBinding"]
            self.assertEqual(len(bindings), 1, overlay)
            subjects = bindings[0]["subjects"]
            controllers = [o for o, spec, c in self.our_containers(overlay)
                           if os.path.basename(c["command"][0]) == "controller"]
            self.assertGreater(len(controllers), 0, overlay)
            for d in controllers:
                spec = d["spec"]["template"]["spec"]
                self.assertIn({"kind": "ServiceAccount", "name": spec["serviceAccountName"],
                               "namespace": d["metadata"]["namespace"]}, subjects, overlay)
            for o, spec, labels in pod_templates(objs):
                if spec.get("serviceAccountName") not in [s["name"] for s in subjects]:
                    self.assertIs(spec.get("automountServiceAccountToken"), False,
                                  "%s %s" % (overlay, o["metadata"]["name"]))

    def test_security_context_and_resources(self):
        for overlay in OVERLAYS:
            for o, spec, labels in pod_templates(self.rendered[overlay]):
                pod_sc = spec.get("securityContext", {})
                self.assertNotIn("hostNetwork", spec)
                for c in spec["containers"] + spec.get("initContainers", []):
                    where = "%s %s/%s" % (overlay, o["metadata"]["name"], c["name"])
                    sc = c.get("securityContext", {})
                    self.assertTrue(sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")), where)
                    self.assertNotEqual(sc.get("runAsUser", pod_sc.get("runAsUser")), 0, where)
                    self.assertIs(sc.get("readOnlyRootFilesystem"), True, where)
                    self.assertIs(sc.get("allowPrivilegeEscalation"), False, where)
                    self.assertNotIn("privileged", sc, where)
                    self.assertEqual(sc.get("capabilities", {}).get("drop"), ["ALL"], where)
                    self.assertNotIn("add", sc.get("capabilities", {}), where)
                    res = c.get("resources", {})
                    self.assertIn("cpu", res.get("requests", {}), where)
                    self.assertIn("memory", res.get("requests", {}), where)
                    self.assertIn("memory", res.get("limits", {}), where)

    def test_controller_data_dir_is_a_writable_volume(self):
        for overlay in OVERLAYS:
            for o, spec, c in self.our_containers(overlay):
                if os.path.basename(c["command"][0]) != "controller":
                    continue
                data_dir = self.effective_flag("controller", c, "data_dir")
                self.assertTrue(data_dir.startswith("/"), overlay)
                mounts = [m["mountPath"] for m in c.get("volumeMounts", [])
                          if not m.get("readOnly")]
                self.assertTrue(any(data_dir == m or data_dir.startswith(m + "/")
                                    for m in mounts), "%s: %s not on a volume" % (overlay, data_dir))
                self.assertIn("/tmp", mounts, overlay)  # SQLite's temporary files.

    def test_proxy_grace_period_covers_prestop_and_drain(self):
        checked = 0
        for overlay in OVERLAYS:
            for o, spec, c in self.our_containers(overlay):
                if os.path.basename(c["command"][0]) != "proxy":
                    continue
                where = "%s %s/%s" % (overlay, o["metadata"]["name"], c["name"])
                drain = parse_duration_s(self.effective_flag("proxy", c, "drain_timeout"))
                pre_stop = c.get("lifecycle", {}).get("preStop", {})
                self.assertIn("sleep", pre_stop, where)
                sleep = pre_stop["sleep"]["seconds"]
                self.assertGreaterEqual(sleep, 1, where)
                grace = spec.get("terminationGracePeriodSeconds", 30)
                self.assertGreaterEqual(grace, sleep + drain + 1, where)
                checked += 1
        self.assertGreaterEqual(checked, 3)  # ingress, ha, sidecar.

    def test_every_workload_has_a_disruption_budget(self):
        for overlay in OVERLAYS:
            objs = self.rendered[overlay]
            pdbs = [o for o in objs if o["kind"] == "PodDisruptionBudget"]
            for o, spec, labels in pod_templates(objs):
                matching = [p for p in pdbs if p["metadata"]["namespace"] ==
                            o["metadata"]["namespace"] and p["spec"]["selector"]["matchLabels"]
                            .items() <= labels.items()]
                self.assertEqual(len(matching), 1, "%s %s" % (overlay, o["metadata"]["name"]))
                replicas = o["spec"].get("replicas", 1)
                p = matching[0]["spec"]
                if "minAvailable" in p:
                    # A budget that can never be met blocks every node drain.
                    self.assertLess(p["minAvailable"], replicas, "%s %s" % (overlay,
                                                                             o["metadata"]["name"]))
                else:
                    self.assertGreaterEqual(p["maxUnavailable"], 1)

    def test_proxies_reach_a_controller_service(self):
        for overlay in OVERLAYS:
            objs = self.rendered[overlay]
            services = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Service"}
            controllers = [(o, c) for o, spec, c in self.our_containers(overlay)
                           if os.path.basename(c["command"][0]) == "controller"]
            for o, spec, c in self.our_containers(overlay):
                if os.path.basename(c["command"][0]) != "proxy":
                    continue
                for address in self.effective_flag("proxy", c, "controller").split(","):
                    host, port = host_of(address), port_of(address)
                    svc = services[host.split(".")[0]]
                    sp = [p for p in svc["spec"]["ports"] if p["port"] == port]
                    self.assertEqual(len(sp), 1, "%s: %s" % (overlay, address))
                    d, cc = controllers[0]
                    self.assertEqual(svc["spec"]["selector"].items() <=
                                     d["spec"]["template"]["metadata"]["labels"].items(), True)
                    target = sp[0]["targetPort"]
                    cports = {p["name"]: p["containerPort"] for p in cc["ports"]}
                    target = cports[target] if isinstance(target, str) else target
                    self.assertEqual(target,
                                     port_of(self.effective_flag("controller", cc, "grpc_listen")),
                                     overlay)

    def test_ingress_overlay(self):
        objs = self.rendered["ingress"]
        by_kind = {}
        for o in objs:
            by_kind.setdefault(o["kind"], []).append(o)
        self.assertEqual([(c["metadata"]["name"], c["spec"]["controller"])
                          for c in by_kind["IngressClass"]], [("lb", "lb.dev/controller")])
        self.assertEqual([(c["metadata"]["name"], c["spec"]["controllerName"])
                          for c in by_kind["GatewayClass"]], [("lb", "lb.dev/controller")])
        lbs = [s for s in by_kind["Service"] if s["spec"].get("type") == "LoadBalancer"]
        self.assertEqual(len(lbs), 1)
        proxy = [d for d in by_kind["Deployment"] if d["metadata"]["name"] == "lb-proxy"][0]
        self.assertTrue(lbs[0]["spec"]["selector"].items() <=
                        proxy["spec"]["template"]["metadata"]["labels"].items())
        self.assertGreaterEqual(proxy["spec"]["replicas"], 2)
        c = proxy["spec"]["template"]["spec"]["containers"][0]
        cports = {p["name"]: p["containerPort"] for p in c["ports"]}
        listen = {port_of(self.effective_flag("proxy", c, f)) for f in ("listen", "tls_listen")}
        for sp in lbs[0]["spec"]["ports"]:
            self.assertIn(cports[sp["targetPort"]], listen)
        controller = [d for d in by_kind["Deployment"] if d["metadata"]["name"] ==
                      "lb-controller"][0]
        args = container_args(controller["spec"]["template"]["spec"]["containers"][0])
        self.assertEqual((args.get("ingress_class"), args.get("gateway_class")), ("lb", "lb"))
        self.assertIn("kubernetes", args)

    def test_ha_overlay(self):
        objs = self.rendered["ha"]
        controller = [o for o in objs if o["kind"] == "Deployment" and
                      o["metadata"]["name"] == "lb-controller"][0]
        self.assertGreaterEqual(controller["spec"]["replicas"], 2)
        args = container_args(controller["spec"]["template"]["spec"]["containers"][0])
        self.assertEqual(args["store"], "etcd")
        etcd = [o for o in objs if o["kind"] == "StatefulSet"]
        self.assertEqual(len(etcd), 1)
        sts = etcd[0]
        self.assertEqual(sts["spec"]["replicas"], 3)
        name, service = sts["metadata"]["name"], sts["spec"]["serviceName"]
        want = ["%s-%d.%s:2379" % (name, i, service) for i in range(3)]
        self.assertEqual(args["etcd_endpoints"].split(","), want)
        headless = [o for o in objs if o["kind"] == "Service" and
                    o["metadata"]["name"] == service]
        self.assertEqual(headless[0]["spec"]["clusterIP"], "None")
        etcd_args = container_args(sts["spec"]["template"]["spec"]["containers"][0])
        members = ",".join("%s-%d=http://%s-%d.%s:2380" % (name, i, name, i, service)
                           for i in range(3))
        self.assertEqual(etcd_args["initial-cluster"], members)

    def test_sidecar_overlay(self):
        pods = 0
        for o, spec, labels in pod_templates(self.rendered["sidecar"]):
            proxies = [c for c in spec["containers"] if self.ours(c) and
                       os.path.basename(c["command"][0]) == "proxy"]
            apps = [c for c in spec["containers"] if not self.ours(c)]
            if not proxies:
                continue
            pods += 1
            self.assertEqual(len(apps), 1)
            listen = self.effective_flag("proxy", proxies[0], "listen")
            self.assertEqual(host_of(listen), "127.0.0.1")
            # Nothing else in the pod takes the proxy's ports.
            app_ports = {p["containerPort"] for p in apps[0].get("ports", [])}
            self.assertNotIn(port_of(listen), app_ports)
        self.assertEqual(pods, 1)


def main():
    """Runs the tests; writes JUnit XML to $XML_OUTPUT_FILE (Bazel) so each case is counted."""
    import sys
    import xml.etree.ElementTree as ET
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(KustomizeTest)
    names = [t.id() for t in suite]  # Before the run, which releases the cases.
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    out = os.environ.get("XML_OUTPUT_FILE")
    if out:
        bad = {t.id(): text for t, text in result.failures + result.errors}
        root = ET.Element("testsuites")
        ts = ET.SubElement(root, "testsuite", name="KustomizeTest",
                           tests=str(result.testsRun), failures=str(len(bad)))
        if bad and not set(bad) <= set(names):
            names += [n for n in bad if n not in names]  # setUpClass errors.
        for name in names:
            case = ET.SubElement(ts, "testcase", name=name.rsplit(".", 1)[-1],
                                 classname="KustomizeTest")
            if name in bad:
                ET.SubElement(case, "failure", message="failed").text = bad[name]
            elif not result.wasSuccessful() and result.testsRun == 0:
                ET.SubElement(case, "failure", message="not run")
        ET.ElementTree(root).write(out)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
