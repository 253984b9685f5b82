"""The site's front door at "/" (lua/borough/_site/front_door.lua) against
the real server: what an anonymous visitor, a member of staff and the
site's admin each see (apps whose start page is public, whatever the rest
of the app is; those the person holds a role in;
each with its manifest's description; a sign-in link; the console's
link); an app that holds the root keeps "/" and its own sign-in while the
console stays at /_admin; the manifest's description checked at load; the
platform's own paths and name refused to apps; the pages in Chromium with
axe, in English and Welsh."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import ROOT, Client, Server, borough, get, run, staff_cookie, test  # noqa: E402

PUBLIC = r'''
local app = borough.app { title = "Report a pothole", mount = "/potholes", public = true,
                          description = "Tell us about a pothole or a damaged pavement" }
app:get("/", function(req) return "potholes" end)
return app
'''

PRIVATE = r'''
local app = borough.app { title = "Cases", mount = "/cases", roles = { "officer" },
                          description = "The casework of the housing team" }
app:get("/", function(req) return "cases" end)
return app
'''

QUIET = r'''
local app = borough.app { title = "Allotments", mount = "/allotments", public = true }
app:get("/", function(req) return "allotments" end)
return app
'''

# Staff pages, but a start page anyone may use (as the grants app has).
OPEN_START = r'''
local app = borough.app { title = "Parking permits", mount = "/permits", roles = { "officer" },
                          description = "Apply for a parking permit for your street" }
app:get("/", { public = true }, function(req) return "permits" end)
app:get("/queue", { role = "officer" }, function(req) return "queue" end)
return app
'''

# Public pages, but a start page for staff.
STAFF_START = r'''
local app = borough.app { title = "Inspections", mount = "/inspections", public = true, roles = { "officer" } }
app:get("/", { role = "officer" }, function(req) return "inspections" end)
app:get("/about", function(req) return "about" end)
return app
'''

TREE = {"potholes": {"app.lua": PUBLIC}, "cases": {"app.lua": PRIVATE}, "allotments": {"app.lua": QUIET},
        "permits": {"app.lua": OPEN_START}, "inspections": {"app.lua": STAFF_START}}


def listed(r):
    """The front door's apps: (link, title, description) in order."""
    assert r.status == 200, r
    out = []
    for item in re.findall(r'<li class="govuk-!-margin-bottom-6">(.*?)</li>', r.text, re.S):
        m = re.search(r'<a class="govuk-link" href="([^"]*)">([^<]*)</a>', item)
        d = re.search(r'<p class="govuk-body govuk-!-margin-bottom-1">([^<]*)</p>', item)
        out.append((m.group(1), m.group(2), d.group(1) if d else None))
    return out


def staff_links(r):
    m = re.search(r'<h2 class="govuk-heading-m">For staff</h2>(.*?)</div>', r.text, re.S)
    return re.findall(r'<a class="govuk-link" href="([^"]*)">([^<]*)</a>', m.group(1))


@test
def an_anonymous_visitor_sees_the_public_apps_and_a_sign_in_link():
    with Server(TREE) as s:
        r = get(s.port, "/")
        assert listed(r) == [("/allotments/", "Allotments", None),
                             ("/permits/", "Parking permits", "Apply for a parking permit for your street"),
                             ("/potholes/", "Report a pothole", "Tell us about a pothole or a damaged pavement")], r.text
        assert staff_links(r) == [("/_account/sign-in", "Sign in to staff services")]
        assert "<title>Services - Services</title>" in r.text
        assert '<h1 class="govuk-heading-xl">Our online services</h1>' in r.text
        # The sign-in link leads to the site's own page, and back to "/".
        page = get(s.port, "/_account/sign-in")
        assert page.status == 200 and '<form method="post" action="/_account/sign-in"' in page.text, page
        # In Welsh.
        r = get(s.port, "/?lang=cy")
        assert '<h1 class="govuk-heading-xl">Ein gwasanaethau ar-lein</h1>' in r.text
        assert "Mewngofnodi i wasanaethau staff" in r.text and '<html lang="cy"' in r.text
        # Only GET and HEAD.
        r = Client(s.port).request("POST", "/")
        assert r.status == 405 and r.header("allow") == "GET, HEAD, OPTIONS", r


@test
def staff_also_see_the_apps_they_hold_a_role_in():
    with Server(TREE) as s:
        h = staff_cookie(s, "cases", roles=("officer",), email="bea@example.gov.uk", name="Bea Officer")
        r = get(s.port, "/", h)
        assert listed(r) == [("/allotments/", "Allotments", None),
                             ("/cases/", "Cases", "The casework of the housing team"),
                             ("/permits/", "Parking permits", "Apply for a parking permit for your street"),
                             ("/potholes/", "Report a pothole", "Tell us about a pothole or a damaged pavement")]
        assert staff_links(r) == []
        assert "Signed in as Bea Officer" in r.text
        assert r.header("cache-control") == "no-store", r      # the server's, for anyone signed in
        # Staff without a role there do not.
        h = staff_cookie(s, "potholes", email="sam@example.gov.uk")
        assert [x[1] for x in listed(get(s.port, "/", h))] == ["Allotments", "Parking permits", "Report a pothole"]


@test
def the_sites_admin_gets_a_link_to_the_console():
    with Server(TREE) as s:
        h = staff_cookie(s, "_site", roles=("admin",), email="ada@example.gov.uk", name="Ada Admin")
        r = get(s.port, "/", h)
        assert staff_links(r) == [("/_admin", "Go to the admin console")], r.text
        assert [x[1] for x in listed(r)] == ["Allotments", "Parking permits", "Report a pothole"]
        # admin of an app is not the site's admin.
        h = staff_cookie(s, "cases", roles=("officer",), email="colin@example.gov.uk")
        assert borough("user", "role", "colin@example.gov.uk", "cases", "admin", "--data", s.data_dir)[0] == 0
        assert staff_links(get(s.port, "/", h)) == []


@test
def an_app_at_the_root_keeps_it_and_the_console_stays():
    root = r'''
local app = borough.app { title = "Council", mount = "/", public = true }
app:get("/", function(req) return "the council's own home page" end)
app:get("/private", { public = false }, function(req) return "signed in as " .. req.user.email end)
return app
'''
    with Server({"www": {"app.lua": root}, "potholes": {"app.lua": PUBLIC}}) as s:
        assert get(s.port, "/").text == "the council's own home page"
        # Its own sign-in pages, not the site's.
        page = get(s.port, "/_account/sign-in")
        assert page.status == 200 and "<title>Sign in - Council</title>" in page.text, page.text[:400]
        r = get(s.port, "/_admin")
        assert r.status == 303 and r.header("location") == "/_account/sign-in?next=/_admin", r
        h = staff_cookie(s, "_site", roles=("admin",), email="ada@example.gov.uk")
        assert get(s.port, "/_admin", h).status == 200
        assert get(s.port, "/_admin/apps", h).status == 200
        assert get(s.port, "/private", h).text == "signed in as ada@example.gov.uk"


@test
def unknown_paths_stay_nobodys():
    with Server(TREE) as s:
        r = get(s.port, "/nowhere")
        assert r.status == 404 and "<title>Page not found</title>" in r.text, r
        s.wait_log(r" - GET /nowhere 404 ")
        for path in ("/_outbox", "/_jobs", "/_site/", "/_account/nothing"):
            assert get(s.port, path).status == 404, path


@test
def the_manifests_description_is_a_line_of_text():
    bad = 'local app = borough.app { title = "X", description = 42 }\napp:get("/", function() return "x" end)\nreturn app\n'
    with Server({"x": {"app.lua": bad}, "potholes": {"app.lua": PUBLIC}}) as s:
        s.wait_log(r"error \[x\] /\S*/apps/x/app\.lua:1: borough\.app: description must be a string, not a number")
        assert get(s.port, "/x/").status == 503


@test
def apps_may_not_take_the_platforms_paths_or_name():
    console = 'local app = borough.app { title = "Y", mount = "/_admin/y", public = true }\napp:get("/", function() return "y" end)\nreturn app\n'
    account = 'local app = borough.app { title = "Z", mount = "/_account", public = true }\napp:get("/", function() return "z" end)\nreturn app\n'
    site = 'local app = borough.app { title = "S", mount = "/s", public = true }\napp:get("/", function() return "s" end)\nreturn app\n'
    with Server({"y": {"app.lua": console}, "z": {"app.lua": account}, "_site": {"app.lua": site},
                 "potholes": {"app.lua": PUBLIC}}) as s:
        s.wait_log(r"error \[y\] /\S*/apps/y/app\.lua: mount /_admin/y is already used by the admin console")
        s.wait_log(r"error \[z\] /\S*/apps/z/app\.lua: mount /_account is already used by the site's sign-in pages")
        s.wait_log(r"error /\S*/apps/_site: the name _site is the platform's own app \(the front door and /_admin\); "
                   r"rename the folder")
        assert get(s.port, "/s/").status == 404
        assert get(s.port, "/potholes/").text == "potholes"
        status, out, err = borough("check", s.apps_dir)
        assert status == 1 and "mount /_admin/y is already used by the admin console" in err, err


@test
def in_chromium_the_front_door_passes_axe_in_english_and_welsh():
    from browserlib import ensure_tools, run_scenario, violations
    ensure_tools()
    with Server(TREE) as s:
        pw = os.path.join(s.tmp, "pw")
        with open(pw, "w") as f:
            f.write("a long password for the tests\n")
        for email, app, role in (("bea@example.gov.uk", "cases", "officer"), ("ada@example.gov.uk", "_site", "admin")):
            assert borough("user", "add", email, "--name", email.split("@")[0].title(), "--password-file", pw,
                           "--data", s.data_dir)[0] == 0
            assert borough("user", "role", email, app, role, "--data", s.data_dir)[0] == 0
        steps = []
        for lang in ("en", "cy"):
            steps += [["goto", "/?lang=" + lang], ["audit", "anonymous-" + lang],
                      ["click", "a[href='/_account/sign-in']"], ["audit", "sign-in-" + lang]]
        steps += [["fill", "#email", "bea@example.gov.uk"], ["fill", "#password", "a long password for the tests"],
                  ["click", "form button.govuk-button"]]
        for lang in ("en", "cy"):
            steps += [["goto", "/?lang=" + lang], ["audit", "staff-" + lang]]
        steps += [["goto", "/_account/sign-out"], ["click", "form button.govuk-button"],
                  ["goto", "/_account/sign-in"], ["fill", "#email", "ada@example.gov.uk"],
                  ["fill", "#password", "a long password for the tests"], ["click", "form button.govuk-button"],
                  ["remember", "#secret"], ["totp", "#code", 0], ["click", "form button.govuk-button"]]
        for lang in ("en", "cy"):
            steps += [["goto", "/?lang=" + lang], ["audit", "admin-" + lang]]
        pages = {p["name"]: p for p in run_scenario(s.port, steps, os.path.join(ROOT, "build", "a11y", "front"))}
        assert violations(list(pages.values())) == []
        for p in pages.values():
            p["text"] = " ".join(p["text"].split())
        assert "Report a pothole" in pages["anonymous-en"]["text"] and "Cases" not in pages["anonymous-en"]["text"]
        assert pages["anonymous-cy"]["title"] == "Gwasanaethau - Gwasanaethau", pages["anonymous-cy"]["title"]
        assert pages["sign-in-en"]["url"].endswith("/_account/sign-in")
        assert "Cases The casework of the housing team" in pages["staff-en"]["text"], pages["staff-en"]["text"]
        assert "Go to the admin console" not in pages["staff-en"]["text"]
        assert "Go to the admin console" in pages["admin-en"]["text"], pages["admin-en"]["text"]
        assert "Mynd i’r consol gweinyddu" in pages["admin-cy"]["text"]


run()
