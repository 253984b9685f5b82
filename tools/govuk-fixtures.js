// tools/govuk-fixtures.js - renders the GOV.UK Frontend Nunjucks macros for
// the cases in tests/e2e/fixtures/govuk_cases.json and writes their HTML to
// tests/e2e/fixtures/govuk.json, which test_govuk.py compares borough's
// components with. Run it only when GOV.UK Frontend or the cases change:
//
//   d=$(mktemp -d) && (cd $d && npm install nunjucks@3.2.4) &&
//   NODE_PATH=$d/node_modules node tools/govuk-fixtures.js
//
// nunjucks is installed outside the repository: it is not a dependency of
// borough, only of making these reference outputs.
const fs = require('fs')
const path = require('path')
const nunjucks = require('nunjucks')

const root = path.resolve(__dirname, '..')
const dist = path.join(root, 'vendor/node_modules/govuk-frontend/dist')
const env = nunjucks.configure([dist], { autoescape: true })
const cases = JSON.parse(fs.readFileSync(path.join(root, 'tests/e2e/fixtures/govuk_cases.json'), 'utf8'))
const version = require(path.join(root, 'vendor/node_modules/govuk-frontend/package.json')).version

const out = { govukFrontend: version, cases: [] }
for (const c of cases) {
  const macro = 'govuk' + c.component.replace(/(^|-)(\w)/g, (_, __, ch) => ch.toUpperCase())
  const src = `{% from "govuk/components/${c.component}/macro.njk" import ${macro} %}{{ ${macro}(params) }}`
  out.cases.push({ name: c.name, component: c.component, params: c.params, html: env.renderString(src, { params: c.params }) })
}
fs.writeFileSync(path.join(root, 'tests/e2e/fixtures/govuk.json'), JSON.stringify(out, null, 1) + '\n')
console.log(`${out.cases.length} cases from GOV.UK Frontend ${version}`)
