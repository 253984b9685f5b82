"""Two-factor sign-in for password accounts, against the real server: codes
required before any session for holders of admin (and for every password
account with two_factor = all), set up with a QR code the platform draws and
the secret as text, confirmed with a code; RFC 6238 codes computed here in
Python accepted one step either side of now, never twice, and not two steps
away; recovery codes shown once, stored hashed, each good once; wrong codes
throttled like passwords; the audit log; `borough user 2fa-reset`; the pages
in Chromium, checked with axe in English and Welsh."""
import base64
import hashlib
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import ROOT, Server, borough, execute, query, run, stored_bytes, test, totp  # noqa: E402
from ssolib import Browser  # noqa: E402
from browserlib import ensure_tools, run_scenario, violations  # noqa: E402

PASSWORD = "a long password for tests"
ADA = "ada@example.gov.uk"
MOUNT = "/cases"

APP = r'''
local app = borough.app { title = "Cases", mount = "/cases", roles = { "admin", "assessor" } }
app:get("/", function(req) return "signed in as " .. req.user.email end)
return app
'''
TREE = {"cases": {"app.lua": APP}}

SETUP = MOUNT + "/_account/two-factor/setup"
SECOND = MOUNT + "/_account/two-factor"


def add_user(s, email=ADA, roles=("admin",)):
    pw = os.path.join(s.tmp, "pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    status, out, err = borough("user", "add", email, "--name", "Ada", "--password-file", pw, "--data", s.data_dir)
    assert status == 0, err
    for role in roles:
        assert borough("user", "role", email, "cases", role, "--data", s.data_dir)[0] == 0


def db(s, sql, *args):
    return query(os.path.join(s.data_dir, "borough.db"), sql, *args)



def audit(s, action):
    return [(r["who"], r["detail"]) for r in db(s, "SELECT who, action, detail FROM platform_audit ORDER BY id")
            if r["action"] == action]


def sign_in(s, email=ADA):
    b = Browser(s.port)
    r = b.sign_in_password(email, PASSWORD, MOUNT)
    return b, r


def errors(r):
    return re.findall(r'<a href="#code">([^<]*)</a>', r.body.decode())


def enrol(s, email=ADA):
    """Signs in and sets codes up; returns the browser (signed in), the
    secret and the recovery codes."""
    b, r = sign_in(s, email)
    assert r.status == 303 and r.header("location") == SETUP, r
    page = b.get(SETUP)
    secret = re.search(rb'id="secret" class="borough-secret">([A-Z2-7 ]+)<', page.body).group(1).decode()
    r = b.form_post(SETUP, SETUP, {"code": totp(secret)})
    assert r.status == 200, r
    codes = re.findall(r"<li><code>([a-z2-7-]+)</code></li>", r.text)
    return b, secret, codes


def fresh_step():
    """Waits, if need be, until at least 10 seconds are left in the current
    30-second step, so the steps computed next stay those of the server."""
    left = 30 - time.time() % 30
    if left < 10:
        time.sleep(left + 0.2)


@test
def an_admin_sets_codes_up_before_any_session():
    with Server(TREE) as s:
        add_user(s)
        b, r = sign_in(s)
        assert r.status == 303 and r.header("location") == SETUP, r
        assert "borough_session" not in b.cookies and "borough_2fa" in b.cookies
        assert db(s, "SELECT count(*) AS n FROM sessions")[0]["n"] == 0
        assert b.get(MOUNT + "/").status == 303                      # no session yet
        page = b.get(SETUP)
        assert page.status == 200 and page.header("cache-control") == "no-store", page
        assert b'<svg' in page.body and b'role="img"' in page.body
        assert b"QR code to add this service to your authenticator app" in page.body
        secret = re.search(rb'id="secret" class="borough-secret">([A-Z2-7 ]+)<', page.body).group(1).decode()
        assert re.fullmatch(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", secret), secret       # grouped in fours
        assert len(base64.b32decode(secret.replace(" ", ""))) == 20
        # The same secret until it is confirmed.
        assert secret.encode() in b.get(SETUP).body
        fresh_step()
        r = b.form_post(SETUP, SETUP, {"code": totp(secret, step=3)})
        assert r.status == 400 and errors(r) == ["Enter the code the app shows now"], r
        r = b.form_post(SETUP, SETUP, {"code": ""})
        assert r.status == 400 and errors(r) == ["Enter the 6-digit code the app shows"], r
        r = b.form_post(SETUP, SETUP, {"code": totp(secret)})
        assert r.status == 200 and b"Two-factor sign-in is set up" in r.body, r
        assert "borough_session" in b.cookies and "borough_2fa" not in b.cookies
        codes = re.findall(r"<li><code>([a-z2-7-]+)</code></li>", r.text)
        assert len(codes) == 10 and len(set(codes)) == 10 and all(re.fullmatch(r"([a-z2-7]{4}-){3}[a-z2-7]{4}", c)
                                                                   for c in codes), codes
        assert b.get(MOUNT + "/").body == b"signed in as " + ADA.encode()
        # Stored sealed and hashed, never as shown.
        row = db(s, "SELECT totp_secret, totp_step FROM users")[0]
        assert row["totp_secret"].startswith("bo1.") and secret.replace(" ", "") not in row["totp_secret"]
        assert row["totp_step"] == int(time.time() // 30)
        hashes = db(s, "SELECT code_hash FROM recovery_codes")
        assert len(hashes) == 10 and all(len(h["code_hash"]) == 32 for h in hashes)
        dump = stored_bytes(os.path.join(s.data_dir, "borough.db"))
        assert secret.replace(" ", "").encode() not in dump and codes[0].encode() not in dump
        assert [w for w, _ in audit(s, "two-factor-enrol")] == [ADA]
        assert audit(s, "sign-in") == [(ADA, "after setting up two-factor codes, from 127.0.0.1")]
        assert audit(s, "two-factor-failed") == [(ADA, "wrong code while setting up, from 127.0.0.1")]


@test
def a_code_counts_once_and_one_step_either_side():
    with Server(TREE) as s:
        add_user(s)
        fresh_step()
        _, secret, _ = enrol(s)            # uses the code of this step
        b, r = sign_in(s)
        assert r.status == 303 and r.header("location") == SECOND, r
        assert "borough_session" not in b.cookies
        page = b.get(SECOND)
        assert page.status == 200 and b'autocomplete="one-time-code"' in page.body, page
        for step in (0, 2, -2):            # used already; two steps ahead; two behind
            r = b.form_post(SECOND, SECOND, {"code": totp(secret, step=step)})
            assert r.status == 400 and errors(r) == ["Enter a correct security code"], (step, r)
            assert "borough_session" not in b.cookies
        r = b.form_post(SECOND, SECOND, {"code": totp(secret, step=1)})   # the phone's clock a little fast
        assert r.status == 303 and r.header("location") == MOUNT + "/", r
        assert b.get(MOUNT + "/").status == 200
        b, r = sign_in(s)
        for step in (1, 0, -1):            # used; and steps before the one used
            r = b.form_post(SECOND, SECOND, {"code": totp(secret, step=step)})
            assert r.status == 400, (step, r)
        assert [d for _, d in audit(s, "sign-in")][-1] == "with a two-factor code, from 127.0.0.1"
        assert len(audit(s, "two-factor-failed")) == 6


@test
def recovery_codes_work_once():
    with Server(TREE) as s:
        add_user(s)
        _, _, codes = enrol(s)
        b, _ = sign_in(s)
        r = b.form_post(SECOND, SECOND, {"code": " " + codes[3].upper() + " "})
        assert r.status == 303, r
        assert audit(s, "recovery-code-used") == [(ADA, "9 left, from 127.0.0.1")]
        assert audit(s, "sign-in")[-1] == (ADA, "with a recovery code, from 127.0.0.1")
        b, _ = sign_in(s)
        r = b.form_post(SECOND, SECOND, {"code": codes[3]})
        assert r.status == 400 and errors(r) == ["Enter a correct security code"], r
        r = b.form_post(SECOND, SECOND, {"code": codes[4].replace("-", "")})
        assert r.status == 303, r


@test
def wrong_codes_are_throttled_like_passwords():
    with Server(TREE) as s:
        add_user(s)
        _, secret, _ = enrol(s)
        b, _ = sign_in(s)
        for _ in range(5):
            r = b.form_post(SECOND, SECOND, {"code": "000000"})
            assert r.status == 400, r
        r = b.form_post(SECOND, SECOND, {"code": totp(secret, step=1)})
        assert r.status == 429 and errors(r)[0].startswith("Too many attempts. Try again in "), r
        assert "borough_session" not in b.cookies
        assert audit(s, "two-factor-failed")[-1] == (ADA, "throttled, from 127.0.0.1")
        # The password step is throttled by the same count.
        b2, r = sign_in(s)
        assert r.status == 429, r


@test
def every_password_account_when_the_site_says_all():
    with Server(TREE) as s:
        add_user(s, "sam@example.gov.uk", roles=("assessor",))
        b, r = sign_in(s, "sam@example.gov.uk")
        assert r.status == 303 and r.header("location") == MOUNT + "/", r          # not asked
        assert borough("sso", "set", "two_factor=all", "--data", s.data_dir)[0] == 0
        b, r = sign_in(s, "sam@example.gov.uk")
        assert r.status == 303 and r.header("location") == SETUP, r
        # A second step waits ten minutes at most.
        execute(os.path.join(s.data_dir, "borough.db"), "UPDATE two_factor_pending SET created_ms = created_ms - 601000")
        r = b.get(SETUP)
        assert r.status == 303 and r.header("location") == MOUNT + "/_account/sign-in", r


@test
def codes_set_up_by_choice_and_a_waiting_sign_in_cannot_replace_them():
    with Server(TREE) as s:
        add_user(s, "sam@example.gov.uk", roles=("assessor",))
        b, r = sign_in(s, "sam@example.gov.uk")
        page = b.get(MOUNT + "/_account/sign-out")
        assert b'href="/cases/_account/two-factor/setup">Set up two-factor sign-in<' in page.body, page.body
        page = b.get(SETUP)
        secret = re.search(rb'id="secret" class="borough-secret">([A-Z2-7 ]+)<', page.body).group(1).decode()
        r = b.form_post(SETUP, SETUP, {"code": totp(secret)})
        assert r.status == 200 and b.get(MOUNT + "/").status == 200, r
        page = b.get(MOUNT + "/_account/sign-out")
        assert b">Set up two-factor sign-in on a new phone<" in page.body
        # Now sign-in asks for a code; a browser with only the password
        # cannot set up codes of its own instead.
        other, r = sign_in(s, "sam@example.gov.uk")
        assert r.header("location") == SECOND, r
        r = other.get(SETUP)
        assert r.status == 303 and r.header("location") == MOUNT + "/_account/sign-in", r
        r = other.request("POST", SETUP, {"code": "123456", "csrf_token": "x"})
        assert r.status in (303, 403), r
        assert len(audit(s, "two-factor-enrol")) == 1


@test
def a_reset_forgets_the_codes_and_ends_the_sessions():
    with Server(TREE) as s:
        add_user(s)
        b, _, codes = enrol(s)
        assert b.get(MOUNT + "/").status == 200
        status, out, err = borough("user", "2fa-reset", ADA, "--data", s.data_dir)
        assert (status, out) == (0, "Two-factor codes of %s forgotten; their sessions have ended\n" % ADA), err
        assert b.get(MOUNT + "/").status == 303
        assert db(s, "SELECT totp_secret, totp_step FROM users") == [{"totp_secret": None, "totp_step": -1}]
        assert db(s, "SELECT count(*) AS n FROM recovery_codes")[0]["n"] == 0
        assert [w for w, _ in audit(s, "two-factor-reset")] == ["cli:" + __import__("pwd").getpwuid(os.getuid()).pw_name]
        b, r = sign_in(s)
        assert r.header("location") == SETUP, r
        assert borough("user", "2fa-reset", "nobody@example.gov.uk", "--data", s.data_dir)[0] == 1


@test
def key_rotation_seals_the_secrets_again():
    with Server(TREE) as s:
        add_user(s)
        fresh_step()
        _, secret, _ = enrol(s)
        status, out, err = borough("keys", "list", "--data", s.data_dir)
        assert status == 0 and "key 1 (current): seals 1 value\n" in out, (out, err)
        s.stop()
        assert borough("keys", "retire", "1", "--data", s.data_dir)[0] == 1       # current, and in use
        status, out, err = borough("keys", "rotate", "--data", s.data_dir)
        assert status == 0 and "1 value sealed again" in out, (out, err)
        assert db(s, "SELECT totp_secret FROM users")[0]["totp_secret"].startswith("bo1.2.")
        status, out, err = borough("keys", "retire", "1", "--data", s.data_dir)
        assert status == 0, (out, err)
        s.start()
        b, r = sign_in(s)
        r = b.form_post(SECOND, SECOND, {"code": totp(secret, step=1)})
        assert r.status == 303, r


@test
def in_chromium_the_pages_pass_axe_in_english_and_welsh():
    ensure_tools()
    with Server(TREE) as s:
        steps = []
        for lang in ("en", "cy"):
            email = "ada-%s@example.gov.uk" % lang
            add_user(s, email)
            steps += [
                ["goto", MOUNT + "/_account/sign-in?lang=" + lang], ["fill", "#email", email],
                ["fill", "#password", PASSWORD], ["click", "form button.govuk-button"],
                ["audit", "2fa-setup-" + lang],
                ["fill", "#code", "000000"], ["click", "form button.govuk-button"], ["audit", "2fa-setup-errors-" + lang],
                ["remember", "#secret"], ["totp", "#code", 0], ["click", "form button.govuk-button"],
                ["audit", "2fa-recovery-codes-" + lang],
                ["goto", MOUNT + "/_account/sign-out"], ["audit", "2fa-sign-out-" + lang],
                ["click", "form button.govuk-button"],
                ["fill", "#email", email], ["fill", "#password", PASSWORD], ["click", "form button.govuk-button"],
                ["audit", "2fa-code-" + lang],
                ["fill", "#code", "000000"], ["click", "form button.govuk-button"], ["audit", "2fa-code-errors-" + lang],
                ["totp", "#code", 1], ["click", "form button.govuk-button"], ["look", "2fa-signed-in-" + lang],
            ]
        pages = {p["name"]: p for p in run_scenario(s.port, steps, os.path.join(ROOT, "build", "a11y", "2fa"))}
        assert violations(list(pages.values())) == []
        assert pages["2fa-signed-in-en"]["text"].strip() == "signed in as ada-en@example.gov.uk", pages["2fa-signed-in-en"]
        assert pages["2fa-signed-in-cy"]["text"].strip() == "signed in as ada-cy@example.gov.uk"
        assert pages["2fa-setup-cy"]["title"].startswith("Gosod mewngofnodi dau gam")
        assert pages["2fa-code-cy"]["title"].startswith("Rhowch eich cod diogelwch")
        assert "Rhowch god diogelwch cywir" in pages["2fa-code-errors-cy"]["text"]
        assert pages["2fa-code-errors-cy"]["title"].startswith("Gwall: Rhowch eich cod diogelwch")
        assert pages["2fa-code-errors-en"]["title"].startswith("Error: Enter your security code")
        assert pages["2fa-recovery-codes-en"]["title"].startswith("Two-factor sign-in is set up")
        # The QR code on the page, as a phone's camera reads it, is the secret the page shows.
        shown = re.search(r"\b((?:[A-Z2-7]{4} ){7}[A-Z2-7]{4})\b", pages["2fa-setup-en"]["text"]).group(1)
        read = subprocess.run(["zbarimg", "--raw", "-q", os.path.join(ROOT, "build", "a11y", "2fa", "2fa-setup-en.png")],
                              capture_output=True, text=True).stdout.strip()
        assert read == ("otpauth://totp/borough:ada-en%%40example.gov.uk?secret=%s&issuer=borough&algorithm=SHA1"
                        "&digits=6&period=30" % shown.replace(" ", "")), read


run()
