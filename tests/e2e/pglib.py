"""A throwaway PostgreSQL cluster for the tests: initdb and pg_ctl in a
temporary folder, reached only through a Unix socket in that folder (no TCP
unless a test asks for it), fsync off. No system service is used.

    from pglib import Cluster
    with Cluster() as c:                  # initdb + pg_ctl start
        url = c.new_database()            # a fresh login role and database
        rows = c.query("t1", "SELECT 1 AS one")

tests/run starts one cluster for its pass on PostgreSQL (the second pass
of `make test`) and names its folder in BOROUGH_TEST_PG; lib.Server then
gives each server a database of its own in it (shared()).

The cluster runs as the `postgres` system user when the tests run as root
(initdb refuses root); the borough processes, whoever they run as, reach it
through the socket. Login roles have a password (scram-sha-256, from a
password file named in PGPASSFILE, as an operator's would be); the cluster's
superuser `postgres` is trusted on the socket, for the tests' own looks.
"""
import itertools
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time

BIN = "/usr/lib/postgresql/15/bin"
PASSWORD = "a password for test login roles"
_counter = itertools.count(1)


def _as_owner(cmd, owner):
    if owner is None:
        return cmd
    return ["runuser", "-u", owner, "--"] + cmd


class Cluster:
    def __init__(self, path=None, tcp_port=None):
        self.owned = path is None
        self.path = path or tempfile.mkdtemp(prefix="borough-pg-")
        self.data = os.path.join(self.path, "data")
        self.sock = self.path
        self.log_path = os.path.join(self.path, "postgres.log")
        self.passfile = os.path.join(self.path, "pgpass")
        self.tcp_port = tcp_port
        self.owner = "postgres" if os.geteuid() == 0 else None

    # ---- the cluster ----

    def start(self):
        if not os.path.exists(os.path.join(self.data, "PG_VERSION")):
            self._init()
        self.pg_ctl("start", "-w", "-t", "60", "-l", self.log_path)
        return self

    def _init(self):
        if self.owner:
            pw = pwd.getpwnam(self.owner)
            os.chown(self.path, pw.pw_uid, pw.pw_gid)
            os.chmod(self.path, 0o755)
        subprocess.run(_as_owner([BIN + "/initdb", "-D", self.data, "-U", "postgres", "-E", "UTF8",
                                  "--locale=C.UTF-8", "--auth=trust",
                                  "--no-instructions"], self.owner),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all postgres trust\n"
                    "local all all scram-sha-256\n"
                    "host all all 127.0.0.1/32 scram-sha-256\n")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# borough's tests\n"
                    "listen_addresses = '%s'\n"
                    "port = %d\n"
                    "unix_socket_directories = '%s'\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "max_connections = 400\nshared_buffers = 64MB\n"
                    "max_locks_per_transaction = 256\n"
                    "log_min_messages = warning\nlog_min_error_statement = panic\n"
                    % ("127.0.0.1" if self.tcp_port else "", self.tcp_port or 5432, self.sock))
        with open(self.passfile, "w") as f:
            f.write("*:*:*:*:%s\n" % PASSWORD)
        os.chmod(self.passfile, 0o600)

    def pg_ctl(self, *args):
        p = subprocess.run(_as_owner([BIN + "/pg_ctl", "-D", self.data] + list(args), self.owner),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise AssertionError("pg_ctl %s failed:\n%s\n%s" % (" ".join(args), p.stdout.decode(), self.log()))

    def stop(self, mode="fast"):
        self.pg_ctl("stop", "-w", "-m", mode)

    def restart(self):
        self.stop()
        self.start()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-3000:]
        except OSError:
            return ""

    def close(self):
        try:
            self.stop("immediate")
        except AssertionError:
            pass
        if self.owned:
            shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    # ---- databases ----

    def env(self):
        """The environment a borough process needs to log in (the password file)."""
        return {"PGPASSFILE": self.passfile}

    def new_database(self):
        """A fresh login role and a database it owns, as an operator would make
        for borough (the role may create the apps' roles); returns its URL."""
        name = "t%d_%d" % (os.getpid(), next(_counter))
        self.psql("postgres", "CREATE ROLE %s LOGIN CREATEROLE PASSWORD '%s'" % (name, PASSWORD))
        self.psql("postgres", "CREATE DATABASE %s OWNER %s" % (name, name))
        self.psql(name, "REVOKE ALL ON SCHEMA public FROM PUBLIC")
        return self.url(name)

    def url(self, name):
        port = "&port=%d" % self.tcp_port if self.tcp_port else ""
        return "postgresql:///%s?host=%s&user=%s%s" % (name, self.sock, name, port)

    def psql(self, db, sql):
        p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.sock,
                            "-p", str(self.tcp_port or 5432), "-U", "postgres",
                            "-d", db, "-At", "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise AssertionError("psql: %s\n%s" % (p.stderr.decode(), sql))
        return p.stdout.decode()

    def query(self, db, sql, *args, schema=None):
        """The rows of sql as dicts, with ? placeholders filled from args (the
        tests' own values, quoted here); run as the superuser, in schema when
        given. Numbers come back as numbers, bytea as bytes."""
        parts = sql.split("?")
        if len(parts) - 1 != len(args):
            raise AssertionError("%d placeholders, %d values" % (len(parts) - 1, len(args)))
        text = parts[0]
        for value, part in zip(args, parts[1:]):
            text += literal(value) + part
        prefix = "SET search_path = %s;" % schema if schema else ""
        out = self.psql(db, prefix + "SELECT coalesce(json_agg(row_to_json(q)), '[]') FROM (%s) q" % text)
        rows = json.loads(out.strip().splitlines()[-1]) if out.strip() else []
        for r in rows:
            for k, v in r.items():
                if isinstance(v, str) and v.startswith("\\x"):
                    try:
                        r[k] = bytes.fromhex(v[2:])
                    except ValueError:
                        pass
        return rows

    def execute(self, db, sql, *args, schema=None):
        """Runs a statement without results, placeholders as in query(), in
        one transaction that unlocks the platform's guarded tables (the
        tests' own hand writes them, as it writes an SQLite file)."""
        parts = sql.split("?")
        text = parts[0]
        for value, part in zip(args, parts[1:]):
            text += literal(value) + part
        prefix = "SET search_path = %s;" % schema if schema else ""
        unlock = ("DO $$ BEGIN IF to_regprocedure('borough_fn.unlock(text)') IS NOT NULL THEN "
                  "PERFORM borough_fn.unlock(value) FROM borough.secrets WHERE name = 'platform_key'; "
                  "END IF; END $$;")
        self.psql(db, prefix + unlock + text)

    def dump(self, db, schema):
        """The rows of every table of schema in db, as pg_dump writes them
        (bytes): what the database holds, for a test that looks for text in it."""
        p = subprocess.run([os.path.join(BIN, "pg_dump"), "-h", self.sock, "-p", str(self.tcp_port or 5432),
                            "-U", "postgres", "--data-only", "--schema", schema, db],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise AssertionError("pg_dump: %s" % p.stderr.decode())
        return p.stdout



def literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (bytes, bytearray)):
        return "'\\x%s'::bytea" % bytes(v).hex()
    return "'" + str(v).replace("'", "''") + "'"


_shared = None


def shared():
    """The cluster of this test run (BOROUGH_TEST_PG), or None on SQLite."""
    global _shared
    path = os.environ.get("BOROUGH_TEST_PG")
    if not path:
        return None
    if _shared is None:
        _shared = Cluster(path)
    return _shared


def database_of(data_dir):
    """The URL in data_dir/site.conf's database line, or None."""
    try:
        with open(os.path.join(data_dir, "site.conf")) as f:
            for line in f:
                k, _, v = line.partition("=")
                if k.strip() == "database":
                    return v.strip()
    except OSError:
        pass
    return None


def name_of(url):
    return url.split("///", 1)[1].split("?", 1)[0]


if __name__ == "__main__":
    # tools: `python3 tests/e2e/pglib.py start DIR` / `stop DIR` (tests/run uses them)
    import sys
    what, path = sys.argv[1], sys.argv[2]
    c = Cluster(path)
    if what == "start":
        c.start()
    else:
        c.stop("immediate")
    _ = time
