"""A small browser for end-to-end tests of forms: keeps cookies, reads the
forms of a page as a browser would send them, and submits them.

    b = Browser(port)
    page = b.get("/app/form")
    r = b.submit(page, {"name": "Ada"})       # the page's first form, CSRF token included
"""
import html.parser
import os
import sys
from urllib.parse import urlencode, urljoin

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Client  # noqa: E402


class _Forms(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.form = None
        self.textarea = None
        self.select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.form = {"action": a.get("action"), "method": (a.get("method") or "get").upper(),
                         "enctype": a.get("enctype"), "fields": []}
            self.forms.append(self.form)
        elif self.form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("radio", "checkbox"):
                if "checked" in a:
                    self.form["fields"].append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button", "file"):
                self.form["fields"].append((a["name"], a.get("value", "")))
        elif tag == "textarea" and a.get("name"):
            self.textarea = [a["name"], ""]
        elif tag == "select" and a.get("name"):
            self.select = [a["name"], None, None]
        elif tag == "option" and self.select is not None:
            v = a.get("value", "")
            if self.select[2] is None:
                self.select[2] = v
            if "selected" in a:
                self.select[1] = v

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "textarea" and self.textarea is not None:
            if self.form is not None:
                self.form["fields"].append((self.textarea[0], self.textarea[1].lstrip("\n")))
            self.textarea = None
        elif tag == "select" and self.select is not None:
            if self.form is not None:
                v = self.select[1] if self.select[1] is not None else self.select[2]
                self.form["fields"].append((self.select[0], v or ""))
            self.select = None


def forms(text):
    p = _Forms()
    p.feed(text)
    return p.forms


class Browser:
    def __init__(self, port):
        self.port = port
        self.cookies = {}
        self.set_cookies = []

    def request(self, method, path, headers=None, body=b""):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in sorted(self.cookies.items()))
        c = Client(self.port)
        r = c.request(method, path, h, body)
        c.close()
        r.path = path
        for value in r.headers.get("set-cookie", []):
            self.set_cookies.append(value)
            k, _, rest = value.partition("=")
            v = rest.split(";")[0]
            if v == "" or "max-age=0" in value.lower():
                self.cookies.pop(k, None)
            else:
                self.cookies[k] = v
        return r

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, fields):
        return self.request("POST", path, {"Content-Type": "application/x-www-form-urlencoded"},
                            urlencode(fields, doseq=True))

    def submit(self, page, fields=None, which=0, drop=()):
        """Fills in form `which` of the page (its values as they stand, then
        fields replacing them) and posts it to its action."""
        fs = forms(page.text)
        assert fs, "no form on the page:\n" + page.text[:2000]
        f = fs[which]
        values = {}
        for name, value in f["fields"]:
            values.setdefault(name, []).append(value)
        for name, value in (fields or {}).items():
            values[name] = value if isinstance(value, list) else [value]
        for name in drop:
            values.pop(name, None)
        action = urljoin(page.path, f["action"] or page.path)
        return self.post(action, values)

    def follow(self, r):
        """GETs where a redirect points."""
        assert r.status in (301, 302, 303), r
        return self.get(r.header("location"))


STAFF = "sam.staff@example.gov.uk"
PASSWORD = "correct horse battery staple 42"


def add_staff(server, app, role="staff"):
    """Makes the test's member of staff (once per server) with role in app.
    Returns False on a platform without staff sign-in."""
    from lib import borough
    r = Browser(server.port).get("/%s/_account/sign-in" % app)
    if r.status != 200:
        return False
    pw = os.path.join(server.tmp, "password")
    if not os.path.exists(pw):
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        status, out, err = borough("user", "add", STAFF, "--name", "Sam Staff", "--password-file", pw,
                                   "--data", server.data_dir)
        assert status == 0, (out, err)
    status, out, err = borough("user", "role", STAFF, app, role, "--data", server.data_dir)
    assert status == 0, (out, err)
    return True


def staff_browser(server, app, role="staff"):
    """A browser signed in as staff with role in app (just a browser on a
    platform without sign-in)."""
    b = Browser(server.port)
    if add_staff(server, app, role):
        page = b.get("/%s/_account/sign-in" % app)
        r = b.submit(page, {"email": STAFF, "password": PASSWORD})
        assert r.status in (302, 303), r.text[:2000]
    return b
