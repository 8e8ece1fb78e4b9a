/**
 * The relay's config file: every field read into relay options (relative paths from the file's
 * directory), and each kind of mistake stopping with the field's path and what to write instead.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { parseRelayConfig, loadRelayConfig } from '../src/relay-config.ts'
import { removeDir, tempDir } from './origin-fixture.ts'

const KEY = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const ORIGIN = `/ip4/127.0.0.1/tcp/9090/p2p/${KEY}`
let dir: string | undefined

after(async () => { await removeDir(dir) })

test('a full config file becomes relay options, paths taken from the file\'s directory', () => {
  const config = parseRelayConfig(`
origins: [${ORIGIN}]
peers: [${ORIGIN}]
rooms:
  - janson
  - slug: k1105
    keys: [${KEY}]
publicUrl: https://relay.example.org/
data: ./relay-data
http: 0.0.0.0:8443
listen: [/ip4/0.0.0.0/tcp/4001]
retention: 10
archive: true
limits:
  diskQuota: 2000
  maxConnections: 500
  maxConnectionsPerIp: 20
  rateLimit: 20
  maxUpload: 100
tls:
  cert: certs/fullchain.pem
  key: /etc/keys/privkey.pem
announce: [/ip4/203.0.113.7/tcp/4001]
acme:
  domains: [relay.example.org]
  email: you@example.org
  directory: https://acme-staging-v02.api.letsencrypt.org/directory
  ca: certs/ca.pem
  http: 0.0.0.0:8080
  https: 0.0.0.0:8443
`, '/srv/relay/relay.yaml')
  assert.deepEqual(config, {
    origins: [ORIGIN],
    peers: [ORIGIN],
    rooms: [{ slug: 'janson' }, { slug: 'k1105', keys: [KEY] }],
    publicUrl: 'https://relay.example.org/',
    dataDir: '/srv/relay/relay-data',
    http: { host: '0.0.0.0', port: 8443 },
    listen: ['/ip4/0.0.0.0/tcp/4001'],
    retentionMs: 600_000,
    archive: true,
    diskQuotaBytes: 2e9,
    maxConnections: 500,
    maxConnectionsPerIp: 20,
    requestsPerSecondPerIp: 20,
    maxUploadBytesPerSecond: 12_500_000,
    tls: { cert: '/srv/relay/certs/fullchain.pem', key: '/etc/keys/privkey.pem' },
    announce: ['/ip4/203.0.113.7/tcp/4001'],
    acme: {
      domains: ['relay.example.org'],
      email: 'you@example.org',
      directoryUrl: 'https://acme-staging-v02.api.letsencrypt.org/directory',
      caFile: '/srv/relay/certs/ca.pem',
      challenge: { host: '0.0.0.0', port: 8080 },
      https: { host: '0.0.0.0', port: 8443 }
    }
  })
  assert.deepEqual(parseRelayConfig('', 'empty.yaml'), {}, 'an empty file leaves everything to the flags')
  assert.deepEqual(parseRelayConfig('trustedProxies: [127.0.0.1, "fd00::/8"]\n', 'p.yaml'), { trustedProxies: ['127.0.0.1', 'fd00::/8'] })
})

test('a mistake names the file, the field and the fix', () => {
  const cases: Array<[string, RegExp]> = [
    ['rooms: [janson]\nroom: k1105\n', /r\.yaml: room is not a known field: the file has origins, peers, rooms/],
    ['rooms: [janson\n', /r\.yaml is not valid YAML: .*Fix the line it names/],
    ['rooms: [Janson]\n', /r\.yaml: rooms\[0\]: invalid room name "Janson"/],
    ['rooms: [janson, janson]\n', /r\.yaml: rooms\[1\] "janson" is listed twice/],
    [`rooms:\n  - janson\n  - slug: k1105\n    keys: [${KEY}, nonsense]\n`, /r\.yaml: rooms\[1\]\.keys\[1\]: room key "nonsense" is not an Ed25519 peer id/],
    ['rooms:\n  - slug: k1105\n    key: x\n', /r\.yaml: rooms\[0\]/],
    ['origins: [/ip4/127.0.0.1/tcp/9090]\n', /r\.yaml: origins\[0\]: origin "\/ip4\/127\.0\.0\.1\/tcp\/9090" has no \/p2p\/<peer id> part/],
    ['origins: /ip4/1.2.3.4/tcp/1\n', /r\.yaml: origins must be a list of origin multiaddrs, e\.g\. \[/],
    ['limits:\n  maxUpload: lots\n', /r\.yaml: limits\.maxUpload must be a number of Mbit\/s, e\.g\. 100/],
    ['limits:\n  maxConnectionsPerIp: -1\n', /r\.yaml: limits\.maxConnectionsPerIp must be 0 or more connections/],
    ['limits:\n  upload: 5\n', /r\.yaml: limits\.upload is not a known field: limits has diskQuota/],
    ['retention: 0\n', /r\.yaml: retention must be more than 0 minutes/],
    ['http: localhost\n', /r\.yaml: http: "localhost" is not host:port/],
    ['publicUrl: ftp://x\n', /r\.yaml: publicUrl: public URL "ftp:\/\/x" is not an http\(s\) URL/],
    ['tls:\n  cert: a.pem\n', /r\.yaml: tls\.key is missing: tls has cert and key/],
    ['archive: yes please\n', /r\.yaml: archive must be true or false/],
    ['trustedProxies: [127.0.0.1, 10.0.0.0/33]\n', /r\.yaml: trustedProxies\[1\]: trusted proxy "10\.0\.0\.0\/33" is not an IP address or CIDR range/],
    ['announce: [203.0.113.7:4001]\n', /r\.yaml: announce\[0\]: announce address "203\.0\.113\.7:4001" is not a multiaddr/],
    ['acme:\n  domains: [relay.example.org]\n', /r\.yaml: acme\.email is missing/],
    ['acme:\n  domains: [relay.example.org]\n  email: nobody\n', /r\.yaml: acme: --acme-email "nobody" is not an email address/],
    ['acme:\n  domains: [relay.example.org]\n  email: a@example.org\n  https: 443\n', /r\.yaml: acme\.https must be host:port/],
    ['- janson\n', /r\.yaml: \(top level\)/]
  ]
  for (const [source, message] of cases) assert.throws(() => parseRelayConfig(source, 'r.yaml'), message, source)
})

test('loading checks the file can be read and its TLS files make a usable pair', async () => {
  dir = await tempDir('config')
  await assert.rejects(loadRelayConfig(join(dir, 'missing.yaml')), /cannot read --config .*missing\.yaml: ENOENT/)
  const file = join(dir, 'relay.yaml')
  await writeFile(file, 'tls:\n  cert: cert.pem\n  key: key.pem\n')
  await assert.rejects(loadRelayConfig(file), /relay\.yaml: tls: cannot read the TLS certificate .*cert\.pem: ENOENT/)
  await writeFile(join(dir, 'cert.pem'), 'not a certificate')
  await writeFile(join(dir, 'key.pem'), 'not a key')
  await assert.rejects(loadRelayConfig(file), /relay\.yaml: tls: the TLS certificate .* are not a usable PEM pair/)
})
