#!/usr/bin/env python3
"""End-to-end tests of /assets/: GOV.UK Frontend served under a versioned
path with long-lived cache headers, without the GDS Transport font, the
same path safety as app static files, and the deployment's look
(<data>/site.conf, /assets/site.css, /assets/site/...).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, Server, Client, ROOT, HELLO_APP  # noqa: E402

VERSION = open(os.path.join(ROOT, "vendor", "public", "VERSION")).read().strip()
PREFIX = "/assets/%s" % VERSION
IMMUTABLE = "public, max-age=31536000, immutable"


def with_site(conf, files=None):
    s = Server({"hello": HELLO_APP})
    os.makedirs(os.path.join(s.data_dir, "site"))
    if conf is not None:
        with open(os.path.join(s.data_dir, "site.conf"), "w") as f:
            f.write(conf)
    for name, data in (files or {}).items():
        with open(os.path.join(s.data_dir, "site", name), "wb") as f:
            f.write(data)
    return s


@test
def the_version_names_govuk_frontend_and_a_hash():
    pinned = open(os.path.join(ROOT, "vendor", "package.json")).read()
    govuk = VERSION.split("-")[0]
    assert '"govuk-frontend": "%s"' % govuk in pinned, (VERSION, pinned)
    assert len(VERSION.split("-")[1]) == 10, VERSION


@test
def frontend_files_are_served_immutable_with_their_types():
    with Server({"hello": HELLO_APP}) as s:
        c = Client(s.port)
        for path, ctype in (("govuk-frontend.min.css", "text/css; charset=utf-8"),
                            ("govuk-frontend.min.js", "text/javascript; charset=utf-8"),
                            ("borough-init.mjs", "text/javascript; charset=utf-8"),
                            ("borough-live.mjs", "text/javascript; charset=utf-8"),
                            ("borough.css", "text/css; charset=utf-8"),
                            ("images/govuk-crest.svg", "image/svg+xml; charset=utf-8"),
                            ("manifest.json", "application/json; charset=utf-8")):
            r = c.get("%s/%s" % (PREFIX, path))
            assert r.status == 200, (path, r)
            assert r.header("cache-control") == IMMUTABLE, (path, r)
            assert r.header("content-type") == ctype, (path, r)
            assert r.header("x-content-type-options") == "nosniff", r
            # Revalidation by ETag works too.
            r2 = c.get("%s/%s" % (PREFIX, path), {"If-None-Match": r.header("etag")})
            assert r2.status == 304 and r2.body == b"", r2
        r = c.request("HEAD", PREFIX + "/govuk-frontend.min.css")
        assert r.status == 200 and r.body == b"", r
        c.close()


@test
def the_stylesheet_uses_a_system_font_and_no_font_file_is_served():
    with Server({"hello": HELLO_APP}) as s:
        c = Client(s.port)
        css = c.get(PREFIX + "/govuk-frontend.min.css").text
        assert "GDS Transport" not in css
        assert "@font-face" not in css
        assert ".woff" not in css
        assert 'font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif' in css
        # Image URLs are relative to the versioned folder.
        assert "url(images/govuk-crest.svg)" in css and "/assets/images" not in css
        for font in ("fonts/bold-b542beb274-v2.woff2", "fonts/light-94a07e06a1-v2.woff2",
                     "fonts/bold-affa96571d-v2.woff", "fonts/light-f591b13f7d-v2.woff"):
            assert c.get("%s/%s" % (PREFIX, font)).status == 404, font
        assert not os.path.exists(os.path.join(ROOT, "vendor", "public", VERSION, "fonts"))
        c.close()


@test
def the_init_script_is_external_and_sets_the_supported_class():
    with Server({"hello": HELLO_APP}) as s:
        js = Client(s.port).get(PREFIX + "/borough-init.mjs").text
        assert "import { initAll } from './govuk-frontend.min.js'" in js, js
        assert "classList.add('js-enabled', 'govuk-frontend-supported')" in js, js


@test
def other_versions_traversal_and_methods_are_refused():
    with Server({"hello": HELLO_APP}) as s:
        c = Client(s.port)
        for path in ("/assets/6.0.0-0000000000/govuk-frontend.min.css", "/assets/govuk-frontend.min.css",
                     PREFIX + "/../VERSION", PREFIX + "/%2e%2e/VERSION", PREFIX + "/images/..%2fmanifest.json",
                     PREFIX + "/.hidden", PREFIX + "/", PREFIX + "/images", "/assets/site/../site.conf"):
            r = c.get(path)
            assert r.status == 404, (path, r)
            assert r.header("cache-control") == "no-store", (path, r)
        r = c.request("POST", PREFIX + "/govuk-frontend.min.css")
        assert r.status == 405 and r.header("allow") == "GET, HEAD, OPTIONS", r
        c.close()


@test
def site_css_and_files_come_from_the_data_folder():
    conf = ("# Barsetshire's look\nname = Barsetshire Council\nurl = https://www.barsetshire.gov.uk\n"
            "logo = logo.svg\ncolour = #005ea5\nlink_colour = #1a65a6\n")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"></svg>'
    with with_site(conf, {"logo.svg": svg, ".secret": b"x"}) as s:
        c = Client(s.port)
        r = c.get("/assets/site.css")
        assert r.status == 200 and r.header("cache-control") == "no-cache", r
        assert r.header("content-type") == "text/css; charset=utf-8", r
        assert r.text == ("/* The deployment's colours, from site.conf. */\n"
                          ":root{--govuk-brand-colour:#005ea5;--govuk-link-colour:#1a65a6;}\n"
                          ".govuk-generic-header{background:#005ea5}\n"), r.text
        assert c.get("/assets/site.css", {"If-None-Match": r.header("etag")}).status == 304
        r = c.get("/assets/site/logo.svg")
        assert r.status == 200 and r.body == svg and r.header("cache-control") == "no-cache", r
        assert c.get("/assets/site/.secret").status == 404
        c.close()


@test
def a_broken_site_conf_is_logged_and_the_defaults_are_used():
    with with_site("name = Barsetshire\ncolour = red\n") as s:
        r = Client(s.port).get("/assets/site.css")
        assert r.text == "/* The deployment's colours, from site.conf. */\n", r.text
        s.wait_log(r"site\.conf:2: 'red' is not a valid colour; using the defaults")


run()
