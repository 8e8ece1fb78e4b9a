/**
 * Config files (the origin's rooms file, the relay's relay.yaml): a YAML value checked whole against a
 * valibot schema, and the first problem reported as `<file>: <field path> <what to write instead>`, so
 * an operator sees which line to fix rather than a stack trace.
 */
import * as v from 'valibot'
import { InvalidConfigError, errorMessage } from './errors.ts'

/** `rooms.0.input.key` as people write it: `rooms[0].input.key`. */
export function configFieldPath (issue: v.BaseIssue<unknown>): string {
  return (issue.path ?? []).map(item => typeof item.key === 'number' ? `[${item.key}]` : `.${String(item.key)}`).join('').replace(/^\./, '') || '(top level)'
}

/**
 * The message for a strictObject's issues: it reports a missing field and an unknown one alike, so
 * tell them apart. `list` names the fields the object has.
 */
export function configFields (list: string): (issue: v.BaseIssue<unknown>) => string {
  return issue => issue.expected === 'never' ? `is not a known field: ${list}` : `is missing: ${list}`
}

/** Checks a parsed config value against `schema`; throws `<file>: <field> <message>` for the first problem. */
export function checkConfig<TSchema extends v.GenericSchema> (schema: TSchema, value: unknown, file: string): v.InferOutput<TSchema> {
  const result = v.safeParse(schema, value, { abortEarly: true })
  if (result.success) return result.output
  const issue = result.issues[0]
  throw new InvalidConfigError(`${file}: ${configFieldPath(issue)} ${issue.message}`)
}

/** Runs a check that throws, prefixing its message with the file and the field it is about. */
export function checkConfigField<T> (file: string, path: string, check: () => T): T {
  try {
    return check()
  } catch (err) {
    throw new InvalidConfigError(`${file}: ${path}: ${errorMessage(err)}`, { cause: err })
  }
}
