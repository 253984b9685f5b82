#!/usr/bin/env python3
"""The workflow building block (lua/borough/workflow.lua): runs its Lua tests
on the fixture app tests/lua/workflow with `borough test`, which starts the
real server in-process, and checks every one passed."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, borough  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def lua_suite(path):
    status, out, err = borough("test", path, cwd=ROOT)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    m = re.match(r"^(\d+) passed, (\d+) failed$", last)
    assert status == 0 and m and m.group(2) == "0" and int(m.group(1)) > 0, (status, out, err)
    return int(m.group(1))


@test
def workflow_lua_tests_pass():
    assert lua_suite("tests/lua/workflow") >= 9


if __name__ == "__main__":
    run()
