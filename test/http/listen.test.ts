/**
 * Where the daemon listens: the reference's getListenAddr rules, with bind
 * attempts recorded (an injected probe) or real (loopback and TEST-NET).
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { bindAddress, chooseListenURL, type BindProbe, hostPortOf, ListenChoiceError, probeBind } from '../../src/http/listen.js';
import { listenAddress } from '../../src/http/server.js';
import { createLogger, LineCollector } from '../../src/log.js';

function setup(results: Record<string, 'ok' | 'not-local' | Error>): { probe: BindProbe; tried: string[]; logs: LineCollector; log: ReturnType<typeof createLogger> } {
  const tried: string[] = [];
  const logs = new LineCollector();
  return {
    tried,
    logs,
    log: createLogger({ stream: logs, level: 'info' }),
    probe: async (host, port) => {
      tried.push(`${host}:${port}`);
      return results[`${host}:${port}`] ?? 'not-local';
    },
  };
}

describe('choosing the listen URL', () => {
  it('listens on the InternalURL local to this host', async () => {
    const t = setup({ '10.0.0.2:9006': 'ok' });
    const svc = { InternalURLs: ['http://10.0.0.1:9006', 'http://10.0.0.2:9006', 'http://10.0.0.3:9006'], ListenURLs: {} };
    assert.deepEqual(await chooseListenURL(svc, { env: {}, log: t.log, probe: t.probe }), {
      listenURL: 'http://10.0.0.2:9006',
      internalURL: 'http://10.0.0.2:9006',
    });
    assert.deepEqual(t.tried, ['10.0.0.1:9006', '10.0.0.2:9006'], 'stops at the first that binds');
  });

  it('listens on ListenURL when given', async () => {
    const t = setup({ '0.0.0.0:9006': 'ok' });
    const svc = { InternalURLs: ['https://dispatch.example:9006'], ListenURLs: { 'https://dispatch.example:9006': 'http://0.0.0.0:9006' } };
    assert.deepEqual(await chooseListenURL(svc, { env: {}, log: t.log, probe: t.probe }), {
      listenURL: 'http://0.0.0.0:9006',
      internalURL: 'https://dispatch.example:9006',
    });
    assert.deepEqual(t.tried, ['0.0.0.0:9006'], 'the ListenURL is what is bound, not the InternalURL');
  });

  it('binds the scheme\'s well-known port when the URL names none', () => {
    assert.deepEqual(hostPortOf('https://dispatch.example'), { host: 'dispatch.example', port: 443 });
    assert.deepEqual(hostPortOf('http://dispatch.example/'), { host: 'dispatch.example', port: 80 });
    assert.deepEqual(hostPortOf('wss://[::1]'), { host: '::1', port: 443 });
    assert.deepEqual(hostPortOf('http://[::1]:9006'), { host: '::1', port: 9006 });
  });

  it('writes the address bound with its port, 80 and 443 included, as the reference\'s "listening" line does', () => {
    assert.equal(listenAddress({ address: '10.0.0.2', family: 'IPv4', port: 80 }), '10.0.0.2:80');
    assert.equal(listenAddress({ address: '10.0.0.2', family: 'IPv4', port: 443 }), '10.0.0.2:443');
    assert.equal(listenAddress({ address: '::', family: 'IPv6', port: 443 }), '[::]:443');
    assert.equal(listenAddress({ address: '127.0.0.1', family: 'IPv4', port: 9006 }), '127.0.0.1:9006');
  });

  it('refuses to start when no InternalURL is local: "configuration does not enable" the service', async () => {
    const t = setup({});
    const svc = { InternalURLs: ['http://10.0.0.1:9006'], ListenURLs: {} };
    await assert.rejects(
      chooseListenURL(svc, { env: {}, log: t.log, probe: t.probe }),
      (err: unknown) => err instanceof ListenChoiceError && err.message === 'configuration does not enable the "arvados-dispatch-cloud" service on this host',
    );
    await assert.rejects(chooseListenURL({ InternalURLs: [], ListenURLs: {} }, { env: {}, log: t.log, probe: t.probe }), /configuration does not enable/);
  });

  it('refuses to start with every bind error when a local InternalURL cannot be bound', async () => {
    const t = setup({ '127.0.0.1:9006': new Error('listen EADDRINUSE: address already in use 127.0.0.1:9006'), 'nowhere.invalid:9006': new Error('getaddrinfo ENOTFOUND nowhere.invalid') });
    const svc = { InternalURLs: ['http://127.0.0.1:9006', 'http://10.0.0.1:9006', 'http://nowhere.invalid:9006'], ListenURLs: {} };
    await assert.rejects(
      chooseListenURL(svc, { env: {}, log: t.log, probe: t.probe }),
      (err: unknown) =>
        err instanceof ListenChoiceError &&
        err.message ===
          'could not enable the "arvados-dispatch-cloud" service on this host: http://127.0.0.1:9006/: listen EADDRINUSE: address already in use 127.0.0.1:9006; http://nowhere.invalid:9006/: getaddrinfo ENOTFOUND nowhere.invalid',
    );
  });

  it('honours ARVADOS_SERVICE_INTERNAL_URL, with its ListenURL, without binding anything first', async () => {
    const t = setup({});
    const svc = {
      InternalURLs: ['http://10.0.0.1:9006', 'https://dispatch.example:9006/'],
      ListenURLs: { 'https://dispatch.example:9006/': 'http://0.0.0.0:9007' },
    };
    // "https://dispatch.example:9006" and ".../" are one URL, as the reference compares them.
    const env = { ARVADOS_SERVICE_INTERNAL_URL: 'https://dispatch.example:9006' };
    assert.deepEqual(await chooseListenURL(svc, { env, log: t.log, probe: t.probe }), {
      listenURL: 'http://0.0.0.0:9007',
      internalURL: 'https://dispatch.example:9006/',
    });
    assert.deepEqual(t.tried, []);
    assert.deepEqual(t.logs.records(), []);
  });

  it('uses an ARVADOS_SERVICE_INTERNAL_URL the config does not list, with a warning', async () => {
    const t = setup({});
    const env = { ARVADOS_SERVICE_INTERNAL_URL: 'http://127.0.0.1:9010' };
    assert.deepEqual(await chooseListenURL({ InternalURLs: ['http://10.0.0.1:9006'], ListenURLs: {} }, { env, log: t.log, probe: t.probe }), {
      listenURL: 'http://127.0.0.1:9010/',
      internalURL: 'http://127.0.0.1:9010/',
    });
    const [w] = t.logs.records();
    assert.equal(w.level, 'warning');
    assert.equal(
      w.msg,
      'possible configuration error: listening on http://127.0.0.1:9010/ (from $ARVADOS_SERVICE_INTERNAL_URL) even though configuration does not have a matching InternalURLs entry',
    );
    await assert.rejects(chooseListenURL({ InternalURLs: [], ListenURLs: {} }, { env: { ARVADOS_SERVICE_INTERNAL_URL: 'not a url' }, log: t.log }), /^ListenChoiceError: \$ARVADOS_SERVICE_INTERNAL_URL \("not a url"\): /);
  });

  it('binds every address for a URL with a port and no host (http://:9006), as the reference does, and connects to it on loopback', async () => {
    assert.deepEqual(hostPortOf('http://:9006'), { host: '', port: 9006 });
    assert.deepEqual(hostPortOf('https://:9007/'), { host: '', port: 9007 });
    const t = setup({ ':9006': 'ok' });
    const svc = { InternalURLs: ['http://10.0.0.1:9006', 'http://:9006'], ListenURLs: {} };
    assert.deepEqual(await chooseListenURL(svc, { env: {}, log: t.log, probe: t.probe }), { listenURL: 'http://:9006', internalURL: 'http://:9006' });
    const named = await chooseListenURL(svc, { env: { ARVADOS_SERVICE_INTERNAL_URL: 'http://:9006' }, log: t.log });
    assert.deepEqual(named, { listenURL: 'http://:9006', internalURL: 'http://:9006' });
    // The scheme in any case names the same entry, as Go's URL parser lower-cases it.
    assert.deepEqual(await chooseListenURL(svc, { env: { ARVADOS_SERVICE_INTERNAL_URL: 'HTTP://10.0.0.1:9006/' }, log: t.log }), {
      listenURL: 'http://10.0.0.1:9006',
      internalURL: 'http://10.0.0.1:9006',
    });
    assert.equal(t.logs.lines.length, 0, 'no "possible configuration error" warning');
    // A real bind on every address, then a connection to it over loopback.
    const free = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const { host, port } = hostPortOf(`http://:${free}`);
    assert.equal(await probeBind(host, port), 'ok');
    const server = await new Promise<Server>((resolve) => {
      const s = createServer((c) => c.end('hello'));
      s.listen(port, host, () => resolve(s));
    });
    try {
      const address = server.address() as { address: string };
      assert.ok(address.address === '::' || address.address === '0.0.0.0', `bound ${address.address}`);
      const reply = await new Promise<string>((resolve, reject) => {
        const c = connect(port, '127.0.0.1');
        let text = '';
        c.on('data', (d) => (text += String(d)));
        c.on('end', () => resolve(text));
        c.on('error', reject);
      });
      assert.equal(reply, 'hello');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('probes by binding: an address of another host is "not local", a taken port an error', async () => {
    assert.equal(await probeBind('127.0.0.1', 0), 'ok');
    assert.equal(await probeBind('192.0.2.1', 9006), 'not-local');
    const taken = await new Promise<Server>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const r = await probeBind('127.0.0.1', (taken.address() as { port: number }).port);
      assert.ok(r instanceof Error && /EADDRINUSE/.test(r.message), String(r));
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it('binds a name at its first IPv4 address, as Go does, else at its first address; IP literals and "" as they are', async () => {
    const lookups: string[] = [];
    const both = async (host: string) => {
      lookups.push(host);
      return [
        { address: '2001:db8::1', family: 6 },
        { address: '127.0.0.1', family: 4 },
        { address: '127.0.0.2', family: 4 },
      ];
    };
    assert.equal(await bindAddress('dispatch.example', both), '127.0.0.1');
    assert.equal(await bindAddress('dispatch6.example', async () => [{ address: '2001:db8::1', family: 6 }, { address: '2001:db8::2', family: 6 }]), '2001:db8::1');
    assert.equal(await bindAddress('::1', both), '::1');
    assert.equal(await bindAddress('10.0.0.1', both), '10.0.0.1');
    assert.equal(await bindAddress('', both), '');
    assert.deepEqual(lookups, ['dispatch.example'], 'only names are looked up');
    // The probe binds that address: here the local IPv4 one, not the IPv6 one this host does not have.
    assert.equal(await probeBind('dispatch.example', 0, both), 'ok');
    assert.equal(await probeBind('dispatch.example', 0, async () => [{ address: '192.0.2.1', family: 4 }, { address: '127.0.0.1', family: 4 }]), 'not-local');
  });

  it('probes by binding: a name that does not resolve is an error, not "not local"', async () => {
    const r = await probeBind('nowhere.invalid', 9006);
    assert.ok(r instanceof Error && /ENOTFOUND|EAI_AGAIN/.test(r.message), String(r));
  });
});
