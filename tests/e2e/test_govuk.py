#!/usr/bin/env python3
"""End-to-end tests of the GOV.UK Frontend components (lua/borough/govuk.lua):
each renders the same HTML as GOV.UK Frontend's Nunjucks macro for the same
options. The reference outputs in fixtures/govuk.json were made once from
the pinned GOV.UK Frontend with nunjucks (tools/govuk-fixtures.js); both
sides are compared after folding whitespace (runs of spaces and newlines
become one space, and none is kept next to < or >), which is how the
macros' own indentation differs from borough's.

Also: components are callable from templates under their Nunjucks names,
and their defaults follow the request's language.
"""
import json
import os
import re
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, Server, Client  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = json.load(open(os.path.join(HERE, "fixtures", "govuk.json"), encoding="utf-8"))

APP = textwrap.dedent('''
    local app = borough.app { public = true, title = "Components", mount = "/c" }
    local govuk = require "borough.govuk"
    app:post("/render", { csrf = false }, function(req)
      local case = json.decode(req.body)
      local name = case.component:gsub("%-(%w)", string.upper)
      return tostring(govuk[name](case.params))
    end)
    app:get("/boom", function(req) error("deliberate") end)
    app:get("/layout", function(req)
      return borough.view("layout_page", { title = "Your details" })
    end)
    app:get("/page", function(req)
      return borough.view("page", { name = req.query.name })
    end)
    return app
''')

VIEWS = {
    "layout_page.html": textwrap.dedent('''\
        {% extends "govuk/template" %}
        {% block content %}<h1 class="govuk-heading-l">{{ title }}</h1>{% endblock %}
    '''),
    "page.html": textwrap.dedent('''\
        {% from "govuk/components/back-link/macro.njk" import govukBackLink %}
        {{ govukBackLink({ href: "/" }) }}
        {{ govukInput({ label: { text: "Name" }, id: "name", name: "name", value: name }) }}
        {{ govukDateInput({ id: "d", namePrefix: "d" }) }}
        {{ govukErrorSummary({ errorList: [{ text: "Enter a name", href: "#name" }] }) }}
        {{ govukPagination({ previous: { href: "?p=1" }, next: { href: "?p=3" } }) }}
        {{ govukButton({ text: t("pagination.next") }) }}
    '''),
}


def fold(html):
    html = re.sub(r"\s+", " ", html)
    html = re.sub(r" ?(/?[<>]) ?", r"\1", html)
    return html.strip()


@test
def every_component_matches_the_nunjucks_macro():
    assert FIXTURES["govukFrontend"] == "6.6.0"
    failures = []
    with Server({"c": {"app.lua": APP, "views": VIEWS}}) as s:
        c = Client(s.port)
        for case in FIXTURES["cases"]:
            r = c.request("POST", "/c/render", {"Content-Type": "application/json"},
                          json.dumps({"component": case["component"], "params": case["params"]}))
            assert r.status == 200, (case["component"], case["name"], r)
            got, want = fold(r.text), fold(case["html"])
            if got != want:
                failures.append("%s/%s:\n  got:  %s\n  want: %s" % (case["component"], case["name"], got, want))
        c.close()
    assert not failures, "\n".join(failures)


@test
def every_required_component_is_covered():
    required = {"header", "footer", "skip-link", "phase-banner", "back-link", "breadcrumbs", "button", "input",
                "textarea", "character-count", "radios", "checkboxes", "select", "date-input", "file-upload",
                "fieldset", "hint", "error-message", "error-summary", "summary-list", "table", "tag", "panel",
                "notification-banner", "inset-text", "warning-text", "details", "pagination", "task-list"}
    covered = {c["component"] for c in FIXTURES["cases"]}
    assert required <= covered, required - covered


def page(s, query=""):
    c = Client(s.port)
    try:
        r = c.get("/c/page" + query)
        assert r.status == 200, r
        return r
    finally:
        c.close()


@test
def components_in_templates_escape_and_follow_the_language():
    with Server({"c": {"app.lua": APP, "views": VIEWS}}) as s:
        html = fold(page(s, "?name=%22%3E%3Cscript%3E").text)
        assert '<a href="/" class="govuk-back-link">Back</a>' in html, html
        assert 'value="&quot;&gt;&lt;script&gt;"' in html, html
        assert '<label class="govuk-label govuk-date-input__label" for="d-day">Day</label>' in html, html
        assert '<h2 class="govuk-error-summary__title">There is a problem</h2>' in html, html
        assert 'Previous<span class="govuk-visually-hidden">page</span>' in html, html
        assert '<button type="submit" class="govuk-button" data-module="govuk-button">Next</button>' in html, html

        r = page(s, "?lang=cy")
        assert r.header("set-cookie") == "borough_lang=cy; Path=/; Max-Age=31536000; SameSite=Lax", r
        html = fold(r.text)
        assert '<a href="/" class="govuk-back-link">Yn ôl</a>' in html, html
        assert 'for="d-day">Diwrnod</label>' in html and 'for="d-month">Mis</label>' in html, html
        assert 'for="d-year">Blwyddyn</label>' in html, html
        assert '<h2 class="govuk-error-summary__title">Mae problem wedi codi</h2>' in html, html
        assert 'Blaenorol<span class="govuk-visually-hidden"></span>' in html, html
        assert 'data-module="govuk-button">Nesaf</button>' in html, html

        # The cookie keeps the choice; Accept-Language is the fallback.
        c = Client(s.port)
        html = fold(c.get("/c/page", {"Cookie": "borough_lang=cy"}).text)
        assert "Yn ôl" in html, html
        html = fold(c.get("/c/page", {"Accept-Language": "cy-GB,cy;q=0.9,en;q=0.8"}).text)
        assert "Yn ôl" in html, html
        html = fold(c.get("/c/page", {"Accept-Language": "fr, en;q=0.5", "Cookie": "borough_lang=xx"}).text)
        assert ">Back<" in html, html
        c.close()


@test
def the_page_layout_has_skip_link_header_main_footer_and_no_inline_script():
    version = open(os.path.join(HERE, "..", "..", "vendor", "public", "VERSION")).read().strip()
    s = Server({"c": {"app.lua": APP, "views": VIEWS}})
    os.makedirs(os.path.join(s.data_dir, "site"))
    with open(os.path.join(s.data_dir, "site.conf"), "w") as f:
        f.write("name = Barsetshire & Wessex Council\nlogo = logo.svg\n")
    with s:
        c = Client(s.port)
        html = fold(c.get("/c/layout").text)
        assert html.startswith('<!DOCTYPE html><html lang="en" class="govuk-template"><head><meta charset="utf-8">'
                               '<title>Your details - Components</title>'), html
        for part in ('<link rel="stylesheet" href="/assets/%s/govuk-frontend.min.css">' % version,
                     '<link rel="stylesheet" href="/assets/site.css">',
                     '<body class="govuk-template__body"><a href="#main-content" class="govuk-skip-link" '
                     'data-module="govuk-skip-link">Skip to main content</a><header class="govuk-template__header">',
                     '<a href="/" class="govuk-generic-header__homepage-link"><img class="borough-header__logo" '
                     'src="/assets/site/logo.svg" alt="">Barsetshire &amp; Wessex Council</a>',
                     '<a href="/c/" class="govuk-service-navigation__link">Components</a>',
                     '<a class="govuk-service-navigation__link" href="?lang=cy" hreflang="cy" lang="cy">Cymraeg</a>',
                     '<main class="govuk-main-wrapper" id="main-content"><h1 class="govuk-heading-l">Your details</h1></main>',
                     '<footer class="govuk-footer">',
                     '<script type="module" src="/assets/%s/borough-init.mjs"></script></body></html>' % version):
            assert part in html, (part, html)
        # Scripts are external only (the CSP allows no inline script).
        assert len(re.findall(r"<script", html)) == 1, html
        assert "govuk-footer__crown" not in html
        html = fold(c.get("/c/layout?lang=cy").text)
        assert '<html lang="cy" class="govuk-template">' in html, html
        assert ">Neidio i’r prif gynnwys</a>" in html, html
        assert 'href="?lang=en" hreflang="en" lang="en">English</a>' in html, html
        c.close()


@test
def the_platform_error_pages_speak_welsh_when_asked():
    with Server({"c": {"app.lua": APP, "views": VIEWS}}) as s:
        c = Client(s.port)
        r = c.get("/c/no/such/page?lang=cy")
        assert r.status == 404, r
        assert r.text == ('<!DOCTYPE html>\n<html lang="cy"><head><meta charset="utf-8">'
                          '<meta name="viewport" content="width=device-width, initial-scale=1">'
                          '<title>Heb ddod o hyd i’r dudalen</title></head>\n<body><main>\n'
                          '<h1>Heb ddod o hyd i’r dudalen</h1>\n'
                          '<p>Os gwnaethoch deipio’r cyfeiriad gwe, gwiriwch ei fod yn gywir.</p>\n'
                          '</main></body></html>\n'), r.text
        r = c.get("/c/boom", {"Accept-Language": "cy"})
        assert r.status == 500, r
        assert "<h1>Mae’n ddrwg gennym, mae problem gyda’r gwasanaeth</h1>" in r.text, r.text
        assert "<p>Rhowch gynnig arall arni yn nes ymlaen.</p>\n<p>Cyfeirnod: " in r.text, r.text
        r = c.get("/c/boom")
        assert "<p>Try again later.</p>\n<p>Reference: " in r.text, r.text
        r = c.request("POST", "/c/layout", {"Cookie": "borough_lang=cy"})
        assert r.status == 405 and "<h1>Ni chaniateir y dull hwn</h1>" in r.text, r.text
        c.close()


@test
def the_default_csp_allows_everything_the_page_loads_and_nothing_inline():
    """The Content-Security-Policy against a real page: every stylesheet,
    script, module import, image and CSS url() the layout loads is the
    site's own (so 'self' allows it, and it loads), and nothing is inline
    (no script body, style element or attribute, or event handler)."""
    s = Server({"c": {"app.lua": APP, "views": VIEWS}})
    os.makedirs(os.path.join(s.data_dir, "site"))
    with open(os.path.join(s.data_dir, "site", "logo.svg"), "w") as f:
        f.write('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')
    with open(os.path.join(s.data_dir, "site.conf"), "w") as f:
        f.write("name = Barsetshire Council\nlogo = logo.svg\n")
    with s:
        c = Client(s.port)
        r = c.get("/c/layout")
        csp = dict((d.split(" ", 1) + [""])[:2] for d in r.header("content-security-policy").split("; "))
        assert csp["default-src"] == "'none'", csp
        for kind in ("script-src", "style-src", "img-src", "font-src", "connect-src", "manifest-src"):
            assert csp[kind] == "'self'", (kind, csp)
        assert "unsafe-inline" not in r.header("content-security-policy")
        html = r.text
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=|javascript:", html, re.I), html
        for m in re.finditer(r"<script\b([^>]*)>(.*?)</script>", html, re.S):
            assert 'src="' in m.group(1) and m.group(2) == "", m.group(0)
        # Every resource, followed from the page through CSS url()s and module imports.
        pending = [("style-src", u) for u in re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)]
        pending += [("script-src", u) for u in re.findall(r'<script[^>]* src="([^"]+)"', html)]
        pending += [("img-src", u) for u in re.findall(r'<img[^>]* src="([^"]+)"', html)]
        seen = set()
        while pending:
            kind, url = pending.pop()
            assert url.startswith("/") and not url.startswith("//"), (kind, url)   # the site's own: 'self'
            if url in seen:
                continue
            seen.add(url)
            r = c.get(url)
            assert r.status == 200, (url, r)
            base = url.rsplit("/", 1)[0]
            if url.endswith(".css"):
                for ref in re.findall(r"url\(([^)]+)\)", r.text):
                    ref = ref.strip("'\"")
                    assert not ref.startswith("data:"), ref
                    pending.append(("img-src", ref if ref.startswith("/") else base + "/" + ref))
            if url.endswith(".mjs") or url.endswith(".js"):
                for ref in re.findall(r"\bfrom\s*['\"]([^'\"]+)['\"]", r.text):
                    pending.append(("script-src", ref if ref.startswith("/") else base + "/" + ref[2:]))
        kinds = {u.rsplit(".", 1)[-1] for u in seen}
        assert {"css", "mjs", "js", "svg"} <= kinds, seen
        c.close()


run()
