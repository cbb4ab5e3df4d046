/** esbuild bundles the page's stylesheet from its import in main.ts (into dist/ui-page.css). */
declare module '*.css'
