// borough-init.mjs - starts GOV.UK Frontend's JavaScript, and live updates
// (borough-live.mjs) for the regions a page marks. Served from
// /assets/<version>/ as an external module, so the Content-Security-Policy
// needs no inline script. GOV.UK's page template sets the body classes with
// an inline script; here the module sets them: a browser that runs modules
// is one GOV.UK Frontend supports.
import { initAll } from './govuk-frontend.min.js'
import { initLive } from './borough-live.mjs'

document.body.classList.add('js-enabled', 'govuk-frontend-supported')
initAll()
initLive(document, (region) => initAll({ scope: region }))
