/**
 * An empty `Region` is left to the AWS SDK's default chain (environment,
 * shared config file), as the reference leaves it; only when nothing
 * names a region does the driver fail, naming the parameter. The SDK reads
 * process.env, so each test sets what it needs and puts everything back.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ec2Driver, Ec2InstanceSet, Ec2ParamsError } from '../../../drivers/ec2/index.js';
import { systemClock } from '../../../src/clock/index.js';
import { createLogger, LineCollector } from '../../../src/log.js';
import type { FakeEC2 } from '../../fixtures/ec2/server.js';
import { ec2Cluster, fakeParams, startFake } from './helpers.js';

const ENV_KEYS = ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_PROFILE', 'AWS_EC2_METADATA_DISABLED', 'HOME'];

describe('ec2 driver: Region from the SDK default chain', function () {
  this.timeout(20_000);
  let fake: FakeEC2;
  let dir: string;
  let saved: Record<string, string | undefined>;

  beforeEach(async () => {
    fake = await startFake();
    dir = mkdtempSync(join(tmpdir(), 'ec2-region-'));
    saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
    for (const k of ENV_KEYS) delete process.env[k];
    // Nothing but what each test sets: no files of the machine's user, no metadata service.
    process.env.AWS_CONFIG_FILE = join(dir, 'none-config');
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'none-credentials');
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
  });
  afterEach(async () => {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    rmSync(dir, { recursive: true, force: true });
    await fake.stop();
  });

  async function build(extra: Record<string, unknown> = {}): Promise<Ec2InstanceSet> {
    const params = { ...fakeParams(fake), Region: '', ...extra };
    const ctx = { instanceSetId: 'zzzzz-region', cluster: ec2Cluster([]), logger: createLogger({ stream: new LineCollector() }), clock: systemClock };
    const set = await ec2Driver(params, ctx);
    assert.ok(set instanceof Ec2InstanceSet);
    return set;
  }

  /** The region the client signs with, and proof that it works against the endpoint. */
  async function regionInUse(set: Ec2InstanceSet): Promise<string> {
    await set.instances({});
    set.stop();
    return set.client.config.region();
  }

  it('leaves Region to the SDK\'s default chain: AWS_REGION', async () => {
    process.env.AWS_REGION = 'eu-west-3';
    const set = await build();
    assert.equal(set.params.Region, 'eu-west-3');
    assert.equal(await regionInUse(set), 'eu-west-3');
  });

  it('leaves Region to the SDK\'s default chain: the shared config file and AWS_PROFILE', async () => {
    const file = join(dir, 'config');
    writeFileSync(file, '[default]\nregion = us-west-1\n\n[profile crunch]\nregion = ap-south-1\n');
    process.env.AWS_CONFIG_FILE = file;
    process.env.AWS_PROFILE = 'crunch';
    assert.equal(await regionInUse(await build()), 'ap-south-1');
  });

  it('reads AWS_DEFAULT_REGION as the reference\'s SDK does; AWS_REGION wins over it', async () => {
    process.env.AWS_DEFAULT_REGION = 'ca-central-1';
    assert.equal(await regionInUse(await build()), 'ca-central-1');
    process.env.AWS_REGION = 'sa-east-1';
    assert.equal(await regionInUse(await build()), 'sa-east-1');
  });

  it('a configured Region wins over the environment', async () => {
    process.env.AWS_REGION = 'eu-west-3';
    assert.equal(await regionInUse(await build({ Region: 'us-east-2' })), 'us-east-2');
  });

  it("with the systemd unit's environment, as with the reference's, nothing is read from the service user's ~/.aws", async () => {
    const unit = readFileSync(fileURLToPath(new URL('../../../systemd/arvados-dispatch-cloud.service', import.meta.url)), 'utf8');
    const unitEnv = [...unit.matchAll(/^Environment=(AWS_[A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    assert.deepEqual(unitEnv.map(([k]) => k).sort(), ['AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE']);
    mkdirSync(join(dir, '.aws'));
    writeFileSync(join(dir, '.aws', 'config'), '[default]\nregion = eu-west-9\n');
    writeFileSync(join(dir, '.aws', 'credentials'), '[default]\naws_access_key_id = AKIAHOMEDIRKEY\naws_secret_access_key = x\n');
    process.env.HOME = dir;
    delete process.env.AWS_CONFIG_FILE;
    delete process.env.AWS_SHARED_CREDENTIALS_FILE;
    // Without the unit's lines the SDK reads both files of the home directory...
    const bare = new EC2Client({});
    assert.equal(await bare.config.region(), 'eu-west-9');
    assert.equal((await bare.config.credentials()).accessKeyId, 'AKIAHOMEDIRKEY');
    bare.destroy();
    // ...and with them, neither.
    for (const [k, v] of unitEnv) process.env[k] = v;
    await assert.rejects(build(), (err: unknown) => err instanceof Ec2ParamsError && /^DriverParameters\.Region: not set/.test(err.message));
    const blank = new EC2Client({ region: 'us-east-1' });
    await assert.rejects(blank.config.credentials(), /Could not load credentials/);
    blank.destroy();
  });

  it('fails naming DriverParameters.Region only when the SDK finds no region either', async () => {
    await assert.rejects(build(), (err: unknown) => err instanceof Ec2ParamsError && /^DriverParameters\.Region: not set, and the AWS SDK found no region/.test(err.message));
  });
});
