/**
 * What the origin's authenticated endpoints (the organisers' opt-out, the live captioner) share: a
 * bearer token read from a file (never the command line) and checked as SHA-256 digests in constant
 * time, bounded request bodies and JSON answers. None of them is CORS-open.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { InvalidConfigError, MissingResourceError, errorMessage } from '@hivecast/shared'

const MIN_TOKEN = 16
const MAX_TOKEN = 256

/** Reads a token from its file (`what` names it in messages: `admin token`); warns when other users may read the file. */
export async function loadBearerToken (file: string, what: string, warn: (message: string) => void): Promise<string> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new MissingResourceError(`cannot read the ${what} file ${file} (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}): write a long random token into it, e.g. openssl rand -hex 32 > ${file}; chmod 600 ${file}`, { cause: err })
  }
  const token = text.trim()
  if (token.length < MIN_TOKEN || token.length > MAX_TOKEN || !/^[\x21-\x7e]+$/.test(token)) {
    throw new InvalidConfigError(`the ${what} in ${file} must be ${MIN_TOKEN}-${MAX_TOKEN} printable characters without spaces, e.g. openssl rand -hex 32 > ${file}`)
  }
  const mode = (await stat(file)).mode
  if ((mode & 0o077) !== 0) warn(`${file} holds the ${what} and other users may read it (mode ${(mode & 0o777).toString(8)}): chmod 600 ${file}`)
  return token
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest()

/** A check of `Authorization: Bearer <token>` against `token`. */
export function bearerCheck (token: string): (req: IncomingMessage) => boolean {
  const expected = digest(token)
  return req => {
    // Digests of equal length, so the comparison takes as long whatever was sent.
    const given = /^Bearer ([\x21-\x7e]{1,512})$/.exec(req.headers.authorization ?? '')?.[1]
    return given !== undefined && timingSafeEqual(digest(given), expected)
  }
}

/** Reads a request body of at most `max` bytes as UTF-8; rejects (and drops the connection) past it. */
export async function readBody (req: IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > max) {
      req.destroy()
      throw new Error(`the body is over ${max} bytes`)
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Answers with `body` as JSON. */
export function sendJson (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body) + '\n')
}
