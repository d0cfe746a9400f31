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
