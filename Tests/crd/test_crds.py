"""The CRDs are valid Kubernetes objects and every example validates against them."""
import copy
import glob
import os

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRDS = sorted(glob.glob(os.path.join(ROOT, "crd", "*.yaml")))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "crd", "examples", "*.yaml")))
K8S_VERSION = "1.30.0"


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def schemas():
    out = {}
    for path in CRDS:
        for crd in load_all(path):
            for v in crd["spec"]["versions"]:
                out[(f'{crd["spec"]["group"]}/{v["name"]}', crd["spec"]["names"]["kind"])] = v["schema"]["openAPIV3Schema"]
    return out


def test_there_are_crds_and_examples():
    assert len(CRDS) == 2 and len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", CRDS, ids=os.path.basename)
def test_crd_is_a_valid_kubernetes_object(path):
    for crd in load_all(path):
        kubernetes_validate.validate(crd, K8S_VERSION, strict=True)
        assert crd["spec"]["group"] == "xdpnat.io"
        version = crd["spec"]["versions"][0]
        assert version["subresources"] == {"status": {}}
        assert crd["spec"]["names"]["shortNames"]
        assert version["additionalPrinterColumns"]


def test_structural_schema_has_types_everywhere():
    """Kubernetes requires a type on every node of a structural schema."""
    def walk(node, path):
        if path.endswith(".metadata") or "x-kubernetes-preserve-unknown-fields" in node:
            return
        assert "type" in node, f"no type at {path}"
        for k, v in node.get("properties", {}).items():
            walk(v, f"{path}.{k}")
        if "items" in node:
            walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}{{}}")
    for key, schema in schemas().items():
        walk(schema, key[1])


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example_validates_against_its_crd(path):
    known = schemas()
    checked = 0
    for doc in load_all(path):
        key = (doc["apiVersion"], doc["kind"])
        if doc["apiVersion"] == "v1":
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            continue
        assert key in known, f"{path}: no CRD for {key}"
        jsonschema.validate(doc, known[key])
        checked += 1
    assert checked or any(d["apiVersion"] == "v1" for d in load_all(path))


@pytest.mark.parametrize("mutate,field", [
    (lambda d: d["spec"]["portRange"].update(min=0), "min"),
    (lambda d: d["spec"].update(allocation="Sometimes"), "allocation"),
    (lambda d: d["spec"].update(addresses=["198.18.100.300"]), "addresses"),
    (lambda d: d["spec"].update(addresses=[]), "addresses"),
    (lambda d: d["spec"].update(blockSize=8), "blockSize"),
    (lambda d: d["spec"]["namespaceSelector"]["matchLabels"].update(egress=5), "matchLabels"),
])
def test_schema_rejects_bad_pools(mutate, field):
    pool = load_all(os.path.join(ROOT, "crd", "examples", "01-natpool-exclusive.yaml"))[0]
    bad = copy.deepcopy(pool)
    mutate(bad)
    with pytest.raises(jsonschema.ValidationError) as e:
        jsonschema.validate(bad, schemas()[("xdpnat.io/v1alpha1", "NATPool")])
    assert field in str(e.value.path) or field in e.value.message or field in str(list(e.value.path))
