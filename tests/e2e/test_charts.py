#!/usr/bin/env python3
"""Charts (lua/borough/chart.lua): the Lua tests of the fixture app
tests/lua/charts, then its pages served for real: every chart's SVG is
well-formed XML with an accessible name, and Debian's chromium with axe-core
finds no WCAG 2.1 A/AA violation on the pages, in English and in Welsh, with
the data tables opened. Screenshots go to build/a11y-charts/."""
import os
import re
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, Server, ROOT, borough, get  # noqa: E402
from browserlib import ensure_tools, run_scenario, violations  # noqa: E402

FIXTURE = os.path.join(ROOT, "tests", "lua", "charts")
OUT = os.path.join(ROOT, "build", "a11y-charts")


def apps_folder():
    d = tempfile.mkdtemp(prefix="borough-charts-")
    shutil.copytree(FIXTURE, os.path.join(d, "charts"))
    return d


@test
def chart_lua_tests_pass():
    status, out, err = borough("test", "tests/lua/charts", cwd=ROOT)
    assert status == 0 and out.strip().endswith(" 0 failed"), (out, err)
    assert int(re.search(r"(\d+) passed", out).group(1)) >= 8, out


@test
def every_chart_is_well_formed_svg_with_a_name():
    with Server(apps_folder()) as s:
        for path in ("/charts/", "/charts/lua", "/charts/?lang=cy"):
            r = get(s.port, path)
            assert r.status == 200, (path, r.status)
            body = r.body.decode()
            figures = re.findall(r'<figure class="borough-chart".*?</figure>', body, re.S)
            assert len(figures) == (2 if path == "/charts/lua" else 4), (path, len(figures))
            for fig in figures:
                svg = re.search(r"<svg .*?</svg>", fig, re.S).group(0)
                root = ET.fromstring(svg.replace('<svg ', '<svg xmlns="http://www.w3.org/2000/svg" ', 1))
                assert root.get("role") == "img"
                for ref in root.get("aria-labelledby").split() + root.get("aria-describedby").split():
                    assert ('id="%s"' % ref) in fig, ref
                assert "<table" in fig and "govuk-details" in fig


@test
def axe_finds_nothing_on_charts_in_english_and_welsh():
    ensure_tools()
    with Server(apps_folder()) as s:
        steps = []
        for name, path in (("charts", "/charts/"), ("charts-lua", "/charts/lua"), ("charts-cy", "/charts/?lang=cy")):
            steps += [["goto", path], ["audit", name]]
            # Open every "Show the data" and check the tables too.
            steps += [["click", "summary.govuk-details__summary >> nth=0"], ["audit", name + "-data"]]
        pages = run_scenario(s.port, steps, OUT)
        assert len(pages) == 6
        assert not violations(pages), "\n".join(violations(pages))


if __name__ == "__main__":
    run()
