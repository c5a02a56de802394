/** SSHPort as the reference's dialer takes it: a number, or a service name from the services database. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDispatcher } from '../../src/dispatcher.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { parseServices, resolveSshPort, SshPortError } from '../../src/ssh/port.js';
import { DISPATCH_KEY, makeCluster } from '../drivers/lame/helpers.js';

describe('SSHPort resolution', () => {
  let dir: string;
  let services: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ssh-port-'));
    services = join(dir, 'services');
    writeFileSync(
      services,
      [
        '# site services',
        'ssh\t\t22/tcp\t\t\t\t# SSH Remote Login Protocol',
        'crunch-ssh  2222/tcp  worker-ssh   # our images listen here',
        'crunch-ssh  3333/udp',
        'webcache  8080/tcp',
        'webcache  8081/tcp',
        '',
      ].join('\n'),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves a named SSHPort through the services database (ssh -> 22, a site name, an alias, any case)', () => {
    assert.equal(resolveSshPort('ssh', 'K', services), 22);
    assert.equal(resolveSshPort('crunch-ssh', 'K', services), 2222);
    assert.equal(resolveSshPort('Worker-SSH', 'K', services), 2222);
    assert.equal(resolveSshPort('webcache', 'K', services), 8080, 'the first entry for a name wins');
  });

  it('resolves ssh (and the other names Go knows by itself) without a services file', () => {
    assert.equal(resolveSshPort('ssh', 'K', join(dir, 'missing')), 22);
    assert.equal(resolveSshPort('https', 'K', join(dir, 'missing')), 443);
  });

  it('takes numbers as they are, and an empty value as ssh, as the reference', () => {
    assert.equal(resolveSshPort('2200', 'K', services), 2200);
    assert.equal(resolveSshPort(' 22 ', 'K', services), 22);
    assert.equal(resolveSshPort('', 'K', services), 22);
  });

  it('rejects an unknown name or an out-of-range number, naming the key', () => {
    assert.throws(() => resolveSshPort('nosuchservice', 'Clusters.z.Containers.CloudVMs.SSHPort', services), (e: unknown) =>
      e instanceof SshPortError && /^Clusters\.z\.Containers\.CloudVMs\.SSHPort: "nosuchservice" is neither a port number nor a TCP service name/.test(e.message),
    );
    assert.throws(() => resolveSshPort('65536', 'K', services), /K: port 65536 is out of range/);
    assert.throws(() => resolveSshPort('-1', 'K', services), SshPortError);
  });

  it('reads only tcp entries, with aliases, ignoring comments', () => {
    assert.deepEqual([...parseServices('a 1/tcp b c # d 9/tcp\ne 2/udp\n# f 3/tcp\n')], [
      ['a', 1],
      ['b', 1],
      ['c', 1],
    ]);
  });

  it('a dispatcher resolves SSHPort at start: a name nobody knows is an error naming the key', async () => {
    const cluster = makeCluster();
    cluster.Containers.DispatchPrivateKey = DISPATCH_KEY.private;
    cluster.Containers.CloudVMs.SSHPort = 'nosuchservice';
    await assert.rejects(
      createDispatcher(cluster, { logger: createLogger({ stream: new LineCollector() }) }),
      /^SshPortError: Clusters\.zzzzz\.Containers\.CloudVMs\.SSHPort: "nosuchservice"/,
    );
  });
});
