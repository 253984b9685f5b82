"""A real OpenID provider for end-to-end tests: tests/oidc/provider.js
(panva's oidc-provider, installed by `make deps`) on a loopback port over
HTTPS, with a certificate from a test CA made here with openssl.

    from oidclib import Provider

    with Provider(clients=[{"client_id": "borough", "client_secret": "s3cret",
                            "redirect_uris": ["https://127.0.0.1:1/cb"]}],
                  users={"alice": {"name": "Alice Example", "email": "alice@example.org",
                                   "groups": ["planning"]}}) as idp:
        idp.issuer, idp.ca_file            # https://127.0.0.1:PORT, the CA's PEM
        idp.discovery(), idp.jwks()        # the provider's documents (dicts)
        flow = idp.sign_in("borough", "alice")   # authorization code + PKCE over plain HTTP
        status, tokens = idp.token("borough", flow["code"], flow["verifier"])
        idp.sign_out("borough", tokens["id_token"], flow["cookies"])   # end_session
        idp.set_groups("alice", ["housing"])     # seen at the next sign-in
        kid = idp.rotate("RS256")                # a new key signs from now on
        idp.sign("RS256", {...claims...})        # a token signed with the provider's key
        idp.pem(kid)                             # a key's public half (SPKI PEM)
        idp.queue_id_token(token)                # the token endpoint's next ID token
        idp.requests()                           # {"/jwks": 2, ...}: requests served by path

A client's redirect URIs may be set after the fact (set_client, then
start() or a restart): a test can start borough first, learn its port, and
then start the provider knowing where to send people back.

A client's defaults: grant authorization_code, token_endpoint_auth_method
client_secret_basic, id_token_signed_response_alg RS256.
"""
import base64
import hashlib
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROVIDER_JS = os.path.join(ROOT, "tests", "oidc", "provider.js")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_ca(dir):
    """A test CA (ca.pem) and a certificate it signs for 127.0.0.1 and
    localhost (leaf.pem, leaf.key), made with openssl; the keys stay in dir."""
    script = """
set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=borough-oidc-test-ca \
  -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout leaf.key -out leaf.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile ext.cnf -out leaf.pem 2>/dev/null
"""
    subprocess.run(["sh", "-c", script], cwd=dir, check=True)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class HttpError(Exception):
    def __init__(self, status, body):
        super().__init__("HTTP %d: %s" % (status, body[:300]))
        self.status, self.body = status, body


class Provider:
    def __init__(self, clients, users, start=True, issuer_host=None):
        self.dir = tempfile.mkdtemp(prefix="borough-oidc-")
        make_ca(self.dir)
        self.ca_file = os.path.join(self.dir, "ca.pem")
        self.users_file = os.path.join(self.dir, "users.json")
        self.users = dict(users)
        self._write_users()
        self.clients = {}
        for c in clients:
            c = dict(c)
            c.setdefault("token_endpoint_auth_method", "client_secret_basic")
            c.setdefault("id_token_signed_response_alg", "RS256")
            self.clients[c["client_id"]] = c
        self.issuer_host = issuer_host
        self.admin_token = secrets.token_urlsafe(16)
        self.config_file = os.path.join(self.dir, "config.json")
        self._write_config()
        self.ssl = ssl.create_default_context(cafile=self.ca_file)
        self.proc = None
        self.issuer = None
        if start:
            self.start()

    def _write_config(self):
        with open(self.config_file, "w") as f:
            json.dump({"cert": os.path.join(self.dir, "leaf.pem"), "key": os.path.join(self.dir, "leaf.key"),
                       "users": self.users_file, "keys": os.path.join(self.dir, "keys.json"),
                       "clients": list(self.clients.values()), "admin_token": self.admin_token,
                       "issuer_host": self.issuer_host}, f)

    def set_client(self, client_id, **fields):
        """Changes a client's registration (redirect_uris, ...); the provider
        reads it when it (re)starts."""
        self.clients[client_id] = dict(self.clients[client_id], **fields)
        self._write_config()

    def _write_users(self):
        tmp = self.users_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.users, f)
        os.replace(tmp, self.users_file)

    def start(self, timeout=30):
        """Starts the provider (again, after stop(): same keys, new port)."""
        self.log_file = open(os.path.join(self.dir, "provider.log"), "ab")
        self.proc = subprocess.Popen(["node", PROVIDER_JS, self.config_file], stdout=subprocess.PIPE,
                                     stderr=self.log_file, cwd=os.path.dirname(PROVIDER_JS))
        deadline = time.time() + timeout
        line = b""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(b"listening "):
                self.issuer = line.split()[1].decode()
                return self
            if not line and self.proc.poll() is not None:
                break
        raise RuntimeError("the test provider did not start: %r; log: %s" % (line, self.log()))

    def spki_hash(self):
        """base64 of the SHA-256 of the server certificate's public key, for
        chromium's --ignore-certificate-errors-spki-list (trusting this
        certificate alone, not every one)."""
        der = subprocess.run(["sh", "-c", "openssl x509 -in leaf.pem -pubkey -noout | openssl pkey -pubin -outform der"],
                             cwd=self.dir, check=True, capture_output=True).stdout
        return base64.b64encode(hashlib.sha256(der).digest()).decode()

    def log(self):
        with open(os.path.join(self.dir, "provider.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.log_file.close()
            self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- HTTP ----

    def opener(self, cookies=None):
        """An HTTPS client trusting the test CA that does not follow
        redirects (3xx raise HttpError with the response headers)."""
        return urllib.request.build_opener(urllib.request.HTTPSHandler(context=self.ssl),
                                           urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar() if cookies is None else cookies),
                                           _NoRedirect())

    def request(self, url, data=None, headers=None, opener=None, method=None):
        """Returns (status, headers, body text); never raises for a status."""
        if not url.startswith("https://"):
            url = self.issuer + url
        if isinstance(data, dict):
            data = urllib.parse.urlencode(data).encode()
        req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
        try:
            with (opener or self.opener()).open(req, timeout=30) as r:
                return r.status, r.headers, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode("utf-8", "replace")

    def get_json(self, url):
        status, _, body = self.request(url)
        if status != 200:
            raise HttpError(status, body)
        return json.loads(body)

    def discovery(self):
        return self.get_json("/.well-known/openid-configuration")

    def jwks_text(self):
        status, _, body = self.request(self.discovery()["jwks_uri"])
        if status != 200:
            raise HttpError(status, body)
        return body

    def jwks(self):
        return json.loads(self.jwks_text())

    # ---- the flow, without a browser ----

    def authorize_url(self, client_id, state, nonce, challenge, scope="openid profile email groups", **extra):
        params = {"response_type": "code", "client_id": client_id,
                  "redirect_uri": self.clients[client_id]["redirect_uris"][0], "scope": scope,
                  "state": state, "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256"}
        params.update(extra)
        params = {k: v for k, v in params.items() if v is not None}
        return self.discovery()["authorization_endpoint"] + "?" + urllib.parse.urlencode(params)

    def sign_in(self, client_id, user, state=None, nonce=None, verifier=None, **extra):
        """Runs the authorization request and the provider's sign-in form for
        user over plain HTTPS, up to the redirect back to the client. Returns
        {"code", "state", "nonce", "verifier", "redirect"} (the redirect's
        query parameters in "params")."""
        state = state or secrets.token_urlsafe(32)
        nonce = nonce or secrets.token_urlsafe(32)
        verifier = verifier or secrets.token_urlsafe(32)
        challenge = b64url(hashlib.sha256(verifier.encode()).digest())
        jar = http.cookiejar.CookieJar()
        redirect_uri = self.clients[client_id]["redirect_uris"][0]
        url = self.authorize(self.authorize_url(client_id, state, nonce, challenge, **extra), user, redirect_uri, jar)
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        return {"code": params.get("code"), "state": state, "nonce": nonce, "verifier": verifier,
                "redirect": url, "params": params, "cookies": jar}

    def authorize(self, url, user, redirect_uri, cookies=None):
        """Follows an authorization request (url, made by a client) through
        the provider's sign-in form for user, over plain HTTPS with cookies
        (a CookieJar, kept across calls as a browser would), up to the
        redirect back to redirect_uri; returns that URL."""
        opener = self.opener(cookies)
        data = None
        for _ in range(10):
            status, headers, body = self.request(url, data=data, opener=opener)
            data = None
            if status in (302, 303):
                url = urllib.parse.urljoin(url, headers["Location"])
                if url.startswith(redirect_uri):
                    return url
                continue
            m = re.search(r'<form method="post" action="([^"]+)"', body)
            if status == 200 and m:
                url, data = urllib.parse.urljoin(url, m.group(1)), {"login": user}
                continue
            raise HttpError(status, body)
        raise RuntimeError("too many redirects")

    def token(self, client_id, code, verifier, redirect_uri=None):
        """Exchanges code at the token endpoint; returns (status, JSON body)."""
        c = self.clients[client_id]
        form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                "redirect_uri": redirect_uri or c["redirect_uris"][0]}
        headers = {}
        if c["token_endpoint_auth_method"] == "client_secret_post":
            form.update(client_id=client_id, client_secret=c["client_secret"])
        else:
            basic = "%s:%s" % (urllib.parse.quote(client_id, safe=""), urllib.parse.quote(c["client_secret"], safe=""))
            headers["Authorization"] = "Basic " + base64.b64encode(basic.encode()).decode()
        status, _, body = self.request(self.discovery()["token_endpoint"], data=form, headers=headers)
        return status, json.loads(body)

    def sign_out(self, client_id, id_token, cookies, state="bye"):
        """RP-initiated logout (end_session) with the sign-in's cookies: the
        provider's confirmation form is posted with "Yes, sign me out".
        Returns the URL it sends the user back to."""
        opener = self.opener(cookies)
        params = {"id_token_hint": id_token, "client_id": client_id, "state": state,
                  "post_logout_redirect_uri": self.clients[client_id]["post_logout_redirect_uris"][0]}
        url = self.discovery()["end_session_endpoint"] + "?" + urllib.parse.urlencode(params)
        status, _, body = self.request(url, opener=opener)
        form = re.search(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', body, re.S)
        if status != 200 or not form:
            raise HttpError(status, body)
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
        fields["logout"] = "yes"
        status, headers, body = self.request(urllib.parse.urljoin(url, form.group(1)), data=fields, opener=opener)
        if status not in (302, 303):
            raise HttpError(status, body)
        return headers["Location"]

    # ---- the test endpoints ----

    def _admin(self, route, doc=None):
        headers = {"Authorization": "Bearer " + self.admin_token}
        data = None
        if doc is not None:
            data = json.dumps(doc).encode()
            headers["Content-Type"] = "application/json"
        status, _, body = self.request("/_test/" + route, data=data, headers=headers)
        if status != 200:
            raise HttpError(status, body)
        return body

    def rotate(self, alg, keep_old=True):
        """A new key for alg signs from now on; returns its kid."""
        return json.loads(self._admin("rotate", {"alg": alg, "keep_old": keep_old}))["kid"]

    def sign(self, alg, payload, header=None, kid=None):
        """A compact JWS of payload (a dict) signed with the provider's
        current key for alg (or the key kid)."""
        return json.loads(self._admin("sign", {"alg": alg, "kid": kid, "header": header or {},
                                               "payload": payload}))["token"]

    def pem(self, kid):
        return self._admin("pem?kid=" + urllib.parse.quote(kid))

    def queue_id_token(self, token):
        """The token endpoint's next answer carries token as its id_token."""
        self._admin("id_token", {"id_token": token})

    def requests(self):
        """The requests the provider has served since it started, by path."""
        return json.loads(self._admin("stats"))["requests"]

    def set_groups(self, sub, groups):
        """Changes a user's groups; the next sign-in's ID token carries them."""
        self.users[sub] = dict(self.users[sub], groups=list(groups))
        self._write_users()
