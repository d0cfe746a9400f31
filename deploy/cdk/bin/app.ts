#!/usr/bin/env node
// CDK app entry point: `npx cdk synth|deploy` from deploy/cdk (cdk.json compiles first).
//
// Inputs (no AWS credentials or network needed to synthesize):
//   - the arm64 bootstrap from `cargo lambda build --release --arm64 --bin bootstrap`
//     at $CARGO_TARGET_DIR (default <repo>/target)/lambda/bootstrap/ (override: -c bootstrapDir=/path)
//   - the geo database <repo>/geo/country.mmdb (installed by the repo's geo setup),
//     (every geo/*.mmdb) staged here as build/geo-layer/geo/ and shipped as a layer
//     (/opt/geo/country.mmdb)
//   - optional -c stackName=Name (default Trailhound)
// Everything else is a CloudFormation parameter: see deploy/README.md.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { TrailhoundStack, repoRoot } from '../lib/trailhound-stack';

const app = new App();
const cdkDir = path.resolve(__dirname, '..', '..');
const root = repoRoot(__dirname);

const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(root, 'target');
const bootstrapDir = path.resolve(app.node.tryGetContext('bootstrapDir') ?? path.join(targetDir, 'lambda', 'bootstrap'));
if (!fs.existsSync(path.join(bootstrapDir, 'bootstrap'))) {
  throw new Error(`${bootstrapDir}/bootstrap not found: run \`cargo lambda build --release --arm64 --bin bootstrap\` `
    + 'at the repository root first (see deploy/README.md)');
}

const geoDir = path.join(root, 'geo');
if (!fs.existsSync(path.join(geoDir, 'country.mmdb'))) {
  throw new Error(`${geoDir}/country.mmdb not found: run the repository's geo setup first`);
}
// Build step (as deploy/sam/geo-layer/Makefile): the layer holds geo/*.mmdb, so
// that the databases land in /opt/geo/.
const geoLayerDir = path.join(cdkDir, 'build', 'geo-layer');
fs.rmSync(geoLayerDir, { recursive: true, force: true });
fs.mkdirSync(path.join(geoLayerDir, 'geo'), { recursive: true });
for (const f of fs.readdirSync(geoDir).filter((n) => n.endsWith('.mmdb'))) {
  fs.copyFileSync(path.join(geoDir, f), path.join(geoLayerDir, 'geo', f));
}

new TrailhoundStack(app, app.node.tryGetContext('stackName') ?? 'Trailhound', {
  description: 'trailhound - threat detection for AI workloads (log archive account)',
  bootstrapDir,
  geoLayerDir,
  // env deliberately unset: the template is account/region agnostic.
});
