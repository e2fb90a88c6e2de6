// Golden embeddings for internal/embed (TestGolden) from an independent ONNX
// runtime: onnxruntime-node under Node.js. Not run in CI.
//
// 1. Dump the Go-aligned crops (raw RGB, 112×112×3 bytes each) and their
//    manifest from the repository root:
//      ONEFACE_DUMP_CROPS=/tmp/crops go test -count=1 -run TestDumpCrops ./internal/embed
// 2. In an empty folder: npm install --ignore-scripts onnxruntime-node@1.30.0
// 3. From that folder:
//      node <repo>/internal/embed/testdata/golden/golden.mjs /tmp/crops <repo>/.models/fr_feature.onnx \
//        > <repo>/internal/embed/testdata/golden/golden.json
//
// The preprocessing here is written independently of the Go code, from the
// publisher's lib/fr_feature.js: planes R, G, B, value (v − 127)/128, NCHW.
// The output is the network's raw 1×512 vector (float32, little-endian,
// base64), before any normalisation.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(join(process.cwd(), 'noop.js'));
const ort = require('onnxruntime-node');
const ortVersion = require('onnxruntime-node/package.json').version;

const [cropDir, modelPath] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(join(cropDir, 'manifest.json'), 'utf8'));
const modelBytes = readFileSync(modelPath);
const session = await ort.InferenceSession.create(modelBytes, { executionProviders: ['cpu'], intraOpNumThreads: 1 });

const S = 112, plane = S * S;
const crops = [];
for (const c of manifest.crops) {
  const rgb = readFileSync(join(cropDir, c.crop));
  if (rgb.length !== 3 * plane) throw new Error(`${c.crop}: ${rgb.length} bytes`);
  const sha = createHash('sha256').update(rgb).digest('hex');
  if (sha !== c.crop_sha256) throw new Error(`${c.crop}: SHA-256 ${sha}, manifest ${c.crop_sha256}`);
  const x = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let ch = 0; ch < 3; ch++) x[ch * plane + i] = (rgb[3 * i + ch] - 127) / 128;
  }
  const out = await session.run({ input: new ort.Tensor('float32', x, [1, 3, S, S]) });
  const y = out.output;
  if (y.dims.length !== 2 || y.dims[0] !== 1 || y.dims[1] !== 512) throw new Error(`output dims ${y.dims}`);
  crops.push({ file: c.file, crop_sha256: sha, output: Buffer.from(new Float32Array(y.data).buffer).toString('base64') });
}
const result = {
  generator: `golden.mjs, onnxruntime-node ${ortVersion} (CPU, 1 thread), Node ${process.version}`,
  model_sha256: createHash('sha256').update(modelBytes).digest('hex'),
  crops,
};
process.stdout.write(JSON.stringify(result, null, 1) + '\n');
