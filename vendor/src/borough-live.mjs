// borough-live.mjs - live updates for pages (docs/apps.md, "Live updates").
//
// An element with an id and data-borough-live="<the URL of an app:events
// stream>" is read afresh whenever an event arrives on that stream: the
// page (or the page in data-borough-src) is fetched again and the element
// replaced by the element of the same id there, so what it shows is made
// by the server, with its roles and row rules, exactly as on a reload.
// data-borough-channels="a b" narrows the channels that refresh it. Every
// region of one stream shares one connection (EventSource: the browser
// reconnects by itself, sending Last-Event-ID) and one fetch per page.
//
// Without JavaScript, or while the stream is refused, the page is an
// ordinary page: it shows what it showed when it was made, and its
// Refresh link works. Served from /assets/ as a module, within the
// Content-Security-Policy (no inline script; EventSource and fetch go to
// the page's own origin).

const streams = new Map()   // stream URL -> { url, regions, lastId, failures }

// Replaces each region by its counterpart in doc; focus stays where it was
// when the focused element is in the new HTML too.
function replace (regions, doc, init) {
  const focused = document.activeElement && document.activeElement.id
  for (const el of regions) {
    const fresh = doc.getElementById(el.id)
    if (!fresh || fresh.innerHTML === el.innerHTML) continue
    const hadFocus = el.contains(document.activeElement)
    el.innerHTML = fresh.innerHTML
    if (init) init(el)
    if (hadFocus && focused) {
      const again = document.getElementById(focused)
      if (again) again.focus()
    }
  }
}

// Fetches the page (or data-borough-src) once for every region that reads
// from it; a refresh asked for while one runs is made once it ends.
function refresh (stream, channel, init) {
  const bySource = new Map()
  for (const el of stream.regions) {
    const only = el.getAttribute('data-borough-channels')
    if (channel && only && !only.split(/\s+/).includes(channel)) continue
    const src = el.getAttribute('data-borough-src') || window.location.href
    if (!bySource.has(src)) bySource.set(src, [])
    bySource.get(src).push(el)
  }
  for (const [src, regions] of bySource) {
    const state = stream.fetching.get(src)
    if (state) {
      state.again = true
      continue
    }
    const run = { again: false }
    stream.fetching.set(src, run)
    for (const el of regions) el.setAttribute('aria-busy', 'true')
    fetch(src, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then((res) => (res.ok ? res.text() : null))
      .then((html) => {
        if (html !== null) replace(regions, new DOMParser().parseFromString(html, 'text/html'), init)
      })
      .catch(() => {})
      .finally(() => {
        for (const el of regions) el.removeAttribute('aria-busy')
        stream.fetching.delete(src)
        if (run.again) refresh(stream, channel, init)
      })
  }
}

// The stream's URL, beginning after the last event this page has had.
function urlFrom (stream) {
  if (!stream.lastId) return stream.url
  const u = new URL(stream.url, window.location.href)
  u.searchParams.set('last_event_id', stream.lastId)
  return u.href
}

function connect (stream, init) {
  const es = new EventSource(urlFrom(stream))
  es.onopen = () => {
    stream.failures = 0
  }
  es.onmessage = (e) => {
    if (e.lastEventId) stream.lastId = e.lastEventId
    let channel = null
    try {
      channel = JSON.parse(e.data).channel
    } catch (err) {}
    refresh(stream, channel, init)
  }
  es.addEventListener('borough-reset', (e) => {
    if (e.lastEventId) stream.lastId = e.lastEventId
    refresh(stream, null, init)
  })
  es.onerror = () => {
    if (es.readyState !== EventSource.CLOSED) return   // the browser reconnects by itself
    // Refused (signed out, a cap reached, the route gone): try again
    // later, less often each time; meanwhile the page stays as it is.
    es.close()
    stream.failures += 1
    const delay = Math.min(60000, 2000 * 2 ** Math.min(stream.failures, 5)) * (0.5 + Math.random())
    window.setTimeout(() => connect(stream, init), delay)
  }
}

// Starts live updates for the regions under root; init(element) is called
// on each region after it is replaced (to start GOV.UK components in it).
export function initLive (root, init) {
  for (const el of root.querySelectorAll('[data-borough-live]')) {
    const url = el.getAttribute('data-borough-live')
    if (!el.id || !url) continue
    if (!streams.has(url)) streams.set(url, { url, regions: [], lastId: null, failures: 0, fetching: new Map() })
    streams.get(url).regions.push(el)
  }
  for (const stream of streams.values()) {
    if (!stream.started) {
      stream.started = true
      connect(stream, init)
    }
  }
}
