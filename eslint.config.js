// Lint and format rules for the whole repository: neostandard (JavaScript Standard Style, with
// typescript-eslint), run by `npm run lint` and at the start of `npm test`. `npm run lint -- --fix`
// fixes the layout rules.
import neostandard, { plugins } from 'neostandard'

export default [
  { ignores: ['**/dist/**', 'test-results/**'] },
  ...neostandard({ ts: true }),
  {
    plugins: { '@stylistic': plugins['@stylistic'] },
    rules: {
      // `void promise` marks a deliberate fire-and-forget; as an expression it stays an error.
      'no-void': ['error', { allowAsStatement: true }],
      // prom-client metrics register themselves in their constructor.
      'no-new': 'off',
      // JSX attributes keep HTML's double quotes.
      '@stylistic/jsx-quotes': ['error', 'prefer-double']
    }
  }
]
