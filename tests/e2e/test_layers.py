#!/usr/bin/env python3
"""The layers of core/ (DESIGN.md "Layers of core/"), checked on the source.

The table of layers is the one docs/architecture.md prints under "## Layers",
so the page stays true to the code: every module of core/ sits in exactly one
layer there, and a module includes only headers of its own layer or of the
layers below it. The SQL seam is checked here too: no file of core/ but
db_sqlite.c names SQLite (sqlite3.h or a sqlite3_ symbol), none but db_pg.c
names libpq, and only db.c and the two engines include db_impl.h."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import ROOT, run, test  # noqa: E402

CORE = os.path.join(ROOT, "core")
DOC = os.path.join(ROOT, "docs", "architecture.md")
ORDER = ["cmd", "serve", "lua", "data", "base"]   # top to bottom


def modules():
    """Every module of core/: the stem of each .c and .h file."""
    return sorted({os.path.splitext(f)[0] for f in os.listdir(CORE) if f.endswith((".c", ".h"))})


def doc_layers():
    """{module: layer} from the table under "## Layers" in architecture.md,
    whose rows read "| layer | `mod`, `mod`, ... | meaning |"."""
    text = open(DOC).read()
    m = re.search(r"^## Layers\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, "docs/architecture.md has no \"## Layers\" section"
    layers, seen = {}, []
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] not in ORDER:
            continue
        seen.append(cells[0])
        for mod in re.findall(r"`([a-z_0-9]+)`", cells[1]):
            assert mod not in layers, "%s is listed in two layers (%s, %s)" % (mod, layers[mod], cells[0])
            layers[mod] = cells[0]
    assert seen == ORDER, "the layers table lists %s, not %s" % (seen, ORDER)
    return layers


def includes(path):
    """The core headers a file includes ("x.h" -> "x")."""
    return re.findall(r'^\s*#\s*include\s+"([a-z_0-9]+)\.h"', open(path).read(), re.M)


@test
def every_module_has_one_layer():
    layers = doc_layers()
    missing = [m for m in modules() if m not in layers]
    assert not missing, "modules in no layer of docs/architecture.md: %s" % ", ".join(missing)
    gone = [m for m in layers if m not in modules()]
    assert not gone, "the layers table lists modules core/ lacks: %s" % ", ".join(gone)


@test
def every_module_is_described():
    """The module table of architecture.md names every .c file of core/."""
    text = open(DOC).read()
    named = set(re.findall(r"`([a-z_0-9]+)\.c`", text))
    c_files = {os.path.splitext(f)[0] for f in os.listdir(CORE) if f.endswith(".c")}
    missing = sorted(c_files - named)
    assert not missing, "docs/architecture.md does not describe: %s" % ", ".join(m + ".c" for m in missing)


@test
def includes_go_down_only():
    layers = doc_layers()
    bad, seen = [], 0
    for f in sorted(os.listdir(CORE)):
        if not f.endswith((".c", ".h")):
            continue
        seen += len(includes(os.path.join(CORE, f)))
        mine = layers.get(os.path.splitext(f)[0])
        if mine is None:
            continue            # every_module_has_one_layer reports it
        for inc in includes(os.path.join(CORE, f)):
            theirs = layers.get(inc)
            if theirs is None:
                bad.append("%s includes %s.h, a header of no layer" % (f, inc))
            elif ORDER.index(theirs) < ORDER.index(mine):
                bad.append("%s (%s) includes %s.h (%s)" % (f, mine, inc, theirs))
    assert seen > 100, "only %d includes found: the pattern no longer reads core/" % seen
    assert not bad, "includes that go up a layer:\n  " + "\n  ".join(bad)


def named_outside(pattern, allowed):
    """Lines of core/ matching pattern in files other than allowed."""
    bad = []
    for f in sorted(os.listdir(CORE)):
        if not f.endswith((".c", ".h")) or f in allowed:
            continue
        for n, line in enumerate(open(os.path.join(CORE, f)), 1):
            if re.search(pattern, line):
                bad.append("core/%s:%d: %s" % (f, n, line.strip()))
    return bad


def shown(bad):
    return "\n  ".join(bad[:20] + (["... and %d more" % (len(bad) - 20)] if len(bad) > 20 else []))


@test
def sqlite_only_behind_db():
    """core/db_sqlite.c is SQLite's one file behind the SQL seam (db.h): no
    other file includes sqlite3.h or calls sqlite3_*."""
    bad = named_outside(r"\bsqlite3\w*|<sqlite3\.h>|\bSQLITE_\w+", {"db_sqlite.c"})
    assert not bad, "SQLite named outside core/db_sqlite.c (%d lines):\n  %s" % (len(bad), shown(bad))


@test
def libpq_only_behind_db():
    """core/db_pg.c is libpq's one file: no other file includes libpq-fe.h
    or calls PQ* functions."""
    bad = named_outside(r"<libpq-fe\.h>|\bPQ[a-z]\w*\(|\bPGconn\b|\bPGresult\b", {"db_pg.c"})
    assert not bad, "libpq named outside core/db_pg.c (%d lines):\n  %s" % (len(bad), shown(bad))


@test
def engines_only_behind_the_front():
    """db_impl.h, the engines' table, is included by db.c and the engines
    alone: everyone else goes through db.h."""
    bad = [b for b in named_outside(r'#\s*include\s+"db_impl\.h"', {"db.c", "db_sqlite.c", "db_pg.c"})
           if not b.startswith("core/db_impl.h")]
    assert not bad, "db_impl.h included outside the seam:\n  " + "\n  ".join(bad)


run()
