#!/usr/bin/env bash
# Kept for old habits: the benchmark is `bash bench/run.sh` (see README, "Performance").
exec bash "$(dirname "$0")/../bench/run.sh" "$@"
