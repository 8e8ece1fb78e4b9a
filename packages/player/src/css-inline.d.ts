/** A stylesheet as text (Vite's `?inline`), for the custom element's shadow root. */
declare module '*.css?inline' {
  const css: string
  export default css
}
