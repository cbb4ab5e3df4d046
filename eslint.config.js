// Lint and format rules: `npm run lint` checks, `npm run lint:fix` rewrites what it can;
// test/run-all.sh runs lint. The linter is also the formatter: @stylistic's preset set to
// the style the code already has (2 spaces, no semicolons, single quotes, no spaces inside
// braces, 1TBS, trailing commas on multi-line lists), with the changes below.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import stylistic from '@stylistic/eslint-plugin'

export default tseslint.config(
  {ignores: ['dist/', 'node_modules/', 'test/lab/.cache/']},
  js.configs.recommended,
  tseslint.configs.recommended,
  stylistic.configs.customize({indent: 2, quotes: 'single', semi: false, braceStyle: '1tbs', commaDangle: 'always-multiline', jsx: false}),
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      // Node's globals, for the plain .js/.mjs files (TypeScript checks its own).
      globals: {process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly'},
    },
    rules: {
      // `_name` marks a parameter an interface requires; `{secret: _, ...rest}` drops a field.
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', ignoreRestSiblings: true}],
      '@stylistic/object-curly-spacing': ['error', 'never'],
      '@stylistic/quotes': ['error', 'single', {avoidEscape: true, allowTemplateLiterals: 'always'}],
      '@stylistic/arrow-parens': ['error', 'as-needed'],
      // Inline object types are written `{a: string; b: number}`.
      '@stylistic/member-delimiter-style': ['error', {multiline: {delimiter: 'none'}, singleline: {delimiter: 'semi', requireLast: false}}],
      // Quotes where a key needs them (oclif flags such as 'digitalocean-region'), none elsewhere.
      '@stylistic/quote-props': ['error', 'as-needed'],
      // Long conditions break after `&&`/`||`/`=`; string concatenation, ternaries and type
      // unions before the operator, as the code mostly does.
      '@stylistic/operator-linebreak': ['error', 'after', {overrides: {'+': 'before', '?': 'before', ':': 'before', '|': 'before'}}],
      // Off: the code keeps short callback bodies on one line (`err => { a = err; done() }`),
      // groups oclif's static flags/args without blank lines, and ends a one-line ternary with
      // a multi-line call; each of these reads better as it is.
      '@stylistic/max-statements-per-line': 'off',
      '@stylistic/lines-between-class-members': 'off',
      '@stylistic/multiline-ternary': 'off',
    },
  },
  {
    // Typed rules, for the promise mistakes the compiler lets through (a forgotten await, an
    // async callback where a sync one is expected). They double lint time (the type checker
    // runs), which is worth it for code that is mostly async. node:test's test() and
    // describe() return promises that the runner itself awaits.
    files: ['**/*.ts'],
    languageOptions: {parserOptions: {projectService: true, tsconfigRootDir: import.meta.dirname}},
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', {allowForKnownSafeCalls: [{from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite']}]}],
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
)
