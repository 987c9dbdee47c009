"""Offline validation of rendered manifests (run by validate.sh).

    check_manifests.py validate [--kubernetes-version V] [--json-dir DIR] NAME=RENDERED.yaml...
        Validates every resource: Kubernetes kinds with kubernetes-validate
        against that version's OpenAPI schemas in strict mode (unknown
        fields rejected), custom kinds (CloudNativePG's, the Barman Cloud
        plugin's) against the CRD schemas in schemas/ (unknown fields
        rejected too). A kind with no schema fails.
        Prints one line per resource and a summary per NAME; with
        --json-dir, writes NAME.json (the list of resources). Exits 1 on any
        failure.

    check_manifests.py vendor-crd CRD.yaml SOURCE
        Prints a CRD's stored version's openAPIV3Schema as JSON, without the
        descriptions (which validation does not read), for schemas/; SOURCE
        (e.g. "cloudnative-pg v1.30.0") is recorded in it.
"""

import argparse
import copy
import json
import pathlib
import sys

import jsonschema
import kubernetes_validate
import yaml

HERE = pathlib.Path(__file__).resolve().parent
SCHEMAS = HERE / "schemas"


class KubernetesLoader(yaml.SafeLoader):
    """YAML as the API server reads it: a timestamp-like scalar (a CNPG
    recoveryTarget.targetTime, which kustomize writes without quotes) stays
    a string."""


KubernetesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def crd_schema_path(group, version, kind):
    return SCHEMAS / f"{group}_{kind.lower()}_{version}.json"


def strict(schema):
    """The schema with additionalProperties false wherever an object lists
    its properties and neither keeps unknown fields nor allows extra ones:
    what the API server's strict field validation rejects."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def is_custom(api_version):
    """A group with a domain that is not Kubernetes' own (apps/v1, v1,
    policy/v1 and *.k8s.io are built in; postgresql.cnpg.io/v1 is not)."""
    group = api_version.rpartition("/")[0]
    return "." in group and not group.endswith(".k8s.io")


def validate_crd_resource(doc):
    """(ok, detail) for a resource of a custom resource definition."""
    group, _, version = doc["apiVersion"].rpartition("/")
    path = crd_schema_path(group, version, doc["kind"])
    if not path.exists():
        return False, f"no schema for {doc['kind']} in {path.relative_to(HERE)}"
    vendored = json.loads(path.read_text())
    source = vendored.get("source", "a vendored CRD")
    validator = jsonschema.Draft7Validator(strict(vendored["schema"]))
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        return False, "; ".join(
            f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors
        )
    return True, f"CRD schema of {source}, strict; CEL rules not evaluated"


def validate_kubernetes_resource(doc, version):
    try:
        used = kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        where = ".".join(str(p) for p in e.path) or "(root)"
        return False, f"{where}: {e.message}"
    except kubernetes_validate.SchemaNotFoundError as e:
        return False, e.message
    if kubernetes_validate.utils.major_minor(used) != kubernetes_validate.utils.major_minor(version):
        return False, f"validated against Kubernetes {used}, not {version}"
    return True, f"Kubernetes {used} schema, strict"


def cmd_validate(args):
    failed = 0
    for spec in args.rendered:
        name, _, file = spec.partition("=")
        docs = [d for d in yaml.load_all(pathlib.Path(file).read_text(), Loader=KubernetesLoader) if d]
        if args.json_dir:
            (pathlib.Path(args.json_dir) / f"{name}.json").write_text(json.dumps(docs, indent=1))
        seen = set()
        good = bad = 0
        for doc in docs:
            kind = doc.get("kind", "?")
            meta = doc.get("metadata") or {}
            label = f"{doc.get('apiVersion', '?')} {kind} {meta.get('name', '?')}"
            key = (doc.get("apiVersion"), kind, meta.get("namespace"), meta.get("name"))
            if key in seen:
                ok, detail = False, "rendered twice"
            elif is_custom(doc.get("apiVersion", "")):
                ok, detail = validate_crd_resource(doc)
            else:
                ok, detail = validate_kubernetes_resource(doc, args.kubernetes_version)
            seen.add(key)
            print(f"{'ok  ' if ok else 'FAIL'}  {name}: {label} ({detail})")
            good += ok
            bad += not ok
        print(f"{name}: {good} resources valid, {bad} invalid")
        failed += bad
    return 1 if failed else 0


def cmd_vendor_crd(args):
    crd = yaml.safe_load(pathlib.Path(args.crd).read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v.get("served") and v.get("storage")]

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "description"}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    out = {
        "$comment": f"openAPIV3Schema of {crd['spec']['names']['kind']}.{crd['spec']['group']}"
        f" {version['name']}, descriptions removed (check_manifests.py vendor-crd)",
        "source": args.source,
        "schema": strip(version["schema"]["openAPIV3Schema"]),
    }
    print(json.dumps(out, indent=1, sort_keys=True))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate")
    v.add_argument("--kubernetes-version", default="1.33.0")
    v.add_argument("--json-dir")
    v.add_argument("rendered", nargs="+", metavar="NAME=FILE")
    c = sub.add_parser("vendor-crd")
    c.add_argument("crd")
    c.add_argument("source")
    args = parser.parse_args()
    return cmd_validate(args) if args.command == "validate" else cmd_vendor_crd(args)


if __name__ == "__main__":
    sys.exit(main())
