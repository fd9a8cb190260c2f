// The boto3 deployment script of test/fixtures/control-api/boto3_flow.py with its zips, run against a gateway:
// shared by the test without auth and the one that signs with a Serval-issued key.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBoto3, shapeCheckedScript } from './boto3.ts';
import { makeZip } from './zip.ts';

/** Writes the script's zips under `work` and runs it; resolves with its exit code and output. */
export function runBoto3Flow(endpoint: string, work: string, env: NodeJS.ProcessEnv = {}) {
  const file = (name: string, data: Buffer) => {
    const path = join(work, name);
    writeFileSync(path, data);
    return path;
  };
  const nodeZip = file(
    'boto-node.zip',
    makeZip({
      'index.mjs': `export const handler = async (event) => ({ greeting: process.env.GREETING, event });\n`,
    }),
  );
  const pythonZip = file(
    'boto-python.zip',
    makeZip({
      'app.py': `def handler(event, context):\n    return {'python': event}\n`,
      'layered.py': `import greeter\n\ndef handler(event, context):\n    return greeter.greet('python')\n`,
    }),
  );
  const layerZip = file(
    'boto-layer.zip',
    makeZip({
      'python/greeter.py': `def greet(name):\n    return 'hello ' + name + ' from a layer'\n`,
    }),
  );
  // Each response is checked against botocore's model by the helpers of aws_shapes.py.
  return runBoto3(shapeCheckedScript('boto3_flow.py'), {
    ENDPOINT: endpoint,
    NODE_ZIP: nodeZip,
    PYTHON_ZIP: pythonZip,
    LAYER_ZIP: layerZip,
    ...env,
  });
}
