#!/usr/bin/env bash
# One-time (idempotent) setup for deploy/: build toolchain, template tools, CDK app.
#   - <repo>/.venv with deploy/requirements.txt (cargo-lambda, ziglang, aws-sam-cli, cfn-lint, pytest)
#   - the Rust target aarch64-unknown-linux-gnu (Lambda arm64)
#   - deploy/cdk/node_modules from package-lock.json (npm ci)
# The geo database (geo/country.mmdb) comes from the repository's own geo setup.
set -euo pipefail

DEPLOY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$DEPLOY/.." && pwd)"
export SAM_CLI_TELEMETRY=0 CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=true
export PIP_DISABLE_PIP_VERSION_CHECK=1

step() { # step NAME COMMAND...: run and time one step
  local name="$1"; shift
  local t0=$SECONDS
  echo "== setup: $name"
  "$@"
  echo "   ($name: $((SECONDS - t0)) s)"
}

python_venv() {
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    python3 -m venv "$ROOT/.venv"
  fi
  "$ROOT/.venv/bin/python" -m pip install --quiet --requirement "$DEPLOY/requirements.txt"
}

rust_target() {
  if rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    echo "   aarch64-unknown-linux-gnu already installed"
  else
    rustup target add aarch64-unknown-linux-gnu
  fi
}

cdk_app() {
  (cd "$DEPLOY/cdk" && npm ci --no-audit --no-fund --loglevel=error)
}

check_tools() {
  export PATH="$ROOT/.venv/bin:$PATH"
  cargo lambda --version
  python3 -m ziglang version | sed 's/^/zig /'
  sam --version
  cfn-lint --version
  (cd "$DEPLOY/cdk" && echo "cdk $(npx --no-install cdk --version 2>/dev/null)" \
    && echo "tsc $(node node_modules/typescript/bin/tsc --version)")
  if [ ! -s "$ROOT/geo/country.mmdb" ]; then
    echo "   note: geo/country.mmdb is not there yet: run the repository's geo setup before deploy/test.sh"
  fi
}

T0=$SECONDS
step "python venv (.venv) + deploy/requirements.txt" python_venv
step "rustup target aarch64-unknown-linux-gnu" rust_target
step "npm ci (deploy/cdk)" cdk_app
step "tool versions" check_tools
echo "== setup done in $((SECONDS - T0)) s"
