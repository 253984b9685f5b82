"""Staff sign-in, sessions and secure-by-default routes, against the real
server: the sign-in pages, the session cookie and its flags, a new token at
every sign-in, idle and absolute timeouts, sign-out, password change and
disable ending sessions, throttling per account and per address without
revealing which accounts exist, roles on every kind of route, the redirect
to sign in and back (never to another site), req.user and borough.user(),
and t.login for `borough test`."""
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from urllib.parse import quote, urlencode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import BOROUGH, SLOW, Client, Folder, Server, borough, execute, query, run, test, totp  # noqa: E402
import pglib  # noqa: E402

PASSWORD = "correct horse battery"
JO = "jo.bloggs@example.gov.uk"

APP = r'''
local app = borough.app { title = "Cases", mount = "/cases", roles = { "assessor", "manager", "admin" } }

local function who(req)
  local u, same = req.user, borough.user() == req.user
  if not u then return "anonymous " .. tostring(borough.user()) end
  local roles = {}
  for role, yes in pairs(u.roles) do roles[#roles + 1] = role .. "=" .. tostring(yes) end
  table.sort(roles)
  return ("%s %s %s %s [%s] same=%s"):format(math.type(u.id), u.id, u.email, u.name, table.concat(roles, ","),
                                             tostring(same))
end

app:get("/", who)
app:get("/open", { public = true }, who)
app:get("/assess", { role = "assessor" }, who)
app:post("/assess", { role = "assessor" }, who)
app:put("/assess", { role = "assessor", csrf = false }, who)
app:delete("/assess", { role = "assessor", csrf = false }, who)
app:get("/either", { role = { "manager", "assessor" } }, who)
app:get("/files/*", { role = "manager" }, who)
app:get("/token", { public = true }, function(req) return borough.text(borough.csrf_token()) end)
return app
'''

OTHER = r'''
local app = borough.app { title = "Other", host = "other.example.test" }
app:get("/", function(req) return "other " .. (req.user and req.user.email or "anonymous") end)
return app
'''

TREE = {"cases": {"app.lua": APP, "static": {"a.txt": "static\n"}}, "other": {"app.lua": OTHER}}


def add_user(s, email=JO, password=PASSWORD, roles=(), app="cases", name="Jo Bloggs"):
    p = subprocess.run([BOROUGH, "user", "add", email, "--name", name, "--data", s.data_dir],
                       input=(password + "\n").encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    for role in roles:
        status, out, err = borough("user", "role", email, app, role, "--data", s.data_dir)
        assert status == 0, err


def audit(s, action=None):
    rows = query(os.path.join(s.data_dir, "borough.db"), "SELECT who, action, app, detail FROM platform_audit ORDER BY id")
    return [r for r in rows if action is None or r["action"] == action]


def cookie_attrs(value):
    parts = [p.strip() for p in value.split(";")]
    name, _, token = parts[0].partition("=")
    return name, token, {p.split("=")[0].lower(): (p.split("=", 1)[1] if "=" in p else True) for p in parts[1:]}


class Browser:
    """Cookies kept across requests, one connection per request; can speak TLS."""

    def __init__(self, port, host="127.0.0.1", tls=False):
        self.port, self.host, self.tls = port, host, tls
        self.cookies = {}

    def request(self, method, path, fields=None, headers=None):
        h = dict(headers or {})
        body = b""
        if fields is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
            body = urlencode(fields).encode()
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in sorted(self.cookies.items()))
        c = Client(self.port)
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
        r = c.request(method, path, h, body, host=self.host)
        c.close()
        for value in r.headers.get("set-cookie", []):
            name, token, attrs = cookie_attrs(value)
            if attrs.get("max-age") == "0" or token == "":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = token
        return r

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def form_post(self, page_path, post_path, fields, headers=None):
        """Gets page_path (for its CSRF token) and posts fields to post_path."""
        page = self.get(page_path)
        m = re.search(rb'name="csrf_token" value="([^"]+)"', page.body)
        assert m, page
        return self.request("POST", post_path, dict(fields, csrf_token=m.group(1).decode()), headers)

    def sign_in(self, email=JO, password=PASSWORD, mount="/cases", next=None):
        path = mount + "/_account/sign-in" + ("?next=" + quote(next, safe="") if next else "")
        return self.form_post(path, path, {"email": email, "password": password})


def enrol_two_factor(b, mount="/cases"):
    """Sets up two-factor codes for the sign-in b waits to finish (or b's
    account) with a code computed from the secret the page shows; returns
    the secret and the response (the recovery codes, a new session)."""
    path = mount + "/_account/two-factor/setup"
    page = b.get(path)
    assert page.status == 200, page
    secret = re.search(rb'id="secret" class="borough-secret">([A-Z2-7 ]+)<', page.body).group(1).decode()
    r = b.form_post(path, path, {"code": totp(secret)})
    assert r.status == 200 and b"Two-factor sign-in is set up" in r.body, r
    return secret, r


def error_summary(body):
    return re.findall(r'govuk-error-summary__list.*?</ul>', body.decode(), re.S) and \
        re.findall(r'<a href="#[^"]*">([^<]*)</a>', re.search(r'govuk-error-summary__list.*?</ul>', body.decode(), re.S).group(0))


@test
def anonymous_visitors_are_sent_to_sign_in_and_back():
    with Server(TREE) as s:
        add_user(s)
        b = Browser(s.port)
        r = b.get("/cases/?page=2&q=a%20b")
        assert r.status == 303, r
        assert r.header("location") == "/cases/_account/sign-in?next=/cases/%3Fpage%3D2%26q%3Da%2520b", r
        assert r.header("cache-control") == "no-store"
        page = b.get(r.header("location"))
        assert page.status == 200 and b'<h1 class="govuk-heading-l">Sign in</h1>' in page.body, page
        assert b'autocomplete="current-password"' in page.body and b'id="email"' in page.body
        r = b.sign_in(next="/cases/?page=2&q=a%20b")
        assert r.status == 303 and r.header("location") == "/cases/?page=2&q=a%20b", r
        r = b.get(r.header("location"))
        assert r.status == 200 and r.body == b"integer 1 jo.bloggs@example.gov.uk Jo Bloggs [] same=true", r
        # Public routes, static files, /assets and /healthz need nobody.
        anon = Browser(s.port)
        assert anon.get("/cases/open").body == b"anonymous nil"
        assert anon.get("/cases/static/a.txt").body == b"static\n"
        assert anon.get("/healthz").status == 200
        assert anon.get("/assets/site.css").status == 200
        # Every method of a route that is not public.
        for method in ("POST", "PUT", "DELETE"):
            r = anon.request(method, "/cases/assess")
            assert r.status == 303 and r.header("location").startswith("/cases/_account/sign-in?next="), r


@test
def next_never_leads_to_another_site():
    with Server(TREE) as s:
        add_user(s)
        for bad in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)",
                    "/\r\nSet-Cookie: x=1", "evil.example"):
            b = Browser(s.port)
            r = b.sign_in(next=bad)
            assert r.status == 303 and r.header("location") == "/cases/", (bad, r)
        assert Browser(s.port).get("/cases/_account/sign-in?next=//evil.example").body.count(b"evil") == 0


@test
def the_session_cookie_has_its_flags_and_a_new_token_at_every_sign_in():
    with Server(TREE) as s:
        add_user(s)
        b = Browser(s.port)
        r = b.sign_in()
        name, first, attrs = cookie_attrs([v for v in r.headers["set-cookie"] if v.startswith("borough_session=")][0])
        assert len(first) == 43 and re.match(r"^[A-Za-z0-9_-]+$", first), first
        assert attrs == {"path": "/", "httponly": True, "samesite": "Lax"}, attrs    # no Secure over plain HTTP
        # Only the token's hash is kept.
        rows = query(os.path.join(s.data_dir, "borough.db"), "SELECT token_hash FROM sessions")
        assert len(rows) == 1 and rows[0]["token_hash"] != first.encode() and len(rows[0]["token_hash"]) == 32
        # Signing in again, even with a session, gives a new token and ends the old one.
        r = b.sign_in()
        second = b.cookies["borough_session"]
        assert second != first
        assert b.get("/cases/").status == 200
        old = Browser(s.port)
        old.cookies["borough_session"] = first
        assert old.get("/cases/").status == 303
        # A token planted before sign-in (fixation) is never the one after it.
        planted = Browser(s.port)
        planted.cookies["borough_session"] = "A" * 43
        planted.sign_in()
        assert planted.cookies["borough_session"] not in ("A" * 43, first, second)
        # Garbage in the cookie is just nobody.
        for junk in ("", "x", "A" * 43, "%00" * 20, first + "x"):
            r = Client(s.port).get("/cases/open", {"Cookie": "borough_session=" + junk})
            assert r.status == 200 and r.body == b"anonymous nil", (junk, r)


@test
def wrong_passwords_and_unknown_accounts_get_the_same_answer():
    with Server(TREE) as s:
        add_user(s)
        answers = []
        for email, password in ((JO, "not the password"), ("nobody@example.gov.uk", PASSWORD),
                                (JO.upper(), "not the password either")):
            t0 = time.time()
            r = Browser(s.port).sign_in(email, password)
            answers.append((r.status, error_summary(r.body), time.time() - t0))
        assert {a[:2] for a in [(x[0], tuple(x[1])) for x in answers]} == \
            {(400, ("Enter a correct email address and password",))}, answers
        # An unknown address costs a hash too (argon2id takes tens of milliseconds).
        assert all(a[2] > 0.015 for a in answers), answers
        # Empty fields are asked for, each linked to its field.
        r = Browser(s.port).sign_in("", "")
        assert r.status == 400 and error_summary(r.body) == ["Enter your email address", "Enter your password"], r
        assert b'href="#email"' in r.body and b'href="#password"' in r.body
        # The email is kept, the password is not.
        r = Browser(s.port).sign_in(JO, "wrong password here")
        assert b'value="jo.bloggs@example.gov.uk"' in r.body and b"wrong password here" not in r.body
        # The email address is matched without regard to case.
        assert Browser(s.port).sign_in(JO.upper()).status == 303
        fails = audit(s, "sign-in-failed")
        assert [f["detail"].split(",")[0] for f in fails] == ["wrong password", "no such account", "wrong password",
                                                              "wrong password"], fails
        assert fails[1]["who"] == "nobody@example.gov.uk" and fails[0]["app"] == "cases"
        assert len(audit(s, "sign-in")) == 1


@test
def failed_sign_ins_are_throttled_per_account():
    with Server(TREE) as s:
        add_user(s)
        for i in range(5):
            assert Browser(s.port).sign_in(JO, "wrong %d password" % i).status == 400
        # The sixth attempt is refused even with the right password, and says when to try again.
        r = Browser(s.port).sign_in(JO, PASSWORD)
        assert r.status == 429 and error_summary(r.body) == ["Too many attempts. Try again in 15 minutes"], r
        assert "borough_session" not in Browser(s.port).sign_in(JO, PASSWORD).text + str(r.headers.get("set-cookie"))
        # An address nobody has gets exactly the same treatment.
        for i in range(5):
            assert Browser(s.port).sign_in("nobody@example.gov.uk", "wrong %d password" % i).status == 400
        r = Browser(s.port).sign_in("nobody@example.gov.uk", PASSWORD)
        assert r.status == 429 and error_summary(r.body) == ["Too many attempts. Try again in 15 minutes"], r
        # Other accounts from this address still sign in (the address limit is higher).
        add_user(s, "ann@example.gov.uk")
        assert Browser(s.port).sign_in("ann@example.gov.uk").status == 303
        assert len(audit(s, "sign-in-throttled")) >= 2
        # In Welsh too.
        r = Browser(s.port).sign_in(JO, PASSWORD, mount="/cases") if False else \
            Browser(s.port).form_post("/cases/_account/sign-in?lang=cy", "/cases/_account/sign-in",
                                      {"email": JO, "password": PASSWORD}, {"Accept-Language": "cy"})
        assert r.status == 429 and "Gormod o ymdrechion" in error_summary(r.body)[0], r


@test
def failed_sign_ins_are_throttled_per_address():
    with Server(TREE) as s:
        add_user(s)
        for i in range(20):
            assert Browser(s.port).sign_in("guess%d@example.gov.uk" % i, "a wrong password").status == 400
        r = Browser(s.port).sign_in(JO, PASSWORD)
        assert r.status == 429 and error_summary(r.body)[0].startswith("Too many attempts. Try again in "), r


@test
def roles_decide_every_kind_of_route():
    with Server(TREE) as s:
        add_user(s, roles=["assessor"])
        add_user(s, "mo@example.gov.uk", roles=["manager", "admin"], name="Mo")
        jo, mo = Browser(s.port), Browser(s.port)
        jo.sign_in()
        # Mo holds admin: no session from the password alone, codes first.
        r = mo.sign_in("mo@example.gov.uk")
        assert r.status == 303 and r.header("location") == "/cases/_account/two-factor/setup", r
        enrol_two_factor(mo)
        token = jo.get("/cases/token").text
        r = jo.get("/cases/assess")
        assert r.status == 200 and r.body.endswith(b"[assessor=true] same=true"), r
        assert jo.request("POST", "/cases/assess", {"csrf_token": token}).status == 200
        assert jo.request("PUT", "/cases/assess").status == 200
        assert jo.request("DELETE", "/cases/assess").status == 200
        assert jo.get("/cases/either").status == 200 and mo.get("/cases/either").status == 200
        # Wrong role: the 403 page, in the service's look, for every method.
        r = mo.get("/cases/assess")
        assert r.status == 403 and b"You do not have access to this page" in r.body, r
        assert b"govuk-template" in r.body and b"Cases" in r.body and r.header("cache-control") == "no-store"
        mtoken = mo.get("/cases/token").text
        assert mo.request("POST", "/cases/assess", {"csrf_token": mtoken}).status == 403
        assert mo.request("PUT", "/cases/assess").status == 403
        assert mo.request("DELETE", "/cases/assess").status == 403
        assert jo.get("/cases/files/a/b").status == 403 and mo.get("/cases/files/a/b").status == 200
        # In Welsh when asked.
        r = mo.get("/cases/assess", {"Accept-Language": "cy"})
        assert r.status == 403 and "Nid oes gennych fynediad i’r dudalen hon".encode() in r.body, r
        # The platform's own pages need the role admin in the app.
        assert jo.get("/cases/_jobs").status == 403 and jo.get("/cases/_outbox").status == 403
        assert mo.get("/cases/_jobs").status == 200 and mo.get("/cases/_outbox").status == 200
        assert Browser(s.port).get("/cases/_jobs").status == 303
        # Roles are per app: a role elsewhere does not count.
        status, out, err = borough("user", "role", JO, "other", "manager", "--data", s.data_dir)
        assert jo.get("/cases/files/x").status == 403
        # And take effect on the next request.
        borough("user", "role", JO, "cases", "manager", "--data", s.data_dir)
        assert jo.get("/cases/files/x").status == 200
        borough("user", "role", JO, "cases", "manager", "--remove", "--data", s.data_dir)
        assert jo.get("/cases/files/x").status == 403


@test
def a_session_ends_after_its_idle_time():
    with Server(TREE, args=["--session-idle", "2", "--session-max", "60"]) as s:
        add_user(s)
        b = Browser(s.port)
        b.sign_in()
        for _ in range(3):              # used within the idle time: it slides
            time.sleep(1.2)
            assert b.get("/cases/").status == 200
        time.sleep(2.5)
        r = b.get("/cases/")
        assert r.status == 303 and "sign-in" in r.header("location"), r
        assert query(os.path.join(s.data_dir, "borough.db"), "SELECT count(*) AS n FROM sessions")[0]["n"] == 0


@test
def a_session_ends_at_its_absolute_age_however_busy():
    with Server(TREE, args=["--session-idle", "60", "--session-max", "3"]) as s:
        add_user(s)
        b = Browser(s.port)
        b.sign_in()
        t0 = time.time()
        while time.time() - t0 < 2.5:
            assert b.get("/cases/").status == 200
            time.sleep(0.5)
        time.sleep(1)
        assert b.get("/cases/").status == 303


@test
def signing_out_ends_the_session():
    with Server(TREE) as s:
        add_user(s)
        b = Browser(s.port)
        b.sign_in()
        token = b.cookies["borough_session"]
        # Every page of the layout links to sign-out while someone is signed in.
        assert b'href="/cases/_account/sign-out"' in b.get("/cases/_account/password").body
        assert b"_account/sign-out" not in Browser(s.port).get("/cases/_account/sign-in").body
        page = b.get("/cases/_account/sign-out")
        assert page.status == 200 and b"jo.bloggs@example.gov.uk" in page.body and b'method="post"' in page.body
        # Signing out is a POST with a CSRF token: a GET or a forged POST does nothing.
        assert b.request("POST", "/cases/_account/sign-out", {}).status == 403
        assert b.get("/cases/").status == 200
        r = b.form_post("/cases/_account/sign-out", "/cases/_account/sign-out", {})
        assert r.status == 303 and r.header("location") == "/cases/_account/sign-in?signed_out=1", r
        name, value, attrs = cookie_attrs([c for c in r.headers["set-cookie"] if c.startswith("borough_session=")][0])
        assert name == "borough_session" and value == "" and attrs["max-age"] == "0", r.headers["set-cookie"]
        assert b"You have signed out" in b.get(r.header("location")).body
        old = Browser(s.port)
        old.cookies["borough_session"] = token
        assert old.get("/cases/").status == 303
        assert [a["action"] for a in audit(s) if a["action"].startswith("sign")] == ["sign-in", "sign-out"]


@test
def a_csrf_token_never_passes_in_the_next_persons_session():
    """On a shared PC: Jo's token must not pass once Jo has signed out and
    Sam has signed in in the same browser, even though SQLite gives Sam's
    session the row id Jo's had."""
    sam = "sam.smith@example.gov.uk"
    with Server(TREE) as s:
        add_user(s, roles=["assessor"])
        add_user(s, email=sam, roles=["assessor"], name="Sam Smith")
        b = Browser(s.port)
        anonymous = b.get("/cases/token").body.decode()
        before = b.cookies["borough_csrf"]
        r = b.sign_in()
        assert r.status == 303, r
        # Signing in gives the browser a new nonce.
        assert b.cookies["borough_csrf"] != before, b.cookies
        assert b.request("POST", "/cases/assess", {"csrf_token": anonymous}).status == 403
        platform = os.path.join(s.data_dir, "borough.db")
        jos_session = query(platform, "SELECT id FROM sessions")[0]["id"]
        jos_token = b.get("/cases/token").body.decode()
        assert b.request("POST", "/cases/assess", {"csrf_token": jos_token}).status == 200
        nonce = b.cookies["borough_csrf"]
        r = b.form_post("/cases/_account/sign-out", "/cases/_account/sign-out", {})
        assert r.status == 303, r
        # Signing out does too.
        assert b.cookies["borough_csrf"] != nonce, b.cookies
        if pglib.shared():      # PostgreSQL never gives an id again by itself: made to, for the same case
            execute(platform, "ALTER TABLE sessions ALTER COLUMN id RESTART WITH %d" % jos_session)
        assert b.sign_in(sam).status == 303
        rows = query(platform, "SELECT id FROM sessions")
        assert rows == [{"id": jos_session}], (rows, jos_session)    # the same row id, as SQLite reuses it
        assert b.get("/cases/").body.startswith(b"integer 2 sam.smith@example.gov.uk"), b.get("/cases/")
        r = b.request("POST", "/cases/assess", {"csrf_token": jos_token})
        assert r.status == 403, r
        # Even with Jo's nonce put back in the browser.
        b.cookies["borough_csrf"] = nonce
        assert b.request("POST", "/cases/assess", {"csrf_token": jos_token}).status == 403
        sams_token = b.get("/cases/token").body.decode()
        assert b.request("POST", "/cases/assess", {"csrf_token": sams_token}).status == 200


@test
def changing_the_password_ends_every_other_session():
    with Server(TREE) as s:
        add_user(s)
        here, there = Browser(s.port), Browser(s.port)
        here.sign_in()
        there.sign_in()
        page = "/cases/_account/password"
        assert Browser(s.port).get(page).status == 303          # sign in first
        # The policy and the form's rules, as a GOV.UK error summary.
        cases = [({"current": "", "new": "", "confirm": ""}, ["Enter your current password", "Enter a new password"]),
                 ({"current": PASSWORD, "new": "short", "confirm": "short"},
                  ["Enter a password that is 10 characters or more"]),
                 ({"current": PASSWORD, "new": "Password123!", "confirm": "Password123!"},
                  ["Enter a password that is harder to guess: this one is too common"]),
                 ({"current": PASSWORD, "new": "a brand new passphrase", "confirm": "a brand new passphrose"},
                  ["Enter the same new password twice"]),
                 ({"current": "not it at all", "new": "a brand new passphrase", "confirm": "a brand new passphrase"},
                  ["Your current password is not correct"])]
        for fields, want in cases:
            r = here.form_post(page, page, fields)
            assert r.status == 400 and error_summary(r.body) == want, (fields, error_summary(r.body), r)
        before = here.cookies["borough_session"]
        r = here.form_post(page, page, {"current": PASSWORD, "new": "a brand new passphrase",
                                        "confirm": "a brand new passphrase"})
        assert r.status == 200 and b"Your password has been changed" in r.body, r
        assert here.cookies["borough_session"] != before
        assert here.get("/cases/").status == 200               # this browser stays signed in
        assert there.get("/cases/").status == 303              # every other session has ended
        assert Browser(s.port).sign_in(JO, PASSWORD).status == 400
        assert Browser(s.port).sign_in(JO, "a brand new passphrase").status == 303
        assert len(audit(s, "password-change")) == 1 and len(audit(s, "password-change-failed")) == 1


@test
def disabling_an_account_ends_its_sessions():
    with Server(TREE) as s:
        add_user(s)
        b = Browser(s.port)
        b.sign_in()
        assert b.get("/cases/").status == 200
        status, out, err = borough("user", "disable", JO, "--data", s.data_dir)
        assert status == 0 and "sessions have ended" in out, (out, err)
        assert b.get("/cases/").status == 303
        r = Browser(s.port).sign_in()
        assert r.status == 400 and error_summary(r.body) == ["Enter a correct email address and password"]
        assert audit(s, "sign-in-failed")[-1]["detail"].startswith("account disabled")
        borough("user", "enable", JO, "--data", s.data_dir)
        assert Browser(s.port).sign_in().status == 303


@test
def one_sign_in_serves_every_app_on_the_host():
    with Server(TREE, workers=2) as s:
        add_user(s, roles=["assessor"])
        b = Browser(s.port, host="other.example.test")
        assert b.get("/").status == 303 and b.get("/").header("location") == "/_account/sign-in?next=/"
        r = b.sign_in(mount="")
        assert r.status == 303 and r.header("location") == "/", r
        assert b.get("/").body == b"other jo.bloggs@example.gov.uk"
        # The same session, answered by either worker, on another app of the host.
        for _ in range(4):
            assert b.get("/cases/assess", {"Host": "other.example.test"}).status in (200, 404)


@test
def the_cookie_is_secure_over_https():
    d = tempfile.mkdtemp(prefix="borough-session-tls-")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", d + "/k.pem",
                    "-out", d + "/c.pem"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with Server(TREE, args=["--tls-cert", d + "/c.pem", "--tls-key", d + "/k.pem"]) as s:
        add_user(s)
        b = Browser(s.port, tls=True)
        r = b.sign_in()
        assert r.status == 303, r
        name, token, attrs = cookie_attrs([v for v in r.headers["set-cookie"] if v.startswith("borough_session=")][0])
        assert attrs == {"path": "/", "httponly": True, "samesite": "Lax", "secure": True}, attrs
        assert b.get("/cases/").status == 200


@test
def a_hash_made_with_older_parameters_is_renewed_at_sign_in():
    import ctypes
    lib = ctypes.CDLL("libargon2.so.1")
    size = ctypes.c_size_t
    lib.argon2id_hash_encoded.argtypes = [ctypes.c_uint32] * 3 + [ctypes.c_char_p, size, ctypes.c_char_p, size, size,
                                                                  ctypes.c_char_p, size]
    out = ctypes.create_string_buffer(256)
    pw = PASSWORD.encode()
    assert lib.argon2id_hash_encoded(1, 4096, 1, pw, len(pw), b"0123456789abcdef", 16, 32, out, 256) == 0
    with Server(TREE) as s:
        add_user(s)
        db = os.path.join(s.data_dir, "borough.db")
        execute(db, "UPDATE users SET password_hash = ?", out.value.decode())
        assert Browser(s.port).sign_in().status == 303
        stored = query(db, "SELECT password_hash FROM users")[0]["password_hash"]
        assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), stored
        assert Browser(s.port).sign_in().status == 303


@test
def the_record_audit_trail_names_who_wrote():
    tree = {"notes": {"app.lua": r'''
local app = borough.app { title = "Notes", mount = "/notes" }
local Notes = require "models"
app:post("/", function(req)
  Notes.Notes:create { text = "called back" }
  return "saved"
end)
app:get("/", function(req) return borough.text(borough.csrf_token()) end)
return app
''', "models.lua": 'return { Notes = borough.entity "notes" { { "text", "text" } } }\n'}}
    with Server(tree) as s:
        add_user(s, app="notes")
        b = Browser(s.port)
        b.sign_in(mount="/notes")
        token = b.get("/notes/").text
        r = b.request("POST", "/notes/", {"csrf_token": token})
        assert r.status == 200, r
        rows = query(os.path.join(s.data_dir, "notes", "app.db"), "SELECT who FROM _borough_audit")
        assert rows == [{"who": JO}], rows


@test
def borough_test_signs_in_with_t_login():
    tree = {"cases": {"app.lua": APP, "tests": {"login_test.lua": r'''
local t = require "borough.test"
t.test("anonymous goes to sign in", function()
  local r = t.get("/assess")
  t.eq(r.status, 303)
end)
t.test("an assessor gets in", function()
  t.login("ann@example.gov.uk", { roles = { "assessor" } })
  local r = t.get("/assess")
  t.eq(r.status, 200)
  t.contains(r.body, "ann@example.gov.uk")
end)
t.test("a manager does not", function()
  t.login("mo@example.gov.uk", { roles = { "manager" } })
  t.eq(t.get("/assess").status, 403)
end)
'''}}}
    with Folder(tree) as root:
        status, out, err = borough("test", "apps/cases", cwd=root)
        assert status == 0 and out.endswith("3 passed, 0 failed\n"), (out, err)


run()
