#!/usr/bin/env bash
# Offline checks of deploy/ (no AWS credentials, no network, no Docker).
# Run after deploy/setup.sh and the repository's geo setup:   bash deploy/test.sh
#
#  1. cfn-lint on the SAM template
#  2. sam validate --lint
#  3. sam build (into a temp dir): arm64 bootstrap (cargo-lambda) + geo database layer
#  4. the bootstrap asset for CDK (built by 3; built here if 3 did not)
#  5. cdk synth (the real asset) and the arm64 bootstrap in it
#  6. cfn-lint on the CDK-synthesized template
#  7. SAM transform (offline) for the next step
#  8. CDK assertion tests (node --test), IAM scoping also on the SAM template
#  9. SAM vs CDK parity (pytest)
# Every step runs even if an earlier one failed (where it can); exits 1 on any failure.
set -uo pipefail

DEPLOY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$DEPLOY/.." && pwd)"
VENV="$ROOT/.venv"
export PATH="$VENV/bin:$PATH" # cargo-lambda, and the python3 that can import ziglang
export SAM_CLI_TELEMETRY=0 CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=true
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_EC2_METADATA_DISABLED=true # never wait for an instance metadata service
export PIP_DISABLE_PIP_VERSION_CHECK=1
# The arm64 build checked here goes to a temp dir and is never deployed: it is built without
# the release profile's thin LTO and with parallel codegen (the same code, optimized; several
# minutes less on a 2-core CI machine). TRAILHOUND_DEPLOY_SHIPPED_PROFILE=1 builds exactly what
# `sam build` / `cdk deploy` ship.
if [ -z "${TRAILHOUND_DEPLOY_SHIPPED_PROFILE:-}" ]; then
  export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/trailhound-deploy-test.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
BOOTSTRAP_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/lambda/bootstrap"
CDK_TEMPLATE="$DEPLOY/cdk/cdk.out/Trailhound.template.json"

PASSED=0
FAILED=0
FAILURES=()
T_ALL=$SECONDS

step() { # step NAME FUNCTION: run one check, print its verdict and elapsed seconds
  local name="$1"; shift
  local t0=$SECONDS
  echo
  echo "== deploy/test: $name"
  if "$@"; then
    PASSED=$((PASSED + 1))
    echo "-- ok   $name ($((SECONDS - t0)) s)"
  else
    FAILED=$((FAILED + 1))
    FAILURES+=("$name")
    echo "-- FAIL $name ($((SECONDS - t0)) s)"
  fi
}

is_arm64() { # is_arm64 FILE
  local out
  out="$(file -b "$1")" || return 1
  echo "   $1: $out"
  [[ "$out" == *"ARM aarch64"* ]]
}

preflight() {
  local ok=0
  for tool in cargo cargo-lambda sam cfn-lint node file make; do
    command -v "$tool" >/dev/null || { echo "   missing: $tool (run deploy/setup.sh)"; ok=1; }
  done
  python3 -c 'import ziglang' 2>/dev/null || { echo "   python3 cannot import ziglang (run deploy/setup.sh)"; ok=1; }
  [ -d "$DEPLOY/cdk/node_modules/aws-cdk-lib" ] || { echo "   deploy/cdk/node_modules missing (run deploy/setup.sh)"; ok=1; }
  [ -s "$ROOT/geo/country.mmdb" ] || { echo "   geo/country.mmdb missing (run the repository's geo setup)"; ok=1; }
  return $ok
}

sam_lint() { cfn-lint "$DEPLOY/sam/template.yaml"; }

sam_validate() { (cd "$DEPLOY/sam" && sam validate --lint --template-file template.yaml); }

sam_build() {
  (cd "$DEPLOY/sam" && sam build --template-file template.yaml --build-dir "$TMP/sam-build") || return 1
  is_arm64 "$TMP/sam-build/Function/bootstrap" || return 1
  local geo="$TMP/sam-build/GeoDatabase/geo/country.mmdb"
  cmp -s "$geo" "$ROOT/geo/country.mmdb" || { echo "   geo database not in the layer build: $geo"; return 1; }
  echo "   layer: $(cd "$TMP/sam-build/GeoDatabase" && find . -type f | sort | tr '\n' ' ')"
  ls -l "$TMP/sam-build/Function/bootstrap" | awk '{print "   bootstrap size: " $5 " bytes"}'
}

cdk_asset() {
  if [ ! -x "$BOOTSTRAP_DIR/bootstrap" ]; then
    echo "   $BOOTSTRAP_DIR/bootstrap missing: building it"
    (cd "$ROOT" && cargo lambda build --release --arm64 --bin bootstrap) || return 1
  fi
  is_arm64 "$BOOTSTRAP_DIR/bootstrap"
}

cdk_synth() {
  (cd "$DEPLOY/cdk" && node node_modules/typescript/bin/tsc -p . && rm -rf cdk.out \
    && npx --no-install cdk synth --no-notices --quiet) || return 1
  [ -s "$CDK_TEMPLATE" ] || { echo "   $CDK_TEMPLATE not written"; return 1; }
  # The function asset CDK staged must be the arm64 bootstrap.
  local asset
  asset="$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["Resources"]["Function"]; print(r["Metadata"]["aws:asset:path"])' "$CDK_TEMPLATE")" || return 1
  is_arm64 "$DEPLOY/cdk/cdk.out/$asset/bootstrap"
}

cdk_lint() { cfn-lint "$CDK_TEMPLATE"; }

sam_transform() { python3 "$DEPLOY/tests/cfn_templates.py" "$TMP/sam-transformed.json"; }

cdk_tests() {
  (cd "$DEPLOY/cdk" && node node_modules/typescript/bin/tsc -p . \
    && TRAILHOUND_SAM_TEMPLATE="$TMP/sam-transformed.json" node --test dist/test/stack.test.js)
}

parity() { python3 -m pytest -q -p no:cacheprovider "$DEPLOY/tests"; }

step "preflight (tools, geo/country.mmdb)" preflight
step "cfn-lint deploy/sam/template.yaml" sam_lint
step "sam validate --lint" sam_validate
step "sam build: arm64 bootstrap + geo layer" sam_build
step "bootstrap asset for CDK ($BOOTSTRAP_DIR)" cdk_asset
step "cdk synth" cdk_synth
step "cfn-lint CDK template" cdk_lint
step "SAM transform (offline)" sam_transform
step "CDK assertion tests (node --test)" cdk_tests
step "SAM vs CDK parity (pytest)" parity

echo
echo "== deploy/test: $((SECONDS - T_ALL)) s in all"
for f in "${FAILURES[@]+"${FAILURES[@]}"}"; do echo "   failed: $f"; done
echo "deploy: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
