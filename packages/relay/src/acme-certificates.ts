/**
 * Automatic HTTPS for a relay (`--acme-domain`): gets a certificate from an ACME CA (Let's Encrypt by
 * default) with the HTTP-01 challenge, keeps the account key and certificate in the data directory
 * (0600), serves the gateway over TLS on its own address, and renews at 2/3 of the certificate's
 * lifetime by swapping the secure context, so no open connection is dropped. When the CA cannot be
 * reached or refuses, the relay keeps serving (plain HTTP, or the old certificate) and retries with
 * backoff; each failure is one log line that says what happened and what to do.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { createServer as createHttpServer } from 'node:http'
import { get as httpGet } from 'node:http'
import { Agent, get as httpsGet } from 'node:https'
import { join } from 'node:path'
import { createServer as createTlsServer, rootCertificates } from 'node:tls'
import type { Server as HttpServer } from 'node:http'
import type { Socket } from 'node:net'
import type { Server as TlsServer } from 'node:tls'
import type { Logger } from '@hivecast/shared'
import { InvalidOptionError, ListenError } from '@hivecast/shared'

export const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory'
const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory'

type AcmeClient = typeof import('acme-client')
let acmeClient: Promise<AcmeClient> | undefined
/**
 * acme-client, loaded the first time a relay with --acme needs it: it brings axios, node-forge and
 * X.509 libraries that cost every other relay ~15 MiB of memory for nothing.
 */
async function loadAcmeClient (): Promise<AcmeClient> {
  acmeClient ??= import('acme-client')
  return await acmeClient
}
export const DEFAULT_ACME_CHALLENGE = { host: '0.0.0.0', port: 80 }
export const DEFAULT_HTTPS = { host: '0.0.0.0', port: 443 }
/** How often the certificate's age is looked at; a renewal due sooner is scheduled for then. */
const CHECK_MS = 12 * 60 * 60_000
const MAX_RETRY_MS = 6 * 60 * 60_000
const CHALLENGE_PATH = '/.well-known/acme-challenge/'

export interface AcmeOptions {
  /** Names the certificate covers; each must resolve to this box, with port 80 reaching `challenge`. */
  domains: string[]
  /** The account's contact, for the CA's expiry and problem notices. */
  email: string
  /** ACME directory URL. Default: Let's Encrypt production. */
  directoryUrl?: string
  /** A PEM file of a further CA to trust for the ACME server's own TLS (a test CA such as pebble). */
  caFile?: string
  /** Where the HTTP-01 challenge server listens; the CA connects to port 80 of the domain. Default 0.0.0.0:80. */
  challenge?: { host: string, port: number }
  /** Where the gateway is served over HTTPS. Default 0.0.0.0:443. */
  https?: { host: string, port: number }
  /** First wait before retrying a failed order (ms), doubled per failure up to 6 hours. Default 60 s. */
  retryMs?: number
}

export type AcmeErrorCode = 'ACME_UNREACHABLE' | 'ACME_VALIDATION_FAILED' | 'ACME_RATE_LIMITED' | 'ACME_REFUSED'

/** Why an order failed, and what to do about it. */
export class AcmeError extends Error {
  readonly code: AcmeErrorCode
  constructor (code: AcmeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'AcmeError'
    this.code = code
  }
}

export interface AcmeStatus {
  domains: string[]
  /** `https://<domain>:<port>/` once a certificate is served, else null. */
  url: string | null
  notAfter: string | null
  renewals: number
  failures: number
  lastError: { code: AcmeErrorCode, message: string } | null
}

interface Certificate { cert: Buffer, key: Buffer, notBefore: Date, notAfter: Date, names: string[] }

const NETWORK_CODES = /^(E[A-Z]+|CERT_.*|UNABLE_TO_.*|SELF_SIGNED_.*|DEPTH_ZERO_SELF_SIGNED_CERT|ERR_TLS_.*)$/

function errorCode (err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? code : undefined
}

/** Checks ACME options before anything starts; throws an Error that says what to write instead. */
export function assertAcmeOptions (options: AcmeOptions): void {
  if (options.domains.length === 0) throw new InvalidOptionError('--acme-domain needs a domain name that resolves to this box, e.g. relay.example.org')
  for (const domain of options.domains) {
    if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/i.test(domain)) throw new InvalidOptionError(`--acme-domain "${domain}" is not a domain name: give the DNS name browsers use, e.g. relay.example.org (no scheme, port or IP address)`)
  }
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(options.email)) throw new InvalidOptionError(`--acme-email "${options.email}" is not an email address: the CA sends expiry notices there, e.g. you@example.org`)
  if (options.directoryUrl !== undefined && !/^https?:\/\/\S+$/.test(options.directoryUrl)) throw new InvalidOptionError(`--acme-directory "${options.directoryUrl}" is not a URL, e.g. ${LETS_ENCRYPT_STAGING}`)
}

/** When a certificate is due: 2/3 into its lifetime (day 60 of Let's Encrypt's 90). */
export function renewAt (cert: { notBefore: Date, notAfter: Date }): number {
  return cert.notBefore.getTime() + (cert.notAfter.getTime() - cert.notBefore.getTime()) * 2 / 3
}

async function writePrivate (path: string, data: Buffer | string): Promise<void> {
  // Written aside and renamed, so a crash mid-write never leaves half a key where the relay reads it.
  await writeFile(`${path}.tmp`, data, { mode: 0o600 })
  await chmod(`${path}.tmp`, 0o600)
  await rename(`${path}.tmp`, path)
}

export class AcmeCertificates {
  readonly #options: AcmeOptions
  readonly #dir: string
  readonly #accept: (socket: Socket) => void
  readonly #log: Logger
  readonly #tokens = new Map<string, string>()
  readonly #challengeServer: HttpServer
  #tlsServer: TlsServer | undefined
  #current: Certificate | undefined
  #url: string | undefined
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #stopped = false
  #renewals = 0
  #failures = 0
  /** Failures since the last success: the backoff's exponent. */
  #failedInARow = 0
  #lastError: AcmeError | undefined

  /** `accept` serves HTTP on a decrypted connection (the gateway's). */
  constructor (options: AcmeOptions, dataDir: string, accept: (socket: Socket) => void, log: Logger) {
    this.#options = options
    this.#dir = join(dataDir, 'acme')
    this.#accept = accept
    this.#log = log
    this.#challengeServer = createHttpServer((req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? ''
      const answer = path.startsWith(CHALLENGE_PATH) ? this.#tokens.get(path.slice(CHALLENGE_PATH.length)) : undefined
      res.writeHead(answer === undefined ? 404 : 200, { 'content-type': 'text/plain' }).end(answer ?? 'not found\n')
    })
  }

  /** `https://<first domain>[:port]/` once a certificate is served, else undefined. */
  get url (): string | undefined {
    return this.#url
  }

  /**
   * Listens for HTTP-01 challenges, serves a stored certificate that is still good at once, and orders
   * one in the background when none is, or when it is due. Throws only when an address cannot be bound.
   */
  async start (): Promise<void> {
    const challenge = this.#options.challenge ?? DEFAULT_ACME_CHALLENGE
    await listen(this.#challengeServer, challenge, 'the ACME HTTP-01 challenge', '--acme-http')
    await mkdir(this.#dir, { recursive: true, mode: 0o700 })
    const stored = await this.#readStored()
    if (stored !== undefined) await this.#serve(stored)
    this.#schedule(stored === undefined || Date.now() >= renewAt(stored) ? 0 : Math.min(CHECK_MS, renewAt(stored) - Date.now()))
  }

  /** Orders a fresh certificate now and serves it; throws an AcmeError (the old certificate stays). */
  async renew (): Promise<void> {
    this.#running ??= this.#order().finally(() => { this.#running = undefined })
    await this.#running
  }

  status (): AcmeStatus {
    return {
      domains: this.#options.domains,
      url: this.#url ?? null,
      notAfter: this.#current?.notAfter.toISOString() ?? null,
      renewals: this.#renewals,
      failures: this.#failures,
      lastError: this.#lastError === undefined ? null : { code: this.#lastError.code, message: this.#lastError.message }
    }
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    const close = async (server: HttpServer | TlsServer | undefined): Promise<void> => {
      if (server?.listening !== true) return
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
    this.#challengeServer.closeAllConnections()
    await Promise.all([close(this.#challengeServer), close(this.#tlsServer)])
  }

  #schedule (delayMs: number): void {
    if (this.#stopped) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => { void this.#check() }, delayMs)
    this.#timer.unref()
  }

  async #check (): Promise<void> {
    const current = this.#current
    if (current !== undefined && Date.now() < renewAt(current)) {
      this.#schedule(Math.min(CHECK_MS, renewAt(current) - Date.now()))
      return
    }
    try {
      await this.renew()
    } catch (err) {
      if (this.#stopped) return
      const retryMs = Math.min(MAX_RETRY_MS, (this.#options.retryMs ?? 60_000) * 2 ** (this.#failedInARow - 1))
      const serving = this.#url === undefined ? 'still serving plain HTTP only' : `still serving ${this.#url} with the certificate valid until ${current?.notAfter.toISOString() ?? '?'}`
      this.#log.warn(`ACME: ${(err as Error).message}; ${serving}; retrying in ${Math.round(retryMs / 1000)} s`)
      this.#schedule(retryMs)
      return
    }
    this.#schedule(Math.min(CHECK_MS, renewAt(this.#current!) - Date.now()))
  }

  async #order (): Promise<void> {
    const directoryUrl = this.#options.directoryUrl ?? LETS_ENCRYPT
    const domains = this.#options.domains
    let validating = false
    let pem: string
    let key: Buffer
    try {
      await this.#reach(directoryUrl, await this.#trustCa())
      const acme = await loadAcmeClient()
      const client = new acme.Client({ directoryUrl, accountKey: await this.#accountKey() })
      const [certificateKey, csr] = await acme.crypto.createCsr({ commonName: domains[0]!, altNames: domains })
      key = certificateKey
      pem = await client.auto({
        csr,
        email: this.#options.email,
        termsOfServiceAgreed: true,
        challengePriority: ['http-01'],
        // The CA checks from outside; a check from here would need the domain to resolve here too.
        skipChallengeVerification: true,
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
          validating = true
          this.#tokens.set(challenge.token, keyAuthorization)
        },
        challengeRemoveFn: async (_authz, challenge) => { this.#tokens.delete(challenge.token) }
      })
    } catch (err) {
      this.#failures++
      this.#failedInARow++
      this.#lastError = this.#explain(err, directoryUrl, validating)
      throw this.#lastError
    }
    const certificate = await this.#parse(Buffer.from(pem), key)
    await writePrivate(join(this.#dir, 'certificate-key.pem'), key)
    await writePrivate(join(this.#dir, 'certificate.pem'), pem)
    if (this.#stopped) return
    await this.#serve(certificate)
    this.#renewals++
    this.#failedInARow = 0
    this.#lastError = undefined
    this.#log.info(`ACME: certificate for ${domains.join(', ')} valid until ${certificate.notAfter.toISOString()}; serving ${this.#url ?? '?'}`)
  }

  #explain (err: unknown, directoryUrl: string, validating: boolean): AcmeError {
    if (err instanceof AcmeError) return err
    const detail = (err as Error).message
    const code = errorCode(err)
    const names = this.#options.domains.join(', ')
    if (/rate.?limit|too many/i.test(detail)) {
      return new AcmeError('ACME_RATE_LIMITED', `the CA at ${directoryUrl} rate-limits this account or domain (${detail}); wait before retrying, and test with --acme-directory ${LETS_ENCRYPT_STAGING}`, { cause: err })
    }
    if (!validating && code !== undefined && NETWORK_CODES.test(code)) {
      return new AcmeError('ACME_UNREACHABLE', `cannot reach the ACME server ${directoryUrl} (${code}: ${detail}); check --acme-directory, this box's outgoing network, and --acme-ca when the server uses a private CA`, { cause: err })
    }
    if (validating) {
      const challenge = this.#options.challenge ?? DEFAULT_ACME_CHALLENGE
      return new AcmeError('ACME_VALIDATION_FAILED', `the CA could not validate ${names} (${detail}); point the domain's DNS at this box and let port 80 reach --acme-http ${challenge.host}:${challenge.port}`, { cause: err })
    }
    return new AcmeError('ACME_REFUSED', `the ACME server ${directoryUrl} refused the order for ${names} (${detail}); check --acme-domain and --acme-email`, { cause: err })
  }

  /**
   * Fetches the directory once before acme-client does: its own retries of a refused connection take
   * over a minute and end in an error that has lost the cause.
   */
  async #reach (directoryUrl: string, agent: Agent | undefined): Promise<void> {
    const get = directoryUrl.startsWith('https:') ? httpsGet : httpGet
    await new Promise<void>((resolve, reject) => {
      const req = get(directoryUrl, { ...(agent === undefined ? {} : { agent }), timeout: 30_000 }, res => {
        res.resume()
        resolve()
      })
      req.on('timeout', () => { req.destroy(Object.assign(new Error('no answer in 30 s'), { code: 'ETIMEDOUT' })) })
      req.on('error', reject)
    })
  }

  /** acme-client sends every request through its own axios instance: the extra CA is trusted there. */
  async #trustCa (): Promise<Agent | undefined> {
    const file = this.#options.caFile
    if (file === undefined) return undefined
    let ca: Buffer
    try {
      ca = await readFile(file)
    } catch (err) {
      throw new AcmeError('ACME_UNREACHABLE', `cannot read --acme-ca ${file}: ${errorCode(err) ?? (err as Error).message}; give the PEM file of the CA that signed the ACME server's certificate`, { cause: err })
    }
    const agent = new Agent({ ca: [...rootCertificates, ca.toString()] })
    const { axios } = await loadAcmeClient()
    axios.defaults.httpsAgent = agent
    return agent
  }

  async #accountKey (): Promise<Buffer> {
    const path = join(this.#dir, 'account-key.pem')
    try {
      return await readFile(path)
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err
    }
    const key = await (await loadAcmeClient()).crypto.createPrivateKey()
    await writePrivate(path, key)
    return key
  }

  /** The stored certificate when it covers every domain and parses; a fresh order replaces it otherwise. */
  async #readStored (): Promise<Certificate | undefined> {
    let cert: Buffer
    let key: Buffer
    try {
      cert = await readFile(join(this.#dir, 'certificate.pem'))
      key = await readFile(join(this.#dir, 'certificate-key.pem'))
    } catch {
      return undefined
    }
    try {
      const stored = await this.#parse(cert, key)
      return this.#options.domains.every(d => stored.names.includes(d)) && stored.notAfter.getTime() > Date.now() ? stored : undefined
    } catch (err) {
      this.#log.warn(`ACME: the stored certificate in ${this.#dir} is not usable (${(err as Error).message}); ordering a new one`)
      return undefined
    }
  }

  async #parse (cert: Buffer, key: Buffer): Promise<Certificate> {
    const info = (await loadAcmeClient()).crypto.readCertificateInfo(cert)
    return { cert, key, notBefore: info.notBefore, notAfter: info.notAfter, names: [info.domains.commonName, ...info.domains.altNames] }
  }

  async #serve (certificate: Certificate): Promise<void> {
    this.#current = certificate
    if (this.#tlsServer !== undefined) {
      // Open connections keep the context they were made with; new ones get the new certificate.
      this.#tlsServer.setSecureContext({ cert: certificate.cert, key: certificate.key })
      return
    }
    const server = createTlsServer({ cert: certificate.cert, key: certificate.key, ALPNProtocols: ['http/1.1'] }, socket => { this.#accept(socket) })
    // A client that drops mid-handshake is no event worth more than ignoring.
    server.on('tlsClientError', () => {})
    const https = this.#options.https ?? DEFAULT_HTTPS
    await listen(server, https, 'HTTPS', '--https')
    this.#tlsServer = server
    const port = (server.address() as { port: number }).port
    this.#url = `https://${this.#options.domains[0]!}${port === 443 ? '' : `:${port}`}/`
  }
}

async function listen (server: HttpServer | TlsServer, at: { host: string, port: number }, what: string, option: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new ListenError(`cannot listen for ${what} on ${at.host}:${at.port}: ${err.code ?? err.message}. Pick another ${option} address (a port below 1024 needs CAP_NET_BIND_SERVICE) or stop what is using it.`))
    })
    server.listen(at.port, at.host, () => { resolve() })
  })
}
