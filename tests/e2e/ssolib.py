"""Staff sign-in against the real server for the single sign-on and
two-factor suites: a cookie-keeping client, and a site whose sign-in goes
to a real OpenID provider (tests/oidc/provider.js through oidclib.py).

    with Site() as site:                       # borough + the provider, set up
        b = Browser(site.port)
        r = site.sign_in(b, "alice")           # over HTTP, as a browser would
        site.idp.set_groups("alice", [])       # the provider's side
        site.sso("map", "x", "planning", "manager")   # `borough sso ...`

The provider starts after borough (so it knows the callback's port) and
borough trusts its test CA through SSL_CERT_FILE; its issuer names
localhost (mbedTLS 2.28 checks a certificate's DNS names, not its IP
addresses). The client secret reaches borough through the environment
variable BOROUGH_SSO_SECRET."""
import contextlib
import copy
import http.cookiejar
import os
import re
import ssl
import urllib.parse
from urllib.parse import urlencode

from lib import Client, Server, borough, query
from oidclib import Provider

SECRET = "a client secret for the tests, never logged"
MOUNT = "/planning"

APP = r'''
local app = borough.app { title = "Planning", mount = "/planning", roles = { "officer", "manager", "admin" } }

local function who(req)
  local roles = {}
  for role in pairs(req.user.roles) do roles[#roles + 1] = role end
  table.sort(roles)
  return ("%s | %s | [%s]"):format(req.user.email, req.user.name, table.concat(roles, ","))
end

app:get("/", who)
app:get("/officers", { role = "officer" }, who)
return app
'''

TREE = {"planning": {"app.lua": APP}}

USERS = {
    "alice": {"name": "Alice Example", "email": "alice@example.org", "groups": ["planning-officers", "staff"]},
    "bob": {"name": "Bob Example", "email": "bob@example.org", "groups": []},
}


def cookie_attrs(value):
    parts = [p.strip() for p in value.split(";")]
    name, _, token = parts[0].partition("=")
    return name, token, {p.split("=")[0].lower(): (p.split("=", 1)[1] if "=" in p else True) for p in parts[1:]}


class Browser:
    """Cookies kept across requests, one connection per request. The
    provider's cookies are kept apart, in idp_jar."""

    def __init__(self, port, tls=False):
        self.port, self.tls = port, tls
        self.cookies = {}
        self.idp_jar = http.cookiejar.CookieJar()

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
        r = c.request(method, path, h, body)
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

    def sign_in_password(self, email, password, mount=MOUNT):
        """The password form (shown even where the site hides it: break-glass)."""
        path = mount + "/_account/sign-in"
        return self.form_post(path + "?with=password", path, {"email": email, "password": password})


def path_of(url):
    """The path and query of a URL, for Browser.get."""
    u = urllib.parse.urlsplit(url)
    return u.path + ("?" + u.query if u.query else "")


class Site:
    """borough serving TREE with single sign-on set up against a real
    provider: client "borough", the mapping planning-officers -> officer in
    planning. settings are more `borough sso set` arguments."""

    def __init__(self, tree=TREE, users=USERS, settings=(), workers=1, env=None):
        self.tree, self.settings, self.workers = tree, settings, workers
        self.users = copy.deepcopy(users)
        self.env = env or {}
        self.stack = contextlib.ExitStack()

    def __enter__(self):
        try:
            self.idp = self.stack.enter_context(Provider(
                clients=[{"client_id": "borough", "client_secret": SECRET,
                          "redirect_uris": ["https://127.0.0.1:1/cb"],
                          "post_logout_redirect_uris": ["https://127.0.0.1:1/out"]}],
                users=self.users, start=False, issuer_host="localhost"))
            env = {"SSL_CERT_FILE": self.idp.ca_file, "BOROUGH_SSO_SECRET": SECRET}
            env.update(self.env)
            self.server = self.stack.enter_context(Server(self.tree, workers=self.workers, env=env))
            self.port = self.server.port
            self.data_dir = self.server.data_dir
            base = "http://127.0.0.1:%d%s/_account" % (self.port, MOUNT)
            self.callback = base + "/sso/callback"
            self.idp.set_client("borough", redirect_uris=[self.callback],
                                post_logout_redirect_uris=[base + "/signed-out"])
            self.idp.start()
            self.sso("set", "issuer=" + self.idp.issuer, "client_id=borough",
                     "client_secret_env=BOROUGH_SSO_SECRET", "scopes=openid profile email groups",
                     "provider_name=Test Provider", *self.settings)
            self.sso("map", "planning-officers", "planning", "officer")
        except BaseException:
            self.stack.close()
            raise
        return self

    def __exit__(self, *exc):
        return self.stack.__exit__(*exc)

    def sso(self, *args):
        status, out, err = borough("sso", *args, "--data", self.data_dir)
        assert status == 0, (args, out, err)
        return out

    def db(self, sql, *args):
        return query(os.path.join(self.data_dir, "borough.db"), sql, *args)

    def audit(self, action=None):
        rows = self.db("SELECT who, action, app, detail FROM platform_audit ORDER BY id")
        return [r for r in rows if action is None or r["action"] == action]

    def begin(self, b, next=None):
        """Starts a sign-in in b: returns the provider's authorization URL
        and its query parameters."""
        r = b.get(MOUNT + "/_account/sso" + ("?next=" + urllib.parse.quote(next, safe="") if next else ""))
        assert r.status == 303, r
        url = r.header("location")
        assert url.startswith(self.idp.issuer + "/auth?"), url
        return url, dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))

    def at_provider(self, b, url, user):
        """Signs user in at the provider (b's provider cookies); returns the
        URL it sends the browser back to."""
        return self.idp.authorize(url, user, self.callback, b.idp_jar)

    def sign_in(self, b, user, next=None):
        """The whole sign-in over HTTP; returns borough's answer to the callback."""
        url, _ = self.begin(b, next)
        return b.get(path_of(self.at_provider(b, url, user)))
