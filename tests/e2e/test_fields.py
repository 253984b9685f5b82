#!/usr/bin/env python3
"""The C readers of core/lfields.c (read_fields, insert_rows) against
lua/borough/fields.lua's parse: runs the randomised differential test
tests/lua/fields/tests/fields_test.lua with `borough test` on a copy of its
fixture app, with a seed (FIELDS_SEED, or a fixed one) that every failure
names."""
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, borough  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = int(os.environ.get("FIELDS_SEED", "20261207"))


@test
def the_c_readers_agree_with_fields_lua():
    with tempfile.TemporaryDirectory() as tmp:
        app = os.path.join(tmp, "fields")
        shutil.copytree(os.path.join(ROOT, "tests", "lua", "fields"), app)
        with open(os.path.join(app, "seed.lua"), "w") as f:
            f.write("return %d\n" % SEED)
        status, out, err = borough("test", app, cwd=ROOT, timeout=300)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    m = re.match(r"^(\d+) passed, (\d+) failed$", last)
    assert status == 0 and m and m.group(2) == "0" and int(m.group(1)) >= 9, \
        "seed %d (FIELDS_SEED=%d to repeat):\n%s%s" % (SEED, SEED, out, err)


if __name__ == "__main__":
    run()
