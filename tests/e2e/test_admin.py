"""The admin console at /_admin (lua/borough/_site, core/ladmin.c) against
the real server: who may reach it (anonymous sent to sign in, staff without
the site's admin role refused with 403); every page; every action a POST
that needs its CSRF token and writes a platform audit row naming the admin;
reload and roll back from the Apps page, showing a load error's file:line;
people (add, search, roles and where single sign-on's came from, disable,
end sessions, reset two-factor, a new password); every app's outbox and
jobs (queued, failed, stuck; retry, cancel; personal details never shown);
the audit log filtered, paged and verified (a tampered row found); health;
API tokens (made and shown once, working on the app's feed, listed without
their secret, revoked after a confirmation);
the CLI twin of every console action (and back); every page in Chromium,
checked with axe in English and Welsh, by an admin who signs in with a
password and sets two-factor codes up first."""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import ROOT, Client, Server, borough, execute, get, post_json, query, run, staff_cookie, test, wait_for  # noqa: E402
import pglib  # noqa: E402
from ssolib import Browser  # noqa: E402

ADMIN = "ada@example.gov.uk"
TEMPLATE = "f33517ff-2a88-4f6e-b855-c550268ce08a"

GRANTS = r'''
local app = borough.app { title = "Grants", mount = "/grants", public = true,
                          description = "Apply for a small business grant" }

app:job("boom", { attempts = 1 }, function(args) error("the payment system said no") end)
app:job("later", function(args) end)

app:post("/enqueue/:name", { csrf = false }, function(req)
  local opts = req.query.later and { delay = 3600 } or nil
  return borough.json({ id = jobs.enqueue(req.params.name, {}, opts) })
end)

app:post("/email", { csrf = false }, function(req)
  local id, ref = notify.email { email_address = "claimant@example.com", template_id = "%s",
                                 personalisation = { secret_word = "marmalade" } }
  return borough.json({ id = id, reference = ref })
end)

app:get("/", function(req) return "grants v1" end)
return app
''' % TEMPLATE

CASES = r'''
local app = borough.app { title = "Cases", mount = "/cases", roles = { "officer", "admin" } }
app:get("/", function(req) return "cases" end)
return app
'''

TREE = {"grants": {"app.lua": GRANTS}, "cases": {"app.lua": CASES}}


def main_text(r):
    """What <main> says, tags dropped, spaces squeezed."""
    m = re.search(r"<main.*?</main>", r.text, re.S)
    text = re.sub(r"<[^>]+>", " ", m.group(0) if m else r.text)
    return re.sub(r"\s+", " ", text.replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">")
                  .replace("&quot;", '"').replace("&amp;", "&")).strip()


def platform_db(s):
    return os.path.join(s.data_dir, "borough.db")


def audit_rows(s, action=None):
    rows = query(platform_db(s), "SELECT who, action, app, detail FROM platform_audit ORDER BY id")
    return [r for r in rows if action is None or r["action"] == action]


def admin_browser(s, email=ADMIN):
    """A browser signed in as the site's admin (the role admin in _site)."""
    h = staff_cookie(s, "_site", roles=("admin",), email=email, name="Ada Admin")
    b = Browser(s.port)
    b.cookies["borough_session"] = h["Cookie"].split("=", 1)[1]
    return b


def post(b, page, action, fields=None):
    """Posts a form of page (its CSRF token) to action."""
    return b.form_post(page, action, fields or {})


# ---------------------------------------------------------------------------
# Who may reach it
# ---------------------------------------------------------------------------

PAGES = ["/_admin", "/_admin/apps", "/_admin/people", "/_admin/people/new", "/_admin/people/" + ADMIN,
         "/_admin/queues", "/_admin/queues/jobs/grants", "/_admin/queues/outbox/grants", "/_admin/audit",
         "/_admin/health", "/_admin/tokens", "/_admin/tokens/new"]


@test
def anonymous_visitors_are_sent_to_sign_in_and_other_staff_refused():
    with Server(TREE) as s:
        admin_browser(s)              # the account the pages name
        for path in PAGES:
            r = get(s.port, path)
            assert r.status == 303, (path, r)
            assert r.header("location") == "/_account/sign-in?next=" + path.replace("@", "%40"), (path, r)
        # An unsafe request from nobody is not run either, body or not.
        c = Client(s.port)
        r = c.post_form("/_admin/people/%s/disable" % ADMIN, {})
        assert r.status == 303, r
        # admin of another app is not the site's admin.
        h = staff_cookie(s, "cases", roles=("admin", "officer"), email="colin@example.gov.uk")
        for path in PAGES:
            r = get(s.port, path, h)
            assert r.status == 403, (path, r)
            assert "You do not have permission" in r.text or "403" in r.text or r.status == 403
        assert get(s.port, "/cases/", h).status == 200
        # The sign-in page the console sends to is the site's own.
        r = get(s.port, "/_account/sign-in?next=/_admin")
        assert r.status == 200 and 'action="/_account/sign-in?next=/_admin"' in r.text, r
        assert query(platform_db(s), "SELECT disabled FROM users WHERE email = ?", ADMIN)[0]["disabled"] == 0


@test
def every_page_answers_the_admin_and_is_never_cached():
    with Server(TREE) as s:
        b = admin_browser(s)
        for path in PAGES:
            r = b.get(path)
            assert r.status == 200, (path, r)
            assert r.header("cache-control") == "no-store", (path, r)
            assert r.header("content-type") == "text/html; charset=utf-8", (path, r)
            assert '<nav class="govuk-!-margin-top-3" aria-label="Admin console">' in r.text, path
        assert b.get("/_admin/people/nobody@example.gov.uk").status == 404
        assert b.get("/_admin/queues/nothing/grants").status == 404
        # The platform's per-app pages are not the site's: nothing answers there.
        for path in ("/_outbox", "/_jobs", "/_admin/_outbox", "/_site/"):
            assert b.get(path).status == 404, path


@test
def every_action_needs_its_csrf_token():
    with Server(TREE) as s:
        b = admin_browser(s)
        staff_cookie(s, "cases", roles=("officer",), email="bea@example.gov.uk")
        before = len(audit_rows(s))
        for path, fields in [
            ("/_admin/apps/grants/reload", {}),
            ("/_admin/apps/grants/rollback", {}),
            ("/_admin/people/new", {"name": "Eve", "email": "eve@example.gov.uk", "password": "a long password here"}),
            ("/_admin/people/bea@example.gov.uk/disable", {}),
            ("/_admin/people/bea@example.gov.uk/enable", {}),
            ("/_admin/people/bea@example.gov.uk/sessions-end", {}),
            ("/_admin/people/bea@example.gov.uk/two-factor-reset", {}),
            ("/_admin/people/bea@example.gov.uk/password", {"password": "another long password"}),
            ("/_admin/people/bea@example.gov.uk/roles", {"app": "cases", "role": "admin"}),
            ("/_admin/people/bea@example.gov.uk/roles/remove", {"app": "cases", "role": "officer"}),
            ("/_admin/queues/jobs/grants/1/retry", {}),
            ("/_admin/queues/outbox/grants/1/cancel", {}),
            ("/_admin/audit/verify", {}),
            ("/_admin/tokens/new", {"app": "cases", "name": "Power BI", "entities": "cases", "days": "90"}),
            ("/_admin/tokens/1/revoke", {}),
        ]:
            r = b.request("POST", path, fields)
            assert r.status == 403, (path, r)
            assert "The form may have expired" in r.text, path
            r = b.request("POST", path, dict(fields, csrf_token="forged"))
            assert r.status == 403, (path, r)
        assert len(audit_rows(s)) == before, audit_rows(s)[before:]
        bea = query(platform_db(s), "SELECT disabled, id FROM users WHERE email = 'bea@example.gov.uk'")[0]
        assert bea["disabled"] == 0
        assert query(platform_db(s), "SELECT role FROM user_roles WHERE user_id = ?", bea["id"]) == [{"role": "officer"}]
        assert not query(platform_db(s), "SELECT 1 FROM users WHERE email = 'eve@example.gov.uk'")
        assert not query(platform_db(s), "SELECT 1 FROM api_tokens")


@test
def no_other_app_gets_the_consoles_functions():
    nosy = r'''
local app = borough.app { title = "Nosy", mount = "/nosy", public = true }
app:get("/", function(req)
  local ok, why = pcall(require, "borough._site.common")
  return tostring(borough._admin) .. " | " .. tostring(ok) .. " | " .. tostring(why):match("[^\n]*")
end)
return app
'''
    with Server({"nosy": {"app.lua": nosy}}) as s:
        r = get(s.port, "/nosy/")
        assert r.status == 200 and r.text.startswith("nil | false | "), r.text
        assert re.search(r"_site/common\.lua:\d+: attempt to call a nil value \(field '_admin'\)$", r.text), r.text


@test
def the_welsh_messages_have_every_english_key():
    keys = {}
    for lang in ("en", "cy"):
        text = open(os.path.join(ROOT, "lua", "borough", "_site", "messages", lang + ".lua")).read()
        keys[lang] = re.findall(r'\["([a-z0-9_.]+)"\] =', text)
        assert len(keys[lang]) == len(set(keys[lang])), lang
    assert sorted(keys["en"]) == sorted(keys["cy"]), set(keys["en"]) ^ set(keys["cy"])
    # Every key the pages use is in them.
    used = set()
    for folder, _, files in os.walk(os.path.join(ROOT, "lua", "borough", "_site")):
        for f in files:
            if f.endswith((".lua", ".html")) and "messages" not in folder:
                used |= set(re.findall(r'["\'](admin\.[a-z0-9_.]+[a-z0-9_]|site\.[a-z0-9_]+)["\']', open(os.path.join(folder, f)).read()))
    missing = [k for k in used if k not in keys["en"] and k + "_one" not in keys["en"]
               and not any(x.startswith(k + ".") for x in keys["en"])]
    assert not missing, missing


# ---------------------------------------------------------------------------
# Apps
# ---------------------------------------------------------------------------

def card(r, name):
    """The text of an app's card on the Apps page."""
    text = main_text(r)
    m = re.search(r"\(%s\) (.*?)(?= [A-Z][\w ]* \([a-z_]+\) State |$)" % re.escape(name), text)
    assert m, (name, text)
    return m.group(1)


@test
def reload_and_rollback_from_the_page_show_the_outcome():
    with Server(TREE) as s:
        b = admin_browser(s)
        r = b.get("/_admin/apps")
        v1 = re.search(r"\(grants\) State Serving Address /grants Version ([0-9a-f]{12}) , generation 1", main_text(r))
        assert v1, main_text(r)
        assert "Last reload None since the server started" in card(r, "grants")
        assert "Roll back grants" not in r.text
        # A new version: reloaded, the outcome shown, the new version serving.
        path = os.path.join(s.apps_dir, "grants", "app.lua")
        with open(path, "w") as f:
            f.write(GRANTS.replace("grants v1", "grants v2"))
        r = post(b, "/_admin/apps", "/_admin/apps/grants/reload")
        assert r.status == 200, r
        text = main_text(r)
        assert text.startswith("Success grants was reloaded grants: reloaded (generation 2) Apps"), text
        v2 = re.search(r"\(grants\) State Serving Address /grants Version ([0-9a-f]{12}) , generation 2", text)
        assert v2 and v2.group(1) != v1.group(1), text
        assert re.search(r"Last reload \d+ \w+ \d{4} at \d+:\d\d[ap]m: reloaded, generation 2 serves", card(r, "grants"))
        assert get(s.port, "/grants/").text == "grants v2"
        # A broken version: refused, its file:line shown, the running one serving.
        broken = GRANTS.replace('app:get("/", function(req) return "grants v1" end)',
                                'app:get("/", function(req) return "grants v3" end)\nlocal x = = 1')
        with open(path, "w") as f:
            f.write(broken)
        line = broken.splitlines().index("local x = = 1") + 1
        r = post(b, "/_admin/apps", "/_admin/apps/grants/reload")
        assert r.status == 200, r
        text = main_text(r)
        where = "%s:%d:" % (path, line)
        assert text.startswith("Important grants was not reloaded %s unexpected symbol near '='" % where), text
        assert "grants: not reloaded; generation 2 keeps serving" in text, text
        assert re.search(r"Last reload .* the new version was refused %s" % re.escape(where), card(r, "grants")), text
        assert get(s.port, "/grants/").text == "grants v2"
        # What `borough check` prints is what the page shows.
        status, out, err = borough("check", os.path.join(s.apps_dir, "grants"))
        assert status == 1 and err.startswith(where + " unexpected symbol near '='"), err
        # And `borough status`, the Apps page's twin, says the same.
        status, out, err = borough("status", "--data", s.data_dir)
        assert status == 0, err
        assert re.search(r"^app grants: generation 2, version %s, at /grants\n  last reload: "
                         r"\d{4}-\d\d-\d\d \d\d:\d\d UTC, refused: %s unexpected symbol near '='; "
                         r"generation 2 still serves$" % (v2.group(1), re.escape(where)), out, re.M), out
        assert "app cases: generation 1" in out and "last reload" not in out.split("app cases:")[1].split("\napp ")[0], out
        # Roll back: the version before serves again.
        r = post(b, "/_admin/apps", "/_admin/apps/grants/rollback")
        text = main_text(r)
        assert text.startswith("Success grants was rolled back grants: rolled back to generation 1"), text
        assert "Version %s , generation 1" % v1.group(1) in text, text
        assert get(s.port, "/grants/").text == "grants v1"
        status, out, err = borough("status", "--data", s.data_dir)
        assert re.search(r"^  last rollback: .* UTC, rolled back, generation 1 serves$", out, re.M), out
        # An app with nothing to roll back to: refused, and said.
        r = post(b, "/_admin/apps", "/_admin/apps/cases/rollback")
        assert main_text(r).startswith("Important cases was not rolled back cases: there is no earlier version to "
                                       "roll back to"), main_text(r)
        r = post(b, "/_admin/apps", "/_admin/apps/nope/reload")
        assert "borough: there is no app nope" in main_text(r), main_text(r)
        rows = [(a["who"], a["action"], a["app"], a["detail"]) for a in audit_rows(s) if a["action"].startswith("app-")]
        assert rows == [
            (ADMIN, "app-reload", "grants", "grants: reloaded (generation 2)"),
            (ADMIN, "app-reload", "grants", "%s unexpected symbol near '='; grants: not reloaded; generation 2 keeps "
                                            "serving" % where),
            (ADMIN, "app-rollback", "grants", "grants: rolled back to generation 1"),
            (ADMIN, "app-rollback", "cases", "cases: there is no earlier version to roll back to"),
            (ADMIN, "app-reload", "nope", "borough: there is no app nope (no %s/nope/app.lua)" % s.apps_dir),
        ], rows


@test
def a_reload_waits_without_holding_its_worker():
    """With one worker, the page's request waits for the server's answer
    while the same worker serves others, and builds and takes the new
    catalog: the server answers a reload only once every worker has it, so
    a worker held by the request could never see its answer."""
    slow = GRANTS.replace('app:get("/", function(req) return "grants v1" end)',
                          'app:get("/", function(req) return "grants v1" end)\n'
                          'app:get("/slow", function(req) borough.sleep(0.5) return "slow done" end)')
    with Server({"grants": {"app.lua": slow}}, workers=1) as s:
        b = admin_browser(s)
        page = b.get("/_admin/apps")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        out = {}

        def slow_get():
            out["slow"] = get(s.port, "/grants/slow").text

        t = threading.Thread(target=slow_get)
        t.start()
        r = b.request("POST", "/_admin/apps/grants/reload", {"csrf_token": token})
        t.join()
        assert out["slow"] == "slow done"
        assert main_text(r).startswith("Success grants was reloaded grants: reloaded (generation 2)"), main_text(r)
        assert get(s.port, "/grants/").status == 200


# ---------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------

PASSWORD = "a long password for the tests"


@test
def people_are_added_found_and_given_roles():
    with Server(TREE) as s:
        b = admin_browser(s)
        # Mistakes first: each field named, nothing made.
        r = post(b, "/_admin/people/new", "/_admin/people/new", {"name": "", "email": "nope", "password": ""})
        assert r.status == 400, r
        assert re.findall(r'<a href="#(\w+)">', r.text) == ["name", "email", "password"], r.text
        assert "<title>Error: Add a person - Admin console</title>" in r.text
        r = post(b, "/_admin/people/new", "/_admin/people/new",
                 {"name": "Bea Officer", "email": "bea@example.gov.uk", "password": "password"})
        assert r.status == 400 and re.findall(r'<a href="#(\w+)">', r.text) == ["password"], r.text
        # Made, with a hash of the password: it signs in.
        r = post(b, "/_admin/people/new", "/_admin/people/new",
                 {"name": "Bea Officer", "email": "bea@example.gov.uk", "password": PASSWORD})
        assert r.status == 200, r
        assert main_text(r).startswith("Success The account of bea@example.gov.uk has been made"), main_text(r)
        row = query(platform_db(s), "SELECT name, password_hash FROM users WHERE email = 'bea@example.gov.uk'")[0]
        assert row["name"] == "Bea Officer" and row["password_hash"].startswith("$argon2id$"), row
        bea = Browser(s.port)
        assert bea.sign_in_password("bea@example.gov.uk", PASSWORD, "/cases").status == 303
        r = post(b, "/_admin/people/new", "/_admin/people/new",
                 {"name": "Bea Again", "email": "BEA@example.gov.uk", "password": PASSWORD})
        assert r.status == 400 and "There is already an account with this email address" in r.text
        # Found by part of a name or address, any case.
        for q, n in (("", 2), ("officer", 1), ("EXAMPLE.GOV", 2), ("zzz", 0)):
            r = b.get("/_admin/people?q=" + q)
            assert len(re.findall(r'<a class="govuk-link" href="/_admin/people/[^"]+">', r.text)) == n, (q, r.text)
        assert "1 account matches." in main_text(b.get("/_admin/people?q=officer"))
        # Roles: given, already had, taken away; the site's admin among them.
        page = "/_admin/people/bea@example.gov.uk"
        r = post(b, page, page + "/roles", {"app": "cases", "role": "officer"})
        assert "Success They have the role officer in cases" in main_text(r), main_text(r)
        r = post(b, page, page + "/roles", {"app": "cases", "role": "officer"})
        assert "They already had the role officer in cases" in main_text(r)
        r = post(b, page, page + "/roles", {"app": "", "role": "Bad Role"})
        assert r.status == 400 and re.findall(r'<a href="#(\w+)">', r.text) == ["app", "role"], r.text
        r = post(b, page, page + "/roles", {"app": "_site", "role": "admin"})
        assert "They have the role admin in _site" in main_text(r)
        text = main_text(b.get(page))
        assert "Roles App Role Given by Actions This site (admin console) admin An admin Remove admin in _site " \
               "cases officer An admin Remove officer in cases" in text, text
        assert "_site:admin, cases:officer" in main_text(b.get("/_admin/people?q=bea"))
        r = post(b, page, page + "/roles/remove", {"app": "_site", "role": "admin"})
        assert "They no longer have the role admin in _site" in main_text(r)
        rows = [(a["who"], a["action"], a["app"], a["detail"]) for a in audit_rows(s)
                if a["action"] in ("user-add", "role-add", "role-remove") and a["who"] == ADMIN]
        assert rows == [
            (ADMIN, "user-add", None, "bea@example.gov.uk"),
            (ADMIN, "role-add", "cases", "bea@example.gov.uk officer"),
            (ADMIN, "role-add", "_site", "bea@example.gov.uk admin"),
            (ADMIN, "role-remove", "_site", "bea@example.gov.uk admin"),
        ], rows
        # The command line sees what the console did, and the console what it does.
        status, out, err = borough("user", "show", "bea@example.gov.uk", "--data", s.data_dir)
        assert status == 0 and "role: cases officer (given by hand)" in out, (out, err)


@test
def an_admin_cannot_lock_themselves_out_here():
    with Server(TREE) as s:
        b = admin_browser(s)
        page = "/_admin/people/" + ADMIN
        r = b.get(page)
        assert "Disable the account" not in r.text and "Remove admin in _site" not in r.text, r.text
        r = post(b, page, page + "/disable")
        assert r.status == 400 and "You cannot disable your own account here" in r.text, r
        r = post(b, page, page + "/roles/remove", {"app": "_site", "role": "admin"})
        assert r.status == 400 and "You cannot take away your own admin role here" in r.text, r
        assert b.get("/_admin").status == 200


@test
def disable_end_sessions_reset_two_factor_and_a_new_password():
    with Server(TREE) as s:
        b = admin_browser(s)
        staff = staff_cookie(s, "cases", roles=("officer",), email="bea@example.gov.uk")
        assert get(s.port, "/cases/", staff).status == 200
        page = "/_admin/people/bea@example.gov.uk"
        r = post(b, page, page + "/sessions-end")
        assert "Success They are signed out everywhere: 1 session ended" in main_text(r), main_text(r)
        assert get(s.port, "/cases/", staff).status == 303
        staff = staff_cookie(s, "cases", email="bea@example.gov.uk")
        r = post(b, page, page + "/disable")
        assert "The account is disabled and its sessions have ended" in main_text(r)
        assert get(s.port, "/cases/", staff).status == 303
        bea = Browser(s.port)
        assert bea.sign_in_password("bea@example.gov.uk", "a long staff password for tests", "/cases").status == 400
        r = post(b, page, page + "/enable")
        assert "The account is enabled" in main_text(r)
        # Two-factor codes set up, then forgotten.
        execute(platform_db(s), "UPDATE users SET totp_secret = 'sealed', totp_step = 5 WHERE email = 'bea@example.gov.uk'")
        assert "Two-factor codes Set up" in main_text(b.get(page))
        r = post(b, page, page + "/two-factor-reset")
        assert "Their two-factor codes are forgotten and their sessions have ended" in main_text(r)
        assert query(platform_db(s), "SELECT totp_secret FROM users WHERE email = 'bea@example.gov.uk'") == \
            [{"totp_secret": None}]
        assert "Reset two-factor codes" not in b.get(page).text
        # A new password: policy first, then set; sessions end.
        r = post(b, page, page + "/password", {"password": "password1"})
        assert r.status == 400 and '<a href="#password">' in r.text, r
        r = post(b, page, page + "/password", {"password": "a brand new password for bea"})
        assert "The new password is set and their sessions have ended" in main_text(r)
        assert bea.sign_in_password("bea@example.gov.uk", "a brand new password for bea", "/cases").status == 303
        actions = [(a["who"], a["action"], a["detail"]) for a in audit_rows(s) if a["who"] == ADMIN]
        assert actions == [
            (ADMIN, "sessions-end", "bea@example.gov.uk (1 session)"),
            (ADMIN, "user-disable", "bea@example.gov.uk"),
            (ADMIN, "user-enable", "bea@example.gov.uk"),
            (ADMIN, "two-factor-reset", "bea@example.gov.uk"),
            (ADMIN, "password-set", "bea@example.gov.uk"),
        ], actions


@test
def roles_single_sign_on_gave_say_which_group_gave_them():
    from ssolib import Site
    with Site() as site:
        b = Browser(site.port)
        assert site.sign_in(b, "alice").status == 303
        s = site.server
        admin = admin_browser(s)
        text = main_text(admin.get("/_admin/people/alice@example.org"))
        assert "Signs in with single sign-on" in text, text
        assert "planning officer Single sign-on, from the group planning-officers Remove officer in planning" in text, text
        # One given by hand beside it says so.
        r = post(admin, "/_admin/people/alice@example.org", "/_admin/people/alice@example.org/roles",
                 {"app": "planning", "role": "manager"})
        assert "planning manager An admin" in main_text(r), main_text(r)


# ---------------------------------------------------------------------------
# Outbox and jobs
# ---------------------------------------------------------------------------

@test
def jobs_failed_queued_and_stuck_are_retried_and_cancelled():
    with Server(TREE) as s:
        b = admin_browser(s)
        boom = post_json(s.port, "/grants/enqueue/boom", {}).body
        later = post_json(s.port, "/grants/enqueue/later?later=1", {})
        assert later.status == 200 and boom
        app_db = os.path.join(s.data_dir, "grants", "app.db")
        wait_for(lambda: query(app_db, "SELECT state FROM _borough_jobs WHERE id = 1") == [{"state": "failed"}],
                 what="the job to fail")
        text = main_text(b.get("/_admin/queues"))
        assert "Grants 0 waiting , 0 failed , 0 stuck See all (Grants) 1 waiting , 1 failed , 0 stuck" in text, text
        r = b.get("/_admin/queues/jobs/grants?state=failed")
        text = main_text(r)
        assert "Jobs of Grants All Waiting (1) Running (0) Done (0) Failed (1) Stuck (0)" in text, text
        assert re.search(r"1 Job boom \{\} Made .* Failed Attempt 1 of 1 .*app\.lua:\d+: the payment system said no"
                         r" Retry number 1", text), text
        assert "Cancel number 1" not in text
        # Retry a failed one: queued again at once, attempts counted afresh; it fails again.
        r = post(b, "/_admin/queues/jobs/grants", "/_admin/queues/jobs/grants/1/retry")
        assert main_text(r).startswith("Success Job 1 will run again"), main_text(r)
        wait_for(lambda: query(app_db, "SELECT state, attempts FROM _borough_jobs WHERE id = 1") ==
                 [{"state": "failed", "attempts": 1}], what="the retried job to run")
        # Cancel a queued one.
        r = post(b, "/_admin/queues/jobs/grants", "/_admin/queues/jobs/grants/2/cancel")
        assert main_text(r).startswith("Success Job 2 is cancelled"), main_text(r)
        row = query(app_db, "SELECT state, error FROM _borough_jobs WHERE id = 2")[0]
        assert row == {"state": "failed", "error": "cancelled by " + ADMIN}, row
        # Not in a state that allows it: said, nothing changed.
        r = post(b, "/_admin/queues/jobs/grants", "/_admin/queues/jobs/grants/1/cancel")
        assert r.status == 409 and "job 1 is failed: only a queued one or a stuck one can be cancelled" in r.text, r
        assert post(b, "/_admin/queues/jobs/grants", "/_admin/queues/jobs/grants/99/retry").status == 404
        # Stuck: running for an hour, its process gone.
        hour_ago = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 3600))
        execute(app_db, "UPDATE _borough_jobs SET state = 'running', claimed_by = 'dead.1', started_at = ? WHERE id = 1",
                hour_ago)
        text = main_text(b.get("/_admin/queues/jobs/grants?state=stuck"))
        assert re.search(r"1 Job boom .* Stuck Attempt 1 of 1 .* Retry number 1 Cancel number 1", text), text
        r = post(b, "/_admin/queues/jobs/grants?state=stuck", "/_admin/queues/jobs/grants/1/cancel")
        assert main_text(r).startswith("Success Job 1 is cancelled"), main_text(r)
        rows = [(a["who"], a["action"], a["app"], a["detail"]) for a in audit_rows(s) if a["action"].startswith("job-")]
        assert rows == [
            (ADMIN, "job-retry", "grants", "#1 boom job (was failed)"),
            (ADMIN, "job-cancel", "grants", "#2 later job (was queued)"),
            (ADMIN, "job-cancel", "grants", "#1 boom job (was stuck running)"),
        ], rows
        # The command line shows the same.
        status, out, err = borough("jobs", "list", "grants", "--data", s.data_dir)
        assert status == 0 and out.startswith("grants: 0 queued, 0 running, 0 done, 2 failed, 0 stuck\n"), out


@test
def messages_are_retried_and_cancelled_without_showing_personal_details():
    with Server(TREE) as s:          # no notify.conf: messages stay queued
        b = admin_browser(s)
        ref = [json_of(post_json(s.port, "/grants/email", {}))["reference"] for _ in range(2)]
        r = b.get("/_admin/queues/outbox/grants")
        text = main_text(r)
        assert "Outbox of Grants All Waiting (2) Sending (0) Sent (0) Failed (0) Stuck (0)" in text, text
        assert "email from template %s, reference %s" % (TEMPLATE, ref[1]) in text, text
        for secret in ("claimant@example.com", "marmalade"):
            assert secret not in r.text, secret
        r = post(b, "/_admin/queues/outbox/grants", "/_admin/queues/outbox/grants/1/cancel")
        assert main_text(r).startswith("Success Message 1 is cancelled"), main_text(r)
        text = main_text(b.get("/_admin/queues/outbox/grants?state=failed"))
        assert re.search(r"1 email from template \S+, reference %s .* Failed 0 attempts cancelled by %s "
                         r"Retry number 1" % (ref[0], re.escape(ADMIN)), text), text
        r = post(b, "/_admin/queues/outbox/grants", "/_admin/queues/outbox/grants/1/retry")
        assert main_text(r).startswith("Success Message 1 will be sent again"), main_text(r)
        app_db = os.path.join(s.data_dir, "grants", "app.db")
        assert query(app_db, "SELECT state, error FROM _borough_outbox WHERE id = 1") == [{"state": "queued", "error": None}]
        # A message whose personal details were purged cannot be sent again.
        execute(app_db, "UPDATE _borough_outbox SET state = 'failed', recipient = '', body = '' WHERE id = 2")
        r = post(b, "/_admin/queues/outbox/grants", "/_admin/queues/outbox/grants/2/retry")
        assert r.status == 409 and "message 2 cannot be sent again" in main_text(r), main_text(r)
        # Notify's delivery status, as its callback recorded it.
        execute(app_db, "UPDATE _borough_outbox SET state = 'sent', status = 'delivered', "
                "status_at = '2026-11-26T09:30:00Z' WHERE id = 1")
        assert "Sent 0 attempts Delivery: delivered 2026-11-26T09:30:00Z" in main_text(b.get("/_admin/queues/outbox/grants"))
        rows = [(a["action"], a["detail"]) for a in audit_rows(s) if a["action"].startswith("outbox-")]
        assert rows == [("outbox-cancel", "#1 email %s (was queued)" % TEMPLATE),
                        ("outbox-retry", "#1 email %s (was failed)" % TEMPLATE)], rows


def json_of(r):
    assert r.status == 200, r
    return json.loads(r.body)


# ---------------------------------------------------------------------------
# The audit log
# ---------------------------------------------------------------------------

@test
def the_audit_log_is_filtered_paged_and_its_chain_verified():
    with Server(TREE) as s:
        b = admin_browser(s)
        for i in range(60):
            staff_cookie(s, "cases", roles=("officer",), email="staff%02d@example.gov.uk" % i)
        total = len(audit_rows(s))       # user-add and role-add for each, and the admin's two
        assert total == 122, total
        r = b.get("/_admin/audit")
        assert "%d entries match." % total in main_text(r)
        assert r.text.count('<tr class="govuk-table__row">') == 51     # a head and 50 rows
        assert 'href="/_admin/audit?page=2"' in r.text and 'href="/_admin/audit?page=3"' in r.text
        assert b.get("/_admin/audit?page=3").text.count('<tr class="govuk-table__row">') == 23
        # Who (any part of who did it), app, action.
        assert "%d entries match." % total in main_text(b.get("/_admin/audit?who=CLI%3A"))
        assert "0 entries match." in main_text(b.get("/_admin/audit?who=" + ADMIN))
        text = main_text(b.get("/_admin/audit?action=role-add&app=cases&page=2"))
        assert "60 entries match." in text and "role-add cases staff09@example.gov.uk officer" in text, text
        text = main_text(b.get("/_admin/audit?action=role-add&app=_site"))
        assert "1 entry matches." in text and "role-add _site %s admin" % ADMIN in text, text
        # Dates: from and to, days or times; a date it does not take is said.
        today = time.strftime("%Y-%m-%d", time.gmtime())
        assert "%d entries match." % total in main_text(b.get("/_admin/audit?since=" + today + "&until=" + today))
        assert "0 entries match." in main_text(b.get("/_admin/audit?until=2020-01-01"))
        assert "0 entries match." in main_text(b.get("/_admin/audit?since=2999-01-01T00:00"))
        r = b.get("/_admin/audit?since=yesterday")
        assert r.status == 400 and '<a href="#since">Enter a date like 2026-11-26</a>' in r.text, r.text
        # The same filter from the command line gives the same rows.
        status, out, err = borough("audit", "--who", "cli:", "--action", "role-add", "--app", "cases", "--limit", "2",
                                   "--data", s.data_dir)
        assert status == 0 and ["  ".join(l.split("  ")[-2:]) for l in out.splitlines()] == [
            "role-add  cases: staff58@example.gov.uk officer", "role-add  cases: staff59@example.gov.uk officer"], out
        # Verify: intact; and after a row is changed by hand, the row named.
        r = post(b, "/_admin/audit", "/_admin/audit/verify")
        text = main_text(r)
        assert re.match(r"Success The audit log is intact: 122 entries, the last hash [0-9a-f]{64} ", text), text
        # By hand, past the trigger that keeps the log append-only (each engine names its own).
        execute(platform_db(s), "DROP TRIGGER platform_audit_no_change ON platform_audit" if pglib.shared()
                else "DROP TRIGGER platform_audit_no_update")
        execute(platform_db(s), "UPDATE platform_audit SET detail = 'nothing to see' WHERE id = 7")
        r = post(b, "/_admin/audit", "/_admin/audit/verify")
        text = main_text(r)
        assert "The audit log has been tampered with from entry 7: row 7 does not match its hash (edited, or " \
               "inserted by hand)" in text, text
        status, out, err = borough("audit", "verify", "--data", s.data_dir)
        assert status == 1 and "row 7 does not match its hash" in err, err
        rows = [(a["who"], a["detail"]) for a in audit_rows(s, "audit-verify")]
        assert rows == [(ADMIN, "intact: 122 rows"),
                        (ADMIN, "tampered with: row 7 does not match its hash (edited, or inserted by hand)")], rows


# ---------------------------------------------------------------------------
# Health
# ---------------------------------------------------------------------------

@test
def health_says_what_metrics_say():
    with Server(TREE) as s:
        for _ in range(3):
            assert get(s.port, "/grants/").status == 200
        assert get(s.port, "/grants/nothing").status == 404
        b = admin_browser(s)
        text = main_text(b.get("/_admin/health"))
        assert re.search(r"Server Running for less than a minute, since .* 1 worker threads?", text), text
        assert "TLS certificate The server speaks plain HTTP" in text, text
        assert re.search(r"Grants \(grants\) State Serving generation 1 \(version [0-9a-f]{12}\) Requests 4 answered: "
                         r"1 refused as the visitor's mistake \(4xx\), 0 failed on the server's side \(5xx\) Half were "
                         r"answered within [\d.]+ m?s", text), text
        assert re.search(r"Accounts and audit database [\d.]+ kB", text), text
        status, out, err = borough("status", "--data", s.data_dir)
        assert status == 0, err
        assert re.search(r"^app grants: generation 1, version [0-9a-f]{12}, at /grants\n  requests: 4 requests, "
                         r"1 client error \(4xx\), 0 server errors \(5xx\); half within", out, re.M), out


@test
def health_names_the_certificates_expiry():
    with tempfile.TemporaryDirectory() as tmp:
        key, cert = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj",
                        "/CN=localhost", "-keyout", key, "-out", cert], check=True, capture_output=True)
        end = subprocess.run(["openssl", "x509", "-enddate", "-noout", "-in", cert], capture_output=True,
                             text=True).stdout.strip().split("=", 1)[1]
        expires = time.strptime(end, "%b %d %H:%M:%S %Y %Z")
        with Server(TREE, args=["--tls-cert", cert, "--tls-key", key]) as s:
            status, out, err = borough("status", "--data", s.data_dir)
            assert status == 0, err
            assert re.search(r"^TLS certificate: valid until %s \((29|30) days" % time.strftime("%Y-%m-%d", expires),
                             out, re.M), out
            b = admin_browser(s)
            b.tls = True
            text = main_text(b.get("/_admin/health"))
            assert re.search(r"TLS certificate Valid until %d \w+ %d at \d+:\d\d[ap]m \((29|30) days" %
                             (expires.tm_mday, expires.tm_year), text), text


# ---------------------------------------------------------------------------
# API tokens
# ---------------------------------------------------------------------------

FEED = r"""
local app = borough.app { title = "SitRep", mount = "/sitrep", roles = { "reporting" } }
local Measures = borough.entity "measures" {
  { "name", "text", required = true },
  rules = { read = function(user) return user and user.roles.reporting and true or false end },
}
borough.feed { Measures }:mount(app, "/_feed")
app:post("/seed", { public = true, csrf = false }, function(req)
  Measures:create { name = "beds open" }
  return "ok"
end)
return app
"""


def token_list(s):
    status, out, err = borough("token", "list", "--data", s.data_dir)
    assert status == 0, err
    return out


@test
def tokens_are_made_shown_once_listed_and_revoked_from_the_console():
    tree = dict(TREE, sitrep={"app.lua": FEED})
    with Server(tree) as s:
        b = admin_browser(s)
        assert Client(s.port).request("POST", "/sitrep/seed").status == 200
        r = b.get("/_admin/tokens")
        assert r.status == 200 and "There are 0 tokens." in main_text(r), main_text(r)
        # The form offers the apps the server knows, not the console itself.
        r = b.get("/_admin/tokens/new")
        assert '<option value="sitrep">SitRep (sitrep)</option>' in r.text, r.text
        assert '<option value="_site"' not in r.text
        assert 'value="90"' in r.text
        # Errors as GOV.UK's summary, each linked to its field; nothing made.
        r = post(b, "/_admin/tokens/new", "/_admin/tokens/new",
                 {"app": "_site", "name": "", "entities": "Measures", "roles": "Bad Role", "days": "400"})
        assert r.status == 400, r
        text = main_text(r)
        for field, msg in [("app", "Choose an app"), ("name", "Enter what the token is for"),
                           ("entities", "Enter the entities it may read"), ("roles", "Enter roles as lower-case"),
                           ("days", "Enter a number of days from 1 to 366")]:
            assert ('href="#%s">%s' % (field, msg)) in r.text, (field, r.text)
        assert text.startswith("There is a problem"), text
        assert "<title>Error: Create a token" in r.text
        assert not query(platform_db(s), "SELECT 1 FROM api_tokens")
        # Made: shown this once, in a panel, with what it is for.
        r = post(b, "/_admin/tokens/new", "/_admin/tokens/new",
                 {"app": "sitrep", "name": "Power BI", "entities": "measures", "roles": "reporting", "days": "30"})
        assert r.status == 200, r
        assert r.header("cache-control") == "no-store", r
        m = re.search(r'<code id="token"[^>]*>(borough_[A-Za-z0-9_-]{43})</code>', r.text)
        assert m, r.text
        tok = m.group(1)
        text = main_text(r)
        assert "govuk-panel" in r.text and text.startswith("Token created Token number 1"), text
        assert "This is the only time the token is shown" in text, text
        assert re.search(r"Its account power-bi-[0-9a-f]{4}@sitrep\.token\.invalid", text), text
        # It opens the app's feed, as its account with the role given.
        feed = Client(s.port).get("/sitrep/_feed/measures.json", {"Authorization": "Bearer " + tok})
        assert feed.status == 200 and json.loads(feed.body)["value"][0]["name"] == "beds open", feed
        # Listed here and by the command line, never with its secret: only its first characters.
        r = b.get("/_admin/tokens")
        text = main_text(r)
        assert tok not in r.text and tok[:12] + "…" in text, text
        assert re.search(r"1\. Power BI %s… Active App: sitrep Entities: measures Roles: reporting "
                         r"power-bi-[0-9a-f]{4}@sitrep\.token\.invalid Made .* by %s Expires .* "
                         r"Last used: .* Uses: 1 Revoke" % (re.escape(tok[:12]), re.escape(ADMIN)), text), text
        assert "1    sitrep       Power BI             %s...  entities: measures; roles: reporting" % tok[:12] \
            in token_list(s), token_list(s)
        # Revoke: a page asks first; the POST stops it at once.
        r = b.get("/_admin/tokens/1/revoke")
        assert r.status == 200 and main_text(r).startswith("Revoke token 1, Power BI?"), main_text(r)
        assert "stops working at once" in main_text(r)
        assert Client(s.port).get("/sitrep/_feed/measures.json", {"Authorization": "Bearer " + tok}).status == 200
        r = post(b, "/_admin/tokens/1/revoke", "/_admin/tokens/1/revoke")
        assert r.status == 200 and main_text(r).startswith("Success Token 1 is revoked"), main_text(r)
        assert re.search(r"1\. Power BI .* Revoked App: sitrep .* Revoked \d", main_text(r)), main_text(r)
        assert "/_admin/tokens/1/revoke" not in r.text
        feed = Client(s.port).get("/sitrep/_feed/measures.json", {"Authorization": "Bearer " + tok})
        assert feed.status == 401, feed
        assert "; revoked; used 2 times" in token_list(s), token_list(s)
        # Twice, or one that is not there.
        r = post(b, "/_admin/tokens/new", "/_admin/tokens/1/revoke")
        assert r.status == 200 and main_text(r).startswith("Success Token 1 was revoked already"), main_text(r)
        assert post(b, "/_admin/tokens/new", "/_admin/tokens/9/revoke").status == 404
        assert b.get("/_admin/tokens/9/revoke").status == 404
        # The audit rows are the command line's, naming the admin.
        rows = [(a["who"], a["action"], a["app"], a["detail"]) for a in audit_rows(s)
                if a["action"] in ("token create", "token revoke")]
        assert len(rows) == 2, rows
        assert rows[0][:3] == (ADMIN, "token create", "sitrep"), rows
        assert re.fullmatch(r'API token #1 "Power BI" \(%s\.\.\.\) made for entities measures as '
                            r'power-bi-[0-9a-f]{4}@sitrep\.token\.invalid, roles reporting; expires \d{4}-\d\d-\d\d'
                            % re.escape(tok[:12]), rows[0][3]), rows[0][3]
        assert rows[1] == (ADMIN, "token revoke", "sitrep", 'API token #1 "Power BI" revoked'), rows
        # And one the command line made, the console revokes.
        status, out, err = borough("token", "create", "sitrep", "--entities", "measures", "--name", "Excel",
                                   "--data", s.data_dir)
        assert status == 0, err
        assert "2. Excel" in main_text(b.get("/_admin/tokens"))
        r = post(b, "/_admin/tokens/2/revoke", "/_admin/tokens/2/revoke")
        assert main_text(r).startswith("Success Token 2 is revoked"), main_text(r)
        assert Client(s.port).get("/sitrep/_feed/", {"Authorization": "Bearer " + out.strip()}).status == 401


@test
def only_the_sites_admin_reaches_the_tokens():
    with Server(TREE) as s:
        admin_browser(s)
        h = staff_cookie(s, "cases", roles=("admin", "officer"), email="colin@example.gov.uk")
        for path in ("/_admin/tokens", "/_admin/tokens/new", "/_admin/tokens/1/revoke"):
            assert get(s.port, path, h).status == 403, path
        # A POST with a good CSRF token of the person's own session is still refused.
        b = Browser(s.port)
        b.cookies["borough_session"] = h["Cookie"].split("=", 1)[1]
        for path, fields in [("/_admin/tokens/new", {"app": "cases", "name": "x", "entities": "a", "days": "9"}),
                             ("/_admin/tokens/1/revoke", {})]:
            r = post(b, "/_account/sign-out", path, fields)
            assert r.status == 403 and "The form may have expired" not in r.text, (path, r)
        assert not query(platform_db(s), "SELECT 1 FROM api_tokens")
        assert not [a for a in audit_rows(s) if a["action"].startswith("token ")]


# ---------------------------------------------------------------------------
# The console has no power the command line lacks, and the reverse
# ---------------------------------------------------------------------------

# Each of the console's actions (its POST routes) and its twin on the
# command line; each command line action in the console's scope and where
# the console has it.
TWINS = {
    "/_admin/apps/:name/reload": "borough reload [APP]",
    "/_admin/apps/:name/rollback": "borough reload APP --rollback",
    "/_admin/people/new": "borough user add EMAIL --name NAME",
    "/_admin/people/:email/disable": "borough user disable EMAIL",
    "/_admin/people/:email/enable": "borough user enable EMAIL",
    "/_admin/people/:email/sessions-end": "borough user sessions-end EMAIL",
    "/_admin/people/:email/two-factor-reset": "borough user 2fa-reset EMAIL",
    "/_admin/people/:email/password": "borough user password EMAIL",
    "/_admin/people/:email/roles": "borough user role EMAIL APP ROLE",
    "/_admin/people/:email/roles/remove": "borough user role EMAIL APP ROLE --remove",
    "/_admin/queues/:kind/:app/:id/retry": "borough outbox|jobs retry APP ID",
    "/_admin/queues/:kind/:app/:id/cancel": "borough outbox|jobs cancel APP ID",
    "/_admin/audit/verify": "borough audit verify",
    "/_admin/tokens/new": "borough token create APP --entities A,B --name NAME",
    "/_admin/tokens/:id/revoke": "borough token revoke ID",
}
READS = {
    "/_admin/apps": "borough status",
    "/_admin/people": "borough user list [SEARCH]",
    "/_admin/people/:email": "borough user show EMAIL",
    "/_admin/queues": "borough outbox|jobs list",
    "/_admin/queues/:kind/:app": "borough outbox|jobs list APP --state STATE",
    "/_admin/audit": "borough audit --who --app --action --since --until",
    "/_admin/health": "borough status",
    "/_admin/tokens": "borough token list [APP]",
}
# Commands outside the console's scope, and why.
ELSEWHERE = {"serve": "runs the server", "check": "an author's", "new": "an author's", "test": "an author's",
             "import": "data in bulk", "export": "data in bulk",
             "migrate-to-postgres": "moving the whole installation, once", "keys": "key custody on the server",
             "sso": "sign-in settings with secrets on the server", "version": "", "help": ""}


@test
def every_console_action_has_its_command_line_twin_and_back():
    source = open(os.path.join(ROOT, "lua", "borough", "_site", "app.lua")).read()
    posts = set(re.findall(r'app:post\("([^"]+)"', source))
    gets = set(re.findall(r'app:get\("(/_admin[^"]*)"', source))
    assert posts == set(TWINS), sorted(posts ^ set(TWINS))
    forms = {"/_admin", "/_admin/people/new", "/_admin/tokens/new", "/_admin/tokens/:id/revoke"}   # forms and a confirmation
    assert gets - forms == set(READS), sorted((gets - forms) ^ set(READS))
    status, usage, _ = borough("help")
    assert status == 0
    # Each twin names a command the command line has, with its words.
    for twin in list(TWINS.values()) + list(READS.values()):
        words = twin.split()
        assert words[0] == "borough"
        for cmd in words[1].split("|"):
            line = [l for l in usage.splitlines() if re.match(r"\s*borough %s\b" % cmd, l)]
            assert line, (twin, cmd)
            sub = words[2] if len(words) > 2 and words[2].islower() and not words[2].startswith("[") else None
            if sub:
                assert any(sub in l or sub.replace("|", "") in l for l in usage.splitlines()
                           if "borough %s" % cmd in l), (twin, sub)
    # The reverse: every command is either a twin of the console's or named above.
    commands = {m.group(1) for m in re.finditer(r"^\s+borough (\w[\w-]*)", usage, re.M)}
    in_console = {w.split()[1] for w in list(TWINS.values()) + list(READS.values())}
    in_console = {c for w in in_console for c in w.split("|")}
    assert commands == in_console | set(ELSEWHERE), sorted(commands ^ (in_console | set(ELSEWHERE)))
    # And each sub-command of those in scope has a console page or action.
    for sub in ("add", "password", "role", "list", "show", "disable", "enable", "2fa-reset", "sessions-end"):
        assert any(("user %s" % sub) in w for w in list(TWINS.values()) + list(READS.values())), sub
    for sub in ("create", "list", "revoke"):
        assert any(("token %s" % sub) in w for w in list(TWINS.values()) + list(READS.values())), sub


# The console's C functions (core/ladmin.c) may call, of the modules that
# act (accounts.h, queues.h, platformdb.h, status.h, control.h, apitoken.h,
# the server's reload notes, passwords), only what the command line calls too: in its
# commands (core/cmd_*.c, core/cli.c's asking the server), or in the server
# answering them over the control socket (core/server.c). These only read, for the pages' filters:
READ_ONLY = {"bo_platformdb_audit_names": "the apps and actions the Audit page's filters offer"}
ACTING = r"\b(bo_(?:accounts?|queue|platformdb|status|control|apitoken|server_reload_note|password)\w*)\("


@test
def every_console_function_calls_the_code_its_command_calls():
    core = os.path.join(ROOT, "core")
    ladmin = open(os.path.join(core, "ladmin.c")).read()
    table = re.search(r"private_fns\[\] = \{(.*?)\{ NULL", ladmin, re.S).group(1)
    fns = re.findall(r'\{ "(\w+)", (\w+) \}', table)
    assert len(fns) >= 24, fns
    assert {"tokens", "create_token", "revoke_token"} <= {n for n, _ in fns}, fns
    cli = "".join(open(f).read() for f in glob.glob(os.path.join(core, "cmd_*.c")) +
                  [os.path.join(core, "cli.c"), os.path.join(core, "server.c")])
    lauth = open(os.path.join(core, "lauth.c")).read()
    # Each static function of ladmin.c by name, its text.
    statics = {m.group(1): m.group(0) for m in
               re.finditer(r"^static [\w *]*?\b(\w+)\([^;{]*\)\n\{\n.*?^\}\n", ladmin, re.S | re.M)}
    for name, c in fns:
        assert c in statics, c
        # Its text and that of the static functions it reaches (a shared
        # helper, the continuation of the one that waits).
        seen, to_read, text = set(), [c], ""
        while to_read:
            f = to_read.pop()
            if f in seen:
                continue
            seen.add(f)
            text += statics[f]
            to_read += [g for g in re.findall(r"\b(\w+)\b", statics[f]) if g in statics and g not in seen]
        if "bo_lauth_hash(" in text:          # hashes on the thread pool, as `borough user` does on its own
            assert re.search(r"bo_password_hash\(", lauth) and re.search(r"bo_password_problem\(", lauth)
            text += " bo_password_hash( bo_password_problem("
        for call in set(re.findall(ACTING, text)) - set(READ_ONLY):
            assert re.search(r"\b%s\(" % call, cli), "%s (%s) calls %s, which no command calls" % (name, c, call)


@test
def the_command_line_twins_do_what_the_console_does():
    with Server(TREE) as s:
        admin_browser(s)
        staff_cookie(s, "cases", roles=("officer",), email="bea@example.gov.uk")
        status, out, err = borough("user", "sessions-end", "bea@example.gov.uk", "--data", s.data_dir)
        assert (status, out) == (0, "bea@example.gov.uk is signed out everywhere (1 session ended)\n"), err
        status, out, err = borough("user", "list", "BEA", "--data", s.data_dir)
        assert (status, out) == (0, "bea@example.gov.uk\tSam Staff\tactive\tcases:officer\n"), (out, err)
        status, out, err = borough("user", "show", "bea@example.gov.uk", "--data", s.data_dir)
        assert status == 0 and out.splitlines()[:3] == ["bea@example.gov.uk\tSam Staff", "state: active",
                                                         "signs in with: a password"], out
        post_json(s.port, "/grants/enqueue/later?later=1", {})
        status, out, err = borough("jobs", "cancel", "grants", "1", "--data", s.data_dir)
        assert (status, out) == (0, "grants job 1 is cancelled\n"), err
        status, out, err = borough("jobs", "cancel", "grants", "1", "--data", s.data_dir)
        assert status == 1 and err == "borough jobs: job 1 is failed: only a queued one or a stuck one can be " \
                                      "cancelled\n", err
        status, out, err = borough("jobs", "retry", "grants", "1", "--data", s.data_dir)
        assert (status, out) == (0, "grants job 1 will be tried again\n"), err
        status, out, err = borough("outbox", "list", "--state", "bogus", "--data", s.data_dir)
        assert status == 2, err
        status, out, err = borough("reload", "grants", "--data", s.data_dir)
        assert status == 0, err
        rows = [(a["action"], a["app"], a["detail"]) for a in audit_rows(s) if a["who"].startswith("cli:")
                and a["action"] not in ("user-add", "role-add")]
        assert rows == [("sessions-end", None, "bea@example.gov.uk (1 session)"),
                        ("job-cancel", "grants", "#1 later job (was queued)"),
                        ("job-retry", "grants", "#1 later job (was failed)"),
                        ("app-reload", "grants", "grants: reloaded (generation 2)")], rows


# ---------------------------------------------------------------------------
# In Chromium, with axe, in English and Welsh
# ---------------------------------------------------------------------------

@test
def in_chromium_every_page_passes_axe_in_english_and_welsh():
    from browserlib import ensure_tools, run_scenario, violations
    ensure_tools()
    with Server(TREE) as s:
        pw = os.path.join(s.tmp, "pw")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        assert borough("user", "add", ADMIN, "--name", "Ada Admin", "--password-file", pw, "--data", s.data_dir)[0] == 0
        assert borough("user", "role", ADMIN, "_site", "admin", "--data", s.data_dir)[0] == 0
        staff_cookie(s, "cases", roles=("officer",), email="bea@example.gov.uk")
        post_json(s.port, "/grants/enqueue/later?later=1", {})
        post_json(s.port, "/grants/email", {})
        # Sign in at the site's own page: an admin sets two-factor codes up first.
        steps = [
            ["goto", "/_admin"], ["fill", "#email", ADMIN], ["fill", "#password", PASSWORD],
            ["click", "form button.govuk-button"], ["remember", "#secret"], ["totp", "#code", 0],
            ["click", "form button.govuk-button"], ["goto", "/_admin"], ["look", "signed-in"],
        ]
        for lang in ("en", "cy"):
            steps += [
                ["goto", "/_admin?lang=" + lang], ["audit", "index-" + lang],
                ["goto", "/_admin/apps"], ["audit", "apps-" + lang],
                ["click", "form[action='/_admin/apps/grants/reload'] button"], ["audit", "apps-reloaded-" + lang],
                ["goto", "/_admin/people"], ["audit", "people-" + lang],
                ["goto", "/_admin/people/new"], ["click", "form button.govuk-button"], ["audit", "person-new-errors-" + lang],
                ["goto", "/_admin/people/bea@example.gov.uk"], ["audit", "person-" + lang],
                ["click", "form[action$='/sessions-end'] button"], ["audit", "person-done-" + lang],
                ["goto", "/_admin/queues"], ["audit", "queues-" + lang],
                ["goto", "/_admin/queues/jobs/grants"], ["audit", "jobs-" + lang],
                ["goto", "/_admin/queues/outbox/grants"], ["audit", "outbox-" + lang],
                ["goto", "/_admin/audit"], ["audit", "audit-" + lang],
                ["click", "form[action='/_admin/audit/verify'] button"], ["audit", "audit-verified-" + lang],
                ["goto", "/_admin/health"], ["audit", "health-" + lang],
                ["goto", "/_admin/tokens/new"], ["click", "form button.govuk-button"],
                ["audit", "token-new-errors-" + lang],
                ["select", "#app", "cases"], ["fill", "#name", "Power BI " + lang], ["fill", "#entities", "cases"],
                ["click", "form button.govuk-button"], ["audit", "token-made-" + lang],
                ["goto", "/_admin/tokens"], ["audit", "tokens-" + lang],
                ["click", "a[href$='/revoke']"], ["audit", "token-revoke-" + lang],
                ["click", "form button.govuk-button"], ["audit", "tokens-revoked-" + lang],
            ]
        pages = {p["name"]: p for p in run_scenario(s.port, steps, os.path.join(ROOT, "build", "a11y", "admin"))}
        for page in pages.values():
            page["text"] = " ".join(page["text"].split())
        assert violations(list(pages.values())) == []
        assert pages["signed-in"]["title"] == "Admin console - Admin console", pages["signed-in"]["title"]
        assert pages["apps-reloaded-en"]["text"].startswith("Success grants was reloaded"), pages["apps-reloaded-en"]
        assert pages["apps-reloaded-cy"]["text"].startswith("Llwyddiant Mae grants wedi’i ail-lwytho"), \
            pages["apps-reloaded-cy"]["text"][:200]
        assert pages["index-cy"]["title"] == "Consol gweinyddu - Consol gweinyddu", pages["index-cy"]["title"]
        assert pages["person-new-errors-en"]["title"].startswith("Error: Add a person")
        assert pages["person-new-errors-cy"]["title"].startswith("Gwall: Ychwanegu person")
        assert "Mae’r log archwilio yn gyfan" in pages["audit-verified-cy"]["text"]
        assert pages["token-new-errors-en"]["title"].startswith("Error: Create a token")
        assert pages["token-new-errors-cy"]["title"].startswith("Gwall: Creu tocyn")
        assert "This is the only time the token is shown" in pages["token-made-en"]["text"]
        assert "Dyma’r unig dro y dangosir y tocyn" in pages["token-made-cy"]["text"]
        assert pages["token-revoke-cy"]["title"].startswith("Dirymu tocyn 2, Power BI cy?"), pages["token-revoke-cy"]["title"]
        assert "Success Token 1 is revoked" in pages["tokens-revoked-en"]["text"]
        assert "Llwyddiant Mae tocyn 2 wedi’i ddirymu" in pages["tokens-revoked-cy"]["text"]
        for name, page in pages.items():
            assert "claimant@example.com" not in page["text"], name


run()
