/** The frame every page shares: the site header, the page's content, and a short footer. */
import type { ComponentChildren } from 'preact'

export function PageLayout (props: { children: ComponentChildren }): ComponentChildren {
  return (
    <>
      <header class="site-header">
        <a class="brand" href="./index.html"><span class="brand-mark" aria-hidden="true" />Hivecast</a>
        <nav aria-label="Site">
          <a href="./index.html">Rooms</a>
          <a href="./recordings.html">Recordings</a>
          <a href="./status.html">Network</a>
          <a href="./relay.html">Run a relay</a>
        </nav>
      </header>
      <main class="site-main">{props.children}</main>
      <footer class="site-footer">
        Every video segment is checked against its content address before it plays.
      </footer>
    </>
  )
}

/** A message that stands in for a page that cannot be shown, and says what to do. */
export function Notice (props: { title: string, children: ComponentChildren }): ComponentChildren {
  return (
    <section class="notice" role="alert">
      <h1>{props.title}</h1>
      <p>{props.children}</p>
    </section>
  )
}
