/**
 * The lab's certificate authority, made with openssl at every run: one CA and one server certificate
 * naming every lab host (its hostname and its address), which relays and the site serve. Node trusts the
 * CA (`tls.setDefaultCACertificates`); Chromium is told to trust the server key by its SPKI hash
 * (`--ignore-certificate-errors-spki-list`), so pages on lab hostnames are real secure contexts.
 */
import { createHash, X509Certificate } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { getCACertificates, setDefaultCACertificates } from 'node:tls'
import { sh } from './namespaces.ts'

export interface LabCertificate {
  /** Server certificate then the CA (a full chain, as relay --tls-cert takes it). */
  certFile: string
  keyFile: string
  cert: Buffer
  key: Buffer
  caPem: string
  /** base64 SHA-256 of the server key's SubjectPublicKeyInfo, for Chromium. */
  spkiHash: string
}

export async function makeLabCertificate (dir: string, names: string[], addresses: string[]): Promise<LabCertificate> {
  const file = (name: string): string => join(dir, name)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await sh('openssl', ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=Hivecast lab CA'])
  await sh('openssl', ['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', `/CN=${names[0] ?? 'hivecast.test'}`])
  const sans = [...names.map(n => `DNS:${n}`), ...addresses.map(a => `IP:${a}`)].join(',')
  await writeFile(file('server.ext'), `subjectAltName=${sans}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`)
  await sh('openssl', ['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.pem'), '-days', '2', '-extfile', file('server.ext')])
  const server = await readFile(file('server.pem'), 'utf8')
  const caPem = await readFile(file('ca.pem'), 'utf8')
  await writeFile(file('chain.pem'), server + caPem)
  const spki = new X509Certificate(server).publicKey.export({ type: 'spki', format: 'der' })
  return {
    certFile: file('chain.pem'),
    keyFile: file('server.key'),
    cert: Buffer.from(server + caPem),
    key: await readFile(file('server.key')),
    caPem,
    spkiHash: createHash('sha256').update(spki).digest('base64')
  }
}

/** This process's TLS clients (fetch included) trust the lab CA from now on, besides the usual ones. */
export function trustLabCa (caPem: string): void {
  setDefaultCACertificates([...getCACertificates('default'), caPem])
}
