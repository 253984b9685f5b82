#!/usr/bin/env python3
"""The delivery tracker (apps/tracker): its own tests under `borough test`;
the fake portfolios of tools/gen_tracker.py imported by `borough import`;
the data feed paged through by an API token, which reads only what its
roles give it; a monthly update reaching the open boards of its
portfolio (an event stream), whose stream another portfolio's member is
refused;
and in Debian's chromium (tests/browser/a11y.js, axe-core for WCAG 2.1 A
and AA), in English and in Welsh: a portfolio manager reads the board and
the briefing, makes a project's monthly update (the board's chart and
changes follow), adds a milestone, a risk and a document link, and a
member; every page of another portfolio answers as a page that does not exist; the
council-wide view sees every portfolio; the portfolio office adds one.
No axe violation on any page, charts included; screenshots in
build/a11y-tracker/."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, borough, query, use_postgres, Client, Server, staff_cookie  # noqa: E402
from sselib import Stream  # noqa: E402
from browserlib import ensure_tools, run_scenario, violations  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENTITIES = ["portfolios", "group_members", "programmes", "projects", "milestones", "risks", "updates", "documents"]
PASSWORD = "a long fake password 1616"
PROJECTS = 6      # a portfolio, in the browser's data


@test
def app_tests_pass():
    status, out, err = borough("test", "apps/tracker", cwd=ROOT)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    m = re.match(r"^(\d+) passed, (\d+) failed$", last)
    assert status == 0 and m and m.group(2) == "0" and int(m.group(1)) >= 14, (status, out, err)


def generate_and_import(tmp, data, portfolios, projects, months):
    """tools/gen_tracker.py's files, imported entity by entity; returns the row counts."""
    out = os.path.join(tmp, "csv")
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_tracker.py"), out, "--portfolios", str(portfolios),
                    "--projects", str(projects), "--months", str(months), "--seed", "3"], check=True)
    counts = {}
    for e in ENTITIES:
        path = os.path.join(out, e + ".csv")
        with open(path, encoding="utf-8") as f:
            counts[e] = sum(1 for _ in f) - 1
        status, o, err = borough("import", "tracker", e, path, "--data", data, "--apps", os.path.join(ROOT, "apps"))
        assert status == 0 and "imported %d %s" % (counts[e], e) in o + err, (e, status, o, err)
    return counts


@test
def the_fake_portfolios_import_whole():
    with tempfile.TemporaryDirectory(prefix="borough-tracker-") as tmp:
        data = os.path.join(tmp, "data")
        use_postgres(data)
        counts = generate_and_import(tmp, data, 3, 7, 4)
        assert counts["portfolios"] == 3 and counts["projects"] == 21 and counts["milestones"] == 126, counts
        db = os.path.join(data, "tracker", "app.db")

        def count(sql):
            return query(db, sql)[0]["n"]
        # every record of a project is in the project's portfolio; a project's status is its latest update's
        astray = sum(count("SELECT count(*) AS n FROM %s x JOIN projects p ON p.id = x.project "
                           "WHERE x.portfolio <> p.portfolio" % e)
                     for e in ("milestones", "risks", "updates", "documents"))
        wrong = count("SELECT count(*) AS n FROM projects p JOIN updates u ON u.project = p.id AND u.month = "
                      "(SELECT max(month) FROM updates WHERE project = p.id) WHERE u.rag <> p.rag")
        members = count("SELECT count(*) AS n FROM group_members WHERE kind = 'portfolios' AND level = 'manager'")
        assert (astray, wrong, members) == (0, 0, 3), (astray, wrong, members)


def feed_token(data, role=None):
    args = ["token", "create", "tracker", "--entities", "portfolios,projects,updates,milestones", "--name", "BI " + str(role),
            "--data", data] + (["--role", role] if role else [])
    status, out, err = borough(*args)
    assert status == 0, err
    return out.strip()


@test
def the_data_feed_pages_through_the_projects_a_token_may_read():
    with Server(os.path.join(ROOT, "apps")) as s:
        counts = generate_and_import(s.tmp, s.data_dir, 3, 7, 4)
        wide, bare = feed_token(s.data_dir, "council_wide"), feed_token(s.data_dir)

        def get(path, tok):
            r = Client(s.port).get("/tracker/_feed/" + path, {"Authorization": "Bearer " + tok})
            assert r.status == 200, (path, r.status, r.body[:300])
            return r.body

        ids, path = [], "projects.json?per_page=5"
        while path:
            doc = json.loads(get(path, wide))
            ids += [p["id"] for p in doc["value"]]
            link = doc.get("@odata.nextLink")
            path = link and link.split("/_feed/", 1)[1]
        assert ids == list(range(1, counts["projects"] + 1)), ids
        first = json.loads(get("projects.json?per_page=1", wide))["value"][0]
        assert sorted(first) == sorted(["id", "name", "portfolio", "programme", "manager", "rag", "rag_reason", "start_on",
                                        "end_on", "budget", "created_at", "updated_at"]), first
        two = json.loads(get("projects.json?portfolio=2", wide))["value"]
        assert len(two) == 7 and {p["portfolio"] for p in two} == {2}, two
        updates = get("updates.csv", wide).decode()
        assert updates.count("\n") == counts["updates"] + 1, updates[:200]
        # a token with neither the council-wide view nor a membership reads nothing
        for entity in ("portfolios", "projects", "updates", "milestones"):
            assert json.loads(get(entity + ".json", bare))["value"] == [], entity
        assert Client(s.port).get("/tracker/_feed/projects.json").status == 401


@test
def a_monthly_update_reaches_the_open_boards_of_its_portfolio():
    with Server(os.path.join(ROOT, "apps")) as s:
        generate_and_import(s.tmp, s.data_dir, 2, 3, 2)
        mine = staff_cookie(s, "tracker", email="manager1@example.org")
        theirs = staff_cookie(s, "tracker", email="manager2@example.org")
        board = Client(s.port).get("/tracker/portfolios/1", mine)
        live = re.search(r'data-borough-live="([^"]+)"', board.body.decode()).group(1).replace("&amp;", "&")
        assert live.startswith("/tracker/portfolios/1/live?last_event_id="), live
        stream = Stream(s.port, live, mine).head()
        assert stream.status == 200, stream.status
        refused = Stream(s.port, "/tracker/portfolios/1/live", theirs).head()
        assert refused.status == 404, refused.status     # another portfolio's board
        refused.close()
        form = Client(s.port).get("/tracker/projects/1/update", mine)
        cookies = [mine["Cookie"]] + [v.split(";")[0] for v in form.headers.get("set-cookie", [])]
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.body.decode()).group(1)
        body = urllib.parse.urlencode({"csrf_token": token, "rag": "red", "rag_reason": "Stopped"}).encode()
        r = Client(s.port).request("POST", "/tracker/projects/1/update", {
            "Cookie": "; ".join(cookies), "Content-Type": "application/x-www-form-urlencoded"}, body)
        assert r.status == 303, (r.status, r.body[:500])
        assert stream.next_data() == ("portfolio:1", {"project": 1})
        stream.close()


def sign_in(email):
    return [["goto", "/tracker/_account/sign-in"], ["fill", "#email", email], ["fill", "#password", PASSWORD],
            ["click", "form button.govuk-button"]]


def sign_out():
    return [["goto", "/tracker/_account/sign-out"], ["click", "main form button.govuk-button"]]


def manager_steps(lang):
    """Portfolio 1's manager, in lang: every page of theirs, changes made in English;
    portfolio 2's pages, which are not theirs."""
    q, pre = "?lang=" + lang, lang + "-"
    save = "main form[method=post] button.govuk-button"
    mine, theirs = 1, PROJECTS + 1          # a project of portfolio 1, one of portfolio 2
    steps = [["goto", "/tracker/" + q], ["audit", pre + "home"],
             ["goto", "/tracker/portfolios/1"], ["audit", pre + "board"],
             ["goto", "/tracker/portfolios/1/briefing"], ["audit", pre + "briefing"],
             ["goto", "/tracker/projects/%d" % mine], ["audit", pre + "project"],
             ["goto", "/tracker/projects/%d/update" % mine], ["audit", pre + "update"]]
    if lang == "en":
        steps += [["fill", "#rag-reason", ""], ["click", save], ["audit", "en-update-errors"],
                  ["check", "#rag"], ["fill", "#rag-reason", "The contractor has stopped work"],
                  ["fill", "#progress", "Site survey done"], ["click", save], ["audit", "en-project-updated"],
                  ["goto", "/tracker/portfolios/1"], ["audit", "en-board-after"]]
    steps += [["goto", "/tracker/projects/%d/milestones/new" % mine], ["audit", pre + "milestone"]]
    if lang == "en":
        steps += [["fill", "#title", "Keys handed over"], ["fill", "#due-on-day", "1"], ["fill", "#due-on-month", "2"],
                  ["fill", "#due-on-year", "2020"], ["click", save]]
    steps += [["goto", "/tracker/projects/%d/risks/new" % mine], ["audit", pre + "risk"]]
    if lang == "en":
        steps += [["click", save], ["audit", "en-risk-errors"], ["check", "#kind-2"], ["fill", "#title", "Roof leaks"],
                  ["fill", "#owner", "Pat Reed"], ["check", "#severity"], ["click", save]]
    steps += [["goto", "/tracker/projects/%d/documents/new" % mine], ["audit", pre + "document"]]
    if lang == "en":
        steps += [["fill", "#title", "Survey report"], ["fill", "#url", "https://docs.example.org/survey"],
                  ["click", save], ["audit", "en-project-after"]]
    steps += [["goto", "/tracker/projects/%d/edit" % mine], ["audit", pre + "project-edit"],
              ["goto", "/tracker/portfolios/1/members"], ["audit", pre + "members"]]
    if lang == "en":
        steps += [["fill", "#email", "Nia.New@example.org"], ["fill", "#name", "Nia New"],
                  ["click", "main form[action$='/members'] button.govuk-button"],
                  ["audit", "en-member-added"]]
    steps += [["goto", "/tracker/portfolios/1/projects/new"], ["audit", pre + "project-new"],
              ["goto", "/tracker/portfolios/1/programmes/new"], ["audit", pre + "programme-new"],
              ["goto", "/tracker/portfolios/1/edit"], ["audit", pre + "portfolio-edit"],
              ["goto", "/tracker/search?q=survey"], ["audit", pre + "search"],
              # portfolio 2 is not theirs: each of its pages is one that does not exist
              ["goto", "/tracker/portfolios/2"], ["audit", pre + "other-board"],
              ["goto", "/tracker/portfolios/2/briefing"], ["audit", pre + "other-briefing"],
              ["goto", "/tracker/projects/%d" % theirs], ["audit", pre + "other-project"],
              ["goto", "/tracker/projects/%d/update" % theirs], ["audit", pre + "other-update"],
              ["goto", "/tracker/projects/99999"], ["audit", pre + "no-such-project"]]
    return steps


@test
def a_portfolio_in_chromium_en_and_cy_with_no_axe_violations():
    ensure_tools()
    out_dir = os.path.join(ROOT, "build", "a11y-tracker")
    with Server(os.path.join(ROOT, "apps")) as s:
        generate_and_import(s.tmp, s.data_dir, 3, PROJECTS, 13)
        pw = os.path.join(s.tmp, "password")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        for email, name, role in (("manager1@example.org", "Mina Manager", None),
                                  ("chief@example.org", "Cara Chief", "council_wide"),
                                  ("office@example.org", "Olu Office", "portfolio_office")):
            assert borough("user", "add", email, "--name", name, "--password-file", pw, "--data", s.data_dir)[0] == 0
            if role:
                assert borough("user", "role", email, "tracker", role, "--data", s.data_dir)[0] == 0
        steps = sign_in("manager1@example.org") + manager_steps("en") + manager_steps("cy") + sign_out()
        steps += sign_in("chief@example.org") + [["goto", "/tracker/?lang=en"], ["audit", "chief-home"],
                                                 ["goto", "/tracker/portfolios/2/briefing"], ["audit", "chief-briefing"],
                                                 ["goto", "/tracker/?lang=cy"], ["audit", "cy-chief-home"]] + sign_out()
        steps += sign_in("office@example.org") + [["goto", "/tracker/portfolios/new?lang=en"], ["audit", "office-new"],
                                                  ["fill", "#name", "Major events"],
                                                  ["click", "main form[method=post] button.govuk-button"],
                                                  ["audit", "office-members"],
                                                  ["goto", "/tracker/portfolios/new?lang=cy"], ["audit", "cy-office-new"]]
        pages = {p["name"]: p for p in run_scenario(s.port, steps, out_dir)}
        db = os.path.join(s.data_dir, "tracker", "app.db")
        update = tuple(query(db, "SELECT u.rag, u.rag_reason, p.rag AS p_rag, p.rag_reason AS p_rag_reason "
                                 "FROM updates u JOIN projects p ON p.id = u.project WHERE u.project = 1 "
                                 "ORDER BY u.month DESC LIMIT 1")[0].values())
        added = [query(db, sql)[0]["n"] for sql in (
            "SELECT count(*) AS n FROM milestones WHERE title = 'Keys handed over' AND portfolio = 1 AND due_on = '2020-02-01'",
            "SELECT count(*) AS n FROM risks WHERE title = 'Roof leaks' AND kind = 'issue' AND portfolio = 1",
            "SELECT count(*) AS n FROM documents WHERE title = 'Survey report' AND portfolio = 1",
            "SELECT count(*) AS n FROM group_members WHERE email = 'nia.new@example.org' AND group_id = 1",
            "SELECT count(*) AS n FROM portfolios WHERE name = 'Major events'")]
    problems = violations(pages.values())
    assert update == ("red", "The contractor has stopped work") * 2, update
    assert added == [1, 1, 1, 1, 1], added
    assert pages["en-update-errors"]["title"].startswith("Error:"), pages["en-update-errors"]["title"]
    assert "The contractor has stopped work" in pages["en-board-after"]["text"], "the board's changes"
    assert "Keys handed over" in pages["en-project-after"]["text"] and "Roof leaks" in pages["en-project-after"]["text"]
    for lang in ("en", "cy"):
        assert len([p for p in pages if p.startswith(lang + "-")]) >= 16, sorted(pages)
        for other in ("other-board", "other-briefing", "other-project", "other-update"):
            page = pages[lang + "-" + other]
            assert "Housing" not in page["text"] and "Regeneration" not in page["title"], page
            # the same answer as for a project that does not exist
            nothing = pages[lang + "-no-such-project"]
            assert (page["title"], page["text"]) == (nothing["title"], nothing["text"]), (page, nothing)
        assert "Regeneration" not in pages[lang + "-home"]["text"], "another portfolio on the home page"
        assert "Regeneration" not in pages[lang + "-search"]["text"]
    assert "Regeneration" in pages["chief-home"]["text"] and "Housing" in pages["chief-home"]["text"]
    assert pages["office-members"]["title"].startswith("Members of Major events"), pages["office-members"]["title"]
    assert not problems, "\n".join(problems)


if __name__ == "__main__":
    run()
