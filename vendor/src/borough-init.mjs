// borough-init.mjs - starts GOV.UK Frontend's JavaScript. Served from
// /assets/<version>/ as an external module, so the Content-Security-Policy
// needs no inline script. GOV.UK's page template sets the body classes with
// an inline script; here the module sets them: a browser that runs modules
// is one GOV.UK Frontend supports.
import { initAll } from './govuk-frontend.min.js'

document.body.classList.add('js-enabled', 'govuk-frontend-supported')
initAll()
