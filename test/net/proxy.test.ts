/**
 * Which proxy a request goes through, by the rules of Go's
 * ProxyFromEnvironment (golang.org/x/net/http/httpproxy): each rule with a
 * case where it applies and one where it does not.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { EnvProxyAgent, parseProxyValue, proxyFor, proxySettings, type ProxyEnv } from '../../src/net/proxy.js';

const P = 'http://proxy.example:3128';
/** The proxy's href for `url` under `env`, or 'direct'. */
const via = (url: string, env: ProxyEnv): string => proxyFor(url, env)?.href ?? 'direct';

describe('net/proxy: which proxy a URL goes through (Go httpproxy rules)', () => {
  it('no variable set: direct', () => {
    assert.equal(via('https://ec2.us-east-1.amazonaws.com/', {}), 'direct');
  });

  it('HTTPS_PROXY for https URLs, HTTP_PROXY for http ones, neither for the other scheme', () => {
    const env = { HTTPS_PROXY: 'http://tls-proxy:1', HTTP_PROXY: 'http://plain-proxy:2' };
    assert.equal(via('https://api.example/', env), 'http://tls-proxy:1/');
    assert.equal(via('http://api.example/', env), 'http://plain-proxy:2/');
    assert.equal(via('http://api.example/', { HTTPS_PROXY: P }), 'direct', 'HTTPS_PROXY is not used for http');
    assert.equal(via('https://api.example/', { HTTP_PROXY: P }), 'direct', 'HTTP_PROXY is not used for https');
  });

  it('the lower-case forms work, and the upper-case one wins when both are set', () => {
    assert.equal(via('https://api.example/', { https_proxy: 'http://lower:1' }), 'http://lower:1/');
    assert.equal(via('http://api.example/', { http_proxy: 'http://lower:1' }), 'http://lower:1/');
    assert.equal(via('https://api.example/', { HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:1' }), 'http://upper:1/');
    assert.equal(via('https://api.example/', { HTTPS_PROXY: '', https_proxy: 'http://lower:1' }), 'http://lower:1/', 'an empty value counts as unset');
    assert.equal(via('https://a.example/', { HTTPS_PROXY: P, NO_PROXY: 'b.example', no_proxy: 'a.example' }), P + '/', 'NO_PROXY wins over no_proxy');
    assert.equal(via('https://a.example/', { HTTPS_PROXY: P, no_proxy: 'a.example' }), 'direct');
  });

  it('a proxy without a scheme is http://; https:// proxies are kept; a value that reads as nothing is ignored', () => {
    assert.equal(via('https://api.example/', { HTTPS_PROXY: 'proxy.example:3128' }), 'http://proxy.example:3128/');
    assert.equal(via('https://api.example/', { HTTPS_PROXY: '10.1.2.3:3128' }), 'http://10.1.2.3:3128/');
    assert.equal(via('https://api.example/', { HTTPS_PROXY: 'https://proxy.example' }), 'https://proxy.example/');
    assert.equal(via('https://api.example/', { HTTPS_PROXY: 'http://user:pw@proxy.example:3128' }), 'http://user:pw@proxy.example:3128/');
    assert.equal(parseProxyValue('::::'), undefined);
    assert.equal(via('https://api.example/', { HTTPS_PROXY: '::::' }), 'direct');
  });

  it('NO_PROXY=* turns proxying off; * inside a longer entry does not', () => {
    assert.equal(via('https://api.example/', { HTTPS_PROXY: P, NO_PROXY: '*' }), 'direct');
    assert.equal(via('https://api.example/', { HTTPS_PROXY: P, NO_PROXY: 'other.example, * ' }), 'direct');
    assert.equal(via('https://api.example/', { HTTPS_PROXY: P, NO_PROXY: '*x' }), P + '/');
  });

  it('an IP address in NO_PROXY matches that address only', () => {
    const env = { HTTP_PROXY: P, NO_PROXY: '169.254.169.254,fd00::1' };
    assert.equal(via('http://169.254.169.254/latest/', env), 'direct');
    assert.equal(via('http://169.254.169.253/latest/', env), P + '/');
    assert.equal(via('http://[fd00::1]/', env), 'direct');
    assert.equal(via('http://[fd00::2]/', env), P + '/');
  });

  it('a CIDR block in NO_PROXY matches the addresses in it', () => {
    const env = { HTTPS_PROXY: P, NO_PROXY: '10.0.0.0/8, fd00::/16' };
    assert.equal(via('https://10.20.30.40/', env), 'direct');
    assert.equal(via('https://11.0.0.1/', env), P + '/');
    assert.equal(via('https://[fd00:1::5]/', env), 'direct');
    assert.equal(via('https://[fe80::5]/', env), P + '/');
    assert.equal(via('https://ten.example/', env), P + '/', 'a name is not matched against a block');
  });

  it('a domain name matches itself and its subdomains, not names that merely end the same way', () => {
    const env = { HTTPS_PROXY: P, NO_PROXY: 'Example.COM' };
    assert.equal(via('https://example.com/', env), 'direct');
    assert.equal(via('https://api.EXAMPLE.com/', env), 'direct');
    assert.equal(via('https://a.b.example.com/', env), 'direct');
    assert.equal(via('https://notexample.com/', env), P + '/');
    assert.equal(via('https://example.com.evil/', env), P + '/');
  });

  it('a leading "." (or "*.") matches subdomains only', () => {
    for (const entry of ['.example.com', '*.example.com']) {
      const env = { HTTPS_PROXY: P, NO_PROXY: entry };
      assert.equal(via('https://api.example.com/', env), 'direct', entry);
      assert.equal(via('https://example.com/', env), P + '/', entry);
    }
  });

  it('a ":port" restricts the match to that port (the default port of the scheme when the URL has none)', () => {
    const env = { HTTPS_PROXY: P, HTTP_PROXY: P, NO_PROXY: 'api.example:8443,10.0.0.1:80,[fd00::1]:443' };
    assert.equal(via('https://api.example:8443/', env), 'direct');
    assert.equal(via('https://api.example/', env), P + '/');
    assert.equal(via('http://10.0.0.1/', env), 'direct');
    assert.equal(via('http://10.0.0.1:8080/', env), P + '/');
    assert.equal(via('https://[fd00::1]/', env), 'direct');
    assert.equal(via('https://[fd00::1]:444/', env), P + '/');
  });

  it('localhost and loopback addresses are never proxied, whatever NO_PROXY says', () => {
    const env = { HTTPS_PROXY: P, HTTP_PROXY: P, NO_PROXY: 'unrelated.example' };
    for (const url of ['http://localhost:8080/', 'https://LOCALHOST/', 'http://127.0.0.1:9/', 'http://127.45.6.7/', 'http://[::1]:8080/', 'http://[::ffff:127.0.0.1]/']) {
      assert.equal(via(url, env), 'direct', url);
    }
    for (const url of ['http://localhost.example/', 'http://128.0.0.1/', 'http://[::2]/']) {
      assert.equal(via(url, env), P + '/', url);
    }
  });

  it('entries are trimmed, empty ones skipped, and international names compared in punycode', () => {
    const env = { HTTPS_PROXY: P, NO_PROXY: ' , bücher.example ,,:80' };
    assert.equal(via('https://bücher.example/', env), 'direct');
    assert.equal(via('https://www.xn--bcher-kva.example/', env), 'direct');
    assert.equal(via('https://buecher.example/', env), P + '/');
  });

  it('the start-up summary names the proxies without their credentials', () => {
    assert.equal(proxySettings({}), undefined);
    assert.deepEqual(proxySettings({ https_proxy: 'http://user:secret@proxy.example:3128', NO_PROXY: '.internal' }), {
      HTTPSProxy: 'http://proxy.example:3128',
      HTTPProxy: '',
      NoProxy: '.internal',
    });
  });

  it('a request that a socks5:// proxy would carry fails, saying why, instead of going out direct', async () => {
    const agent = new EnvProxyAgent('http:', { env: { HTTP_PROXY: 'socks5://user:pw@socks.example:1080' } });
    assert.equal(agent.proxyFor('api.example', 80)?.protocol, 'socks5:');
    const err = await new Promise<Error>((resolve) => {
      const req = http.request('http://api.example/', { agent }, () => resolve(new Error('answered')));
      req.on('error', resolve);
      req.end();
    });
    assert.match(err.message, /proxy socks5:\/\/socks\.example:1080: only http:\/\/ and https:\/\/ proxies are supported/);
    assert.doesNotMatch(err.message, /pw/);
    agent.destroy();
  });

  it('an IPv6 CIDR block with a prefix of 100 bits or more is read as a block', () => {
    const env = { HTTPS_PROXY: P, NO_PROXY: '2001:db8::/112' };
    assert.equal(via('https://[2001:db8::ff]/', env), 'direct');
    assert.equal(via('https://[2001:db8::1:0]/', env), P + '/');
  });

  it('the start-up summary is there when only HTTP_PROXY is set', () => {
    assert.deepEqual(proxySettings({ HTTP_PROXY: 'http://plain-proxy.example:3128' }), {
      HTTPSProxy: '',
      HTTPProxy: 'http://plain-proxy.example:3128',
      NoProxy: '',
    });
  });

  it('the agent applies the rules to an IPv6 address as the host it connects to', () => {
    const agent = new EnvProxyAgent('https:', { env: { HTTPS_PROXY: P, NO_PROXY: 'fd00::1' } });
    assert.equal(agent.proxyFor('fd00::1', 443), undefined);
    assert.equal(agent.proxyFor('fd00::2', 443)?.href, P + '/');
    agent.destroy();
  });
});
