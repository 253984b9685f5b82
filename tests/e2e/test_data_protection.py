#!/usr/bin/env python3
"""End-to-end tests of data protection (docs/security.md, "Data protection"):
encrypted entity fields (unreadable in the database file and its WAL, bound
to their column and key), blind-index lookups and duplicate finding, the
platform audit of encrypted reads, `borough keys rotate|list|retire`, the
platform audit log's hash chain (`borough audit verify` catching an edited,
deleted or inserted row), row rules on list, detail, edit, delete, search
and an in-app CSV download with two portfolios and guessed ids, and the
CLI export opening encrypted fields.

Staff are signed in by giving the server a session of theirs: a row in
data/borough.db's sessions table holding the SHA-256 of a token, and the
token as the borough_session cookie (what sign-in does, core/session.c).
"""
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, raw, Server, Client, BOROUGH, write_tree, query, execute  # noqa: E402
import pglib  # noqa: E402


def lua(text):
    return textwrap.dedent(text).lstrip("\n")


MODELS = lua('''
    local M = {}
    M.portfolios = borough.entity "portfolios" {
      { "name", "text", required = true },
    }
    -- Staff see the applications of their portfolios (by role: "portfolio_1"
    -- is a member of portfolio 1); admins see all and alone may delete.
    local function portfolios_of(user)
      local ids = {}
      for role in pairs(user.roles) do
        local id = role:match("^portfolio_(%d+)$")
        if id then ids[#ids + 1] = math.tointeger(id) end
      end
      return ids
    end
    local function member(user, portfolio)
      for _, id in ipairs(portfolios_of(user)) do
        if id == portfolio then return true end
      end
      return false
    end
    M.applications = borough.entity "applications" {
      label = "application",
      search = { "business" },
      rules = {
        read = function(user)
          if not user then return false end
          if user.roles.admin then return true end
          return { portfolio = { ["in"] = portfolios_of(user) } }
        end,
        create = function(user, record) return user.roles.admin or member(user, record.portfolio) end,
        update = function(user, record) return user.roles.admin or member(user, record.portfolio) end,
        delete = function(user) return user.roles.admin == true end,
      },
      { "business", "text", required = true },
      { "portfolio", "reference", to = "portfolios" },
      { "account_number", "account_number", encrypted = true, lookup = true },
      { "sort_code", "sort_code", encrypted = true },
      { "nhs_number", "nhs_number", encrypted = true, lookup = true, unique = true, label = "NHS number" },
    }
    -- A rule that waits (as one calling another service would).
    M.notes = borough.entity "notes" {
      rules = { read = function(user) borough.sleep(0.3) return user ~= nil end },
      { "text", "text" },
    }
    return M
''')

APP = lua('''
    local app = borough.app { title = "Grants", mount = "/grants", public = true }
    local m = require "models"
    local A = m.applications

    local function answer(r, errors)
      if not r then return borough.json({ errors = errors }, 422) end
      return borough.json(r)
    end

    app:post("/portfolios", { csrf = false }, function(req)
      return answer(m.portfolios:create(json.decode(req.body)))
    end)
    app:get("/apps", function(req)
      local conds = {}
      if req.query.account then conds.account_number = req.query.account end
      local list = A:where(conds)
      return borough.json({ ids = (function() local t = json.array({}) for i, r in ipairs(list) do t[i] = r.id end return t end)(),
                            records = list, count = A:count(conds) })
    end)
    app:get("/apps/:id", function(req)
      local r = A:find(req.params.id)
      if not r then return borough.status(404) end
      return borough.json(r)
    end)
    app:get("/search", function(req)
      local list = A:search(req.query.q)
      local ids = json.array({})
      for i, r in ipairs(list) do ids[i] = r.id end
      return borough.json({ ids = ids })
    end)
    app:get("/duplicates", function(req)
      local out = json.array({})
      for i, g in ipairs(A:duplicates("account_number")) do
        local ids = json.array({})
        for j, r in ipairs(g.records) do ids[j] = r.id end
        out[i] = { count = g.count, ids = ids, account = g.records[1].account_number }
      end
      return borough.json(out)
    end)
    app:get("/download", function(req) return A:download() end)
    app:get("/csv", function(req) return borough.text(A:csv({ business = { contains = req.query.q } })) end)
    app:get("/by-portfolio", function(req)
      local out = {}
      for k, n in pairs(A:count_by("portfolio")) do out[tostring(k)] = n end
      return borough.json(out)
    end)
    app:post("/apps", { csrf = false }, function(req) return answer(A:create(json.decode(req.body))) end)
    app:post("/apps/:id", { csrf = false }, function(req)
      return answer(A:update(req.params.id, json.decode(req.body)))
    end)
    app:delete("/apps/:id", { csrf = false }, function(req)
      local ok, why = A:delete(req.params.id)
      return borough.json({ ok = ok or false, why = why })
    end)
    app:get("/history/:id", function(req) return borough.json(A:history(req.params.id)) end)
    app:get("/notes", function(req) return borough.json({ n = m.notes:count() }) end)
    app:post("/notes", { csrf = false }, function(req) return borough.json(m.notes:create({ text = "x" })) end)
    app:post("/upload", { csrf = false }, function(req)
      local summary, err = A:import(req.body, { skip_bad_rows = true })
      return borough.json(summary or { error = err })
    end)
    app:get("/finds", function(req)
      local found = json.array({})
      for id in req.query.ids:gmatch("%d+") do found[#found + 1] = A:find(id) and tonumber(id) or nil end
      return borough.json(found)
    end)
    -- A download made with borough.download.csv (as apps/shielding's return);
    -- ?fail=n: the pages fail after n pages.
    app:get("/return.csv", function(req)
      local pages, fail = 0, tonumber(req.query.fail)
      return borough.download.csv("return.csv", { "Business", "Account number" }, function(after)
        pages = pages + 1
        if fail and pages > fail then error("the pages broke") end
        local list = A:where({}, { after = after, per_page = 500 })
        local rows = {}
        for i, r in ipairs(list) do rows[i] = { r.business, r.account_number } end
        return rows, list[#list] and list[#list].id
      end)
    end)
    borough.pages(A, { columns = { "business", "account_number" }, delete = true }):mount(app, "/pages", { public = true })
    return app
''')

# Fake data only: valid check digits, nobody's.
ACME = {"business": "Acme Bakery", "portfolio": 1, "account_number": "31926819", "sort_code": "60-16-13",
        "nhs_number": "943 476 5919"}
BOLT = {"business": "Bolt Cycles", "portfolio": 2, "account_number": "31926819", "sort_code": "20-00-00"}
CRUX = {"business": "Crux Books", "portfolio": 2, "account_number": "55779911", "nhs_number": "401 023 2137"}

TOKENS = {"a": "A" * 43, "b": "B" * 43, "admin": "C" * 43}


def borough(*args, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([BOROUGH] + list(args), capture_output=True, text=True, timeout=120, env=e)


def sign_in_all(data):
    """Makes staff a (portfolio 1), b (portfolio 2) and an admin, each with a
    session whose token is TOKENS[name]."""
    pw = os.path.join(data, "..", "pw")
    with open(pw, "w") as f:
        f.write("a long fake passphrase 1234\n")
    roles = {"a": "portfolio_1", "b": "portfolio_2", "admin": "admin"}
    for name, role in roles.items():
        email = name + "@council.example"
        r = borough("user", "add", email, "--name", name, "--password-file", pw, "--data", data)
        assert r.returncode == 0, r.stderr
        r = borough("user", "role", email, "grants", role, "--data", data)
        assert r.returncode == 0, r.stderr
    path = os.path.join(data, "borough.db")
    now = int(time.time() * 1000)
    for name, token in TOKENS.items():
        uid = query(path, "SELECT id FROM users WHERE email = ?", name + "@council.example")[0]["id"]
        execute(path, "INSERT INTO sessions (token_hash, user_id, created_ms, seen_ms) VALUES (?, ?, ?, ?)",
                hashlib.sha256(token.encode()).digest(), uid, now, now)


def call(port, method, path, who=None, doc=None):
    c = Client(port)
    try:
        headers = {"Cookie": "borough_session=" + TOKENS[who]} if who else {}
        body = b""
        if doc is not None:
            body = json.dumps(doc).encode()
            headers["Content-Type"] = "application/json"
        r = c.request(method, path, headers=headers, body=body)
        return r
    finally:
        c.close()


def get_json(port, path, who=None):
    r = call(port, "GET", path, who)
    assert r.status == 200, (path, r.status, r.text)
    return json.loads(r.body)


class Grants:
    """The grants app with a data folder, portfolios 1 and 2, three
    applications (ids 1 Acme in portfolio 1, 2 Bolt and 3 Crux in portfolio
    2; Acme and Bolt share a bank account) and three signed-in staff."""

    def __init__(self, models=MODELS, env=None):
        self.models = models
        self.env = env
        self.server = Server({"grants": {"app.lua": APP, "models.lua": models}}, env=env)
        self.data = self.server.data_dir

    def start(self):
        self.server.start()
        self.port = self.server.port
        return self

    def seed(self):
        sign_in_all(self.data)
        for name in ("One", "Two"):
            r = call(self.port, "POST", "/grants/portfolios", doc={"name": name})
            assert r.status == 200, r.text
        for doc in (ACME, BOLT, CRUX):
            r = call(self.port, "POST", "/grants/apps", "admin", doc)
            assert r.status == 200, r.text
        return self

    def rows(self, sql, *args):
        return [tuple(r.values()) for r in query(os.path.join(self.data, "grants", "app.db"), sql, *args)]

    def platform(self, sql, *args):
        return [tuple(r.values()) for r in query(os.path.join(self.data, "borough.db"), sql, *args)]

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        status = self.server.stop()
        if exc_type is None and status != 0:
            raise AssertionError("borough exited with %s:\n%s" % (status, self.server.log()[-4000:]))
        return False


def file_bytes(data):
    """What the app's database holds, as bytes: its file and log on SQLite;
    on PostgreSQL, a dump of the app's schema."""
    cluster = pglib.shared()
    if cluster:
        return cluster.dump(pglib.name_of(pglib.database_of(data)), "app_grants")
    out = b""
    for name in ("app.db", "app.db-wal"):
        path = os.path.join(data, "grants", name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                out += f.read()
    return out


@test
def encrypted_fields_are_unreadable_in_the_database_file_and_its_wal():
    with Grants() as g:
        g.seed()
        raw = file_bytes(g.data)
        assert len(raw) > 0
        for plain in (b"31926819", b"9434765919", b"601613", b"55779911", b"4010232137"):
            assert plain not in raw, plain
        assert b"Acme Bakery" in raw     # not encrypted, so it is there: the check can see text
        stored = g.rows("SELECT account_number, sort_code, nhs_number FROM applications WHERE id = 1")[0]
        for v in stored:
            assert re.match(r"^bo1\.1\.[A-Za-z0-9_-]+$", v), v
        # Two equal values are sealed differently (a fresh nonce each time).
        a1, a2 = [r[0] for r in g.rows("SELECT account_number FROM applications WHERE id IN (1, 2) ORDER BY id")]
        assert a1 != a2
        # The audit trail says a value was written, not what it was.
        after = json.loads(g.rows("SELECT after FROM _borough_audit WHERE entity = 'applications' AND record_id = 1")[0][0])
        assert after["account_number"] == "(encrypted)" and after["business"] == "Acme Bakery", after
        # The key file: owner only.
        assert os.stat(os.path.join(g.data, "keys")).st_mode & 0o777 == 0o600


@test
def encrypted_values_read_back_as_they_were_normalised():
    with Grants() as g:
        g.seed()
        r = get_json(g.port, "/grants/apps/1", "admin")
        assert r["account_number"] == "31926819" and r["sort_code"] == "601613" and r["nhs_number"] == "9434765919", r
        r = call(g.port, "POST", "/grants/apps/1", "admin", {"sort_code": "11-22-33"})
        assert r.status == 200, r.text
        assert get_json(g.port, "/grants/apps/1", "admin")["sort_code"] == "112233"
        assert b"112233" not in file_bytes(g.data)
        # Validation runs before encryption, with the usual messages.
        r = call(g.port, "POST", "/grants/apps", "admin", {"business": "X", "portfolio": 1, "nhs_number": "943 476 5918"})
        assert r.status == 422 and "NHS number" in r.text, r.text


@test
def a_value_moved_to_another_column_or_opened_with_another_key_fails_cleanly():
    with Grants() as g:
        g.seed()
        # Acme's NHS number sealed value copied into Crux's: the associated
        # data names the record's column, not the row, so move it to another
        # column instead (account_number of Crux): it must not open there.
        sealed = g.rows("SELECT nhs_number FROM applications WHERE id = 1")[0][0]
        execute(os.path.join(g.data, "grants", "app.db"), "UPDATE applications SET account_number = ? WHERE id = 3",
                sealed)
        r = call(g.port, "GET", "/grants/apps/3", "admin")
        assert r.status == 500, r.status
        g.server.wait_log(r"applications\.account_number of record 3 cannot be read: the sealed value does not open")
        assert get_json(g.port, "/grants/apps/1", "admin")["nhs_number"] == "9434765919"   # the server carries on
    # The same data folder with another key: values do not open; nothing crashes.
    g2 = Grants(env={"BOROUGH_KEYS": "1 " + "ab" * 32})
    shutil.rmtree(g2.server.tmp)
    g2.server.tmp = g.server.tmp
    g2.server.data_dir = g2.data = g.data
    g2.server.log_path = os.path.join(g.server.tmp, "server2.log")
    g2.server.apps_dir = g.server.apps_dir
    with g2:
        r = call(g2.port, "GET", "/grants/apps/1", "admin")
        assert r.status == 500, r.status
        g2.server.wait_log(r"applications\.account_number of record 1 cannot be read")
        assert call(g2.port, "GET", "/healthz").status == 200


@test
def the_blind_index_finds_equal_values_and_duplicates_without_decrypting():
    with Grants() as g:
        g.seed()
        # Any spelling the field accepts finds the same records.
        for spelling in ("31926819", "3192 6819", "31-92-68-19"):
            r = get_json(g.port, "/grants/apps?account=" + spelling.replace(" ", "%20"), "admin")
            assert r["ids"] == [1, 2] and r["count"] == 2, (spelling, r)
        assert get_json(g.port, "/grants/apps?account=00000000", "admin")["ids"] == []
        # The fraud check: one bank account on two applications.
        d = get_json(g.port, "/grants/duplicates", "admin")
        assert d == [{"count": 2, "ids": [1, 2], "account": "31926819"}], d
        # Row rules apply: b sees only their portfolio's half of the pair.
        assert get_json(g.port, "/grants/duplicates", "b") == []
        # unique = true on an encrypted field goes through its blind index.
        r = call(g.port, "POST", "/grants/apps", "admin", {"business": "Dup", "portfolio": 1, "nhs_number": "9434765919"})
        assert r.status == 422 and "already exists" in r.text, r.text
        blind = g.rows("SELECT account_number__blind FROM applications ORDER BY id")
        assert blind[0] == blind[1] and blind[0] != blind[2] and len(blind[0][0]) == 22, blind


@test
def reads_of_encrypted_fields_are_audited_once_per_request_and_entity():
    with Grants() as g:
        g.seed()
        before = g.platform("SELECT count(*) FROM platform_audit WHERE action = 'read encrypted'")[0][0]
        get_json(g.port, "/grants/apps", "b")                  # a list and a count in one request
        get_json(g.port, "/grants/apps/1", "admin")
        rows = g.platform("SELECT who, app, detail FROM platform_audit WHERE action = 'read encrypted' AND id > "
                          "(SELECT coalesce(max(id), 0) FROM platform_audit WHERE action <> 'read encrypted') ORDER BY id")
        rows = rows[-2:]
        assert len(g.platform("SELECT 1 FROM platform_audit WHERE action = 'read encrypted'")) == before + 2
        assert rows[0] == ("b@council.example", "grants",
                           "applications (account_number, sort_code, nhs_number) of 2 records: 2, 3"), rows
        assert rows[1] == ("admin@council.example", "grants",
                           "applications (account_number, sort_code, nhs_number) of 1 record: 1"), rows
        out = borough("audit", "--data", g.data, "--app", "grants").stdout
        assert re.search(r"b@council\.example  read encrypted  grants: applications \(account_number", out), out


FIELDS = "account_number, sort_code, nhs_number"


def opened(g, since):
    """The 'read encrypted' rows after row since: [(who, set of record ids)],
    read back from their detail ("applications (...) of 3 records: 1-2, 7")."""
    out = []
    for who, detail in g.platform("SELECT who, detail FROM platform_audit WHERE action = 'read encrypted' AND id > ? "
                                  "ORDER BY id", since):
        m = re.match(r"applications \(%s\) of (\d+) records?: ([\d, -]+)$" % FIELDS, detail)
        assert m, detail
        ids = set()
        for part in m.group(2).split(", "):
            first, _, last = part.partition("-")
            ids.update(range(int(first), int(last or first) + 1))
        assert len(ids) == int(m.group(1)), detail
        out.append((who, ids))
    return out


def last_row(g):
    return g.platform("SELECT coalesce(max(id), 0) FROM platform_audit")[0][0]


@test
def every_record_opened_is_audited_and_every_download_leaves_an_export_row():
    """A manager downloading 1,203 applications leaves read rows that name
    every record opened (a few rows, not one a record) and one export row
    saying who, the app, the entity, the fields and how many rows."""
    with Grants() as g:
        g.seed()
        lines = ["business,portfolio,account_number,sort_code"]
        lines += ["Business %d,1,31926819,60-16-13" % i for i in range(1200)]
        c = Client(g.port)
        r = c.request("POST", "/grants/upload", {"Cookie": "borough_session=" + TOKENS["admin"],
                                                 "Content-Type": "text/csv"}, "\n".join(lines) + "\n")
        c.close()
        assert r.status == 200 and json.loads(r.body)["committed"], r.text
        everyone = set(range(1, 1204))
        columns = "id, business, portfolio, account_number, sort_code, nhs_number, created_at, updated_at"
        for path, export in (("/grants/download", "applications: CSV download applications.csv of 1203 rows (%s)"
                              % columns),
                             ("/grants/return.csv", "applications: CSV download return.csv of 1203 rows "
                              "(Business, Account number)")):
            mark = last_row(g)
            r = call(g.port, "GET", path, "admin")
            assert r.status == 200 and len(r.text.strip().split("\r\n")) == 1204, (path, r.text[:300])
            reads = opened(g, mark)
            assert 1 <= len(reads) <= 3 and {who for who, _ in reads} == {"admin@council.example"}, reads
            assert set().union(*(ids for _, ids in reads)) == everyone, (path, reads)
            exports = g.platform("SELECT who, app, detail FROM platform_audit WHERE action = 'export' AND id > ?", mark)
            assert exports == [("admin@council.example", "grants", export)], exports
        # A download cut short still leaves its export row, with the rows it sent.
        mark = last_row(g)
        got = raw(g.port, ("GET /grants/return.csv?fail=1 HTTP/1.1\r\nHost: x\r\nCookie: borough_session=%s\r\n\r\n"
                           % TOKENS["admin"]).encode())
        assert got.startswith(b"HTTP/1.1 200 ") and b"Business 0," in got and not got.endswith(b"\r\n0\r\n\r\n"), got[-200:]
        exports = g.platform("SELECT who, detail FROM platform_audit WHERE action = 'export' AND id > ?", mark)
        assert exports == [("admin@council.example", "applications: CSV download return.csv of 500 rows "
                            "(Business, Account number), cut short")], exports
        # Records found one by one in a request: every one is named.
        mark = last_row(g)
        assert get_json(g.port, "/grants/finds?ids=1,7,900,7", "admin") == [1, 7, 900, 7]
        reads = opened(g, mark)
        assert set().union(*(ids for _, ids in reads)) == {1, 7, 900} and len(reads) == 3, reads
        # A generated list page and a search name the records they show.
        mark = last_row(g)
        r = call(g.port, "GET", "/grants/pages?page=3", "admin")
        assert r.status == 200 and "Business 47<" in r.text and "Business 71<" in r.text, r.text
        assert opened(g, mark) == [("admin@council.example", set(range(51, 76)))], opened(g, mark)
        mark = last_row(g)
        r = get_json(g.port, "/grants/search?q=Crux", "b")
        assert r["ids"] == [3] and opened(g, mark) == [("b@council.example", {3})], (r, opened(g, mark))
        assert borough("audit", "verify", "--data", g.data).returncode == 0


@test
def key_rotation_reseals_every_value_and_keeps_it_readable():
    g = Grants()
    with g:
        g.seed()
        old = g.rows("SELECT id, account_number, sort_code, nhs_number, account_number__blind FROM applications ORDER BY id")
        # A running server keeps its keys: rotation waits for it to stop.
        r = borough("keys", "rotate", "--data", g.data)
        assert r.returncode == 1 and "a server is running" in r.stderr, r.stderr
        lst = borough("keys", "list", "--data", g.data).stdout
        assert "key 1 (current): seals 7 values" in lst and "blind indexes: grants (key 1)" in lst, lst
    r = borough("keys", "rotate", "--data", g.data)
    assert r.returncode == 0, r.stderr
    assert "key 2 is current (new); 7 values sealed again and 5 blind indexes recomputed in 1 app" in r.stdout, r.stdout
    new = g.rows("SELECT id, account_number, sort_code, nhs_number, account_number__blind FROM applications ORDER BY id")
    for o, n in zip(old, new):
        for ov, nv in zip(o[1:], n[1:]):
            assert (ov is None) == (nv is None)
            if ov is not None:
                assert ov != nv, (ov, nv)
        for v in n[1:4]:
            assert v is None or v.startswith("bo1.2."), v
    lst = borough("keys", "list", "--data", g.data).stdout
    assert "key 1: seals 0 values" in lst and "key 2 (current): seals 7 values" in lst, lst
    assert "blind indexes: grants (key 2)" in lst, lst
    # Retiring: the current key never; an unused one yes.
    r = borough("keys", "retire", "2", "--data", g.data)
    assert r.returncode == 1 and "current key" in r.stderr, r.stderr
    r = borough("keys", "retire", "1", "--data", g.data)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(g.data, "keys")) as f:
        assert [line.split()[0] for line in f] == ["2"]
    assert os.stat(os.path.join(g.data, "keys")).st_mode & 0o777 == 0o600
    # Everything still reads, and lookups use the new index.
    with Grants() as g2:
        pass
    g.server.start()
    try:
        r = get_json(g.server.port, "/grants/apps/1", "admin")
        assert r["account_number"] == "31926819" and r["nhs_number"] == "9434765919", r
        assert get_json(g.server.port, "/grants/apps?account=31926819", "admin")["ids"] == [1, 2]
        assert get_json(g.server.port, "/grants/duplicates", "admin")[0]["ids"] == [1, 2]
    finally:
        g.server.stop()
    audit = borough("audit", "--data", g.data).stdout
    assert re.search(r"keys rotate: key 2 current; 7 values sealed again", audit) and "keys retire: key 1 retired" in audit
    shutil.rmtree(g2.server.tmp, ignore_errors=True)


@test
def an_app_whose_blind_indexes_use_another_key_does_not_load():
    g = Grants()
    with g:
        g.seed()
    # A key added by hand (not by keys rotate): the indexes would not match,
    # so the app does not load (and says what to do).
    with open(os.path.join(g.data, "keys"), "a") as f:
        f.write("2 " + "cd" * 32 + "\n")
    with g:
        g.server.wait_log(r"blind indexes of .*app\.db were made with key 1 but the current key is 2: stop the server "
                          r"and run `borough keys rotate")
        r = call(g.port, "GET", "/grants/apps/1", "admin")
        assert r.status == 503, r     # the app is mounted but unavailable


@test
def the_key_file_is_made_at_first_start_and_must_be_the_owners_alone():
    g = Grants()
    with g:
        pass
    keys = os.path.join(g.data, "keys")
    assert os.stat(keys).st_mode & 0o777 == 0o600
    with open(keys) as f:
        assert re.match(r"^1 [0-9a-f]{64}\n$", f.read())
    os.chmod(keys, 0o644)
    r = subprocess.run([BOROUGH, "serve", g.server.apps_dir, "--listen", "127.0.0.1:0", "--data", g.data],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "must be readable by its owner only (chmod 600" in r.stdout + r.stderr, r


@test
def nonsense_declarations_are_refused_with_the_line():
    cases = [
        ('{ "n", "integer", encrypted = true }', "cannot be encrypted: a integer is stored as a number"),
        ('{ "n", "nhs_number", encrypted = true, unique = true }', "unique only through its blind index"),
        ('{ "n", "text", lookup = true }', "lookup is for encrypted fields"),
        ('{ "n", "text", encrypted = true, index = true }', "cannot be encrypted: index = true"),
        ('{ "n", "file", encrypted = true }', "cannot be encrypted: only the file's name would be sealed"),
    ]
    for field, message in cases:
        models = 'local M = {}\nM.x = borough.entity "x" {\n  ' + field + ',\n}\nreturn M\n'
        check_models(models, "models.lua:2:", message)
    check_models('local M = {}\nM.x = borough.entity "x" {\n  search = { "n" },\n  { "n", "text", encrypted = true },\n}\n'
                 'return M\n', "models.lua:2:", "search field 'n' is encrypted")
    check_models('local M = {}\nM.x = borough.entity "x" {\n  rules = { list = function() end },\n  { "n", "text" },\n}\n'
                 'return M\n', "models.lua:2:", "rules.list is not a rule")


def check_models(models, where, message):
    tmp = tempfile.mkdtemp(prefix="borough-dp-")
    try:
        write_tree(tmp, {"x": {"app.lua": 'local app = borough.app { title = "X", mount = "/x" }\nrequire "models"\n'
                                          'return app\n', "models.lua": models}})
        r = borough("check", os.path.join(tmp, "x"))
        assert r.returncode == 1, (models, r.stdout, r.stderr)
        assert where in r.stderr + r.stdout and message in r.stderr + r.stdout, (message, r.stderr, r.stdout)
    finally:
        shutil.rmtree(tmp)


@test
def encrypting_an_existing_field_seals_its_rows_and_removing_it_needs_encrypted_false():
    plain = MODELS.replace('{ "sort_code", "sort_code", encrypted = true }', '{ "sort_code", "sort_code" }')
    g = Grants(models=plain)
    with g:
        g.seed()
    assert g.rows("SELECT sort_code FROM applications WHERE id = 1")[0][0] == "601613"
    models_path = os.path.join(g.server.apps_dir, "grants", "models.lua")
    with open(models_path, "w") as f:
        f.write(MODELS)
    with g:
        assert get_json(g.port, "/grants/apps/1", "admin")["sort_code"] == "601613"
    assert g.rows("SELECT sort_code FROM applications WHERE id = 1")[0][0].startswith("bo1.1.")
    audit = g.rows("SELECT after FROM _borough_audit WHERE entity = 'applications' AND record_id = 1 AND action = 'create'")[0][0]
    assert json.loads(audit).get("sort_code") == "(encrypted)", audit
    # Dropping encrypted = true would put the values back in plain text: refused.
    with open(models_path, "w") as f:
        f.write(plain)
    with g:
        g.server.wait_log(r"applications\.sort_code holds encrypted values but is no longer declared encrypted = true")
    assert g.rows("SELECT sort_code FROM applications WHERE id = 1")[0][0].startswith("bo1.1.")
    # encrypted = false says so on purpose: the values are opened.
    with open(models_path, "w") as f:
        f.write(MODELS.replace('{ "sort_code", "sort_code", encrypted = true }',
                               '{ "sort_code", "sort_code", encrypted = false }'))
    with g:
        assert get_json(g.port, "/grants/apps/1", "admin")["sort_code"] == "601613"
    assert g.rows("SELECT sort_code FROM applications WHERE id = 1")[0][0] == "601613"
    # Sealed, then taken out of the declarations (the column keeps its data),
    # then declared encrypted again: the values are not sealed twice.
    for models in (MODELS, MODELS.replace('{ "sort_code", "sort_code", encrypted = true },', ''), MODELS):
        with open(models_path, "w") as f:
            f.write(models)
        with g:
            pass
    assert g.rows("SELECT sort_code FROM applications WHERE id = 1")[0][0].startswith("bo1.1.")
    with g:
        assert get_json(g.port, "/grants/apps/1", "admin")["sort_code"] == "601613"


@test
def row_rules_hide_other_portfolios_everywhere():
    with Grants() as g:
        g.seed()
        p = g.port
        # Lists and counts: a sees portfolio 1, b portfolio 2, admin all, nobody signed in none.
        assert get_json(p, "/grants/apps", "a")["ids"] == [1] and get_json(p, "/grants/apps", "a")["count"] == 1
        assert get_json(p, "/grants/apps", "b")["ids"] == [2, 3]
        assert get_json(p, "/grants/apps", "admin")["ids"] == [1, 2, 3]
        assert get_json(p, "/grants/apps")["ids"] == [] and get_json(p, "/grants/apps")["count"] == 0
        # Counts by value too (a workflow's cases in each state).
        assert get_json(p, "/grants/by-portfolio", "a") == {"1": 1}
        assert get_json(p, "/grants/by-portfolio", "admin") == {"1": 1, "2": 2}
        # A lookup by an encrypted value stays inside the rules too.
        assert get_json(p, "/grants/apps?account=31926819", "a")["ids"] == [1]
        # Detail: guessed ids of the other portfolio answer 404, like ids that do not exist.
        assert call(p, "GET", "/grants/apps/1", "a").status == 200
        for rid in (2, 3, 99):
            assert call(p, "GET", "/grants/apps/%d" % rid, "a").status == 404, rid
        assert call(p, "GET", "/grants/apps/1", "b").status == 404
        assert call(p, "GET", "/grants/apps/1").status == 404
        # Search is filtered in SQL.
        assert get_json(p, "/grants/search?q=bolt", "a")["ids"] == []
        assert get_json(p, "/grants/search?q=bolt", "b")["ids"] == [2]
        assert get_json(p, "/grants/search?q=acme", "admin")["ids"] == [1]
        # Edit: another portfolio's record is not found; moving one's own record out is refused.
        r = call(p, "POST", "/grants/apps/2", "a", {"business": "Taken"})
        assert r.status == 422 and json.loads(r.body)["errors"]["id"] == "There is no application with the id 2", r.text
        r = call(p, "POST", "/grants/apps/1", "a", {"portfolio": 2})
        assert r.status == 422 and "You cannot change this application" in r.text, r.text
        r = call(p, "POST", "/grants/apps/1", "a", {"business": "Acme Bakery Ltd"})
        assert r.status == 200, r.text
        # An upload page's import checks the create rule row by row.
        c = Client(p)
        r = c.request("POST", "/grants/upload", headers={"Cookie": "borough_session=" + TOKENS["a"],
                      "Content-Type": "text/csv"},
                      body=b"business,portfolio,account_number\r\nMine,1,12345678\r\nTheirs,2,12345678\r\n")
        c.close()
        summary = json.loads(r.body)
        assert summary["imported"] == 1 and summary["rejected"] == 1, summary
        assert g.rows("SELECT count(*) FROM applications WHERE business = 'Theirs'")[0][0] == 0
        # Create: only into one's own portfolio.
        r = call(p, "POST", "/grants/apps", "a", {"business": "Sneaky", "portfolio": 2})
        assert r.status == 422 and "You cannot add this application" in r.text, r.text
        # Delete: b may not delete (not admin); a does not even see 2.
        assert json.loads(call(p, "DELETE", "/grants/apps/2", "a").body)["why"] == "There is no application with the id 2"
        assert json.loads(call(p, "DELETE", "/grants/apps/2", "b").body)["why"] == "You cannot delete this application"
        assert json.loads(call(p, "DELETE", "/grants/apps/3", "admin").body)["ok"] is True
        assert g.rows("SELECT business FROM applications WHERE id = 2")[0][0] == "Bolt Cycles"
        # History of a record outside the rules is empty.
        assert get_json(p, "/grants/history/2", "a") == []
        assert len(get_json(p, "/grants/history/1", "a")) == 2
        # Generated pages follow the rules; an encrypted column is shown but not sortable.
        r = call(p, "GET", "/grants/pages", "b")
        assert r.status == 200 and "Bolt Cycles" in r.text and "Acme" not in r.text and "31926819" in r.text, r.text
        assert "sort=account_number" not in r.text and "sort=business" in r.text
        assert call(p, "GET", "/grants/pages?sort=account_number", "admin").status == 200
        for page in ("/grants/pages/1", "/grants/pages/1/edit", "/grants/pages/1/delete"):
            assert call(p, "GET", page, "b").status == 404, page
        assert call(p, "GET", "/grants/pages/2/edit", "b").status == 200
        # The in-app download: only the records the user may read, opened, and audited.
        r = call(p, "GET", "/grants/download", "b")
        assert r.status == 200 and r.header("Content-Disposition") == 'attachment; filename="applications.csv"'
        lines = r.text.strip().split("\r\n")
        assert lines[0] == "id,business,portfolio,account_number,sort_code,nhs_number,created_at,updated_at", lines
        assert [line.split(",")[0] for line in lines[1:]] == ["2"], lines
        assert lines[1].startswith("2,Bolt Cycles,2,31926819,200000,,"), lines
        assert g.platform("SELECT who, detail FROM platform_audit WHERE action = 'export' ORDER BY id DESC LIMIT 1") == \
            [("b@council.example", "applications: CSV download applications.csv of 1 row (id, business, portfolio, "
                                   "account_number, sort_code, nhs_number, created_at, updated_at)")]
        r = call(p, "GET", "/grants/csv?q=c", "a")       # Bolt Cycles and Crux Books match too, but are b's
        lines = r.text.split("\r\n")
        assert len(lines) == 3 and lines[2] == "" and lines[1].startswith("1,Acme Bakery Ltd,1,31926819,601613,9434765919,"), lines
        assert g.platform("SELECT who, detail FROM platform_audit WHERE action = 'export' ORDER BY id DESC LIMIT 1") == \
            [("a@council.example", "applications: 1 record as CSV (id, business, portfolio, account_number, "
                                   "sort_code, nhs_number, created_at, updated_at)")]


@test
def a_rule_that_waits_does_not_lift_the_rules_for_other_requests():
    import threading
    with Grants() as g:
        g.seed()
        assert call(g.port, "POST", "/grants/notes").status == 200
        seen = {}

        def ask(who):
            seen[who] = json.loads(call(g.port, "GET", "/grants/notes", who).body)["n"]

        t = threading.Thread(target=ask, args=("admin",))
        t.start()
        time.sleep(0.1)          # admin's rule is waiting now
        ask(None)
        t.join()
        assert seen == {"admin": 1, None: 0}, seen


@test
def a_person_signed_in_through_the_sign_in_page_sees_only_their_portfolio():
    with Grants() as g:
        g.seed()
        c = Client(g.port)
        try:
            r = c.get("/grants/_account/sign-in")
            assert r.status == 200, r
            cookie = "; ".join(v.split(";")[0] for v in r.headers.get("set-cookie", []))
            token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
            body = "csrf_token=%s&email=a%%40council.example&password=a+long+fake+passphrase+1234" % token
            r = c.request("POST", "/grants/_account/sign-in", body=body.encode(),
                          headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
            assert r.status in (302, 303), (r, r.text)
            session = [v.split(";")[0] for v in r.headers.get("set-cookie", []) if v.startswith("borough_session=")]
            assert session, r
            headers = {"Cookie": session[0]}
            r = c.request("GET", "/grants/apps", headers=headers)
            assert json.loads(r.body)["ids"] == [1], r.text
            assert c.request("GET", "/grants/apps/2", headers=headers).status == 404
            assert c.request("GET", "/grants/apps/1", headers=headers).status == 200
        finally:
            c.close()


@test
def the_cli_export_opens_encrypted_fields_and_is_audited():
    g = Grants()
    with g:
        g.seed()
    out = os.path.join(g.server.tmp, "export")
    r = borough("export", "grants", out, "--data", g.data)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(out, "applications.csv")) as f:
        text = f.read()
    assert "31926819" in text and "9434765919" in text, text
    with open(os.path.join(out, "app.db"), "rb") as f:
        assert b"31926819" not in f.read()     # the backup copy stays sealed
    assert g.platform("SELECT action FROM platform_audit ORDER BY id DESC LIMIT 1") == [("export",)]


@test
def the_audit_chain_verifies_and_catches_an_edited_deleted_or_inserted_row():
    g = Grants()
    with g:
        g.seed()
        get_json(g.port, "/grants/apps/1", "admin")
    r = borough("audit", "verify", "--data", g.data)
    assert r.returncode == 0 and re.match(r"the audit log is intact: \d+ rows, last hash [0-9a-f]{64}\n", r.stdout), r
    path = os.path.join(g.data, "borough.db")
    cluster = pglib.shared()

    def tamper(*sql):
        """Runs sql in one transaction, as someone with the database's own client."""
        if cluster:
            execute(path, ";\n".join(sql))
            return
        db = sqlite3.connect(path)
        try:
            for s in sql:
                db.execute(s)
            db.commit()
        finally:
            db.close()

    # Set aside and put back, with the triggers: SQLite's file, PostgreSQL's rows.
    def backup():
        if cluster:
            tamper("CREATE TABLE audit_orig AS SELECT * FROM platform_audit")
        else:
            shutil.copy(path, path + ".orig")

    def restore():
        if cluster:
            tamper("ALTER TABLE platform_audit DISABLE TRIGGER USER", "DELETE FROM platform_audit",
                   "INSERT INTO platform_audit SELECT * FROM audit_orig", "ALTER TABLE platform_audit ENABLE TRIGGER USER")
        else:
            shutil.copy(path + ".orig", path)

    def untriggered(change):
        if cluster:
            return "ALTER TABLE platform_audit DISABLE TRIGGER USER"
        return "DROP TRIGGER platform_audit_no_" + change

    # The triggers refuse changes made through the database's own client.
    for sql in ("UPDATE platform_audit SET who = 'someone' WHERE id = 2", "DELETE FROM platform_audit WHERE id = 2"):
        try:
            tamper(sql)
        except (sqlite3.IntegrityError, AssertionError) as e:
            assert "append-only" in str(e), e
        else:
            raise AssertionError("not refused: " + sql)
    backup()
    # Edited, with the trigger dropped first.
    tamper(untriggered("update"), "UPDATE platform_audit SET detail = 'nothing' WHERE id = 3")
    r = borough("audit", "verify", "--data", g.data)
    assert r.returncode == 1 and "row 3 does not match its hash" in r.stderr, r
    # Deleted.
    restore()
    tamper(untriggered("delete"), "DELETE FROM platform_audit WHERE id = 4")
    r = borough("audit", "verify", "--data", g.data)
    assert r.returncode == 1 and "row 5 follows row 3: a row is missing" in r.stderr, r
    # Inserted by hand, even with a plausible hash.
    restore()
    tamper("INSERT INTO platform_audit (id, at, who, action, hash) SELECT id + 1, '2026-01-01', 'x', 'y', hash "
           "FROM platform_audit ORDER BY id DESC LIMIT 1")
    r = borough("audit", "verify", "--data", g.data)
    last = g.platform("SELECT max(id) FROM platform_audit")[0][0]
    assert r.returncode == 1 and ("row %d does not match its hash" % last) in r.stderr, r
    restore()
    assert borough("audit", "verify", "--data", g.data).returncode == 0
    # New events chain on after the verified ones, from another process.
    r = borough("user", "list", "--data", g.data)
    assert r.returncode == 0, r.stderr
    r = borough("audit", "--data", g.data, "--limit", "2")
    assert len(r.stdout.strip().split("\n")) == 2, r.stdout


@test
def the_chain_does_not_fork_when_workers_and_processes_log_at_once():
    import threading
    g = Grants()
    g.server.workers = 2
    with g:
        g.seed()
        errors = []

        def reader():
            for _ in range(15):
                r = call(g.port, "GET", "/grants/apps/1", "admin")
                if r.status != 200:
                    errors.append(r.status)

        def exporter(i):
            r = borough("export", "grants", os.path.join(g.server.tmp, "x%d" % i), "--data", g.data)
            if r.returncode != 0:
                errors.append(r.stderr)

        threads = [threading.Thread(target=reader) for _ in range(4)]
        threads += [threading.Thread(target=exporter, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
    reads = g.platform("SELECT count(*) FROM platform_audit WHERE action = 'read encrypted'")[0][0]
    assert reads >= 60, reads
    ids = [r[0] for r in g.platform("SELECT id FROM platform_audit ORDER BY id")]
    assert ids == list(range(1, len(ids) + 1))
    r = borough("audit", "verify", "--data", g.data)
    assert r.returncode == 0, r.stderr


@test
def audit_and_keys_commands_filter_and_refuse_bad_usage():
    g = Grants()
    with g:
        g.seed()
        get_json(g.port, "/grants/apps/1", "admin")
    out = borough("audit", "--data", g.data, "--app", "grants").stdout.rstrip().split("\n")
    assert out and all(" grants" in line for line in out), out
    assert re.match(r"^ +\d+  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d  \S+  ", out[0]), out
    assert borough("audit", "--data", g.data, "--since", "2999-01-01").stdout == ""
    assert len(borough("audit", "--data", g.data, "--limit", "1").stdout.strip().split("\n")) == 1
    for args, status, message in [
        (("audit", "--since", "yesterday"), 2, "--since takes a date"),
        (("audit", "--limit", "0"), 2, "--limit takes a number"),
        (("audit", "edit"), 2, "unexpected edit"),
        (("keys",), 2, "say list, rotate or retire ID"),
        (("keys", "retire"), 2, "retire needs a key id"),
        (("keys", "burn"), 2, "unknown keys command burn"),
        (("keys", "retire", "9"), 1, "there is no key 9"),
        (("keys", "list", "--data", "/nonexistent/borough"), 1, "no data folder /nonexistent/borough"),
    ]:
        full = list(args) + ([] if "--data" in args else ["--data", g.data])
        r = borough(*full)
        assert r.returncode == status and message in r.stderr, (args, r.returncode, r.stderr)


@test
def rows_logged_before_the_chain_are_chained_by_its_migration():
    tmp = tempfile.mkdtemp(prefix="borough-dp-")
    try:
        path = os.path.join(tmp, "borough.db")
        db = sqlite3.connect(path)
        db.executescript("""
            CREATE TABLE _borough_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL, how TEXT NOT NULL);
            INSERT INTO _borough_migrations VALUES ('001_platform_audit', '2026-01-01', 'run');
            CREATE TABLE platform_audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, who TEXT NOT NULL,
                                         action TEXT NOT NULL, app TEXT, detail TEXT);
            INSERT INTO platform_audit (at, who, action, app, detail) VALUES
              ('2026-01-01T00:00:00Z', 'ops', 'export', 'grants', 'format=csv'),
              ('2026-01-02T00:00:00Z', 'ops', 'export', NULL, NULL);
        """)
        db.close()
        r = borough("audit", "verify", "--data", tmp)
        assert r.returncode == 0 and "2 rows" in r.stdout, (r.stdout, r.stderr)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    run()
