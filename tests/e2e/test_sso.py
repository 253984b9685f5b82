"""Single sign-on with OpenID Connect against a real provider
(tests/oidc/provider.js, panva's oidc-provider, over HTTPS with a test CA;
see ssolib.py): the sign-in page's button, the authorization code flow with
PKCE, state and nonce, accounts found by the provider's subject and made at
the first sign-in, roles from groups through the operator's mapping
(re-evaluated at every sign-in, roles given by hand kept), disabling,
sign-out there too; what must be refused (a state of nobody's, a replayed
callback, another browser, a replayed code, a nonce of another sign-in, a
tampered signature, another audience, an expired token, alg none, HS256
keyed with the RSA public key, an unknown key id) with nothing written; a
rotated key fetched once, and unknown key ids fetching the set at most once
a minute; a provider down, slow or answering nonsense (a plain page within
seconds, sessions and passwords unaffected); the client secret never shown;
`borough sso`; the pages in Chromium, checked with axe in English and
Welsh."""
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import BOROUGH, ROOT, SLOW, Server, borough, execute, run, test  # noqa: E402
from ssolib import MOUNT, SECRET, TREE, Browser, Site, path_of  # noqa: E402
from browserlib import ensure_tools, run_scenario, violations  # noqa: E402
from oidclib import b64url  # noqa: E402

PASSWORD = "a long break-glass password"
KEEPER = "keeper@example.gov.uk"


def add_password_account(site, email=KEEPER):
    pw = os.path.join(site.server.tmp, "pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    status, out, err = borough("user", "add", email, "--name", "Break Glass", "--password-file", pw,
                               "--data", site.data_dir)
    assert status == 0, err


def counts(site):
    return {t: site.db("SELECT count(*) AS n FROM %s" % t)[0]["n"] for t in ("users", "sessions", "sso_identities")}


def title_of(r):
    return re.search(rb"<h1[^>]*>([^<]*)</h1>", r.body).group(1).decode()


def plain_page(r):
    """A GOV.UK page that explains without the machinery showing."""
    assert b"govuk-template__header" in r.body and b"govuk-footer" in r.body, r
    for leak in (b"traceback", b"lsso.c", b".lua:", b"stack", SECRET.encode()):
        assert leak not in r.body, (leak, r.body)


def claims(site, params, **changes):
    now = int(time.time())
    c = {"iss": site.idp.issuer, "sub": "alice", "aud": "borough", "iat": now, "exp": now + 300,
         "nonce": params["nonce"], "email": "alice@example.org", "name": "Alice Example",
         "groups": ["planning-officers"]}
    c.update(changes)
    return c


def with_token(site, b, token_for):
    """A sign-in whose token endpoint answers with token_for(params) (the
    authorization request's parameters) as its ID token; returns borough's
    answer to the callback."""
    url, params = site.begin(b)
    back = site.at_provider(b, url, "alice")
    site.idp.queue_id_token(token_for(params))
    return b.get(path_of(back))


@test
def the_sign_in_page_offers_the_provider_and_passwords_where_allowed():
    with Site() as site:
        add_password_account(site)
        b = Browser(site.port)
        page = b.get(MOUNT + "/_account/sign-in?next=/planning/officers")
        assert page.status == 200, page
        assert b'href="/planning/_account/sso?next=/planning/officers"' in page.body, page.body
        assert b"Sign in with Test Provider" in page.body and b'id="password"' in page.body
        assert b"Or sign in with a password" in page.body
        cy = b.get(MOUNT + "/_account/sign-in?lang=cy")
        assert "Mewngofnodi gyda Test Provider".encode() in cy.body, cy.body
        # The site can hide the password form: the button alone, ...
        site.sso("set", "passwords=off")
        page = Browser(site.port).get(MOUNT + "/_account/sign-in")
        assert b"Sign in with Test Provider" in page.body and b'id="password"' not in page.body, page.body
        # ... but break-glass accounts still sign in, at ?with=password.
        page = Browser(site.port).get(MOUNT + "/_account/sign-in?with=password")
        assert b'id="password"' in page.body
        r = Browser(site.port).sign_in_password(KEEPER, PASSWORD)
        assert r.status == 303 and r.header("location") == "/planning/", r
        # One client address cannot fill the database with sign-ins it never finishes.
        now = int(time.time() * 1000)
        execute(os.path.join(site.data_dir, "borough.db"),
                "INSERT INTO sso_flows (state_hash, browser_hash, nonce, verifier, redirect_uri, client, created_ms) "
                "VALUES " + ", ".join(["(?, ?, '', '', '', '127.0.0.1', ?)"] * 300),
                *[v for _ in range(300) for v in (os.urandom(32), b"\x00", now)])
        r = Browser(site.port).get(MOUNT + "/_account/sso")
        assert r.status == 429 and title_of(r) == "Too many sign-ins have been started from here", r
        plain_page(r)
        # Without single sign-on set up, the page is the password form alone.
        site.sso("unset", "issuer")
        page = Browser(site.port).get(MOUNT + "/_account/sign-in")
        assert b"Sign in with" not in page.body and b'id="password"' in page.body
        r = Browser(site.port).get(MOUNT + "/_account/sso")
        assert r.status == 404 and title_of(r) == "Single sign-on is not set up", r


@test
def a_first_sign_in_makes_the_account_with_the_mapped_role():
    with Site() as site:
        b = Browser(site.port)
        r = b.get("/planning/officers")
        assert r.status == 303, r
        url, params = site.begin(b, next="/planning/officers")
        assert params["response_type"] == "code" and params["client_id"] == "borough", params
        assert params["redirect_uri"] == site.callback and params["scope"] == "openid profile email groups"
        assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
        assert len(params["state"]) == 43 and len(params["nonce"]) == 43 and params["state"] != params["nonce"]
        flow = b.cookies["borough_sso"]
        row = site.db("SELECT state_hash, browser_hash, nonce FROM sso_flows")[0]
        assert row["state_hash"] == hashlib.sha256(params["state"].encode()).digest()      # only hashes
        assert row["browser_hash"] == hashlib.sha256(flow.encode()).digest()
        back = site.at_provider(b, url, "alice")
        r = b.get(path_of(back))
        assert r.status == 303 and r.header("location") == "/planning/officers", r
        assert "borough_sso" not in b.cookies and "borough_session" in b.cookies
        r = b.get("/planning/officers")
        assert r.status == 200 and r.body == b"alice@example.org | Alice Example | [officer]", r
        assert site.db("SELECT email, name, password_hash FROM users") == \
            [{"email": "alice@example.org", "name": "Alice Example", "password_hash": ""}]
        assert site.db("SELECT issuer, claim, subject FROM sso_identities") == \
            [{"issuer": site.idp.issuer, "claim": "sub", "subject": "alice"}]
        assert site.db("SELECT app, role, source FROM user_roles") == \
            [{"app": "planning", "role": "officer", "source": "sso planning-officers"}]
        assert site.db("SELECT sso FROM sessions") == [{"sso": 1}] and site.db("SELECT * FROM sso_flows") == []
        assert [(a["who"], a["detail"]) for a in site.audit("sign-in")] == \
            [("alice@example.org", "single sign-on (sub alice), account made, from 127.0.0.1")]
        assert site.audit("sso-roles")[0]["detail"] == "roles from the provider now: planning:officer"
        # No password opens an account single sign-on made.
        r = Browser(site.port).sign_in_password("alice@example.org", "")
        assert r.status == 400
        # The server says what its part cost, apart from the provider's.
        assert re.search(r"single sign-on: [0-9.]+ ms of server work .* waiting for the provider in 2 exchanges",
                         site.server.log()), site.server.log()


@test
def the_next_sign_in_uses_the_cached_keys_and_refreshes_name_and_email():
    with Site(workers=2) as site:               # one cache for the process, whichever worker answers
        site.sign_in(Browser(site.port), "alice")
        before = site.idp.requests()
        assert before["/jwks"] == 1 and before["/.well-known/openid-configuration"] == 1, before
        site.idp.users["alice"].update(name="Alice Newname", email="alice.newname@example.org")
        site.idp._write_users()
        b = Browser(site.port)
        assert site.sign_in(b, "alice").status == 303
        after = site.idp.requests()
        assert after["/jwks"] == 1 and after["/.well-known/openid-configuration"] == 1, after   # nothing fetched
        assert after["/token"] == 2
        assert b.get("/planning/").body == b"alice.newname@example.org | Alice Newname | [officer]"
        for _ in range(6):
            assert site.sign_in(Browser(site.port), "alice").status == 303
        assert site.idp.requests()["/jwks"] == 1
        assert len(site.db("SELECT id FROM users")) == 1
        assert re.search(r"waiting for the provider in 1 exchange\n", site.server.log())


@test
def a_group_removed_takes_the_role_away_at_the_next_sign_in_and_hand_given_roles_stay():
    with Site() as site:
        b = Browser(site.port)
        site.sign_in(b, "alice")
        assert b.get("/planning/officers").status == 200
        borough("user", "role", "alice@example.org", "planning", "manager", "--data", site.data_dir)
        site.idp.set_groups("alice", ["staff"])
        b2 = Browser(site.port)
        assert site.sign_in(b2, "alice").status == 303
        assert b2.get("/planning/officers").status == 403
        assert b2.get("/planning/").body == b"alice@example.org | Alice Example | [manager]"
        assert b.get("/planning/officers").status == 403       # roles are the account's, in every session
        assert site.audit("sso-roles")[-1]["detail"] == "roles from the provider now: none"
        # The operator maps another group: it counts from the next sign-in.
        site.sso("map", "staff", "planning", "admin")
        assert site.sign_in(Browser(site.port), "alice").status == 303
        assert b2.get("/planning/").body == b"alice@example.org | Alice Example | [admin,manager]"
        # Unmapping takes the role away at once.
        out = site.sso("map", "staff", "planning", "admin", "--remove")
        assert out == "staff no longer gives admin in planning; 1 account lost it\n", out
        assert b2.get("/planning/").body == b"alice@example.org | Alice Example | [manager]"


@test
def disabling_an_account_ends_its_sessions_and_refuses_its_sign_in():
    with Site() as site:
        b = Browser(site.port)
        site.sign_in(b, "alice")
        assert b.get("/planning/").status == 200
        status, out, err = borough("user", "disable", "alice@example.org", "--data", site.data_dir)
        assert status == 0, err
        assert b.get("/planning/").status == 303
        before = counts(site)
        r = site.sign_in(Browser(site.port), "alice")
        assert r.status == 403 and title_of(r) == "Your account has been disabled", r
        plain_page(r)
        assert counts(site) == before and site.db("SELECT count(*) AS n FROM sessions")[0]["n"] == 0
        assert site.audit("sso-failed")[-1]["detail"].startswith("disabled: the account alice@example.org is disabled")


@test
def a_callback_works_once_in_the_browser_that_began_it():
    with Site() as site:
        b = Browser(site.port)
        # A state nobody began.
        r = b.get(MOUNT + "/_account/sso/callback?state=" + "A" * 43 + "&code=x")
        assert r.status == 400 and title_of(r) == "Your sign-in did not finish", r
        plain_page(r)
        # The same callback twice: the second finds no sign-in in flight.
        url, _ = site.begin(b)
        back = site.at_provider(b, url, "alice")
        assert b.get(path_of(back)).status == 303
        tokens = site.idp.requests()["/token"]
        assert b.get(path_of(back)).status == 400
        assert site.idp.requests()["/token"] == tokens          # refused before the provider is asked
        # Another browser with the victim's callback (login CSRF) gets nothing.
        victim, attacker = Browser(site.port), Browser(site.port)
        url, _ = site.begin(attacker)
        back = site.at_provider(attacker, url, "bob")
        site.begin(victim)
        r = victim.get(path_of(back))
        assert r.status == 400 and "borough_session" not in victim.cookies, r
        assert "another browser" in site.audit("sso-failed")[-1]["detail"]
        # The person cancels at the provider.
        url, params = site.begin(b)
        r = b.get(MOUNT + "/_account/sso/callback?" + urllib.parse.urlencode(
            {"state": params["state"], "error": "access_denied"}))
        assert r.status == 400 and title_of(r) == "You did not finish signing in", r
        # A code used before, under a new state of this browser: the provider refuses it.
        url, _ = site.begin(b)
        first = site.at_provider(b, url, "alice")
        assert b.get(path_of(first)).status == 303
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(first).query))["code"]
        _, params = site.begin(b)
        before = counts(site)
        r = b.get(MOUNT + "/_account/sso/callback?" + urllib.parse.urlencode({"state": params["state"], "code": code}))
        assert r.status == 403 and title_of(r) == "Sorry, we could not sign you in", r
        assert site.audit("sso-failed")[-1]["detail"].startswith(
            "refused: the token endpoint refused the code: invalid_grant"), site.audit("sso-failed")[-1]
        assert counts(site)["sessions"] == before["sessions"]


@test
def forged_and_wrong_tokens_are_refused_with_nothing_written():
    with Site() as site:
        idp = site.idp
        b = Browser(site.port)
        site.sign_in(Browser(site.port), "bob")        # keys cached, one account
        rs_kid = [k["kid"] for k in idp.jwks()["keys"] if k["alg"] == "RS256"][0]
        fetched = idp.requests()["/jwks"]          # ours, and the one just above

        def tampered(params):
            token = idp.sign("RS256", claims(site, params))
            h, c, s = token.split(".")
            sig = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
            sig[7] ^= 1
            return "%s.%s.%s" % (h, c, b64url(bytes(sig)))

        def none(params):
            return "%s.%s." % (b64url(b'{"alg":"none","typ":"JWT"}'), b64url(json.dumps(claims(site, params)).encode()))

        def hs256(params):
            pem = idp.pem(rs_kid).encode()
            head = b64url(json.dumps({"alg": "HS256", "kid": rs_kid, "typ": "JWT"}).encode())
            body = b64url(json.dumps(claims(site, params)).encode())
            mac = hmac.new(pem, ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest()
            return "%s.%s.%s" % (head, body, b64url(mac))

        cases = [
            ("tampered signature", tampered, "the ID token: bad signature"),
            ("wrong audience", lambda p: idp.sign("RS256", claims(site, p, aud="someone-else")),
             'the ID token: audience ("aud") does not include this client'),
            ("expired", lambda p: idp.sign("RS256", claims(site, p, iat=int(time.time()) - 900,
                                                          exp=int(time.time()) - 600)),
             "the ID token: expired at"),
            ("another sign-in's nonce", lambda p: idp.sign("RS256", claims(site, p, nonce="n" * 43)),
             "the ID token: nonce does not match this sign-in"),
            ("another issuer", lambda p: idp.sign("RS256", claims(site, p, iss="https://evil.example")),
             'the ID token: issuer ("iss") is not'),
            ("alg none", none, 'the ID token: unsigned token (alg "none") refused'),
            ("HS256 keyed with the RSA public key", hs256, "the ID token: shared-secret algorithm HS256 refused"),
            ("an algorithm not configured", lambda p: idp.sign("ES256", claims(site, p)),
             "the ID token: algorithm ES256 not accepted here"),
        ]
        for name, make, why in cases:
            before = counts(site)
            r = with_token(site, b, make)
            assert r.status == 403 and title_of(r) == "Sorry, we could not sign you in", (name, r)
            plain_page(r)
            assert "borough_session" not in b.cookies, name
            assert counts(site) == before, name
            detail = site.audit("sso-failed")[-1]["detail"]
            assert detail.startswith("refused: " + why), (name, detail)
            assert idp.requests()["/jwks"] == fetched, name      # none of them made us fetch the keys again


@test
def a_rotated_key_is_fetched_once_and_unknown_key_ids_at_most_once_a_minute():
    with Site() as site:
        idp = site.idp
        assert site.sign_in(Browser(site.port), "alice").status == 303
        assert idp.requests()["/jwks"] == 1
        # A key id nobody published: the set is fetched again once, then the token refused.
        unknown = lambda p: idp.sign("RS256", claims(site, p), header={"kid": "never-published"})  # noqa: E731
        r = with_token(site, Browser(site.port), unknown)
        assert r.status == 403 and idp.requests()["/jwks"] == 2, idp.requests()
        assert site.audit("sso-failed")[-1]["detail"].startswith(
            'refused: the ID token: no key "never-published" in the key set'), site.audit("sso-failed")[-1]
        # More of them within the minute fetch nothing.
        for _ in range(3):
            assert with_token(site, Browser(site.port), unknown).status == 403
        assert idp.requests()["/jwks"] == 2
    with Site() as site:
        idp = site.idp
        assert site.sign_in(Browser(site.port), "alice").status == 303
        kid = idp.rotate("RS256")
        b = Browser(site.port)
        assert site.sign_in(b, "alice").status == 303             # the new key: fetched once, then good
        assert idp.requests()["/jwks"] == 2 and b.get("/planning/officers").status == 200
        assert site.sign_in(Browser(site.port), "alice").status == 303
        assert idp.requests()["/jwks"] == 2, kid


class Silent:
    """A peer that accepts connections and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            while True:
                self.held.append(self.sock.accept()[0])
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


class Nonsense:
    """An HTTPS peer (the provider's certificate, so TLS passes) that answers
    every request with answer(path) -> (status, body)."""

    def __init__(self, idp, answer):
        self.answer = answer
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(os.path.join(idp.dir, "leaf.pem"), os.path.join(idp.dir, "leaf.key"))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = "https://localhost:%d" % self.port
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.answer_one, args=(conn,), daemon=True).start()

    def answer_one(self, conn):
        conn.settimeout(10)
        try:
            c = self.ctx.wrap_socket(conn, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = c.recv(4096)
                if not chunk:
                    break
                head += chunk
            path = head.split(b" ")[1].decode() if head.count(b" ") >= 2 else "/"
            status, body = self.answer(path)
            c.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" %
                      (status, len(body), body))
            c.close()
        except (OSError, ssl.SSLError):
            conn.close()

    def close(self):
        self.sock.close()


def still_fine(site, b, keeper, before):
    """After a failure: nothing written, the session open before still good,
    a break-glass password still signing in."""
    after = counts(site)
    assert after["users"] == before["users"] and after["sso_identities"] == before["sso_identities"], (before, after)
    assert b.get("/planning/").status == 200
    r = keeper.sign_in_password(KEEPER, PASSWORD)
    assert r.status == 303, r


@test
def a_provider_down_slow_or_answering_nonsense_gets_a_plain_page_within_seconds():
    with Site() as site:
        add_password_account(site)
        b = Browser(site.port)
        site.sign_in(b, "alice")
        issuer = site.idp.issuer
        before = counts(site)

        def attempt(expect_title="Sorry, you cannot sign in with your work account at the moment"):
            t0 = time.time()
            r = Browser(site.port).get(MOUNT + "/_account/sso")
            elapsed = time.time() - t0
            assert r.status == 502 and title_of(r) == expect_title, r
            plain_page(r)
            assert b'href="/planning/_account/sign-in"' in r.body          # the password form, offered
            assert elapsed < 8 * SLOW, elapsed
            return elapsed

        # Nothing listens: refused at once.
        dead = socket.socket()
        dead.bind(("127.0.0.1", 0))
        dead_port = dead.getsockname()[1]
        dead.close()
        site.sso("set", "issuer=https://localhost:%d" % dead_port)
        attempt()
        still_fine(site, b, Browser(site.port), before)
        # A peer that never answers: the five seconds run out.
        silent = Silent()
        try:
            site.sso("set", "issuer=https://localhost:%d" % silent.port)
            elapsed = attempt()
            assert elapsed >= 4.5, elapsed
            still_fine(site, b, Browser(site.port), before)
        finally:
            silent.close()
        # Answers that are not a discovery document.
        for answer in (lambda path: (200, b"<html>hello</html>"), lambda path: (500, b"{}"),
                       lambda path: (200, json.dumps({"issuer": "https://elsewhere.example"}).encode())):
            peer = Nonsense(site.idp, answer)
            try:
                site.sso("set", "issuer=" + peer.url)
                attempt()
            finally:
                peer.close()
        still_fine(site, b, Browser(site.port), before)
        assert "discovery: not a JSON object" in site.server.log()
        assert "discovery: the document's issuer is not" in site.server.log()
        # A discovery document whose token endpoint answers nonsense: the
        # callback fails, nothing is made.
        def half(path):
            if path.startswith("/.well-known/"):
                return 200, json.dumps({"issuer": peer.url, "authorization_endpoint": issuer + "/auth",
                                        "token_endpoint": peer.url + "/token", "jwks_uri": peer.url + "/jwks"}).encode()
            return 200, b"\x00\x01 not json"
        peer = Nonsense(site.idp, half)
        try:
            site.sso("set", "issuer=" + peer.url)
            nb = Browser(site.port)
            url, params = site.begin(nb)
            assert url.startswith(issuer + "/auth?")
            back = site.at_provider(nb, url, "bob")
            r = nb.get(path_of(back))
            assert r.status == 502 and "borough_session" not in nb.cookies, r
            plain_page(r)
            assert "token endpoint: not a JSON object" in site.audit("sso-failed")[-1]["detail"], site.audit()[-3:]
        finally:
            peer.close()
        still_fine(site, b, Browser(site.port), before)
        # The provider itself stops between the sign-in there and the callback.
        site.sso("set", "issuer=" + issuer)
        nb = Browser(site.port)
        url, _ = site.begin(nb)
        back = site.at_provider(nb, url, "bob")
        site.idp.stop()
        t0 = time.time()
        r = nb.get(path_of(back))
        assert r.status == 502 and time.time() - t0 < 8 * SLOW, r
        still_fine(site, b, Browser(site.port), before)


@test
def the_client_secret_is_never_shown_and_comes_from_a_file_too():
    with Site() as site:
        secret_file = os.path.join(site.server.tmp, "sso-secret")
        with open(secret_file, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(secret_file, 0o600)
        site.sso("set", "client_secret_file=" + secret_file)
        out = site.sso("show")
        assert "client_secret_env = (not set)" in out and "client_secret_file = " + secret_file in out, out
        assert "client secret: ******** (readable)" in out and SECRET not in out, out
        assert "  planning-officers -> planning:officer" in out and "single sign-on: on" in out
        b = Browser(site.port)
        assert site.sign_in(b, "alice").status == 303
        # Readable by anyone: refused, and said why in the log.
        os.chmod(secret_file, 0o644)
        r = site.sign_in(Browser(site.port), "alice")
        assert r.status == 500 and title_of(r) == "Sorry, there is a problem with signing in", r
        plain_page(r)
        assert "readable by anyone" in site.server.log()
        os.chmod(secret_file, 0o600)
        # A wrong secret: the provider says invalid_client.
        with open(secret_file, "w") as f:
            f.write("not the secret\n")
        r = site.sign_in(Browser(site.port), "alice")
        assert r.status == 500, r
        assert "invalid_client" in site.audit("sso-failed")[-1]["detail"]
        for text in (site.server.log(), json.dumps(site.audit()), site.idp.log()):
            assert SECRET not in text
        p = subprocess.run([BOROUGH, "sso", "test", "--data", site.data_dir], capture_output=True, text=True,
                           env=dict(os.environ, SSL_CERT_FILE=site.idp.ca_file), timeout=60 * SLOW)
        status, out, err = p.returncode, p.stdout, p.stderr
        assert status == 0 and "discovery: ok (issuer %s)" % site.idp.issuer in out and "key set: 3 keys" in out, \
            (out, err)


@test
def borough_sso_checks_what_it_is_given():
    with Site() as site:
        def sso(*args):
            return borough("sso", *args, "--data", site.data_dir)
        assert sso("set", "issuer=http://login.example") == \
            (1, "", "borough sso: issuer wants the provider's issuer URL, such as "
                    "https://login.microsoftonline.com/TENANT-ID/v2.0\n")
        assert sso("set", "scopes=profile email")[0] == 1
        assert sso("set", "algorithms=HS256")[0] == 1
        assert sso("set", "colour=blue")[2].startswith("borough sso: no setting colour")
        assert sso("set", "issuer")[0] == 2
        # All or nothing: the good one before a bad one is not stored.
        assert sso("set", "provider_name=Entra", "two_factor=sometimes")[0] == 1
        assert "provider_name = Test Provider\n" in sso("show")[1]
        assert sso("map", "g", "planning", "Not A Role")[0] == 1
        assert sso("map", "g", "planning", "officer", "--remove") == (0, "g was not mapped to officer in planning\n", "")
        assert sso("link", "nobody@example.org", "x") == (1, "", "borough sso: no account for nobody@example.org\n")
        status, out, err = sso("frobnicate")
        assert status == 2 and "unknown subcommand frobnicate" in err
        # link: a password account signs in as the provider's subject.
        add_password_account(site)
        assert sso("link", KEEPER, "bob")[0] == 0
        b = Browser(site.port)
        assert site.sign_in(b, "bob").status == 303
        assert b.get("/planning/").body == b"bob@example.org | Bob Example | []"
        assert site.db("SELECT count(*) AS n FROM users")[0]["n"] == 1
        # An unlinked account whose address the provider gives: refused, not merged.
        assert sso("unlink", "bob@example.org") == (0, "bob@example.org is no longer linked to the provider\n", "")
        r = site.sign_in(Browser(site.port), "bob")
        assert r.status == 409 and title_of(r) == "Your account needs to be linked", r
        actions = [a["action"] for a in site.audit()]
        assert "sso-link" in actions and "sso-unlink" in actions


@test
def the_callback_is_named_under_the_sites_public_address():
    with Site() as site:
        env = {"SSL_CERT_FILE": site.idp.ca_file, "BOROUGH_SSO_SECRET": SECRET}
        with Server(TREE, args=["--public-url", "https://apps.example.gov.uk"], env=env) as other:
            assert borough("sso", "set", "issuer=" + site.idp.issuer, "client_id=borough",
                           "client_secret_env=BOROUGH_SSO_SECRET", "--data", other.data_dir)[0] == 0
            r = Browser(other.port).get(MOUNT + "/_account/sso")
            assert r.status == 303, r
            params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.header("location")).query))
            assert params["redirect_uri"] == "https://apps.example.gov.uk/planning/_account/sso/callback", params


@test
def sign_out_ends_the_session_and_goes_on_to_the_provider():
    with Site() as site:
        b = Browser(site.port)
        site.sign_in(b, "alice")
        r = b.form_post(MOUNT + "/_account/sign-out", MOUNT + "/_account/sign-out", {})
        assert r.status == 200 and "borough_session" not in b.cookies, r
        end = site.idp.discovery()["end_session_endpoint"] + "?" + urllib.parse.urlencode(
            {"client_id": "borough", "post_logout_redirect_uri": "http://127.0.0.1:%d%s/_account/signed-out"
             % (site.port, MOUNT)})
        assert ('<meta http-equiv="refresh" content="0; url=%s">' % end.replace("&", "&amp;")).encode() in r.body, r
        assert site.db("SELECT count(*) AS n FROM sessions")[0]["n"] == 0
        # A password session signs out here only.
        add_password_account(site)
        k = Browser(site.port)
        k.sign_in_password(KEEPER, PASSWORD)
        r = k.form_post(MOUNT + "/_account/sign-out", MOUNT + "/_account/sign-out", {})
        assert r.status == 303 and r.header("location") == MOUNT + "/_account/sign-in?signed_out=1", r


@test
def in_chromium_staff_sign_in_at_the_provider_and_out_of_both():
    ensure_tools()
    with Site() as site:
        args = ["--ignore-certificate-errors-spki-list=" + site.idp.spki_hash()]
        out = os.path.join(ROOT, "build", "a11y", "sso")
        rounds = []
        for lang in ("en", "cy"):
            rounds += [
                ["goto", MOUNT + "/_account/sign-in?lang=" + lang], ["audit", "sso-sign-in-" + lang],
                ["click", "a.govuk-button--start"], ["look", "provider-sign-in-" + lang],
                ["fill", "#login", "alice"], ["click", "button[type=submit]"], ["look", "signed-in-" + lang],
                ["goto", MOUNT + "/_account/sign-out"], ["audit", "sso-sign-out-" + lang],
                ["hold", "/session/end"], ["click", "form button.govuk-button"], ["audit", "sso-signing-out-" + lang],
                ["release"], ["click", "main a.govuk-link"], ["look", "provider-sign-out-" + lang],
                ["click", "button[name=logout][value=yes]"], ["wait_url", "/_account/signed-out"],
                ["audit", "sso-signed-out-" + lang],
                ["goto", MOUNT + "/_account/sso"], ["look", "provider-asks-again-" + lang],
                ["goto", MOUNT + "/_account/sso/callback?state=x&code=y"], ["audit", "sso-problem-" + lang],
            ]
        pages = {p["name"]: p for p in run_scenario(site.port, rounds, out, args)}
        assert violations(list(pages.values())) == []
        for lang in ("en", "cy"):
            assert pages["provider-sign-in-" + lang]["url"].startswith(site.idp.issuer + "/interaction/")
            signed_in = pages["signed-in-" + lang]
            assert signed_in["url"] == "http://127.0.0.1:%d%s/" % (site.port, MOUNT), signed_in
            assert signed_in["text"].strip() == "alice@example.org | Alice Example | [officer]", signed_in
            assert pages["provider-sign-out-" + lang]["url"].startswith(site.idp.issuer + "/session/end")
            # Signed out at the provider too: it asks who again.
            assert pages["provider-asks-again-" + lang]["url"].startswith(site.idp.issuer + "/interaction/")
        assert "You have signed out" in pages["sso-signing-out-en"]["text"]
        assert "Rydych wedi allgofnodi" in pages["sso-signing-out-cy"]["text"]
        assert "You have signed out." in pages["sso-signed-out-en"]["text"]
        assert "Rydych wedi allgofnodi." in pages["sso-signed-out-cy"]["text"]
        assert pages["sso-problem-en"]["title"].startswith("Your sign-in did not finish")
        assert pages["sso-problem-cy"]["title"].startswith("Ni orffennodd eich mewngofnodi")
        assert pages["sso-sign-in-cy"]["title"].startswith("Mewngofnodi")


run()
