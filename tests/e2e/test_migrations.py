#!/usr/bin/env python3
"""End-to-end tests of schema changes (core/lentity.c, core/migrate.c,
lua/borough/entity.lua): additive changes applied at load, changes that need
a migration file, migration files applied once, in order and in one
transaction with the rest of the upgrade, a failing migration (at start and
on a reload, where the running version keeps serving), the record of what
ran, a new database made from the declarations, worker loads that never
migrate, and the platform database data/borough.db.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pglib  # noqa: E402
from lib import test, run, Server, Client, BOROUGH, write_tree, query  # noqa: E402

PG = pglib.shared() is not None


def lua(text):
    return textwrap.dedent(text).lstrip("\n")


APP = lua('''
    local app = borough.app { title = "People", mount = "/people", public = true }
    local People = require("models").People
    app:post("/", { csrf = false }, function(req)
      local r, errors = People:create(json.decode(req.body))
      if not r then return borough.json({ errors = errors }, 422) end
      return borough.json(r)
    end)
    app:get("/:id", function(req)
      return borough.json(People:find(req.params.id) or json.null)
    end)
    app:get("/", function(req) return "version " .. VERSION end)
    return app
''')


def models(version, fields, extra=""):
    return lua('''
        VERSION = "%s"
        local M = {}
        M.People = borough.entity "people" {
        %s
        }
        %s
        return M
    ''') % (version, textwrap.indent(fields, "  "), extra)


V1 = models("1", '{ "name", "text", required = true },\n{ "phone_no", "text" },\n{ "age", "text" },')


def people_app(models_lua, migrations=None):
    app = {"app.lua": APP, "models.lua": models_lua}
    if migrations:
        app["migrations"] = migrations
    return {"people": app}


def post(port, value):
    c = Client(port)
    try:
        r = c.request("POST", "/people/", {"Content-Type": "application/json"}, json.dumps(value))
        return r.status, json.loads(r.body)
    finally:
        c.close()


def get(port, path):
    c = Client(port)
    try:
        return c.get(path)
    finally:
        c.close()


def db_of(s, app="people"):
    """The path lib.query reads the app's database by (its schema on PostgreSQL)."""
    return os.path.join(s.data_dir, app, "app.db")


def rows(db, sql, *args):
    return [tuple(r.values()) for r in query(db, sql, *args)]


def columns(db, table):
    if PG:
        return [c for (c,) in rows(db, "SELECT column_name FROM information_schema.columns "
                                        "WHERE table_schema = current_schema() AND table_name = ? "
                                        "ORDER BY ordinal_position", table)]
    return [r["name"] for r in query(db, "PRAGMA table_info(%s)" % table)]


def indexes(db, table):
    """The indexes of table but its primary key's."""
    if PG:
        return sorted(i for (i,) in rows(db, "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                                             "WHERE x.indrelid = to_regclass(?) AND NOT x.indisprimary", table))
    return sorted(r["name"] for r in query(db, "PRAGMA index_list(%s)" % table))


def has_table(db, name):
    if PG:
        return rows(db, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?",
                    name) == [(1,)]
    return rows(db, "SELECT count(*) FROM sqlite_master WHERE name = ?", name) == [(1,)]


def found(db, entity, word):
    """The ids the entity's full-text index finds for word."""
    if PG:
        return [i for (i,) in rows(db, "SELECT id FROM %s_fts WHERE doc @@ to_tsquery('borough_fn.search', ?)"
                                       % entity, word + ":*")]
    return [i for (i,) in rows(db, "SELECT rowid FROM %s_fts WHERE %s_fts MATCH ?" % (entity, entity), word)]


def engine(sqlite, postgresql):
    """What the engine in use says."""
    return postgresql if PG else sqlite


def restart(s, apps):
    """Stops s, rewrites its app folder as apps, starts it again on the same data."""
    s.stop()
    shutil.rmtree(s.apps_dir)
    os.makedirs(s.apps_dir)
    write_tree(s.apps_dir, apps)
    s.start()


def rewrite(s, apps):
    shutil.rmtree(os.path.join(s.apps_dir, "people"))
    write_tree(s.apps_dir, apps)


UNAVAILABLE = 503


@test
def additive_changes_apply_at_load():
    with Server(people_app(V1)) as s:
        assert post(s.port, {"name": "Ada", "phone_no": "1"})[0] == 200
        v2 = models("2", '{ "name", "text", required = true },\n{ "phone_no", "text" },\n{ "age", "text" },\n'
                         '{ "email", "email", unique = true },\n{ "ward", "reference", to = "wards" },',
                    'M.Wards = borough.entity "wards" { search = { "name" }, { "name", "text" } }')
        v2 = v2.replace('borough.entity "people" {', 'borough.entity "people" {\n  search = { "name" },\n  indexes = { { "age" } },')
        restart(s, people_app(v2))
        assert get(s.port, "/people/").text == "version 2"
        status, r = post(s.port, {"name": "Bea", "email": "bea@example.com"})
        assert status == 200 and r["email"] == "bea@example.com", r
        status, first = 200, json.loads(get(s.port, "/people/1").body)
        assert first["name"] == "Ada" and first["email"] is None and first["ward"] is None, first
        db = db_of(s)
        assert columns(db, "people") == ["id", "name", "phone_no", "age", "created_at", "updated_at", "email",
                                         "ward"], columns(db, "people")
        assert indexes(db, "people") == ["bo_people_age_index", "bo_people_email_unique", "bo_people_ward_index"]
        assert found(db, "people", "ada") == [1]
        assert [r[0] for r in rows(db, "SELECT name FROM _borough_entities ORDER BY position")] == ["wards", "people"]
        assert "applied" not in s.log()


@test
def a_removed_field_keeps_its_data_until_a_migration_drops_it():
    with Server(people_app(V1)) as s:
        post(s.port, {"name": "Ada", "phone_no": "1"})
        v2 = models("2", '{ "name", "text", required = true },\n{ "age", "text" },')
        restart(s, people_app(v2))
        assert get(s.port, "/people/").text == "version 2"
        assert "people.phone_no is in the database but not declared; its data is kept" in s.log(), s.log()
        db = db_of(s)
        assert rows(db, "SELECT phone_no FROM people") == [("1",)]
        restart(s, people_app(v2, {"002_drop_phone.sql": "ALTER TABLE people DROP COLUMN phone_no;\n"}))
        assert "phone_no" not in columns(db, "people")
        assert rows(db, "SELECT name, how FROM _borough_migrations") == [("002_drop_phone", "run")]


@test
def a_changed_type_needs_a_migration():
    with Server(people_app(V1), expect_exit=0) as s:
        post(s.port, {"name": "Ada", "age": "36"})
        v2 = models("2", '{ "name", "text", required = true },\n{ "phone_no", "text" },\n{ "age", "integer" },')
        restart(s, people_app(v2))
        assert get(s.port, "/people/").status == UNAVAILABLE
        want = ("models.lua:3: people: field age is stored as TEXT but is now declared as integer. Data is never "
                "changed or dropped by itself: write a migration (migrations/NNN_name.sql; see docs/apps.md, "
                "\"Migrations\")")
        assert want in s.log(), s.log()
        # The rebuild a type change takes, as a migration: the app loads again, the data converted.
        rebuild = lua('''
            CREATE TABLE people_new (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, phone_no TEXT,
                                     age INTEGER, created_at TEXT, updated_at TEXT);
            INSERT INTO people_new SELECT id, name, phone_no, CAST(age AS INTEGER), created_at, updated_at
              FROM people;
            DROP TABLE people;
            ALTER TABLE people_new RENAME TO people;
        ''')
        restart(s, people_app(v2, {"002_age_as_number.sql": rebuild}))
        assert get(s.port, "/people/").text == "version 2"
        assert json.loads(get(s.port, "/people/1").body)["age"] == 36
        assert "[people] applied 1 migration" in s.log()


@test
def migrations_run_once_in_order_and_are_recorded():
    with Server(people_app(V1)) as s:
        post(s.port, {"name": "Ada", "phone_no": "0113 496 0000"})
        v2 = models("2", '{ "name", "text", required = true },\n{ "phone", "text" },\n{ "age", "text" },')
        migrations = {
            "001_rename_phone.sql": "-- phone_no is now phone\nALTER TABLE people RENAME COLUMN phone_no TO phone;\n",
            "002_log.sql": "CREATE TABLE upgrades (what TEXT);\nINSERT INTO upgrades VALUES ('002');\n",
            "010_after.sql": "INSERT INTO upgrades SELECT 'phone ' || phone FROM people;\n",
            "README.txt": "not a migration: only .sql files are",
        }
        restart(s, people_app(v2, migrations))
        assert json.loads(get(s.port, "/people/1").body)["phone"] == "0113 496 0000"
        assert "[people] applied 3 migrations" in s.log(), s.log()
        restart(s, people_app(v2, migrations))        # again: nothing runs twice
        assert "applied" not in s.log(), s.log()
        db = db_of(s)
        assert rows(db, "SELECT what FROM upgrades ORDER BY what") == [("002",), ("phone 0113 496 0000",)]
        done = rows(db, "SELECT name, how FROM _borough_migrations ORDER BY name")
        assert done == [("001_rename_phone", "run"), ("002_log", "run"), ("010_after", "run")], done


@test
def a_new_database_is_made_from_the_declarations():
    v2 = models("2", '{ "name", "text", required = true },\n{ "phone", "text" },')
    migrations = {"001_rename_phone.sql": "ALTER TABLE people RENAME COLUMN phone_no TO phone;\n"}
    with Server(people_app(v2, migrations)) as s:
        assert post(s.port, {"name": "Ada", "phone": "1"})[0] == 200
        db = db_of(s)
        # The rename describes older data; a new database already has the new shape.
        assert rows(db, "SELECT name, how FROM _borough_migrations") == [("001_rename_phone", "baseline")]
        if not PG:
            assert rows(db, "PRAGMA journal_mode") == [("wal",)]


@test
def a_failing_migration_stops_the_app_and_changes_nothing():
    with Server(people_app(V1)) as s:
        post(s.port, {"name": "Ada"})
        bad = {"001_ok.sql": "CREATE TABLE extra (x TEXT);\n",
               "002_bad.sql": "-- a comment\nUPDATE people SET name = 'x';\nUPDATE people\n  SET nope = 1;\n"}
        restart(s, people_app(V1.replace('VERSION = "1"', 'VERSION = "2"'), bad))
        r = get(s.port, "/people/")
        assert r.status == UNAVAILABLE, r
        assert "/people/migrations/002_bad.sql:3: " + engine(
            "no such column: nope", 'column "nope" of relation "people" does not exist') in s.log(), s.log()
        db = db_of(s)
        assert rows(db, "SELECT name FROM people") == [("Ada",)]           # not half-migrated
        assert not has_table(db, "extra")
        assert rows(db, "SELECT count(*) FROM _borough_migrations") == [(0,)]


@test
def on_reload_a_failing_migration_leaves_the_old_version_serving():
    with Server(people_app(V1)) as s:
        post(s.port, {"name": "Ada"})
        assert get(s.port, "/people/").text == "version 1"
        v2 = V1.replace('VERSION = "1"', 'VERSION = "2"')
        rewrite(s, people_app(v2, {"001_bad.sql": "INSERT INTO people (name) VALUES ('Bea');\nSELECT nope FROM people;\n"}))
        s.signal(signal.SIGHUP)
        s.wait_log(r"keeps serving")
        assert "/people/migrations/001_bad.sql:2: " + engine(
            "no such column: nope", 'column "nope" does not exist') in s.log(), s.log()
        assert get(s.port, "/people/").text == "version 1"
        db = db_of(s)
        assert rows(db, "SELECT name FROM people") == [("Ada",)]
        rewrite(s, people_app(v2, {"001_good.sql": "INSERT INTO people (name) VALUES ('Bea');\n"}))
        s.signal(signal.SIGHUP)
        s.wait_log(r"\[people\] applied 1 migration")
        s.wait_log(r"every worker serves the new catalog")
        assert get(s.port, "/people/").text == "version 2"
        assert rows(db, "SELECT name FROM people ORDER BY id") == [("Ada",), ("Bea",)]


@test
def migrations_are_held_to_app_sql_rules():
    cases = {
        "001_tx.sql": ("CREATE TABLE a (x TEXT);\nBEGIN;\n", "001_tx.sql:2: transaction statements are not allowed; use db.tx(fn) for a transaction"),
        # (PostgreSQL has no ATTACH nor PRAGMA: SQL outside the portable subset is refused as such)
        "001_attach.sql": ("ATTACH DATABASE '/tmp/other.db' AS other;\n", "001_attach.sql:1: " + engine(
            "not authorized", "this statement is not in the portable SQL subset (docs/apps.md)")),
        "001_vacuum.sql": ("VACUUM INTO '/tmp/copy.db';\n", "001_vacuum.sql:1: VACUUM is not allowed"),
        "001_audit.sql": ("DELETE FROM _borough_audit;\n", "001_audit.sql:1: not authorized"),
        "001_fk.sql": ("PRAGMA foreign_keys = OFF;\n", "001_fk.sql:1: " + engine(
            "not authorized", "this statement is not in the portable SQL subset (docs/apps.md)")),
    }
    for name, (sql, want) in cases.items():
        with Server(people_app(V1)) as s:
            post(s.port, {"name": "Ada"})          # an existing database: migrations run
            restart(s, people_app(V1, {name: sql}))
            assert get(s.port, "/people/").status == UNAVAILABLE
            assert want in s.log(), (want, s.log())


@test
def migration_files_must_be_numbered():
    for name, want in (("2_x.sql", "2_x.sql: a migration file is named NNN_name.sql"),
                       ("001_Big.sql", "001_Big.sql: a migration file is named NNN_name.sql")):
        with Server(people_app(V1, {name: "SELECT 1;"})) as s:
            assert get(s.port, "/people/").status == UNAVAILABLE
            assert want in s.log(), s.log()
    with Server(people_app(V1, {"001_a.sql": "SELECT 1;", "1_b.sql": "SELECT 1;"})) as s:
        assert "1_b.sql: a migration file is named" in s.log()
    with Server(people_app(V1, {"001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"})) as s:
        assert "migrations: 001_a.sql and 0001_b.sql have the same number; give each its own" in s.log() or \
               "migrations: 0001_b.sql and 001_a.sql have the same number; give each its own" in s.log(), s.log()


@test
def a_migration_may_not_leave_broken_references():
    with Server(people_app(V1)) as s:
        post(s.port, {"name": "Ada"})
        v2 = models("2", '{ "name", "text", required = true },\n{ "phone_no", "text" },\n{ "age", "text" },\n'
                         '{ "team", "reference", to = "teams" },',
                    'M.Teams = borough.entity "teams" { { "name", "text" } }')
        restart(s, people_app(v2))
        assert post(s.port, {"name": "Bea"})[0] == 200
        restart(s, people_app(v2, {"001_orphan.sql": "UPDATE people SET team = 7 WHERE name = 'Bea';\n"}))
        assert get(s.port, "/people/").status == UNAVAILABLE
        # (SQLite checks the references once the migrations ran, PostgreSQL as each row is written)
        assert engine("after the migrations, row 2 of people refers to a missing record of teams",
                      '001_orphan.sql:1: insert or update on table "people" violates foreign key constraint '
                      '"people_team_fkey"') in s.log(), s.log()


@test
def only_the_main_load_migrates():
    migrations = {"001_count.sql": "CREATE TABLE loads (n INTEGER);\nINSERT INTO loads VALUES (1);\n"}
    with Server(people_app(V1)) as s:
        post(s.port, {"name": "Ada"})
        s.stop()
        write_tree(s.apps_dir, people_app(V1, migrations))
        s.workers = 4
        s.start()
        # Four workers loaded the app after the main thread; the script ran once.
        assert rows(db_of(s), "SELECT count(*) FROM loads") == [(1,)]
        assert s.log().count("applied 1 migration") == 1
        for _ in range(8):
            assert get(s.port, "/people/").text == "version 1"


@test
def check_loads_against_a_throwaway_data_folder():
    import tempfile
    tmp = tempfile.mkdtemp(prefix="borough-check-")
    try:
        write_tree(tmp, {"apps": people_app(V1, {"001_x.sql": "SELECT 1;"})})
        p = subprocess.run([BOROUGH, "check", "apps"], cwd=tmp, capture_output=True, text=True)
        assert (p.returncode, p.stdout, p.stderr) == (0, "ok apps/people (/people)\n", ""), p
        assert not os.path.exists(os.path.join(tmp, "data"))
        v2 = models("2", '{ "name", "text", unique = 1 },')
        write_tree(tmp, {"apps": people_app(v2)})
        p = subprocess.run([BOROUGH, "check", "apps"], cwd=tmp, capture_output=True, text=True)
        assert p.returncode == 1
        assert p.stderr == "apps/people/models.lua:3: people.name: unique must be a boolean\n", p.stderr
    finally:
        shutil.rmtree(tmp)


@test
def the_platform_database_is_made_at_start():
    with Server(people_app(V1)) as s:
        db = os.path.join(s.data_dir, "borough.db")
        if not PG:
            assert rows(db, "PRAGMA journal_mode") == [("wal",)]
        done = rows(db, "SELECT name, how FROM _borough_migrations ORDER BY name")
        assert done[:2] == [("001_platform_audit", "run"), ("010_accounts", "run")], done
        assert columns(db, "platform_audit")[:6] == ["id", "at", "who", "action", "app", "detail"]
        assert columns(db, "sessions") == ["id", "token_hash", "user_id", "created_ms", "seen_ms", "ip", "sso"]
    # A data folder the server cannot use stops it before it listens.
    import tempfile
    tmp = tempfile.mkdtemp(prefix="borough-data-")
    try:
        os.makedirs(os.path.join(tmp, "data", "borough.db"))       # a folder where the file should be
        write_tree(tmp, {"apps": people_app(V1)})
        p = subprocess.run([BOROUGH, "serve", "apps", "--listen", "127.0.0.1:0", "--data", "data"], cwd=tmp,
                           capture_output=True, text=True, timeout=20)
        assert p.returncode == 1
        assert "error cannot open data/borough.db: unable to open database file" in p.stdout + p.stderr, p
    finally:
        shutil.rmtree(tmp)


run()
