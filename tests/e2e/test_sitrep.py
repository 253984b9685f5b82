#!/usr/bin/env python3
"""The situation report (apps/sitrep): its own tests and borough.rag's and
borough.returns's under `borough test`; fake data from tools/gen_sitrep.py
imported whole; the data feed paged through by an API token of the BI
tool's service account; and in Debian's chromium (tests/browser/a11y.js,
axe-core for WCAG 2.1 A and AA) a command officer keeps today's position
open while a manager, in another browser, sends today's update: the
position changes without a reload. No axe violation on any page, charts
included, in English and Welsh; screenshots in build/a11y-sitrep/."""
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Client, Server, borough, query, run, test  # noqa: E402
from browserlib import ensure_tools, run_scenario, violations  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENTITIES = ("departments", "members", "measures", "updates", "answers")
PASSWORD = "a long fake password 7391"
MANAGER, COMMAND, COORDINATOR = "mo.manager@example.org", "gita.gold@example.org", "cora.coordinator@example.org"


def suite_passes(path, at_least):
    status, out, err = borough("test", path, cwd=ROOT)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    m = re.match(r"^(\d+) passed, (\d+) failed$", last)
    assert status == 0 and m and m.group(2) == "0" and int(m.group(1)) >= at_least, (status, out, err)


@test
def app_tests_pass():
    suite_passes("apps/sitrep", 15)


@test
def rag_and_returns_tests_pass():
    suite_passes("tests/lua/rag", 6)


def apps_folder():
    d = tempfile.mkdtemp(prefix="borough-sitrep-apps-")
    shutil.copytree(os.path.join(ROOT, "apps", "sitrep"), os.path.join(d, "sitrep"), ignore=shutil.ignore_patterns("tests"))
    return d


def load(apps, data, tmp, updates, today):
    """Generates fake data ending on today and imports every entity."""
    out = os.path.join(tmp, "csv")
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_sitrep.py"), out, "--updates", str(updates),
                    "--today", today, "--seed", "4"], check=True)
    for e in ENTITIES:
        status, o, err = borough("import", os.path.join(apps, "sitrep"), e, os.path.join(out, e + ".csv"),
                                 "--data", data)
        assert status == 0, (e, o, err)
    return out


@test
def generated_data_imports_whole_and_the_feed_pages_through_it():
    apps = apps_folder()
    try:
        with Server(apps) as s:
            out = load(apps, s.data_dir, s.tmp, 1200, "2024-04-30")
            db = os.path.join(s.data_dir, "sitrep", "app.db")
            counts = {e: query(db, "SELECT count(*) AS n FROM " + e)[0]["n"] for e in ENTITIES}
            assert counts["departments"] == 35 and counts["measures"] == 50 and counts["updates"] == 1200, counts
            assert counts["members"] >= 500 and counts["answers"] > 1200, counts
            # every department has a measure; the generator rates as the app does
            assert query(db, "SELECT count(*) AS n FROM departments WHERE id NOT IN (SELECT department FROM measures)")[0]["n"] == 0
            assert query(db, "SELECT count(*) AS n FROM answers a JOIN measures m ON m.id = a.measure WHERE m.kind = 'number' AND "
                             "a.rag != CASE WHEN m.good = 'lower' THEN (CASE WHEN a.number >= m.red THEN 'red' WHEN a.number >= m.amber "
                             "THEN 'amber' ELSE 'green' END) ELSE (CASE WHEN a.number <= m.red THEN 'red' WHEN a.number <= m.amber "
                             "THEN 'amber' ELSE 'green' END) END")[0]["n"] == 0
            # The BI tool's token: its service account has the role reporting.
            status, tok, err = borough("token", "create", "sitrep", "--entities", ",".join(ENTITIES), "--name", "Power BI",
                                       "--role", "reporting", "--data", s.data_dir)
            assert status == 0, err
            tok = tok.strip()
            h = {"Authorization": "Bearer " + tok}
            ids, link, pages = [], "/sitrep/_feed/updates.json", 0
            while link:
                r = Client(s.port).get(link, h)
                assert r.status == 200, r
                doc = json.loads(r.body)
                ids += [row["id"] for row in doc["value"]]
                link = doc.get("@odata.nextLink")
                link = link and (urlsplit(link).path + "?" + urlsplit(link).query)
                pages += 1
            assert ids == list(range(1, 1201)) and pages == 3, (pages, ids[:3], ids[-3:])
            first = json.loads(Client(s.port).get("/sitrep/_feed/updates.json?per_page=1", h).body)["value"][0]
            assert set(first) >= {"department", "date", "sent_at", "late", "rag", "escalate", "issue"}, first
            r = Client(s.port).get("/sitrep/_feed/answers.csv", h)
            assert r.status == 200 and r.body.count(b"\n") == counts["answers"] + 1, (r.status, r.body[:200])
            r = Client(s.port).get("/sitrep/_feed/updates.json?escalate=gold", h)
            assert r.status == 200 and all(row["escalate"] == "gold" for row in json.loads(r.body)["value"])
            # no token, a session cookie, or a token without the role: refused
            assert Client(s.port).get("/sitrep/_feed/updates.json").status == 401
            status, other, err = borough("token", "create", "sitrep", "--entities", "updates", "--name", "No role",
                                         "--data", s.data_dir)
            r = Client(s.port).get("/sitrep/_feed/updates.json", {"Authorization": "Bearer " + other.strip()})
            assert r.status == 403, r
            assert os.path.exists(os.path.join(out, "answers.csv"))
    finally:
        shutil.rmtree(apps, ignore_errors=True)


def sign_in(email):
    return [["goto", "/sitrep/_account/sign-in"], ["fill", "#email", email], ["fill", "#password", PASSWORD],
            ["click", "form button.govuk-button"]]


@test
def an_update_sent_in_one_browser_changes_the_position_open_in_another_and_axe_finds_nothing():
    ensure_tools()
    apps = apps_folder()
    out_dir = os.path.join(ROOT, "build", "a11y-sitrep")
    try:
        with Server(apps, workers=2) as s:
            # data up to two days ago, so today is still to send whatever the UK's date
            ago = (datetime.date.today() - datetime.timedelta(days=2)).isoformat()
            load(apps, s.data_dir, s.tmp, 2000, ago)
            members = os.path.join(s.tmp, "members.csv")
            with open(members, "w") as f:
                f.write("Name,Email,Department\nMo Manager,%s,1\nMo Manager,%s,2\n" % (MANAGER, MANAGER))
            status, _, err = borough("import", os.path.join(apps, "sitrep"), "members", members, "--data", s.data_dir)
            assert status == 0, err
            pw = os.path.join(s.tmp, "password")
            with open(pw, "w") as f:
                f.write(PASSWORD + "\n")
            for email, name, role in ((MANAGER, "Mo Manager", "manager"), (COMMAND, "Gita Gold", "command"),
                                      (COORDINATOR, "Cora Coordinator", "coordinator")):
                assert borough("user", "add", email, "--name", name, "--password-file", pw, "--data", s.data_dir)[0] == 0
                assert borough("user", "role", email, "sitrep", role, "--data", s.data_dir)[0] == 0
            db = os.path.join(s.data_dir, "sitrep", "app.db")
            measures = query(db, "SELECT id, kind FROM measures WHERE department = 1 ORDER BY id")
            fills = []
            for m in measures:
                field = "#m%d" % m["id"]
                if m["kind"] == "number":
                    fills.append(["fill", field, "3"])
                elif m["kind"] in ("rag", "yes_no"):
                    fills.append(["check", field])            # the first radio: Green, Yes
                else:
                    fills.append(["fill", field, "All quiet"])
            number = query(db, "SELECT id FROM measures WHERE kind = 'number' ORDER BY id LIMIT 1")[0]["id"]
            save = "form[method=post] button.govuk-button"
            steps = sign_in(COMMAND) + [
                ["goto", "/sitrep/dashboard"], ["audit", "dashboard"], ["mark"], ["wait_stream"],
                ["browser", "manager"],
            ] + sign_in(MANAGER) + [
                ["goto", "/sitrep/updates"], ["audit", "updates"],
                ["click", "a.govuk-link[href='/sitrep/departments/1/update']"], ["audit", "update-form"],
            ] + fills + [
                ["check", "#escalate-3"], ["click", save], ["audit", "update-errors"],
                ["fill", "#issue", "Branch flooded: need the emergency team"], ["click", save], ["audit", "updates-sent"],
                ["browser", "main"],
                ["wait_text", "#position", "Branch flooded: need the emergency team"],
                ["expect_mark"], ["audit", "dashboard-live"],
                ["goto", "/sitrep/measures/%d" % number], ["audit", "measure-chart"],
                ["goto", "/sitrep/measures"], ["audit", "measures"],
                ["goto", "/sitrep/escalations"], ["audit", "escalations"],
                ["goto", "/sitrep/late"], ["audit", "late"],
                ["goto", "/sitrep/dashboard?lang=cy"], ["audit", "dashboard-cy"],
                ["goto", "/sitrep/measures/%d" % number], ["audit", "measure-chart-cy"],
                ["goto", "/sitrep/measures"], ["audit", "measures-cy"],
                ["goto", "/sitrep/escalations"], ["audit", "escalations-cy"],
                ["goto", "/sitrep/late"], ["audit", "late-cy"],
                ["goto", "/sitrep/_account/sign-out"], ["click", "form button.govuk-button"],
                ["goto", "/sitrep/_account/sign-in?lang=cy"], ["audit", "sign-in-cy"],
                ["browser", "manager"],
                ["goto", "/sitrep/updates?lang=cy"], ["audit", "updates-cy"],
                ["goto", "/sitrep/departments/2/update"], ["audit", "update-form-cy"],
                ["click", save], ["audit", "update-errors-cy"],
                ["goto", "/sitrep/_account/sign-out?lang=en"], ["click", "form button.govuk-button"],
            ] + sign_in(COORDINATOR) + [
                ["goto", "/sitrep/setup/measures"], ["audit", "setup-measures"],
                ["goto", "/sitrep/setup/measures/new"], ["audit", "setup-measure-new"],
                ["goto", "/sitrep/setup/managers"], ["audit", "setup-managers"],
                ["goto", "/sitrep/setup/departments"], ["audit", "setup-departments"],
                ["goto", "/sitrep/setup/measures?lang=cy"], ["audit", "setup-measures-cy"],
                ["goto", "/sitrep/setup/measures/new"], ["audit", "setup-measure-new-cy"],
                ["goto", "/sitrep/setup/managers"], ["audit", "setup-managers-cy"],
                ["goto", "/sitrep/setup/departments"], ["audit", "setup-departments-cy"],
            ]
            pages = {page["name"]: page for page in run_scenario(s.port, steps, out_dir)}
            update = query(db, "SELECT department, escalate, issue, sent_by FROM updates WHERE sent_by = 'Mo Manager'")
    finally:
        shutil.rmtree(apps, ignore_errors=True)
    problems = violations(pages.values())
    assert update == [{"department": 1, "escalate": "gold", "issue": "Branch flooded: need the emergency team",
                       "sent_by": "Mo Manager"}], update
    assert "Branch flooded: need the emergency team" in pages["dashboard-live"]["text"], pages["dashboard-live"]["text"]
    assert "Branch flooded" not in pages["dashboard"]["text"]
    assert pages["update-errors"]["title"].startswith("Error: "), pages["update-errors"]
    assert "Enter the issue to escalate" in pages["update-errors"]["text"]
    assert pages["update-errors-cy"]["title"].startswith(("Error: ", "Gwall: ")), pages["update-errors-cy"]
    assert "Show the data" in pages["measure-chart"]["text"], pages["measure-chart"]["text"]
    assert len(pages) == 27, sorted(pages)
    assert not problems, "\n".join(problems)


if __name__ == "__main__":
    run()
