"""Driving Debian's chromium through pages of a running borough with
tests/browser/a11y.js (playwright-core), checking each page with axe-core
for WCAG 2.1 A and AA. Used by test_a11y.py and test_shielding.py.

Needs chromium and tests/browser/node_modules (axe-core, playwright-core,
pinned by tests/browser/package-lock.json): `make deps` installs them, and
ensure_tools() runs tools/deps.sh itself when they are missing."""
import json
import os
import shutil
import subprocess
import tempfile

from lib import ROOT, SLOW

BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def ensure_tools():
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(chromium) or not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "axe-core")):
        subprocess.run([os.path.join(ROOT, "tools", "deps.sh")], check=True)
    assert os.path.exists(chromium), "no chromium at " + chromium


def run_scenario(port, steps, out_dir, args=()):
    """Runs steps (see a11y.js) against the server on port; screenshots go to
    out_dir (emptied first); args are more flags for chromium. Returns the
    audited pages, each { name, url, title, text, violations }, and prints
    one line for each."""
    shutil.rmtree(out_dir, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="borough-browser-") as tmp:
        scenario = os.path.join(tmp, "scenario.json")
        with open(scenario, "w") as f:
            json.dump({"base": "http://127.0.0.1:%d" % port, "tags": TAGS, "steps": steps, "args": list(args)}, f)
        p = subprocess.run(["node", os.path.join(BROWSER_DIR, "a11y.js"), scenario, out_dir],
                           capture_output=True, text=True, timeout=300 * SLOW, cwd=BROWSER_DIR)
    assert p.returncode == 0, p.stderr[-3000:]
    pages = json.loads(p.stdout)["pages"]
    for page in pages:
        print("     %-36s %-48s %s" % (page["name"], page["url"].split("/", 3)[-1][:48], page["title"][:60]))
    return pages


def violations(pages):
    """One line for each axe violation on the pages."""
    return ["%s: %s (%s, %s): %s" % (page["name"], v["id"], v["impact"], v["help"], v["nodes"][:3])
            for page in pages for v in page["violations"]]
