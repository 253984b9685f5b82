#!/usr/bin/env python3
"""The tutorial: apps/tutorial passes `borough check` and its own tests, and
the app docs/tutorial.md builds, put together from the tutorial's code as a
reader would type it, passes its tests too (so the tutorial stays true)."""
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, ROOT, borough  # noqa: E402


@test
def apps_tutorial_checks_and_passes_its_tests():
    status, out, err = borough("check", "apps/tutorial", cwd=ROOT)
    assert status == 0 and out == "ok apps/tutorial (/tutorial)\n", (out, err)
    status, out, err = borough("test", "apps/tutorial", cwd=ROOT)
    assert status == 0, out + err
    assert re.search(r"^(\d+) passed, 0 failed$", out, re.M), out


def tutorial_blocks():
    with open(os.path.join(ROOT, "docs", "tutorial.md")) as f:
        return re.findall(r"```(\w*)\n(.*?)```", f.read(), re.S)


@test
def the_app_docs_tutorial_md_builds_passes_its_own_tests():
    blocks = tutorial_blocks()
    lua = [b for kind, b in blocks if kind == "lua"]

    def block(start):
        found = [b for b in lua if b.startswith(start)]
        assert len(found) == 1, (start, len(found))
        return found[0]
    tmp = tempfile.mkdtemp(prefix="borough-tutorial-")
    try:
        status, out, err = borough("new", "council-feedback", "--apps", tmp, cwd=ROOT)
        assert status == 0, (out, err)
        app_dir = os.path.join(tmp, "council-feedback")
        os.remove(os.path.join(app_dir, "views", "index.html"))
        os.remove(os.path.join(app_dir, "tests", "app_test.lua"))
        with open(os.path.join(app_dir, "views", "start.html"), "w") as f:
            f.write([b for kind, b in blocks if kind == "html"][0])
        with open(os.path.join(app_dir, "models.lua"), "w") as f:
            f.write(block("local M = {}"))
        # app.lua as step 2 has it, with steps 3 to 6 added where they say
        first_page = '''  pages = {
    { "service", question = "Which service do you want to give feedback on?" },
  },
'''
        flow = block("borough.flow {")
        assert first_page in flow
        flow = flow.replace(first_page, block('  pages = {\n    { "service"'))
        app = block("local app = borough.app")
        app = app.replace('roles = { "staff" } }\n', 'roles = { "staff" } }\n' + block("local Feedback = require"))
        app = app.replace("return app", flow + "\n" + block("borough.pages(Feedback") + "\nreturn app")
        with open(os.path.join(app_dir, "app.lua"), "w") as f:
            f.write(app)
        with open(os.path.join(app_dir, "tests", "feedback_test.lua"), "w") as f:
            f.write(block('local t = require "borough.test"'))
        status, out, err = borough("check", app_dir, cwd=ROOT)
        assert status == 0, (out, err)
        status, out, err = borough("test", app_dir, cwd=ROOT)
        assert status == 0 and out.rstrip().endswith("3 passed, 0 failed"), out + err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run()
