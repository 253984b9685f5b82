"""A local GOV.UK Notify-compatible peer for the tests (API v2).

It checks what a real Notify would reject: the bearer JWT (HS256 signature
with the service's secret, "iss" the service id, "iat" within 30 seconds),
and the body shape of each kind of notification. It records what it
accepted, and can be told to answer 429, 500 or never for a while. An
email address at invalid.example is refused (400), as an invalid one is.

    peer = NotifyPeer(service_id, secret).start()
    ...  # the server under test uses peer.url as its Notify base URL
    peer.accepted        # list of dicts: kind, body, id
    peer.set_mode("429", count=5)   # the next 5 requests get 429
    peer.stop()

GET /v2/notifications/{id} answers the status set with set_status (or
"delivered"), and GET /v2/notifications?reference=R lists the accepted
notifications with that reference, as Notify does.
"""
import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def check_jwt(header, service_id, secret, now=None):
    """Returns None if the Authorization header carries a valid token, else why not."""
    if not header or not header.startswith("Bearer "):
        return "missing bearer token"
    parts = header[7:].split(".")
    if len(parts) != 3:
        return "not a JWT"
    try:
        head = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
    except Exception as e:  # noqa: BLE001
        return "undecodable JWT: %s" % e
    if head.get("alg") != "HS256" or head.get("typ") != "JWT":
        return "wrong JWT header %r" % head
    want = hmac.new(secret.encode(), (parts[0] + "." + parts[1]).encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(want, b64url_decode(parts[2])):
        return "bad signature"
    if claims.get("iss") != service_id:
        return "wrong iss %r" % claims.get("iss")
    iat = claims.get("iat")
    if not isinstance(iat, int) or abs((now or time.time()) - iat) > 30:
        return "iat %r not within 30 s" % iat
    return None


REQUIRED = {
    "email": ("email_address", "template_id"),
    "sms": ("phone_number", "template_id"),
    "letter": ("template_id", "personalisation"),
}


class NotifyPeer:
    def __init__(self, service_id=None, secret=None):
        self.service_id = service_id or str(uuid.uuid4())
        self.secret = secret or str(uuid.uuid4())
        self.api_key = "borough_test-%s-%s" % (self.service_id, self.secret)
        self.accepted = []
        self.rejected = []
        self.requests = 0
        self.lock = threading.Lock()
        self.mode = "ok"
        self.mode_count = 0
        self.times = []          # arrival times of accepted notifications
        self.gets = []           # paths of GET requests answered
        self.statuses = {}       # notification id -> status GET answers
        self.server = None

    def set_status(self, nid, status):
        with self.lock:
            self.statuses[nid] = status

    def set_mode(self, mode, count=None):
        """mode: ok, 400, 429, 500 or hang; count: for that many requests, then ok."""
        with self.lock:
            self.mode = mode
            self.mode_count = count if count is not None else -1

    def _next_mode(self):
        with self.lock:
            self.requests += 1
            mode = self.mode
            if self.mode_count > 0:
                self.mode_count -= 1
                if self.mode_count == 0:
                    self.mode = "ok"
            return mode

    def start(self):
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, doc):
                body = json.dumps(doc).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass   # the client went (a server killed mid-send, say)

            def error(self, status, kind, message):
                peer.rejected.append((status, message))
                self.reply(status, {"status_code": status, "errors": [{"error": kind, "message": message}]})

            def misbehave(self):
                """Answers as the mode says; False when the request is to be served."""
                mode = peer._next_mode()
                if mode == "hang":
                    time.sleep(60)
                    return True
                if mode == "500":
                    self.error(500, "Exception", "Internal server error")
                    return True
                if mode == "400":
                    self.error(400, "BadRequestError", "Can't send to this recipient using a team-only API key")
                    return True
                if mode == "429":
                    self.error(429, "RateLimitError", "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds")
                    return True
                return False

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.misbehave():
                    return
                why = check_jwt(self.headers.get("Authorization"), peer.service_id, peer.secret)
                if why:
                    return self.error(403, "AuthError", why)
                kind = self.path.rsplit("/", 1)[-1]
                if not self.path.startswith("/v2/notifications/") or kind not in REQUIRED:
                    return self.error(404, "NotFound", "no such endpoint %s" % self.path)
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self.error(400, "BadRequestError", "body is not JSON")
                missing = [f for f in REQUIRED[kind] if f not in body]
                if missing:
                    return self.error(400, "ValidationError", "%s is a required property" % missing[0])
                if "personalisation" in body and not isinstance(body["personalisation"], dict):
                    return self.error(400, "ValidationError", "personalisation is not of type object")
                if str(body.get("email_address", "")).endswith("@invalid.example"):
                    return self.error(400, "ValidationError", "email_address Not a valid email address")
                nid = str(uuid.uuid4())
                with peer.lock:
                    peer.accepted.append({"kind": kind, "body": body, "id": nid})
                    peer.times.append(time.time())
                self.reply(201, {"id": nid, "reference": body.get("reference"),
                                 "uri": "http://notify.test/v2/notifications/" + nid,
                                 "template": {"id": body["template_id"], "version": 1, "uri": "http://notify.test/t"},
                                 "content": {"body": "(rendered)", "subject": "(subject)"}})

            def do_GET(self):
                if self.misbehave():
                    return
                why = check_jwt(self.headers.get("Authorization"), peer.service_id, peer.secret)
                if why:
                    return self.error(403, "AuthError", why)
                with peer.lock:
                    peer.gets.append(self.path)
                    accepted = list(peer.accepted)
                url = urlsplit(self.path)
                if url.path == "/v2/notifications":
                    ref = parse_qs(url.query).get("reference", [None])[0]
                    found = [self.describe(n) for n in reversed(accepted) if ref is None or n["body"].get("reference") == ref]
                    return self.reply(200, {"notifications": found, "links": {"current": self.path}})
                nid = url.path.rsplit("/", 1)[-1]
                for n in accepted:
                    if n["id"] == nid:
                        return self.reply(200, self.describe(n))
                return self.error(404, "NoResultFound", "No result found")

            def describe(self, n):
                return {"id": n["id"], "reference": n["body"].get("reference"), "type": n["kind"],
                        "status": peer.statuses.get(n["id"], "delivered"), "template": {"id": n["body"]["template_id"]}}

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def windows_ok(times, limit=3000, window=60.0):
    """The most arrivals in any window of the given length (of the times a
    peer accepted notifications: at most Notify's limit, when a sender keeps it)."""
    times = sorted(times)
    most, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        most = max(most, i - j + 1)
    return most
