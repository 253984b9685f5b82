"""`borough user`: staff accounts and roles in data/borough.db. The password
from a file, from standard input and from a prompt on a terminal (echo
off), never from an argument; argon2id hashes; the password policy; roles
added and removed; list; disable and enable; the platform audit log; and
the exit statuses of DESIGN.md (1 with one line for a user error, 2 for
bad usage)."""
import os
import pty
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import BOROUGH, SLOW, borough, execute, query, run, test, use_postgres  # noqa: E402

PASSWORD = "correct horse battery"


class Data:
    """A temporary data folder (on a run against PostgreSQL, with a database
    of its own in the run's cluster)."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="borough-accounts-")
        use_postgres(self.dir)
        return self.dir

    def __exit__(self, *exc):
        subprocess.run(["rm", "-rf", self.dir])
        return False


def user(data, *args, stdin=None):
    p = subprocess.run([BOROUGH, "user", *args, "--data", data], input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60 * SLOW)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def users(data):
    return query(os.path.join(data, "borough.db"), "SELECT email, name, password_hash, disabled FROM users ORDER BY id")


def audit(data):
    return [(r["action"], r["app"], r["detail"]) for r in
            query(os.path.join(data, "borough.db"), "SELECT action, app, detail FROM platform_audit ORDER BY id")]


def check_hash(encoded, password):
    """Checks encoded against password with the argon2 command-line tool's
    library, through Python's ctypes (libargon2, as the server uses)."""
    import ctypes
    lib = ctypes.CDLL("libargon2.so.1")
    return lib.argon2id_verify(encoded.encode(), password.encode(), len(password.encode())) == 0


@test
def add_reads_the_password_from_a_file_and_stores_an_argon2id_hash():
    with Data() as d:
        path = os.path.join(d, "pw")
        with open(path, "w") as f:
            f.write(PASSWORD + "\nthe second line is ignored\n")
        status, out, err = user(d, "add", "jo.bloggs@example.gov.uk", "--name", "Jo Bloggs", "--password-file", path)
        assert (status, out, err) == (0, "Added jo.bloggs@example.gov.uk (Jo Bloggs)\n", ""), (status, out, err)
        [u] = users(d)
        assert u["email"] == "jo.bloggs@example.gov.uk" and u["name"] == "Jo Bloggs" and u["disabled"] == 0
        assert u["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$"), u
        assert PASSWORD not in u["password_hash"]
        assert check_hash(u["password_hash"], PASSWORD)
        assert not check_hash(u["password_hash"], PASSWORD + "!")
        assert audit(d) == [("user-add", None, "jo.bloggs@example.gov.uk")], audit(d)
        # The file must exist and hold a line.
        assert user(d, "add", "b@example.gov.uk", "--name", "B", "--password-file", d + "/nope")[0] == 1
        open(d + "/empty", "w").close()
        status, out, err = user(d, "add", "b@example.gov.uk", "--name", "B", "--password-file", d + "/empty")
        assert status == 1 and err == "borough user: %s/empty: the file is empty; put the password on its first line\n" % d, err


@test
def add_reads_standard_input_when_it_is_not_a_terminal():
    with Data() as d:
        status, out, err = user(d, "add", "ann@example.gov.uk", "--name", "Ann", stdin=(PASSWORD + "\n").encode())
        assert status == 0, err
        assert check_hash(users(d)[0]["password_hash"], PASSWORD)
        status, out, err = user(d, "add", "bob@example.gov.uk", "--name", "Bob", stdin=b"")
        assert (status, err) == (1, "borough user: no password on standard input\n"), (status, err)


def run_on_a_terminal(args, answers):
    """Runs borough on a pseudo-terminal, answering each prompt in turn;
    returns (status, everything the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(BOROUGH, [BOROUGH, *args])
    shown = b""
    deadline = time.time() + 30 * SLOW
    pending = list(answers)
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
            if pending and shown.endswith(b": "):
                os.write(fd, pending.pop(0).encode() + b"\n")
                time.sleep(0.05)
    if pending or time.time() >= deadline:
        os.kill(pid, 9)                 # it never asked: do not wait for ever
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace")


@test
def add_asks_on_a_terminal_without_echoing_the_password():
    with Data() as d:
        status, shown = run_on_a_terminal(["user", "add", "cy@example.gov.uk", "--name", "Cy", "--data", d],
                                          [PASSWORD, PASSWORD])
        assert status == 0, shown
        assert "Password: " in shown and "Password again: " in shown and "Added cy@example.gov.uk" in shown, shown
        assert PASSWORD not in shown, shown
        assert check_hash(users(d)[0]["password_hash"], PASSWORD)
        # Two different answers: nothing is added.
        status, shown = run_on_a_terminal(["user", "add", "dee@example.gov.uk", "--name", "Dee", "--data", d],
                                          [PASSWORD, PASSWORD + "x"])
        assert status == 1 and "the passwords do not match" in shown, shown
        assert len(users(d)) == 1


@test
def add_refuses_bad_input_with_one_line():
    with Data() as d:
        pw = (PASSWORD + "\n").encode()
        user(d, "add", "jo@example.gov.uk", "--name", "Jo", stdin=pw)
        for args, stdin, want in [
            (["add", "jo@example.gov.uk", "--name", "Jo"], pw, "there is already an account for jo@example.gov.uk"),
            (["add", "JO@example.gov.uk", "--name", "Jo"], pw, "there is already an account for JO@example.gov.uk"),
            (["add", "not an address", "--name", "X"], pw,
             "not an address is not an email address such as jo.bloggs@example.gov.uk"),
            (["add", "x@example.gov.uk", "--name", "X"], b"short\n", "Enter a password that is 10 characters or more"),
            (["add", "x@example.gov.uk", "--name", "X"], b"Password123!\n",
             "Enter a password that is harder to guess: this one is too common"),
            (["add", "x@example.gov.uk", "--name", "X"], b"aaaaaaaaaaaa\n", "Enter a password that is not one character repeated"),
            (["add", "xavier@example.gov.uk", "--name", "X"], b"xavier@example.gov.uk\n",
             "Enter a password that is not based on your email address"),
        ]:
            status, out, err = user(d, *args, stdin=stdin)
            assert (status, out, err) == (1, "", "borough user: %s\n" % want), (args, status, out, err)
        assert len(users(d)) == 1


@test
def usage_errors_exit_2():
    with Data() as d:
        for args in (["add", "a@b.c"], ["add", "a@b.c", "--name", "A", "--password", "hunter2hunter2"],
                     ["frobnicate"], [], ["role", "a@b.c", "cases"], ["list", "--remove"],
                     ["add", "a@b.c", "--name"], ["disable", "a@b.c", "--name", "A"]):
            status, out, err = user(d, *args, stdin=b"")
            assert status == 2 and err.startswith("borough user: ") and "usage: borough user add" in err, (args, status, err)
        # The password is never an argument: the message says what to do instead.
        status, out, err = user(d, "add", "a@b.c", "--name", "A", "--password", "x")
        assert "a password is never an argument" in err, err


@test
def roles_are_added_removed_and_listed():
    with Data() as d:
        pw = (PASSWORD + "\n").encode()
        user(d, "add", "jo@example.gov.uk", "--name", "Jo Bloggs", stdin=pw)
        user(d, "add", "ann@example.gov.uk", "--name", "Ann", stdin=pw)
        assert user(d, "role", "jo@example.gov.uk", "grants", "assessor") == \
            (0, "jo@example.gov.uk has the role assessor in grants\n", "")
        assert user(d, "role", "jo@example.gov.uk", "grants", "assessor")[1] == \
            "jo@example.gov.uk already has the role assessor in grants\n"
        assert user(d, "role", "jo@example.gov.uk", "shielding", "caller")[0] == 0
        assert user(d, "role", "jo@example.gov.uk", "grants", "admin")[0] == 0
        assert user(d, "list") == (0, "ann@example.gov.uk\tAnn\tactive\t-\n"
                                      "jo@example.gov.uk\tJo Bloggs\tactive\tgrants:admin, grants:assessor, shielding:caller\n", "")
        assert user(d, "role", "jo@example.gov.uk", "grants", "admin", "--remove") == \
            (0, "jo@example.gov.uk no longer has the role admin in grants\n", "")
        assert "grants:admin" not in user(d, "list")[1]
        for args, want in ((["nobody@example.gov.uk", "grants", "assessor"], "no account for nobody@example.gov.uk"),
                           (["jo@example.gov.uk", "grants", "Assessor"],
                            "Assessor is not a role name: lower-case letters, digits, '_' and '-', starting with a letter"),
                           (["jo@example.gov.uk", "../x", "assessor"],
                            "../x is not an app name (the app's folder name, such as grants)")):
            assert user(d, "role", *args) == (1, "", "borough user: %s\n" % want), args
        assert [a for a in audit(d) if a[0].startswith("role")] == [
            ("role-add", "grants", "jo@example.gov.uk assessor"), ("role-add", "shielding", "jo@example.gov.uk caller"),
            ("role-add", "grants", "jo@example.gov.uk admin"), ("role-remove", "grants", "jo@example.gov.uk admin")]


@test
def disable_enable_and_a_new_password():
    with Data() as d:
        pw = (PASSWORD + "\n").encode()
        user(d, "add", "jo@example.gov.uk", "--name", "Jo", stdin=pw)
        db = os.path.join(d, "borough.db")
        execute(db, "INSERT INTO sessions (token_hash, user_id, created_ms, seen_ms) VALUES (?, 1, 0, 0)", b"\x00")
        assert user(d, "disable", "jo@example.gov.uk") == (0, "Disabled jo@example.gov.uk; their sessions have ended\n", "")
        assert users(d)[0]["disabled"] == 1 and query(db, "SELECT count(*) AS n FROM sessions")[0]["n"] == 0
        assert "\tdisabled\t" in user(d, "list")[1]
        assert user(d, "enable", "jo@example.gov.uk") == (0, "Enabled jo@example.gov.uk\n", "")
        assert users(d)[0]["disabled"] == 0
        assert user(d, "disable", "nobody@example.gov.uk") == (1, "", "borough user: no account for nobody@example.gov.uk\n")
        before = users(d)[0]["password_hash"]
        status, out, err = user(d, "password", "jo@example.gov.uk", stdin=b"another long passphrase\n")
        assert status == 0 and "their sessions have ended" in out, err
        after = users(d)[0]["password_hash"]
        assert after != before and check_hash(after, "another long passphrase")
        assert [a[0] for a in audit(d)] == ["user-add", "user-disable", "user-enable", "password-set"], audit(d)


@test
def list_says_when_there_is_nobody():
    with Data() as d:
        assert user(d, "list") == (0, "No accounts yet: borough user add EMAIL --name NAME\n", "")


run()
