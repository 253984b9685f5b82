#!/usr/bin/env python3
"""The app API as a newcomer meets it (docs/apps.md): the fixture app
tests/lua/arrears, a council-tax arrears service with emailed
questionnaire links, run with `borough test`; the error summary of every
form linking to inputs that exist; the public URL for links in messages
(--public-url, site.conf's public_url, never the Host header)."""
import html.parser
import json
import os
import re
import subprocess
import sys
import tempfile
import shutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, Server, Client, BOROUGH, ROOT, borough  # noqa: E402
from formlib import Browser, staff_browser  # noqa: E402
import forms_fixture  # noqa: E402


@test
def the_arrears_app_lua_tests_pass():
    status, out, err = borough("test", "tests/lua/arrears", cwd=ROOT)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    m = re.match(r"^(\d+) passed, (\d+) failed$", last)
    assert status == 0 and m and m.group(2) == "0" and int(m.group(1)) >= 13, (status, out, err)


class _Page(html.parser.HTMLParser):
    """The ids of a page's elements and the links of its error summary."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.summary, self.depth = set(), [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "div" and "govuk-error-summary" in (a.get("class") or "").split():
            self.depth = 1
        elif tag == "div" and self.depth:
            self.depth += 1
        elif tag == "a" and self.depth and (a.get("href") or "").startswith("#"):
            self.summary.append(a["href"][1:])

    def handle_endtag(self, tag):
        if tag == "div" and self.depth:
            self.depth -= 1


def summary_links(text):
    p = _Page()
    p.feed(text)
    return p.ids, p.summary


@test
def every_error_summary_link_goes_to_an_element_of_its_page():
    with Server(forms_fixture.TREE) as s:
        staff = staff_browser(s, "fx")
        # Every type of field, each wrong, on the generated form.
        page = staff.get("/fx/residents/new")
        r = staff.submit(page, {"first_name": "", "last_name": "", "date_of_birth-day": "31",
                                "date-of-birth-month": "2", "date-of-birth-year": "2001", "email": "nope",
                                "phone": "nope", "postcode": "nope", "grant": "lots", "support": "cake"})
        ids, links = summary_links(r.text)
        assert links == ["first-name", "last-name", "date-of-birth-day", "email", "phone", "postcode", "grant",
                         "support"], links
        assert set(links) <= ids, (links, sorted(ids))
        # Radios for a yes/no whose name has an underscore (needs_help), a
        # date, and a page of several fields, in a flow.
        b = Browser(s.port)
        for path, fields in (("/fx/apply/name", {"full_name": ""}),
                             ("/fx/apply/date-of-birth", {}),
                             ("/fx/apply/needs-help", {}),
                             ("/fx/survey/colour", {})):
            r = b.submit(b.get(path), fields)
            ids, links = summary_links(r.text)
            assert links and set(links) <= ids, (path, links, sorted(ids))
        assert links == ["colour"], links
        r = b.submit(b.get("/fx/apply/needs-help"), {})
        ids, links = summary_links(r.text)
        assert links == ["needs-help"] and "needs-help" in ids, (links, r.text)
        # the standalone form's file field
        r = b.submit(b.get("/fx/evidence"), {})
        ids, links = summary_links(r.text)
        assert links == ["evidence"] and "evidence" in ids, (links, r.text)


PUBLIC_APP = {"links": {"app.lua": r'''
local app = borough.app { title = "Links", mount = "/links", public = true }
db.exec("CREATE TABLE IF NOT EXISTS sent (link TEXT)")
app:get("/reset", function(req)
  return borough.json { link = borough.url("/reset/" .. req.query.token, { absolute = true }),
                        host = req.headers.host }
end)
app:job("email_link", function(args)
  db.exec("INSERT INTO sent (link) VALUES (?)", borough.url("/reset/abc", { absolute = true }))
end)
app:post("/later", { csrf = false }, function(req) jobs.enqueue("email_link", {}) end)
app:get("/sent", function(req)
  local row = db.one("SELECT link FROM sent")
  return borough.json { link = row and row.link or json.null }
end)
return app
'''}}


def get_json(port, path, host="127.0.0.1"):
    c = Client(port)
    r = c.request("GET", path, {}, b"", host=host)
    c.close()
    assert r.status == 200, r
    return json.loads(r.body)


@test
def absolute_links_use_the_public_url_never_the_host_header():
    with Server(PUBLIC_APP, args=["--public-url", "https://council.example.gov.uk/services/"]) as s:
        v = get_json(s.port, "/links/reset?token=t1", host="evil.example")
        assert v == {"link": "https://council.example.gov.uk/services/links/reset/t1", "host": "evil.example"}, v
        # in a job too, where there is no request at all
        c = Client(s.port)
        assert c.request("POST", "/links/later").status == 204
        c.close()
        import time
        deadline = time.time() + 10
        while get_json(s.port, "/links/sent")["link"] is None and time.time() < deadline:
            time.sleep(0.1)
        assert get_json(s.port, "/links/sent")["link"] == "https://council.example.gov.uk/services/links/reset/abc"
    # site.conf's public_url when the command line gives none
    s = Server(PUBLIC_APP)
    os.makedirs(s.data_dir)
    with open(os.path.join(s.data_dir, "site.conf"), "w") as f:
        f.write("name = Barsetshire Council\npublic_url = https://grants.barsetshire.example\n")
    with s:
        v = get_json(s.port, "/links/reset?token=t2", host="evil.example")
        assert v["link"] == "https://grants.barsetshire.example/links/reset/t2", v
    # neither: the address the server listens on
    with Server(PUBLIC_APP) as s:
        v = get_json(s.port, "/links/reset?token=t3", host="evil.example")
        assert v["link"] == "http://127.0.0.1:%d/links/reset/t3" % s.port, v


@test
def a_malformed_public_url_stops_the_start_with_one_line():
    for bad in ("council.example.gov.uk", "ftp://council.example.gov.uk", "https://council.example.gov.uk/?x=1",
                "https://user@council.example.gov.uk", "https://", "https://bad..host"):
        status, out, err = borough("serve", "apps", "--public-url", bad, "--listen", "127.0.0.1:0", cwd=ROOT,
                                   timeout=20)
        assert status == 2 and ("--public-url wants the site's address, like https://grants.example.gov.uk, not "
                                + bad) in err, (bad, status, out, err)
    tmp = tempfile.mkdtemp(prefix="borough-public-url-")
    try:
        data = os.path.join(tmp, "data")
        os.makedirs(data)
        with open(os.path.join(data, "site.conf"), "w") as f:
            f.write("name = Barsetshire Council\npublic_url = grants.barsetshire.example\n")
        p = subprocess.run([BOROUGH, "serve", os.path.join(ROOT, "apps"), "--listen", "127.0.0.1:0", "--data", data,
                            "--workers", "1"], capture_output=True, text=True, timeout=60)
        lines = [l for l in (p.stdout + p.stderr).splitlines() if " error " in l]
        assert p.returncode == 1 and len(lines) == 1, (p.returncode, p.stdout, p.stderr)
        assert lines[0].endswith("data/site.conf:2: 'grants.barsetshire.example' is not a valid public_url "
                                 "(like https://grants.example.gov.uk)"), lines
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run()
