"""End-to-end test support: start the real borough on a loopback port, speak
raw HTTP/1.1 to it, and report results in the suite's format.

    from lib import test, run, Server, Client

    @test
    def hello_answers():
        with Server({"hello": HELLO}) as s:
            r = Client(s.port).get("/hello/")
            assert r.status == 200, r

    run()   # prints "ok name" / "FAIL name" lines and "N passed, N failed"
"""
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pglib  # noqa: E402
BOROUGH = os.environ.get("BOROUGH", os.path.join(ROOT, "borough"))
SANITIZED = os.environ.get("SANITIZED") == "1"
# Sanitizer builds run slower: stretch every wait.
SLOW = 4.0 if SANITIZED else 1.0

_tests = []


def test(fn):
    _tests.append(fn)
    return fn


def sqlite_only(fn):
    """Marks a test of SQLite's own machinery (its authorizer, its file, its
    pragmas): skipped on a run against PostgreSQL, where test_pg covers the
    same ground in the database's own terms. Goes below @test."""
    fn.sqlite_only = True
    return fn


def run():
    only = sys.argv[1:]
    passed = failed = 0
    suite = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    for fn in _tests:
        if only and fn.__name__ not in only:
            continue
        if getattr(fn, "sqlite_only", False) and pglib.shared():
            print("skip %s/%s (SQLite only)" % (suite, fn.__name__))
            continue
        t0 = time.time()
        try:
            fn()
        except Exception:
            failed += 1
            print("FAIL %s/%s (%.2fs)" % (suite, fn.__name__, time.time() - t0))
            print("  " + traceback.format_exc().replace("\n", "\n  "))
        else:
            passed += 1
            print("ok   %s/%s (%.2fs)" % (suite, fn.__name__, time.time() - t0))
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


def write_tree(root, tree):
    """Writes {"name": "text" | {subtree}} under root."""
    for name, content in tree.items():
        path = os.path.join(root, name)
        if isinstance(content, dict):
            os.makedirs(path, exist_ok=True)
            write_tree(path, content)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(path, mode) as f:
                f.write(content)


class Server:
    """Runs `borough serve` on 127.0.0.1 with a free port.

    apps: {"appname": {"app.lua": "...", ...}} written to a temp apps folder,
    or a path to an existing apps folder. Extra command-line args in args.
    """

    def __init__(self, apps, workers=1, args=(), expect_exit=0, env=None):
        self.tmp = tempfile.mkdtemp(prefix="borough-e2e-")
        if isinstance(apps, str):
            self.apps_dir = apps
        else:
            self.apps_dir = os.path.join(self.tmp, "apps")
            os.makedirs(self.apps_dir)
            write_tree(self.apps_dir, apps)
        self.data_dir = os.path.join(self.tmp, "data")
        self.log_path = os.path.join(self.tmp, "server.log")
        self.workers = workers
        self.args = list(args)
        self.expect_exit = expect_exit
        self.env = env
        self.proc = None
        self.port = None

    def start(self):
        use_postgres(self.data_dir)
        cmd = [BOROUGH, "serve", self.apps_dir, "--listen", "127.0.0.1:0", "--data", self.data_dir,
               "--workers", str(self.workers)] + self.args
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 20 * SLOW
        while time.time() < deadline:
            m = re.search(r"listening on https?://127\.0\.0\.1:(\d+)/", self.log())
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise AssertionError("borough exited with %s:\n%s" % (self.proc.returncode, self.log()))
            time.sleep(0.02)
        raise AssertionError("borough did not start:\n" + self.log())

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=5):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            if re.search(pattern, self.log()):
                return
            time.sleep(0.02)
        raise AssertionError("log never matched %r:\n%s" % (pattern, self.log()))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=None):
        """Stops the server (SIGTERM unless sig is given); returns its exit status."""
        if sig is None:
            sig = signal.SIGTERM    # the module: inside the class, `signal` is the method above
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("borough did not stop on %s:\n%s" % (sig, self.log()))
        self.log_file.close()
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        status = self.stop()
        if exc_type is None and self.expect_exit is not None and status != self.expect_exit:
            raise AssertionError("borough exited with %s (expected %s):\n%s"
                                 % (status, self.expect_exit, self.log()[-4000:]))
        if exc_type is None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            sys.stderr.write("server log (%s):\n%s\n" % (self.log_path, self.log()[-3000:]))
        return False


class Response:
    def __init__(self, status, reason, headers, body, version):
        self.status = status
        self.reason = reason
        self.headers = headers          # lower-case name -> list of values
        self.body = body
        self.version = version

    def header(self, name):
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def text(self):
        return self.body.decode("utf-8")

    def __repr__(self):
        return "<%d %s %r %r>" % (self.status, self.reason, self.headers, self.body[:300])


class Client:
    """One connection to the server; reads responses exactly as framed."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self, head=False):
        line = self._line()
        m = re.match(rb"HTTP/(1\.[01]) (\d{3}) ?(.*)", line)
        assert m, "bad status line %r" % line
        version, status, reason = m.group(1).decode(), int(m.group(2)), m.group(3).decode()
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.partition(b":")
            headers.setdefault(name.decode().lower(), []).append(value.strip().decode("latin-1"))
        if status == 100:
            return self.read_response(head)
        body = b""
        if head or status in (204, 304) or status < 200:
            pass
        elif "transfer-encoding" in headers:
            assert headers["transfer-encoding"] == ["chunked"], headers
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                body += self._exact(size)
                assert self._exact(2) == b"\r\n"
        elif "content-length" in headers:
            body = self._exact(int(headers["content-length"][0]))
        else:
            while True:
                try:
                    self._fill()
                except EOFError:
                    break
            body, self.buf = self.buf, b""
        return Response(status, reason, headers, body, version)

    def request(self, method, path, headers=None, body=b"", host="127.0.0.1"):
        if isinstance(body, str):
            body = body.encode()
        h = {"Host": host}
        if body or method in ("POST", "PUT", "PATCH"):
            h["Content-Length"] = str(len(body))
        h.update(headers or {})
        head = "%s %s HTTP/1.1\r\n" % (method, path) + "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
        self.send(head.encode() + body)
        return self.read_response(head=method == "HEAD")

    def get(self, path, headers=None):
        return self.request("GET", path, headers)

    def post_form(self, path, fields, headers=None):
        from urllib.parse import urlencode
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return self.request("POST", path, h, urlencode(fields))

    def closed(self, timeout=2):
        """True if the server closes the connection (after any pending bytes)."""
        self.sock.settimeout(timeout * SLOW)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True


def wait_for(fn, timeout=10, what="the condition"):
    """Calls fn until it returns something true (returned), for up to
    timeout seconds (stretched by SLOW); else fails saying what."""
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def post_json(port, path, doc):
    """POSTs doc as JSON on a new connection; returns the response."""
    c = Client(port)
    try:
        return c.request("POST", path, {"Content-Type": "application/json"}, json.dumps(doc))
    finally:
        c.close()


def use_postgres(data_dir):
    """On a run against PostgreSQL (tests/run --postgres), gives data_dir a
    database of its own in the run's cluster, named by site.conf's database
    line, which every command given --data data_dir then uses. Does nothing
    on SQLite, or when data_dir has its database already."""
    cluster = pglib.shared()
    if not cluster or pglib.database_of(data_dir):
        return
    os.makedirs(data_dir, exist_ok=True)
    url = cluster.new_database()
    with open(os.path.join(data_dir, "site.conf"), "a") as f:
        f.write("database = %s\n" % url)


def write_site_conf(data_dir, text):
    """Writes data_dir/site.conf, keeping its database line (PostgreSQL)."""
    url = pglib.database_of(data_dir)
    with open(os.path.join(data_dir, "site.conf"), "w") as f:
        f.write(text)
        if url:
            f.write("\ndatabase = %s\n" % url)


def _postgres_of(db_path):
    """(cluster, database, schema) standing for the SQLite file db_path
    (data/borough.db, data/<app>/app.db) on PostgreSQL, or None."""
    cluster = pglib.shared()
    if not cluster:
        return None
    path = os.path.abspath(db_path)
    if os.path.basename(path) == "borough.db":
        data, schema = os.path.dirname(path), "borough"
    else:
        data, schema = os.path.dirname(os.path.dirname(path)), '"app_%s"' % os.path.basename(os.path.dirname(path))
    url = pglib.database_of(data)
    return (cluster, pglib.name_of(url), schema) if url else None


def execute(db_path, sql, *args):
    """Runs a statement in the database db_path stands for (SQLite file, or
    its schema on PostgreSQL), as the tests' own hand."""
    pg = _postgres_of(db_path)
    if pg:
        pg[0].execute(pg[1], sql, *args, schema=pg[2])
        return
    db = sqlite3.connect(db_path, timeout=10)
    try:
        with db:
            db.execute(sql, args)
    finally:
        db.close()


def execute_platform(db_path, sql, *args):
    """execute() on one of the platform's tables in an app's database (as if
    time had passed for a draft, say): PostgreSQL's guard refuses anyone's
    writes but the platform's, so its triggers are off for the statement."""
    if _postgres_of(db_path):
        sql = "SET LOCAL session_replication_role = replica; " + sql
    execute(db_path, sql, *args)


def query(db_path, sql, *args):
    """The rows of sql in the SQLite database at db_path (or on PostgreSQL,
    in the schema it stands for), as dicts."""
    pg = _postgres_of(db_path)
    if pg:
        return pg[0].query(pg[1], sql, *args, schema=pg[2])
    db = sqlite3.connect(db_path, timeout=10)
    try:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql, args)]
    finally:
        db.close()


def stored_bytes(db_path):
    """What the database db_path stands for holds, as bytes, for a test that
    looks for text in it: the SQLite file (and its WAL), or on PostgreSQL a
    dump of the schema it stands for."""
    pg = _postgres_of(db_path)
    if pg:
        return pg[0].dump(pg[1], pg[2].strip('"'))
    out = b""
    for path in (db_path, db_path + "-wal"):
        if os.path.exists(path):
            with open(path, "rb") as f:
                out += f.read()
    return out


def table_names(db_path):
    """The names of the tables in the database db_path stands for, sorted
    (the platform's _borough_* among them)."""
    if _postgres_of(db_path):
        rows = query(db_path, "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()")
    else:
        rows = query(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    return sorted(r["name"] for r in rows)


def get(port, path, headers=None):
    c = Client(port)
    try:
        return c.get(path, headers)
    finally:
        c.close()


def raw(port, data, timeout=5):
    """Sends raw bytes, returns everything the server sends until it closes
    (or until timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, TimeoutError):
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


HELLO_APP = {"app.lua": '''
local app = borough.app { public = true, title = "Hello", mount = "/hello" }
app:get("/", function(req) return "Hello, World!" end)
return app
'''}


def control(data_dir, data, read=True, timeout=30):
    """Sends raw bytes to the control socket of the server using data_dir;
    returns everything it answers until it closes (b"" if read is False)."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(timeout * SLOW)
    c.connect(os.path.join(data_dir, "control.sock"))
    try:
        c.sendall(data)
        out = b""
        while read:
            chunk = c.recv(4096)
            if not chunk:
                break
            out += chunk
        return out
    finally:
        c.close()


def reload(data_dir, *args, timeout=60):
    """Runs `borough reload ARGS --data data_dir`; returns (status, stdout, stderr)."""
    p = subprocess.run([BOROUGH, "reload", *args, "--data", data_dir], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout * SLOW)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def metrics(port):
    """GET /metrics as {"name{labels}": value}."""
    r = get(port, "/metrics")
    assert r.status == 200, r
    out = {}
    for line in r.body.decode().splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def borough(*args, cwd=None, timeout=120):
    """Runs the borough command line; returns (status, stdout, stderr)."""
    p = subprocess.run([BOROUGH, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout * SLOW)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class Folder:
    """A temporary folder holding apps/ (a tree as write_tree takes); the
    context gives its path and removes it afterwards."""

    def __init__(self, tree):
        self.path = tempfile.mkdtemp(prefix="borough-e2e-folder-")
        os.makedirs(os.path.join(self.path, "apps"))
        write_tree(os.path.join(self.path, "apps"), tree)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
        return False


def totp(secret, at=None, step=0):
    """The RFC 6238 code (HMAC-SHA-1, 30-second steps, 6 digits) of a base32
    secret (spaces allowed) at time at (default now), step steps away."""
    import base64
    import hashlib
    import hmac
    import struct
    secret = secret.replace(" ", "").upper()
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30) + step
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000)


def staff_cookie(server, app, roles=(), email="staff@example.gov.uk", name="Sam Staff"):
    """Signs a member of staff in without the sign-in page: makes the account
    (`borough user add`, then `user role` for each of roles in app) and
    writes a session for it straight into borough.db, as sign-in would (only
    the token's SHA-256 is kept). Returns the headers to send with it:
    {"Cookie": "borough_session=<token>"}."""
    import base64
    import hashlib
    if not query(os.path.join(server.data_dir, "borough.db"), "SELECT id FROM users WHERE email = ?", email):
        p = subprocess.run([BOROUGH, "user", "add", email, "--name", name, "--data", server.data_dir],
                           input=b"a long staff password for tests\n", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        assert p.returncode == 0, p.stderr
    for role in roles:
        status, out, err = borough("user", "role", email, app, role, "--data", server.data_dir)
        assert status == 0, err
    token = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    now = int(time.time() * 1000)
    path = os.path.join(server.data_dir, "borough.db")
    uid = query(path, "SELECT id FROM users WHERE email = ?", email)[0]["id"]
    execute(path, "INSERT INTO sessions (token_hash, user_id, created_ms, seen_ms) VALUES (?, ?, ?, ?)",
            hashlib.sha256(token.encode()).digest(), uid, now, now)
    return {"Cookie": "borough_session=" + token}
