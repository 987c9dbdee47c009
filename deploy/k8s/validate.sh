#!/usr/bin/env bash
# Offline check of deploy/k8s: renders the base, the production overlay and
# the restored overlay (production after a point-in-time recovery) with
# kustomize (the one built into kubectl) and validates every rendered
# resource, without a cluster:
#   - Kubernetes kinds against the Kubernetes $KUBERNETES_VERSION (default
#     1.33.0) OpenAPI schemas, strict: an unknown field fails
#     (kubernetes-validate);
#   - the CloudNativePG Cluster and ScheduledBackup, and the Barman Cloud
#     plugin's ObjectStore, against their CRDs' schemas in schemas/, strict;
#   - any other kind fails: nothing is skipped.
# One line per resource, a summary per overlay; exit 0 only when all passed.
#
#   deploy/k8s/validate.sh [OUT_DIR]
#
# OUT_DIR (or $K8S_RENDER_DIR) keeps NAME.yaml and NAME.json (the rendered
# resources) for base, production and restored; without it they go to a temporary
# directory, removed at exit.
# Tools: deploy/k8s/requirements.txt, in the venv $K8S_VENV (default
# .dev/k8s-venv, which ./deploy/dev.sh test makes).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${K8S_VENV:-$ROOT/.dev/k8s-venv}
KUBERNETES_VERSION=${KUBERNETES_VERSION:-1.33.0}

for tool in kubectl python; do
  if [ ! -x "$VENV/bin/$tool" ]; then
    echo "validate.sh: $VENV/bin/$tool is missing: run ./deploy/dev.sh test, or" >&2
    echo "  python3 -m venv $VENV && $VENV/bin/pip install -r $HERE/requirements.txt" >&2
    exit 2
  fi
done

OUT=${1:-${K8S_RENDER_DIR:-}}
if [ -z "$OUT" ]; then
  OUT=$(mktemp -d)
  trap 'rm -rf "$OUT"' EXIT
fi
mkdir -p "$OUT"

status=0
rendered=()
for overlay in base overlays/production overlays/restored; do
  name=$(basename "$overlay")
  if "$VENV/bin/kubectl" kustomize "$HERE/$overlay" >"$OUT/$name.yaml" 2>"$OUT/$name.err"; then
    rendered+=("$name=$OUT/$name.yaml")
    rm -f "$OUT/$name.err"
  else
    echo "FAIL  $name: kustomize cannot render deploy/k8s/$overlay:"
    cat "$OUT/$name.err"
    status=1
  fi
done

if [ ${#rendered[@]} -gt 0 ]; then
  "$VENV/bin/python" "$HERE/check_manifests.py" validate \
    --kubernetes-version "$KUBERNETES_VERSION" --json-dir "$OUT" "${rendered[@]}" || status=1
fi

if [ "$status" = 0 ]; then
  echo "deploy/k8s: every resource of base, production and restored is valid (Kubernetes $KUBERNETES_VERSION)"
else
  echo "deploy/k8s: validation failed"
fi
exit "$status"
