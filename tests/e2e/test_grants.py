#!/usr/bin/env python3
"""The grants app (apps/grants) and the building blocks it shares with other
council apps (tests/lua/council: bank details, single-use links, budgets,
payment runs, flags, questions as data): their own tests under `borough
test`; a dirty rates list (tools/gen_grants.py) uploaded with exactly the
bad rows named, and uploaded again without a duplicate; in Debian's
chromium (tests/browser/a11y.js, axe-core for WCAG 2.1 A and AA), in
English and in Welsh: a manager sets up a scheme and invites the rates
list, businesses follow their invitation links from a local GOV.UK Notify
(notify_peer.py) and apply with evidence, one with another's bank account
(caught and flagged), an assessor and a different approver decide, the
flag is cleared by a second person, and finance makes and pays a payment
run whose file is then downloaded; no axe violation on any page.
Screenshots in build/a11y-grants/ (a folder for each part). Also: approvals sent all at once to a
server of four workers never take a scheme over its budget; 3,800
invitations queued with one press leave within Notify's rate limit; the
public pages on their own host name with the council's branding."""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from urllib.parse import urlencode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import test, run, borough, Server, Client, SLOW, wait_for, staff_cookie, get  # noqa: E402
from browserlib import ensure_tools, run_scenario, violations  # noqa: E402
from notify_peer import NotifyPeer, windows_ok  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APP = os.path.join(ROOT, "apps", "grants")
PASSWORD = "a long fake password 7391"


@test
def app_tests_pass():
    status, out, err = borough("test", "apps/grants", cwd=ROOT, timeout=600)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    m = re.match(r"^(\d+) passed, (\d+) failed$", last)
    assert status == 0 and m and m.group(2) == "0" and int(m.group(1)) >= 30, (status, out, err)


@test
def building_block_tests_pass():
    status, out, err = borough("test", "tests/lua/council", cwd=ROOT)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    m = re.match(r"^(\d+) passed, (\d+) failed$", last)
    assert status == 0 and m and m.group(2) == "0" and int(m.group(1)) >= 22, (status, out, err)


def apps_copy(host=None):
    """A temporary apps folder holding a copy of apps/grants (with a host name of its own, if given)."""
    d = tempfile.mkdtemp(prefix="borough-grants-apps-")
    shutil.copytree(APP, os.path.join(d, "grants"), ignore=shutil.ignore_patterns("tests"))
    if host:
        path = os.path.join(d, "grants", "app.lua")
        text = open(path).read().replace('mount = "/grants",', 'host = "%s",' % host, 1)
        assert 'host = "%s"' % host in text
        open(path, "w").write(text)
    return d


def gen(*args):
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_grants.py"), *map(str, args), "--report"],
                       capture_output=True, check=True)
    return p.stdout, {k: int(v) for k, v in (kv.split("=") for kv in p.stderr.decode().split())}


def csrf(port, path, cookie, host="127.0.0.1"):
    """The CSRF token of the page's first form, and the headers to send it with (the session and csrf cookies)."""
    c = Client(port)
    try:
        r = c.request("GET", path, cookie, host=host)
    finally:
        c.close()
    assert r.status == 200, r
    token = re.search(rb'name="csrf_token" value="([^"]+)"', r.body).group(1).decode()
    jar = dict(kv.split("=", 1) for kv in cookie["Cookie"].split("; "))
    for h in r.headers.get("set-cookie", []):
        name, value = h.split(";")[0].split("=", 1)
        jar[name] = value
    return token, {"Cookie": "; ".join("%s=%s" % kv for kv in jar.items())}


def upload(port, path, cookie, files, fields=None):
    """POSTs a multipart form to path: files { field: (name, bytes) }; returns the response."""
    token, headers = csrf(port, path, cookie)
    b = "----grants" + uuid.uuid4().hex
    body = b"--%s\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n%s\r\n" % (b.encode(), token.encode())
    for k, v in (fields or {}).items():
        body += b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (b.encode(), k.encode(), v.encode())
    for k, (name, data) in files.items():
        body += (b"--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\nContent-Type: text/csv\r\n\r\n"
                 % (b.encode(), k.encode(), name.encode())) + data + b"\r\n"
    body += b"--%s--\r\n" % b.encode()
    headers["Content-Type"] = "multipart/form-data; boundary=" + b
    c = Client(port, timeout=120)
    try:
        return c.request("POST", path, headers, body)
    finally:
        c.close()


def post(port, path, cookie, page, fields=None, host="127.0.0.1"):
    """POSTs fields to path with the CSRF token of page (any page of the session with a form)."""
    token, headers = csrf(port, page, cookie, host)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    c = Client(port, timeout=60)
    try:
        return c.request("POST", path, headers, urlencode(dict(fields or {}, csrf_token=token)), host=host)
    finally:
        c.close()


def query(s, sql, *args):
    """The rows of sql in the grants app's database, as tuples."""
    return [tuple(r.values()) for r in lib.query(os.path.join(s.data_dir, "grants", "app.db"), sql, *args)]


@test
def a_dirty_rates_list_uploads_with_exactly_the_bad_rows_named_and_again_without_duplicates():
    apps = apps_copy()
    try:
        with Server(apps) as s:
            manager = staff_cookie(s, "grants", ["manager"])
            data, dirt = gen("rates", 400, "--dirty", "0.25", "--seed", 11)
            assert all(v > 0 for v in dirt.values()), dirt
            r = upload(s.port, "/grants/upload/rates", manager, {"list": ("rates.csv", data)})
            assert r.status == 200, r
            text = r.body.decode()
            bad = dirt["no_name"] + dirt["bad_postcode"] + dirt["bad_value"] + dirt["bad_email"] + dirt["latin1"]
            assert "%d rows could not be added" % bad in text, (text[-3000:], dirt)
            assert "%d rows added or updated" % (400 - bad) in text, dirt
            assert text.count("Enter business name") == dirt["no_name"], dirt
            assert text.count("Enter a real postcode") == dirt["bad_postcode"], dirt
            assert text.count("not UTF-8") == dirt["latin1"], dirt
            n = query(s, "SELECT count(*) FROM businesses")[0][0]
            assert n == 400 - bad - dirt["duplicate"], (n, dirt)
            # the same list again: every good row updates a business, none is added
            r = upload(s.port, "/grants/upload/rates", manager, {"list": ("rates.csv", data)})
            assert "%d rows added or updated" % (400 - bad) in r.body.decode()
            assert query(s, "SELECT count(*) FROM businesses")[0][0] == n
    finally:
        shutil.rmtree(apps, ignore_errors=True)


def setup_server(s, peer):
    """Notify at the peer; staff accounts with passwords; the sample modulus table's text."""
    with open(os.path.join(s.data_dir, "notify.conf"), "w") as f:
        f.write("retry_delay = 0.2\ntimeout = 2\npoll_after = 0\n\n[grants]\napi_key = %s\nbase_url = %s\n"
                % (peer.api_key, peer.url))
    os.chmod(os.path.join(s.data_dir, "notify.conf"), 0o600)


STAFF = (("mia.manager@example.org", "Mia Manager", "manager"), ("asa.assessor@example.org", "Asa Assessor", "assessor"),
         ("apu.approver@example.org", "Apu Approver", "approver"), ("fin.finance@example.org", "Fin Finance", "finance"))


def sign_in(email):
    return [["goto", "/grants/_account/sign-in"], ["fill", "#email", email], ["fill", "#password", PASSWORD],
            ["click", "form button.govuk-button"]]


def sign_out():
    return [["goto", "/grants/_account/sign-out"], ["click", "main form button.govuk-button"]]


def sample_tables():
    text = open(os.path.join(ROOT, "tests", "lua", "council", "bank_sample.lua")).read()
    return [re.search(r"%s = \[\[\n(.*?)\]\]" % k, text, re.S).group(1) for k in ("valacdos", "scsubtab")]


def manager_steps(tmp, lang):
    """The manager's pages: set up (in English), or visit them again (in Welsh)."""
    rates = os.path.join(tmp, "rates.csv")
    with open(rates, "w") as f:
        f.write("Account reference,Business name,Address,Postcode,Rateable value,Property type,Email,Mobile\n")
        for i in range(1, 5):
            f.write("6000000%d,Test Business %d,%d High Street,LS1 4AB,9000,Shop,owner%d@example.com,07700 90000%d\n"
                    % (i, i, i, i, i))
        f.write("60000009,,9 High Street,XX1,9000,Shop,,\n")          # a row with mistakes
    valacdos, scsubtab = sample_tables()
    for name, text in (("valacdos.txt", valacdos), ("scsubtab.txt", scsubtab)):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
    pre = lang + "-"
    save = "main form[method=post] button.govuk-button"
    steps = sign_in(STAFF[0][0]) + [["goto", "/grants/dashboard?lang=" + lang], ["audit", pre + "dashboard-empty"]]
    if lang == "en":
        steps += [["click", "form[action='/grants/schemes/examples'] button"], ["audit", pre + "schemes"],
                  ["click", "a:has-text('Small business grant')"], ["audit", pre + "scheme"],
                  ["click", "a:has-text('Change the scheme')"], ["audit", pre + "scheme-edit"],
                  ["fill", "#evidence", "Upload a recent business bank statement."], ["click", save],
                  ["audit", pre + "scheme-saved"],
                  ["click", "a:has-text('Add a question')"], ["audit", pre + "question"],
                  ["click", save], ["audit", pre + "question-errors"],
                  ["fill", "#question", "Is the business in the borough?"], ["select", "#type", "boolean"],
                  ["fill", "#ineligible", "No"], ["fill", "#reason", "The grant is for businesses in the borough."],
                  ["click", save], ["audit", pre + "scheme-question-added"],
                  ["goto", "/grants/upload/rates"], ["audit", pre + "upload"],
                  ["upload", "#list", rates], ["click", save], ["audit", pre + "upload-rejects"],
                  ["goto", "/grants/upload/bank"], ["upload", "#list", os.path.join(tmp, "valacdos.txt")],
                  ["upload", "#more", os.path.join(tmp, "scsubtab.txt")], ["click", save], ["audit", pre + "upload-bank"],
                  ["goto", "/grants/schemes"], ["click", "a:has-text('Small business grant')"],
                  ["click", "form[action$='/invite'] button"], ["audit", pre + "invited"]]
    else:
        steps += [["goto", "/grants/schemes"], ["audit", pre + "schemes"], ["goto", "/grants/schemes/1"],
                  ["audit", pre + "scheme"], ["goto", "/grants/schemes/1/edit"], ["audit", pre + "scheme-edit"],
                  ["goto", "/grants/schemes/1/questions"], ["audit", pre + "question"],
                  ["goto", "/grants/schemes/import"], ["audit", pre + "import"],
                  ["goto", "/grants/upload/rates"], ["audit", pre + "upload"], ["goto", "/grants/schemes/new"],
                  ["audit", pre + "scheme-new"], ["goto", "/grants/applications"], ["audit", pre + "applications"]]
    return steps + sign_out()


def business_steps(link, n, bank, pdf, lang):
    """A business follows its invitation link and applies, with evidence."""
    pre = "%s-business%d-" % (lang, n)
    save = "main form[method=post] button.govuk-button"
    steps = [["goto", link + "?lang=" + lang], ["audit", pre + "start"], ["click", "a.govuk-button--start"],
             ["audit", pre + "trading"], ["click", save], ["audit", pre + "trading-error"],
             ["check", "#trading-2"], ["click", save], ["audit", pre + "cannot-apply"],
             ["click", "a.govuk-back-link"], ["check", "#trading"], ["click", save],
             ["check", "#in-administration-2"], ["click", save], ["check", "#business-borough"], ["click", save],
             ["audit", pre + "business"], ["click", save],
             ["audit", pre + "contact"], ["fill", "#contact-name", "Owner %d" % n], ["click", save],
             ["audit", pre + "bank"], ["fill", "#account-name", "Business %d Ltd" % n], ["fill", "#sort-code", "40-12-34"],
             ["fill", "#account-number", "1234"], ["click", save], ["audit", pre + "bank-errors"],
             ["fill", "#account-number", bank], ["click", save], ["audit", pre + "evidence"],
             ["upload", "#evidence-1", pdf], ["click", save], ["audit", pre + "declaration"],
             ["check", "#declaration"], ["click", save], ["audit", pre + "check"], ["click", save],
             ["audit", pre + "done"]]
    return steps


def clear(app, flags):
    """The approver clears the application's open flags (the note required)."""
    steps = [["goto", "/grants/applications/%d" % app]]
    for f in flags:
        steps += [["fill", "#note-%d" % f, "Checked with the owner by phone"],
                  ["click", "form[action='/grants/applications/%d/flags/%d'] button" % (app, f)]]
    return steps


def staff_steps(ids, flags, lang):
    """An assessor assesses both; a different approver approves, is stopped by the flags (the same bank account;
    in the second pass also many applications from one IP address: every browser here is 127.0.0.1), a second
    person clears them; finance makes the payment run and marks it paid."""
    pre = lang + "-"
    save = "main form[method=post] button.govuk-button"
    a, b = ids
    steps = [["goto", "/grants/?lang=" + lang]] + sign_in(STAFF[1][0]) + [
        ["goto", "/grants/dashboard"], ["audit", pre + "assessor-dashboard"]]
    for i, app in enumerate(ids):
        steps += [["goto", "/grants/dashboard"], ["click", "form[action='/grants/schemes/1/next'] button"],
                  ["audit", "%sapplication-%d" % (pre, i + 1)],
                  ["click", "a.govuk-button:has-text('Recommend approval')"], ["audit", "%srecommend-%d" % (pre, i + 1)],
                  ["click", save]]
    steps += [["goto", "/grants/applications?state=recommended"], ["audit", pre + "recommended-list"],
              ["goto", "/grants/applications?q=Test"], ["audit", pre + "search"]] + sign_out()
    steps += sign_in(STAFF[2][0]) + clear(a, flags[a]) + [
        ["click", "button:has-text('Approve')"], ["audit", pre + "approved"],
        ["goto", "/grants/applications/%d" % b], ["audit", pre + "flagged"],
        ["click", "button:has-text('Approve')"], ["audit", pre + "approve-refused"]] + clear(b, flags[b]) + [
        ["audit", pre + "flag-cleared"], ["click", "button:has-text('Approve')"]] + sign_out()
    steps += sign_in(STAFF[3][0]) + [
        ["goto", "/grants/payments"], ["audit", pre + "payments"], ["click", "button:has-text('Make a payment run')"],
        ["audit", pre + "run"], ["click", "button:has-text('Mark the run as paid')"], ["audit", pre + "run-paid"]] + sign_out()
    return steps


def links_for(peer, emails):
    out = {}
    for msg in peer.accepted:
        body = msg["body"]
        if msg["kind"] == "email" and body.get("email_address") in emails and "link" in body.get("personalisation", {}):
            out[body["email_address"]] = re.sub(r"^https?://[^/]+", "", body["personalisation"]["link"])
    return out


@test
def invited_businesses_apply_and_are_decided_and_paid_in_chromium_en_and_cy_with_no_axe_violations():
    ensure_tools()
    apps = apps_copy()
    out_dir = os.path.join(ROOT, "build", "a11y-grants")
    peer = NotifyPeer().start()
    pages = {}
    try:
        with Server(apps, workers=2) as s:
            setup_server(s, peer)
            pw = os.path.join(s.tmp, "password")
            with open(pw, "w") as f:
                f.write(PASSWORD + "\n")
            for email, name, role in STAFF:
                assert borough("user", "add", email, "--name", name, "--password-file", pw, "--data", s.data_dir)[0] == 0
                assert borough("user", "role", email, "grants", role, "--data", s.data_dir)[0] == 0
            pdf = os.path.join(s.tmp, "statement.pdf")
            with open(pdf, "wb") as f:
                f.write(b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
            shutil.rmtree(out_dir, ignore_errors=True)
            shots = os.path.join(out_dir, "")
            pages.update({p["name"]: p for p in run_scenario(s.port, manager_steps(s.tmp, "en"), shots + "manager")})
            emails = ["owner%d@example.com" % i for i in range(1, 5)]
            found = wait_for(lambda: len(links_for(peer, emails)) == 4 and len([m for m in peer.accepted if m["kind"] == "sms"])
                             == 4 and links_for(peer, emails), timeout=60, what="four invitations at the Notify peer")
            sms = {m["body"]["phone_number"][-1]: m["body"]["personalisation"]["link"]
                   for m in peer.accepted if m["kind"] == "sms"}
            assert len(sms) == 4 and all(sms[str(i)].endswith(found["owner%d@example.com" % i]) for i in range(1, 5)), sms
            ids = dict(query(s, "SELECT email, id FROM applications"))
            for lang, (one, two), bank in (("en", (1, 2), "11112222"), ("cy", (3, 4), "33334444")):
                steps = []
                if lang == "cy":
                    steps += manager_steps(s.tmp, "cy")
                for n in (one, two):
                    steps += business_steps(found["owner%d@example.com" % n], n, bank, pdf, lang)
                pages.update({p["name"]: p for p in run_scenario(s.port, steps, shots + lang + "-public")})
                a, b = ids["owner%d@example.com" % one], ids["owner%d@example.com" % two]
                assert query(s, "SELECT kind FROM record_flags WHERE record = ? AND kind = 'bank'", b) == [("bank",)]
                flags = {i: [f for (f,) in query(s, "SELECT id FROM record_flags WHERE record = ? AND state = 'open'", i)]
                         for i in (a, b)}
                pages.update({p["name"]: p for p in run_scenario(s.port, staff_steps((a, b), flags, lang),
                                                                shots + lang + "-staff")})
            states = query(s, "SELECT id, state FROM applications ORDER BY id")
            reasons = query(s, "SELECT record, reason, state, cleared_name FROM record_flags WHERE kind = 'bank'")
            cleared = query(s, "SELECT state FROM record_flags")
            runs = query(s, "SELECT reference, items, total, state FROM payment_runs ORDER BY id")
            paid_mails = [m for m in peer.accepted if m["body"].get("reference", "").endswith("-paid")]
            finance = staff_cookie(s, "grants", ["finance"], email="fin.two@example.org")
            csv = get(s.port, "/grants/payments/1/file.csv", finance)
            audit = subprocess.run([os.environ.get("BOROUGH", os.path.join(ROOT, "borough")), "audit", "--data",
                                    s.data_dir], capture_output=True, text=True).stdout
    finally:
        peer.stop()
        shutil.rmtree(apps, ignore_errors=True)
    problems = violations(pages.values())
    assert [st for _, st in states] == ["paid"] * 4, states
    assert len(reasons) == 2 and all(r[2] == "cleared" and r[3] == "Apu Approver" for r in reasons), reasons
    assert all(state == "cleared" for (state,) in cleared), cleared
    assert "The same bank account is on application" in reasons[0][1], reasons
    assert [r[1:] for r in runs] == [(2, 2000000, "paid"), (2, 2000000, "paid")], runs
    assert len(paid_mails) == 4, paid_mails
    lines = csv.body.decode().splitlines()
    assert lines[0] == "Payment reference,Payee name,Sort code,Account number,Amount,Application reference,Scheme", lines
    assert len(lines) == 3 and ",401234,11112222,10000.00," in lines[1], lines
    assert "read encrypted" in audit and "applications (sort_code, account_number)" in audit, audit[-2000:]
    assert "CSV download PR00001.csv of 2 rows" in audit, audit[-2000:]
    assert pages["en-business1-trading-error"]["title"].startswith("Error:"), pages["en-business1-trading-error"]
    assert "You cannot apply" in pages["en-business1-cannot-apply"]["title"], pages["en-business1-cannot-apply"]
    assert len([p for p in pages if p.startswith("cy-")]) >= 30, sorted(pages)
    assert not problems, "\n".join(problems)


@test
def approvals_sent_all_at_once_to_four_workers_never_overspend_the_budget():
    import csv
    import io
    apps = apps_copy()
    s = Server(apps, workers=4)
    try:
        lib.use_postgres(s.data_dir)          # (the imports come before the server starts)
        schemes = os.path.join(s.tmp, "schemes.csv")
        with open(schemes, "w") as f:
            f.write("Name,Short name,Who may apply,Details asked for,The amount,Fixed amount,Budget,Opening date,"
                    "Closing date\nTight fund,tight,anyone,personal,fixed,500,5000,2020-01-01,2040-01-01\n")
        status, out, err = borough("import", os.path.join(apps, "grants"), "schemes", schemes, "--data", s.data_dir)
        assert status == 0, (out, err)
        data, _ = gen("applications", 40, "--scheme", 1, "--seed", 5)
        rows = list(csv.reader(io.StringIO(data.decode())))
        for row in rows[1:]:
            row[2], row[13] = "recommended", "500"          # recommended for £500 each: the budget pays for 10
        path = os.path.join(s.tmp, "applications.csv")
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows(rows)
        status, out, err = borough("import", os.path.join(apps, "grants"), "applications", path, "--data", s.data_dir)
        assert status == 0 and "imported 40" in out + err, (out, err)
        with s:
            approver = staff_cookie(s, "grants", ["approver"])
            ids = [i for (i,) in query(s, "SELECT id FROM applications ORDER BY id")]
            token, headers = csrf(s.port, "/grants/applications/%d/steps/approve" % ids[0], approver)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            gate, results = threading.Barrier(len(ids)), {}

            def approve(i):
                c = Client(s.port, timeout=60)
                try:
                    gate.wait()
                    results[i] = c.request("POST", "/grants/applications/%d/steps/approve" % i, headers,
                                           urlencode({"csrf_token": token})).status
                finally:
                    c.close()
            threads = [threading.Thread(target=approve, args=(i,)) for i in ids]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            states = dict(query(s, "SELECT state, count(*) FROM applications GROUP BY state"))
            budget = query(s, "SELECT total, committed FROM budgets")
            lines = query(s, "SELECT count(*), sum(amount) FROM budget_lines WHERE state = 'committed'")
    finally:
        shutil.rmtree(apps, ignore_errors=True)
    assert sorted(results.values()) == [303] * 10 + [409] * 30, sorted(results.values())
    assert states == {"approved": 10, "recommended": 30}, states
    assert budget == [(500000, 500000)], budget
    assert lines == [(10, 500000)], lines


@test
def three_thousand_eight_hundred_invitations_leave_within_notifys_rate_limit():
    apps = apps_copy()
    peer = NotifyPeer().start()
    try:
        with Server(apps, workers=2) as s:
            setup_server(s, peer)
            manager = staff_cookie(s, "grants", ["manager"])
            assert post(s.port, "/grants/schemes/examples", manager, "/grants/dashboard").status == 303
            data, _ = gen("rates", 3800, "--seed", 8)
            rows = data.decode().splitlines()
            rows = [rows[0]] + [",".join(r.split(",")[:4] + ["9000", "Shop", "owner%d@example.com" % i, ""])
                                for i, r in enumerate(rows[1:])]
            r = upload(s.port, "/grants/upload/rates", manager, {"list": ("rates.csv", "\n".join(rows).encode())})
            assert "3800 rows added or updated" in r.body.decode(), r.body[-2000:]
            scheme = query(s, "SELECT id FROM schemes WHERE slug = 'small-business'")[0][0]
            t0 = time.time()
            r = post(s.port, "/grants/schemes/%d/invite" % scheme, manager, "/grants/schemes/%d" % scheme)
            assert r.status == 303, r
            def in_outbox():
                try:
                    return query(s, "SELECT count(*) FROM _borough_outbox")[0][0]
                except (sqlite3.OperationalError, AssertionError):      # (made with the first message)
                    return 0
            wait_for(lambda: in_outbox() == 3800, timeout=120, what="3,800 invitations in the outbox")
            queued = time.time() - t0
            wait_for(lambda: len({a["body"]["reference"] for a in peer.accepted}) == 3800, timeout=300,
                     what="every invitation at Notify")
            sent = time.time() - t0
            refs = [a["body"]["reference"] for a in peer.accepted]
            assert len(set(refs)) == 3800 and len(refs) - 3800 <= 16, len(refs)
            assert windows_ok(peer.times) <= 3000, windows_ok(peer.times)
            assert query(s, "SELECT count(*) FROM applications WHERE state = 'started'")[0][0] == 3800
            print("  3,800 invitations queued in %.1f s, all at Notify after %.1f s; most in a minute %d"
                  % (queued, sent, windows_ok(peer.times)))
    finally:
        peer.stop()
        shutil.rmtree(apps, ignore_errors=True)


@test
def the_public_pages_on_their_own_host_name_in_the_councils_look():
    apps = apps_copy(host="grants.barsetshire.example")
    try:
        s = Server(apps)
        os.makedirs(s.data_dir)
        with open(os.path.join(s.data_dir, "site.conf"), "w") as f:
            f.write("name = Barsetshire Council\nurl = https://www.barsetshire.example\ncolour = #1d5c3a\n")
        with s:
            manager = staff_cookie(s, "grants", ["manager"])
            c = Client(s.port)
            try:
                r = c.request("POST", "/schemes/examples", manager, host="grants.barsetshire.example")
                assert r.status == 403, r          # (no CSRF token: refused, nothing made)
                r = post(s.port, "/schemes/examples", manager, "/dashboard", host="grants.barsetshire.example")
                assert r.status == 303 and r.header("location") == "/schemes", r
                home = c.request("GET", "/", host="grants.barsetshire.example")
                start = c.request("GET", "/apply-to/test-and-trace", host="grants.barsetshire.example")
                elsewhere = c.request("GET", "/grants/", host="127.0.0.1")
                css = c.request("GET", "/assets/site.css", host="grants.barsetshire.example")
            finally:
                c.close()
    finally:
        shutil.rmtree(apps, ignore_errors=True)
    text = home.body.decode()
    assert home.status == 200 and "Barsetshire Council" in text and "Test and Trace support payment" in text, text[:3000]
    assert 'href="/apply-to/test-and-trace"' in text, text
    assert start.status == 200 and "Test and Trace support payment" in start.body.decode()
    assert elsewhere.status == 404, elsewhere
    assert b"#1d5c3a" in css.body, css.body[:300]


@test
def a_building_block_with_records_of_its_own_is_named_while_the_app_loads():
    late = {"app.lua": '''
local app = borough.app { title = "Late", mount = "/late", public = true }
app:get("/", function(req) return tostring(borough.links.find("x", "y")) end)
return app
'''}
    early = {"app.lua": '''
local links = borough.links
local app = borough.app { title = "Early", mount = "/early", public = true }
app:get("/", function(req) return tostring(select(2, links.find("x", "y"))) end)
return app
'''}
    with Server({"late": late, "early": early}) as s:
        r = get(s.port, "/late/")
        assert r.status == 500, r
        s.wait_log(r"late/app.lua:3: borough.links keeps records of its own: name it while the app loads")
        r = get(s.port, "/early/")
        assert r.status == 200 and r.body == b"unknown", r


if __name__ == "__main__":
    run()
