#!/usr/bin/env python3
"""PostgreSQL as the shared database of several borough nodes: the sandbox
held by the database itself (each app's schema reached through its own
login role, nothing the app names like PostgreSQL's own run by the
platform), work taken by exactly one node of several, Notify's rate limit
counted across nodes, a reload on one node reaching the others (naming one
that differs), and live updates reaching clients on every node.

Runs on the cluster of a `make test-postgres` run, or on a throwaway one of
its own (tests/e2e/pglib.py) under `make test`."""
import atexit
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pglib
from lib import BOROUGH, SLOW, Client, Server, borough, post_json, query, run, test, wait_for
from notify_peer import NotifyPeer, windows_ok
from sselib import Stream
from ssolib import Browser

if not pglib.shared():
    _own = pglib.Cluster().start()
    atexit.register(_own.close)           # stopped and removed however the suite ends
    os.environ["BOROUGH_TEST_PG"] = _own.path
    os.environ.update(_own.env())
CLUSTER = pglib.shared()

NOTES = '''
local app = borough.app { title = "%(name)s", mount = "/%(name)s", public = true, allow_hosts = { "127.0.0.1" } }
local Notes = borough.entity "notes" {
  { "text", "text", required = true },
}
app:post("/notes", { csrf = false }, function(req)
  local r, errors = Notes:create({ text = req.form.text })
  if not r then return borough.json({ errors = errors }, 422) end
  return borough.json({ id = r.id })
end)
app:post("/sql", { csrf = false }, function(req)
  local ok, err = pcall(function() return db.query(req.body) end)
  return borough.json({ ok = ok, error = not ok and tostring(err) or nil })
end)
app:job("mark", function(args, job)
  db.exec("CREATE TABLE IF NOT EXISTS marks (id INTEGER PRIMARY KEY, n INTEGER, node TEXT)")
  db.exec("INSERT INTO marks (n, node) VALUES (?, ?)", args.n, args.node or "")
  if args.wait then borough.sleep(args.wait) end
end)
app:post("/invite", { csrf = false }, function(req)
  for i = 1, tonumber(req.query.n) do
    notify.email { email_address = ("business%%d@example.com"):format(i), template_id = "%(template)s",
                   reference = req.query.from .. "-" .. i }
  end
  return borough.json({ queued = tonumber(req.query.n) })
end)
app:post("/enqueue", { csrf = false }, function(req)
  local args = json.decode(req.body)
  return borough.json({ id = jobs.enqueue("mark", args) })
end)
return app
'''


TEMPLATE = "f33517ff-2a88-4f6e-b855-c550268ce08a"


def apps(*names):
    return {n: {"app.lua": NOTES % {"name": n, "template": TEMPLATE}} for n in names}


def database(s):
    return pglib.name_of(pglib.database_of(s.data_dir))


def psql_as(db, role, password, sql):
    """Runs sql on db logged in as role (the app's own login); returns
    (ok, output)."""
    env = dict(os.environ, PGPASSWORD=password)
    env.pop("PGPASSFILE", None)
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", CLUSTER.sock, "-U", role, "-d", db,
                        "-At", "-c", "SET search_path = app_alpha; " + sql], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    return p.returncode == 0, (p.stdout + p.stderr).decode("utf-8", "replace")


def node_like(first, apps_dir):
    """A second node of first's deployment: the same apps and database, the
    same keys file (what each node keeps locally: docs/operations.md)."""
    s = Server(apps_dir)
    os.makedirs(s.data_dir)
    for name in os.listdir(first.data_dir):
        path = os.path.join(first.data_dir, name)
        if os.path.isfile(path):
            shutil.copy(path, os.path.join(s.data_dir, name))
    return s


@test
def an_apps_own_login_cannot_leave_its_schema_or_forge_platform_rows():
    with Server(apps("alpha", "beta")) as s:
        c = Client(s.port)
        for app in ("alpha", "beta"):
            r = c.post_form("/%s/notes" % app, {"text": "from " + app})
            assert r.status == 200, r
        c.close()
        db = database(s)
        roles = {r["app"]: r for r in CLUSTER.query(db, "SELECT app, role, password FROM borough.app_roles")}
        assert set(roles) >= {"alpha", "beta"}, roles
        alpha = roles["alpha"]
        # The app's own login reads and writes its own schema...
        ok, out = psql_as(db, alpha["role"], alpha["password"], "SELECT text FROM notes")
        assert ok and out.strip() == "from alpha", out
        ok, out = psql_as(db, alpha["role"], alpha["password"], "SELECT count(*) FROM _borough_audit")
        assert ok and out.strip() == "1", out
        # ...and nothing else, whatever it sends.
        owner = CLUSTER.query(db, "SELECT value FROM borough.secrets WHERE name = 'owner'")[0]["value"]
        refused = [
            "SET ROLE %s" % owner,
            "SET ROLE postgres",
            "SET SESSION AUTHORIZATION %s" % owner,
            "RESET ROLE; SELECT * FROM borough.users",
            "SELECT set_config('role', '%s', false); SELECT * FROM borough.users" % owner,
            "SELECT * FROM borough.users",
            "SELECT * FROM borough.secrets",
            "SELECT * FROM borough.app_roles",
            "SELECT text FROM app_beta.notes",
            "INSERT INTO app_beta.notes (text) VALUES ('from alpha')",
            "CREATE TABLE app_beta.mine (x int)",
            "COPY (SELECT 1) TO PROGRAM 'touch /tmp/borough-pg-pwned'",
            "COPY notes TO '/tmp/borough-pg-pwned'",
            "SELECT pg_read_file('/etc/hostname')",
            "SELECT pg_ls_dir('.')",
            "CREATE EXTENSION dblink",
            "SELECT dblink_connect('dbname=postgres')",
            "INSERT INTO _borough_audit (entity, record_id, action, at, who) VALUES ('notes', 1, 'delete', 'x', 'x')",
            "UPDATE _borough_audit SET who = 'someone else'",
            "DELETE FROM _borough_audit",
            "TRUNCATE _borough_audit",
            "ALTER TABLE _borough_audit DISABLE TRIGGER ALL",
            "DROP TRIGGER borough_guard ON _borough_audit",
            "DROP TABLE _borough_audit",
            "SELECT borough_fn.unlock('a guess'); DELETE FROM _borough_audit",
            "SELECT set_config('borough.unlocked', 'x', false); DELETE FROM _borough_audit",
            "CREATE ROLE sneaky LOGIN",
            "ALTER ROLE %s SUPERUSER" % alpha["role"],
            "GRANT %s TO %s" % (owner, alpha["role"]),
        ]
        wrong = []
        for sql in refused:
            ok, out = psql_as(db, alpha["role"], alpha["password"], sql)
            if ok:
                wrong.append("%r was allowed: %s" % (sql, out.strip()))
        assert not wrong, "\n".join(wrong)
        assert not os.path.exists("/tmp/borough-pg-pwned")
        # Everything is as it was.
        assert CLUSTER.query(db, "SELECT count(*) AS n FROM app_alpha._borough_audit") == [{"n": 1}]
        assert CLUSTER.query(db, "SELECT text FROM app_beta.notes") == [{"text": "from beta"}]
        # From app code, the statements outside the portable subset are
        # refused before they reach the database, naming the app's line.
        c = Client(s.port)
        for sql in ("SET ROLE postgres", "RESET ROLE", "COPY notes TO PROGRAM 'true'", "SELECT $1",
                    "SELECT 1; SELECT 2", "BEGIN"):
            r = c.request("POST", "/alpha/sql", body=sql.encode())
            doc = json.loads(r.body)
            assert doc["ok"] is False and "app.lua:" in doc["error"], (sql, doc)
        r = c.request("POST", "/alpha/sql", body=b"SELECT pg_read_file('/etc/hostname')")
        doc = json.loads(r.body)
        assert doc["ok"] is False and "not authorized" in doc["error"] and "app.lua:" in doc["error"], doc
        r = c.request("POST", "/alpha/sql", body=b"SELECT text FROM app_beta.notes")
        assert json.loads(r.body)["ok"] is False, r.body
        c.close()


@test
def sign_in_throttling_counts_the_failures_of_every_node():
    """Five wrong passwords for one account, three on one node and two on
    another, throttle it on both: the failures are counted in the shared
    database, so a guesser gains nothing by spreading guesses over nodes."""
    with Server(apps("alpha")) as a:
        p = subprocess.run([BOROUGH, "user", "add", "jo@example.gov.uk", "--name", "Jo", "--data", a.data_dir],
                           input=b"correct horse battery\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert p.returncode == 0, p.stderr
        with node_like(a, a.apps_dir) as b:
            def sign_in(node, password):
                return Browser(node.port).sign_in_password("jo@example.gov.uk", password, "/alpha")
            for i in range(5):
                r = sign_in((a, b)[i % 2], "a wrong guess at it")
                assert r.status == 400, (i, r)
            for node in (b, a):
                r = sign_in(node, "correct horse battery")
                assert r.status == 429 and b"Too many attempts" in r.body, r


@test
def the_platforms_ddl_runs_nothing_an_app_named_like_postgresqls_own():
    # The platform's DDL in an app's schema runs with the owner's rights
    # (borough_fn.platform_exec). The app's own login names a function and
    # an operator in its schema as PostgreSQL's, each noting who ran it:
    # the platform's DDL, run again when the app reloads, must run neither.
    with Server(apps("alpha")) as s:
        db = database(s)
        alpha = CLUSTER.query(db, "SELECT role, password FROM borough.app_roles WHERE app = 'alpha'")[0]
        plant = [
            "CREATE TABLE ran (who text, what text); GRANT INSERT ON ran TO PUBLIC",
            "CREATE FUNCTION app_alpha.current_schema() RETURNS name LANGUAGE sql AS "
            "$$ INSERT INTO app_alpha.ran VALUES (current_user, 'current_schema()') RETURNING 'app_alpha'::name $$",
            "CREATE FUNCTION app_alpha.same(name, name) RETURNS boolean LANGUAGE sql AS "
            "$$ INSERT INTO app_alpha.ran VALUES (current_user, '=') RETURNING $1::text OPERATOR(pg_catalog.=) $2::text $$; "
            "CREATE OPERATOR app_alpha.= (LEFTARG = name, RIGHTARG = name, FUNCTION = app_alpha.same)",
        ]
        for sql in plant:
            ok, out = psql_as(db, alpha["role"], alpha["password"], sql)
            assert ok, (sql, out)
        status, out, err = borough("reload", "alpha", "--data", s.data_dir)
        assert status == 0, (out, err)
        assert s_get(s, "/alpha/notes").status in (404, 405), "alpha serves"
        # (neither as the owner, nor as the app inside a platform's write)
        ran = CLUSTER.query(db, "SELECT who, what FROM app_alpha.ran")
        assert ran == [], ran[:5]


def enqueue(port, n, **extra):
    r = post_json(port, "/alpha/enqueue", dict(n=n, **extra))
    assert r.status == 200, r


@test
def each_job_runs_on_exactly_one_of_two_nodes():
    with Server(apps("alpha"), workers=2) as a:
        db = database(a)

        def marks():
            try:
                return CLUSTER.query(db, "SELECT n, node FROM app_alpha.marks")
            except AssertionError:
                return []
        # A job running on the first node when the second starts is the
        # first node's still: the second does not take it over.
        enqueue(a.port, -1, wait=4)
        wait_for(lambda: len(marks()) == 1, timeout=10, what="the long job to start")
        with node_like(a, a.apps_dir) as b:
            for i in range(60):
                enqueue((a if i % 2 else b).port, i)
            wait_for(lambda: len(marks()) >= 61, timeout=30, what="sixty jobs")
            wait_for(lambda: CLUSTER.query(db, "SELECT count(*) AS n FROM app_alpha._borough_jobs "
                                               "WHERE state <> 'done'")[0]["n"] == 0, what="every job done")
            ns = sorted(m["n"] for m in marks())
            assert ns == list(range(-1, 60)), ns       # each once, none twice
            claimers = {r["claimed_by"] for r in CLUSTER.query(db, "SELECT claimed_by FROM app_alpha._borough_jobs")}
            assert claimers == {None}, claimers
            runs = {r["state"] for r in CLUSTER.query(db, "SELECT state FROM app_alpha._borough_jobs")}
            assert runs == {"done"}, runs


def writer(port, client, acked, failures, stop):
    c = None
    n = 0
    while not stop.is_set():
        try:
            if c is None:
                c = Client(port)
            r = c.post_form("/alpha/notes", {"text": "%d-%d" % (client, n)})
            if r.status == 200:
                acked.append((json.loads(r.body)["id"], "%d-%d" % (client, n)))
            else:
                failures.append((client, r.status))
            n += 1
        except Exception:
            c = None                        # the node died: this writer stops
            return


@test
def three_nodes_one_killed_under_write_load_lose_nothing_acknowledged():
    a = Server(apps("alpha"), workers=2, expect_exit=None)
    a.start()
    nodes = [a]
    try:
        for _ in range(2):
            n = node_like(a, a.apps_dir)
            n.expect_exit = None
            nodes.append(n.start())
        db = database(a)
        # Jobs that take a while, spread over the nodes: some will be running
        # on the node that dies.
        for i in range(30):
            enqueue(nodes[i % 3].port, i, wait=5)
        acked, failures, stop = [], [], threading.Event()
        threads = [threading.Thread(target=writer, args=(nodes[i % 3].port, i, acked, failures, stop))
                   for i in range(6)]
        for t in threads:
            t.start()
        deadline = time.time() + 10 * SLOW
        while len(acked) < 300 and time.time() < deadline:
            time.sleep(0.01)
        victim = nodes[1]
        # (kill it while it runs a job: its run id opens its requests' ids,
        # and follows its node id in its claims)
        run_id = re.search(r"id=([0-9a-f]+)\.", victim.log()).group(1)
        wait_for(lambda: CLUSTER.query(db, "SELECT count(*) AS n FROM app_alpha._borough_jobs WHERE state = 'running' "
                                           "AND claimed_by LIKE ?", "%" + run_id + ".%")[0]["n"] > 0,
                 timeout=20, what="a job running on the node to kill")
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        # The other two keep serving.
        before = len(acked)
        wait_for(lambda: len(acked) >= before + 100, timeout=10, what="writes after the kill")
        stop.set()
        for t in threads:
            t.join()
        assert len(acked) >= 300, len(acked)
        assert not failures, failures[:5]
        rows = {r["id"]: r["text"] for r in CLUSTER.query(db, "SELECT id, text FROM app_alpha.notes")}
        missing = [(i, t) for i, t in acked if rows.get(i) != t]
        assert not missing, missing[:5]
        audits = CLUSTER.query(db, "SELECT count(*) AS n FROM app_alpha._borough_audit WHERE action = 'create'")
        assert audits[0]["n"] == len(rows), (audits, len(rows))
        # Every job is done, the killed node's taken over once its beat
        # stopped; one runs twice only if it was running when its node died.
        wait_for(lambda: CLUSTER.query(db, "SELECT count(*) AS n FROM app_alpha._borough_jobs "
                                           "WHERE state <> 'done'")[0]["n"] == 0, timeout=40,
                 what="every job done")
        marks = [m["n"] for m in CLUSTER.query(db, "SELECT n FROM app_alpha.marks")]
        assert sorted(set(marks)) == list(range(30)), sorted(marks)
        twice = [n for n in set(marks) if marks.count(n) > 1]
        interrupted = CLUSTER.query(db, "SELECT count(*) AS n FROM app_alpha._borough_jobs WHERE attempts > 1")
        assert interrupted[0]["n"] > 0            # the dead node's running jobs were taken over
        assert len(twice) <= interrupted[0]["n"], (twice, interrupted)
    finally:
        for n in nodes:
            n.stop()


@test
def while_the_database_is_away_requests_get_503_quickly_and_the_node_comes_back():
    with Server(apps("alpha"), workers=2) as s:
        db = database(s)
        acked, failures, stop = [], [], threading.Event()
        statuses = []

        def write():
            n = 0
            c = Client(s.port)
            while not stop.is_set():
                t0 = time.time()
                r = c.post_form("/alpha/notes", {"text": "w%d" % n})
                statuses.append((r.status, time.time() - t0))
                if r.status == 200:
                    acked.append((json.loads(r.body)["id"], "w%d" % n))
                n += 1
                if r.header("connection") == "close":
                    c.close()
                    c = Client(s.port)
            c.close()
        t = threading.Thread(target=write)
        t.start()
        wait_for(lambda: len(acked) >= 50, what="writes before the stop")
        CLUSTER.stop()
        try:
            wait_for(lambda: s_get(s, "/healthz").status == 503, what="/healthz to say not ready")
            down = len(statuses)
            wait_for(lambda: len(statuses) >= down + 20, what="requests while the database is away")
            away = statuses[down:down + 20]
            assert all(st == 503 for st, _ in away), away
            assert max(d for _, d in away) < 1 * SLOW, away        # quickly, no hung worker
        finally:
            CLUSTER.start()
        wait_for(lambda: s_get(s, "/healthz").status == 200, timeout=20, what="/healthz ready again")
        back = len(acked)
        wait_for(lambda: len(acked) >= back + 50, timeout=20, what="writes after the restart")
        stop.set()
        t.join()
        rows = {r["id"]: r["text"] for r in CLUSTER.query(db, "SELECT id, text FROM app_alpha.notes")}
        missing = [(i, x) for i, x in acked if rows.get(i) != x]
        assert not missing, missing[:5]
        assert set(st for st, _ in statuses) <= {200, 503}, set(st for st, _ in statuses)
        # Jobs carry on (the job makes its table when it first runs).
        enqueue(s.port, 7)

        def marked():
            try:
                return CLUSTER.query(db, "SELECT count(*) AS n FROM app_alpha.marks WHERE n = 7")[0]["n"] == 1
            except AssertionError:
                return False
        wait_for(marked, what="a job after the restart")


@test
def notifys_rate_limit_holds_across_three_nodes():
    peer = NotifyPeer().start()
    a = Server(apps("alpha"))
    os.makedirs(a.data_dir)
    with open(os.path.join(a.data_dir, "notify.conf"), "w") as f:
        f.write("retry_delay = 0.2\ntimeout = 2\npoll_after = 0\nrate_limit = 20\n\n[alpha]\n"
                "api_key = %s\nbase_url = %s\n" % (peer.api_key, peer.url))
    os.chmod(os.path.join(a.data_dir, "notify.conf"), 0o600)
    nodes = []
    try:
        nodes.append(a.start())
        for _ in range(2):
            nodes.append(node_like(a, a.apps_dir).start())     # the same notify.conf: one key
        for i, n in enumerate(nodes):
            r = post_json(n.port, "/alpha/invite?n=20&from=%d" % i, {})
            assert r.status == 200, r
        # Each node alone would send its twenty at once; together they send
        # twenty in the minute, whichever node sends them.
        wait_for(lambda: len(peer.accepted) >= 20, timeout=20, what="the first twenty")
        time.sleep(3 * SLOW)
        assert len(peer.accepted) == 20, len(peer.accepted)
        assert windows_ok(peer.times, limit=20) <= 20, windows_ok(peer.times, limit=20)
        refs = [m["body"]["reference"] for m in peer.accepted]
        assert len(set(refs)) == 20, refs
    finally:
        for n in nodes:
            n.stop()
        peer.stop()


HELLO = '''
local app = borough.app { title = "Hello", mount = "/hello", public = true, allow_hosts = { "127.0.0.1" } }
app:get("/", function() return "%s" end)
return app
'''


def write_hello(apps_dir, version):
    path = os.path.join(apps_dir, "hello", "app.lua")
    with open(path + ".tmp~", "w") as f:
        f.write(HELLO % version)
    os.replace(path + ".tmp~", path)


@test
def a_reload_on_one_node_reaches_the_others_and_names_one_that_differs():
    a = Server({"hello": {"app.lua": HELLO % "v1"}})
    a.start()
    nodes = [a]
    try:
        db = database(a)
        own = os.path.join(a.tmp, "apps-of-c")            # the third node's own copy of the apps folder
        shutil.copytree(a.apps_dir, own)
        nodes.append(node_like(a, a.apps_dir).start())
        nodes.append(node_like(a, own).start())
        a, b, c = nodes
        wait_for(lambda: CLUSTER.query(db, "SELECT count(*) AS n FROM borough.node_registry")[0]["n"] == 3,
                 what="three nodes registered")
        assert [s_get(n, "/hello/").body for n in nodes] == [b"v1"] * 3
        # v2 in the folder a and b share; c's copy stays at v1.
        write_hello(a.apps_dir, "v2")
        status, out, err = borough("reload", "--data", a.data_dir)
        assert status == 1, (status, out, err)
        # b reloaded without being asked; c too, from its own folder.
        assert [s_get(n, "/hello/").body for n in nodes] == [b"v2", b"v2", b"v1"]
        lines = out.splitlines()
        assert "hello: reloaded (generation 2)" in lines, out
        mine = [ln for ln in lines if re.match(r"node \S+:%d \(this one\): hello [0-9a-f]{12}$" % a.port, ln)]
        assert len(mine) == 1, out
        version = mine[0].rsplit(" ", 1)[1]
        assert re.search(r"^node \S+:%d: hello %s$" % (b.port, version), out, re.M), out
        differs = re.search(r"^node \S+:%d differs: it serves hello ([0-9a-f]{12}) \(check its apps folder\)$"
                            % c.port, err, re.M)
        assert differs and differs.group(1) != version, err
        # c's folder brought in line: a reload asked on b finds every node the same.
        write_hello(own, "v2")
        status, out, err = borough("reload", "hello", "--data", b.data_dir)
        assert (status, err) == (0, ""), (status, out, err)
        assert [s_get(n, "/hello/").body for n in nodes] == [b"v2"] * 3
        for n in nodes:
            assert re.search(r"^node \S+:%d( \(this one\))?: hello %s$" % (n.port, version), out, re.M), out
    finally:
        for n in nodes:
            n.stop()


LIVE = '''
local app = borough.app { title = "Live", mount = "/live", public = true, allow_hosts = { "127.0.0.1" } }
app:events("/stream", { public = true }, function(req) return { "measures" } end)
app:post("/publish", { public = true, csrf = false }, function(req)
  return tostring(borough.events.publish("measures", { n = tonumber(req.query.n) }))
end)
return app
'''


@test
def an_event_published_on_one_node_reaches_a_stream_on_another():
    a = Server({"live": {"app.lua": LIVE}}, workers=2)
    a.start()
    nodes = [a]
    streams = []
    try:
        b = node_like(a, a.apps_dir).start()
        nodes.append(b)
        r = Client(a.port).request("POST", "/live/publish?n=1")
        assert r.status == 200, r
        first = int(r.body)
        # Two streams on node B (one per worker, likely), one on A.
        for port in (b.port, b.port, a.port):
            st = Stream(port, "/live/stream").head()
            assert st.status == 200, st.headers
            streams.append(st)
        for n in (2, 3):
            r = Client(a.port).request("POST", "/live/publish?n=%d" % n)
            assert r.status == 200, r
        for st in streams:
            got = [st.next_event(timeout=5 * SLOW) for _ in range(2)]
            assert [json.loads(e["data"])["data"]["n"] for e in got] == [2, 3], got
            assert [int(e["id"]) for e in got] == [first + 1, first + 2], got
        # A client of node B that resumes after the first event gets the two
        # it missed, written through node A.
        st = Stream(b.port, "/live/stream", {"Last-Event-ID": str(first)}).head()
        streams.append(st)
        got = [st.next_event(timeout=5 * SLOW) for _ in range(2)]
        assert [int(e["id"]) for e in got] == [first + 1, first + 2], got
    finally:
        for st in streams:
            st.close()
        for n in nodes:
            n.stop()


@test
def a_publish_waiting_for_the_database_holds_up_no_other_request():
    # One worker. Another session holds the app's write lock (as a long
    # transaction on another node would), so a publish, which takes it to
    # give events their ids in commit order, waits; meanwhile the same
    # worker answers other requests. (It did not while publish waited on
    # the database in place.)
    with Server({"live": {"app.lua": LIVE}}, workers=1) as s:
        db = database(s)
        assert Client(s.port).request("POST", "/live/publish?n=1").status == 200   # the events table is made
        key = int.from_bytes(hashlib.sha256(b"app_live").digest()[:8], "little", signed=True)
        holder = subprocess.Popen(["psql", "-X", "-q", "-h", CLUSTER.sock, "-p", str(CLUSTER.tcp_port or 5432),
                                   "-U", "postgres", "-d", db, "-c",
                                   "SELECT pg_advisory_lock(%d); SELECT pg_sleep(60)" % key],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: CLUSTER.query(db, "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' "
                                                "AND granted")[0]["n"] == 1, what="the lock held")
            result = {}
            publisher = threading.Thread(target=lambda: result.update(
                r=Client(s.port, timeout=60).request("POST", "/live/publish?n=2")))
            publisher.start()
            wait_for(lambda: CLUSTER.query(db, "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' "
                                                "AND NOT granted")[0]["n"] == 1, what="the publish waiting")
            assert s_get(s, "/healthz").status == 200
            assert s_get(s, "/live/nothing").status == 404
            assert publisher.is_alive() and "r" not in result
        finally:
            CLUSTER.query(db, "SELECT pg_terminate_backend(pid) AS ended FROM pg_locks "
                              "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()")
            holder.wait()
        publisher.join(30)
        assert result["r"].status == 200, result
        assert int(result["r"].body) == 2, result     # (the second event: ids in commit order)


def s_get(s, path):
    c = Client(s.port)
    try:
        return c.get(path)
    finally:
        c.close()


run()
