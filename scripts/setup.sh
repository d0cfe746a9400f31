#!/usr/bin/env bash
# One-time setup, idempotent: installs the geo database (npm, pinned) that replay and the tests use.
# The Python virtualenv with moto is created by the test harness itself (tests/support/moto.rs);
# the deploy toolchain by deploy/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -s geo/country.mmdb ]; then
  echo "setup: installing the IP-to-country database (@ip-location-db/geo-whois-asn-country-mmdb, CC BY 4.0)"
  npm ci --prefix geo --no-audit --no-fund --loglevel=error
  cp geo/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb geo/country.mmdb
fi
echo "setup: geo database at geo/country.mmdb ($(wc -c < geo/country.mmdb) bytes)"

# Headless Chromium for the report test (crates/trailhound/tests/report.rs): Debian's package.
if ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium (Debian package) for the browser test of the HTML report"
  if [ "$(id -u)" = 0 ]; then as_root=(); elif sudo -n true 2>/dev/null; then as_root=(sudo -n); else
    echo "setup: chromium is missing and this user cannot install packages: run 'apt-get install -y chromium' as root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null \
    || { "${as_root[@]}" apt-get update -qq >/dev/null && "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi
echo "setup: $(chromium --version 2>/dev/null || echo 'chromium: not found')"
