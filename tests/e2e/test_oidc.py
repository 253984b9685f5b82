"""OpenID Connect against a real provider (tests/oidc/provider.js, via
oidclib.py): discovery, the key set, the authorization code flow with PKCE
over plain HTTPS, and the ID tokens it issues verified by borough's C
verifier (core/jws.c and core/oidc.c, through the unit-test binary's verify
mode: `test_jws verify JWKS_FILE TOKEN_FILE ISSUER CLIENT_ID NONCE [ALGS]`).
Then what must be refused: a tampered signature, alg none, HS256 keyed
with the provider's RSA public key, a wrong audience, an expired token, a
nonce of another sign-in, a key id the cached key set does not know (the
caller fetches the set again once: a rotation), a replayed code and a
wrong PKCE verifier; and a user's groups changing between sign-ins."""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import tempfile
import time

from lib import ROOT, run, test
from oidclib import Provider, b64url

BUILD = os.environ.get("BUILD", "build")
TEST_JWS = os.path.join(ROOT, BUILD, "test_jws")

CLIENTS = [
    {"client_id": "borough", "client_secret": "s3cret-rs", "redirect_uris": ["https://127.0.0.1:1/cb"],
     "post_logout_redirect_uris": ["https://127.0.0.1:1/signed-out"]},
    {"client_id": "borough-ps", "client_secret": "s3cret-ps", "redirect_uris": ["https://127.0.0.1:1/cb"],
     "token_endpoint_auth_method": "client_secret_post", "id_token_signed_response_alg": "PS256"},
    {"client_id": "borough-es", "client_secret": "s3cret-es", "redirect_uris": ["https://127.0.0.1:1/cb"],
     "id_token_signed_response_alg": "ES256"},
]
USERS = {
    "alice": {"name": "Alice Example", "email": "alice@example.org", "groups": ["planning", "licensing"]},
    "bob": {"name": "Bob Example", "email": "bob@example.org", "groups": []},
}

_idp = None


def idp():
    """One provider for the suite (it takes a couple of seconds to start)."""
    global _idp
    if _idp is None:
        _idp = Provider(CLIENTS, USERS)
    return _idp


def verify(jwks_text, token, client_id, nonce, algs=None, issuer=None):
    """What the C verifier says: "ok <sub>" or "<CODE>: <message>"."""
    with tempfile.TemporaryDirectory(prefix="borough-oidc-verify-") as d:
        jf, tf = os.path.join(d, "jwks.json"), os.path.join(d, "token")
        with open(jf, "w") as f:
            f.write(jwks_text)
        with open(tf, "w") as f:
            f.write(token)
        args = [TEST_JWS, "verify", jf, tf, issuer or idp().issuer, client_id, nonce]
        if algs:
            args.append(algs)
        out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        return out.stdout.decode().strip()


def claims_of(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def header_of(token):
    h = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))


def flow(client_id, user="alice"):
    p = idp()
    f = p.sign_in(client_id, user)
    status, body = p.token(client_id, f["code"], f["verifier"])
    assert status == 200, body
    f["id_token"] = body["id_token"]
    return f


@test
def discovery_and_key_set():
    p = idp()
    d = p.discovery()
    assert d["issuer"] == p.issuer, d
    assert d["authorization_endpoint"] == p.issuer + "/auth", d
    assert d["code_challenge_methods_supported"] == ["S256"], d
    assert set(d["id_token_signing_alg_values_supported"]) == {"RS256", "PS256", "ES256"}, d
    assert "end_session_endpoint" in d, d
    keys = p.jwks()["keys"]
    assert sorted(k["alg"] for k in keys) == ["ES256", "PS256", "RS256"], keys
    assert all("d" not in k for k in keys), keys     # public halves only


@test
def code_flow_with_pkce_for_each_algorithm():
    p = idp()
    jwks = p.jwks_text()
    for client_id, alg in (("borough", "RS256"), ("borough-ps", "PS256"), ("borough-es", "ES256")):
        t0 = time.time()
        f = flow(client_id)
        elapsed = time.time() - t0
        assert f["params"]["state"] == f["state"], f
        assert f["params"]["iss"] == p.issuer, f
        token = f["id_token"]
        assert header_of(token)["alg"] == alg, header_of(token)
        c = claims_of(token)
        assert c["sub"] == "alice" and c["aud"] == client_id and c["nonce"] == f["nonce"], c
        assert c["groups"] == ["planning", "licensing"] and c["email"] == "alice@example.org", c
        assert verify(jwks, token, client_id, f["nonce"]) == "ok alice"
        # Only the algorithm the deployment accepts.
        others = ",".join(a for a in ("RS256", "PS256", "ES256") if a != alg)
        assert verify(jwks, token, client_id, f["nonce"], others) == \
            "EPERM: algorithm %s not accepted here" % alg
        print("  %s: authorization request to ID token in %.0f ms" % (alg, elapsed * 1000))


@test
def tampered_none_and_hs256_confusion_refused():
    p = idp()
    jwks = p.jwks_text()
    f = flow("borough")
    token, nonce = f["id_token"], f["nonce"]
    h, c, s = token.split(".")
    # One signature byte changed.
    sig = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    sig[10] ^= 1
    assert verify(jwks, "%s.%s.%s" % (h, c, b64url(bytes(sig))), "borough", nonce) == "EVERIFY: bad signature"
    # A claim changed under the same signature.
    claims = claims_of(token)
    claims["sub"] = "bob"
    forged = b64url(json.dumps(claims).encode())
    assert verify(jwks, "%s.%s.%s" % (h, forged, s), "borough", nonce) == "EVERIFY: bad signature"
    # alg none.
    none = b64url(json.dumps({"alg": "none"}).encode())
    assert verify(jwks, "%s.%s." % (none, c), "borough", nonce) == 'EPERM: unsigned token (alg "none") refused'
    # HS256 with the RSA public key's PEM (and DER) as the HMAC secret.
    kid = header_of(token)["kid"]
    pem = p.pem(kid)
    der = base64.b64decode("".join(pem.strip().splitlines()[1:-1]))
    for secret in (pem.encode(), der):
        hs = b64url(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode())
        mac = hmac.new(secret, ("%s.%s" % (hs, c)).encode(), hashlib.sha256).digest()
        assert verify(jwks, "%s.%s.%s" % (hs, c, b64url(mac)), "borough", nonce) == \
            "EPERM: shared-secret algorithm HS256 refused"


@test
def wrong_audience_expired_and_other_nonce_refused():
    p = idp()
    jwks = p.jwks_text()
    now = int(time.time())
    base = {"iss": p.issuer, "sub": "alice", "aud": "borough", "iat": now, "exp": now + 300, "nonce": "n1"}
    assert verify(jwks, p.sign("RS256", base), "borough", "n1") == "ok alice"
    assert verify(jwks, p.sign("ES256", dict(base, aud="someone-else")), "borough", "n1") == \
        'EVERIFY: audience ("aud") does not include this client'
    assert verify(jwks, p.sign("PS256", dict(base, aud=["borough", "other"])), "borough", "n1") == \
        'EVERIFY: several audiences and no authorized party ("azp")'
    expired = dict(base, iat=now - 600, exp=now - 120)
    assert verify(jwks, p.sign("RS256", expired), "borough", "n1").startswith("EVERIFY: expired at %d" % (now - 120))
    assert verify(jwks, p.sign("RS256", dict(base, iss=p.issuer + "/")), "borough", "n1") == \
        'EVERIFY: issuer ("iss") is not %s' % p.issuer
    # A real ID token checked against the nonce of another sign-in.
    f = flow("borough")
    assert verify(jwks, f["id_token"], "borough", f["nonce"]) == "ok alice"
    assert verify(jwks, f["id_token"], "borough", flow("borough")["nonce"]) == \
        "EVERIFY: nonce does not match this sign-in"


@test
def rotated_key_unknown_then_found_after_one_refetch():
    p = idp()
    cached = p.jwks_text()
    old = flow("borough")
    kid = p.rotate("RS256")
    new = flow("borough")
    assert header_of(new["id_token"])["kid"] == kid
    # The cached set does not know the new key: the caller fetches once more.
    assert verify(cached, new["id_token"], "borough", new["nonce"]) == 'ENOENT: no key "%s" in the key set' % kid
    fresh = p.jwks_text()
    assert verify(fresh, new["id_token"], "borough", new["nonce"]) == "ok alice"
    # The old key is still published, so tokens it signed still verify.
    assert verify(fresh, old["id_token"], "borough", old["nonce"]) == "ok alice"
    # A kid no set has, even after a refetch.
    now = int(time.time())
    token = p.sign("RS256", {"iss": p.issuer, "sub": "alice", "aud": "borough", "iat": now, "exp": now + 60,
                             "nonce": "n"}, header={"kid": "never-published"})
    assert verify(fresh, token, "borough", "n") == 'ENOENT: no key "never-published" in the key set'


@test
def replayed_code_wrong_verifier_and_missing_pkce_refused():
    p = idp()
    f = p.sign_in("borough", "alice")
    status, body = p.token("borough", f["code"], "x" * 43)
    assert status == 400 and body["error"] == "invalid_grant", body
    f = p.sign_in("borough", "alice")
    status, body = p.token("borough", f["code"], f["verifier"])
    assert status == 200, body
    status, body = p.token("borough", f["code"], f["verifier"])
    assert status == 400 and body["error"] == "invalid_grant", body
    # No code_challenge: the provider refuses the request (PKCE required).
    f = p.sign_in("borough", "alice", code_challenge=None, code_challenge_method=None)
    assert f["code"] is None and f["params"]["error"] == "invalid_request", f
    assert f["params"]["state"] == f["state"], f


@test
def groups_follow_the_provider_at_each_sign_in():
    p = idp()
    jwks = p.jwks_text()
    first = flow("borough-es", "bob")
    assert claims_of(first["id_token"])["groups"] == []
    p.set_groups("bob", ["housing"])
    second = flow("borough-es", "bob")
    assert claims_of(second["id_token"])["groups"] == ["housing"]
    p.set_groups("bob", [])
    third = flow("borough-es", "bob")
    assert claims_of(third["id_token"])["groups"] == []
    assert verify(jwks, third["id_token"], "borough-es", third["nonce"]) == "ok bob"


@test
def end_session_signs_out_and_returns():
    p = idp()
    f = flow("borough")

    def asks_who():
        """Whether a new authorization request meets the sign-in form (or
        goes straight back to the client with a code)."""
        opener = p.opener(f["cookies"])
        challenge = b64url(hashlib.sha256(b"v" * 43).digest())
        status, headers, body = p.request(p.authorize_url("borough", "s", "n", challenge), opener=opener)
        assert status in (302, 303), (status, body)
        if headers["Location"].startswith("https://127.0.0.1:1/cb?code="):
            return False
        status, headers, body = p.request(headers["Location"], opener=opener)
        return status == 200 and 'name="login"' in body

    assert not asks_who()
    back = p.sign_out("borough", f["id_token"], f["cookies"])
    assert back == "https://127.0.0.1:1/signed-out?state=bye", back
    assert asks_who()


@test
def unknown_user_is_not_signed_in():
    p = idp()
    try:
        p.sign_in("borough", "mallory")
    except Exception as e:
        assert getattr(e, "status", None) == 400 and 'No user &#34;mallory&#34;' in e.body, e
    else:
        raise AssertionError("mallory was signed in")


try:
    run()
finally:
    if _idp:
        _idp.close()
