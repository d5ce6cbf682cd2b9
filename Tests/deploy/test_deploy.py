"""deploy/ holds valid Kubernetes objects, and its RBAC grants exactly what xdpnatd asks for."""
import glob
import os
import re

import kubernetes_validate
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFESTS = sorted(glob.glob(os.path.join(ROOT, "deploy", "*.yaml")))
K8S_VERSION = "1.30.0"


def docs():
    out = []
    for path in MANIFESTS:
        with open(path) as f:
            out += [d for d in yaml.safe_load_all(f) if d]
    return out


def test_there_are_manifests():
    kinds = {d["kind"] for d in docs()}
    assert {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
            "ConfigMap", "DaemonSet"} <= kinds


@pytest.mark.parametrize("doc", docs(), ids=lambda d: f'{d["kind"]}/{d["metadata"]["name"]}')
def test_every_object_is_valid(doc):
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def rules():
    out = set()
    for d in docs():
        if d["kind"] not in ("ClusterRole", "Role"):
            continue
        for r in d["rules"]:
            for g in r["apiGroups"]:
                for res in r["resources"]:
                    for v in r["verbs"]:
                        out.add((g, res, v, tuple(r.get("resourceNames", []))))
    return out


def test_rbac_is_exactly_what_the_daemon_requests():
    # the verbs of the requests xdpnatd makes (Sources/XDPNatKube): list+watch of four kinds,
    # merge PATCH of two status subresources, GET/POST/PUT of its Lease
    want = {
        ("xdpnat.io", "natpools", "list", ()), ("xdpnat.io", "natpools", "watch", ()),
        ("xdpnat.io", "egressnats", "list", ()), ("xdpnat.io", "egressnats", "watch", ()),
        ("", "pods", "list", ()), ("", "pods", "watch", ()),
        ("", "namespaces", "list", ()), ("", "namespaces", "watch", ()),
        ("xdpnat.io", "natpools/status", "patch", ()), ("xdpnat.io", "egressnats/status", "patch", ()),
        ("coordination.k8s.io", "leases", "create", ()),
        ("coordination.k8s.io", "leases", "get", ("xdpnat-allocator",)),
        ("coordination.k8s.io", "leases", "update", ("xdpnat-allocator",)),
    }
    assert rules() == want


def test_lease_name_in_rbac_is_the_one_the_code_uses():
    with open(os.path.join(ROOT, "Sources", "XDPNatKube", "KubeSource.swift")) as f:
        m = re.search(r'leaseName = "([^"]+)"', f.read())
    assert m and m.group(1) == "xdpnat-allocator"


def test_daemonset_runs_kubernetes_mode_unprivileged_with_host_network():
    ds = next(d for d in docs() if d["kind"] == "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True and spec["serviceAccountName"] == "xdpnatd"
    c = spec["containers"][0]
    sc = c["securityContext"]
    assert sc["privileged"] is False and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert {"/sys/fs/bpf", "/var/lib/xdpnat"} <= {m["mountPath"] for m in c["volumeMounts"]}
    cm = next(d for d in docs() if d["kind"] == "ConfigMap")
    config = yaml.safe_load(cm["data"]["xdpnatd.yaml"])
    assert config["source"] == "kubernetes"
    assert c["args"][-1] == "/etc/xdpnat/xdpnatd.yaml"
