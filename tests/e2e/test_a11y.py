#!/usr/bin/env python3
"""Accessibility: every page state of apps/tutorial and of generated entity
pages (empty form, form with errors, check answers, confirmation, list,
detail, edit, delete) loaded in Debian's chromium and checked with axe-core
for WCAG 2.1 A and AA (tags wcag2a, wcag2aa, wcag21a, wcag21aa): no
violations. Screenshots of every page go to build/a11y/<page>.png.

Needs chromium and tests/browser/node_modules (axe-core, playwright-core,
pinned by tests/browser/package-lock.json): `make deps` installs them, and
this test runs tools/deps.sh itself when they are missing.
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, Server, ROOT, write_tree  # noqa: E402
from formlib import add_staff, STAFF, PASSWORD  # noqa: E402
from forms_fixture import TREE  # noqa: E402
from browserlib import ensure_tools, run_scenario, violations  # noqa: E402

OUT = os.path.join(ROOT, "build", "a11y")


def apps_folder():
    """The real apps/tutorial beside the forms fixture app."""
    d = tempfile.mkdtemp(prefix="borough-a11y-apps-")
    shutil.copytree(os.path.join(ROOT, "apps", "tutorial"), os.path.join(d, "tutorial"))
    write_tree(d, TREE)
    return d


def staff_steps(s, app, role="staff"):
    """Steps that sign a member of staff in, on a platform with sign-in."""
    if not add_staff(s, app, role):
        return []
    return [["goto", "/%s/_account/sign-in" % app], ["fill", "#email", STAFF], ["fill", "#password", PASSWORD],
            ["click", "form button.govuk-button"]]


def flow_steps():
    b = "/tutorial/feedback/"
    go = "form button.govuk-button"
    return [
        ["goto", "/tutorial/"], ["audit", "tutorial-start"],
        ["goto", b + "service"], ["audit", "tutorial-question-service"],
        ["click", go], ["audit", "tutorial-question-service-errors"],
        ["check", "#service-3"], ["click", go],
        ["audit", "tutorial-question-rating"],
        ["click", go], ["audit", "tutorial-question-rating-errors"],
        ["check", "#rating-2"], ["click", go],
        ["audit", "tutorial-question-comments"],
        ["fill", "#comments", "x" * 1300], ["click", go], ["audit", "tutorial-question-comments-errors"],
        ["fill", "#comments", "Longer opening hours at the weekend, please."], ["click", go],
        ["audit", "tutorial-question-email"],
        ["fill", "#email", "not an email"], ["click", go], ["audit", "tutorial-question-email-errors"],
        ["fill", "#email", "sam@example.com"], ["click", go],
        ["audit", "tutorial-check-answers"],
        ["click", go], ["audit", "tutorial-confirmation"],
    ]


def generated_steps():
    go = "form[method=post] button.govuk-button"
    return [
        ["goto", "/tutorial/responses"], ["audit", "tutorial-staff-list"],
        ["goto", "/tutorial/responses/1"], ["audit", "tutorial-staff-detail"],
        ["goto", "/tutorial/responses/1/edit"], ["audit", "tutorial-staff-edit"],
        ["goto", "/fx/residents/new"], ["audit", "residents-new"],
        ["click", go], ["audit", "residents-new-errors"],
        ["fill", "#first-name", "Ada"], ["fill", "#last-name", "Lovelace"],
        ["fill", "#date-of-birth-day", "10"], ["fill", "#date-of-birth-month", "12"],
        ["fill", "#date-of-birth-year", "1815"], ["fill", "#grant", "250"], ["check", "#support-3"],
        ["check", "#shielding"], ["fill", "#postcode", "SW1A 1AA"], ["click", go],
        ["audit", "residents-detail"],
        ["goto", "/fx/residents/new"], ["fill", "#first-name", "Grace"], ["fill", "#last-name", "Hopper"], ["click", go],
        ["goto", "/fx/residents/new"], ["fill", "#first-name", "Alan"], ["fill", "#last-name", "Turing"], ["click", go],
        ["goto", "/fx/residents/new"], ["fill", "#first-name", "Mary"], ["fill", "#last-name", "Smith"], ["click", go],
        ["goto", "/fx/residents?sort=last_name&dir=desc"], ["audit", "residents-list"],
        ["goto", "/fx/residents?q=gra"], ["audit", "residents-search"],
        ["goto", "/fx/residents/1/edit"], ["audit", "residents-edit"],
        ["fill", "#postcode", "nowhere"], ["click", go], ["audit", "residents-edit-errors"],
        ["goto", "/fx/residents/1/delete"], ["audit", "residents-delete"],
        ["goto", "/fx/apply/date-of-birth"], ["click", go], ["audit", "apply-date-errors"],
        ["goto", "/fx/contact"], ["audit", "contact-form"],
    ]


@test
def every_page_state_has_no_axe_violations():
    ensure_tools()
    apps = apps_folder()
    try:
        with Server(apps) as s:
            steps = flow_steps()
            steps += staff_steps(s, "tutorial") + staff_steps(s, "fx")
            steps += generated_steps()
            pages = run_scenario(s.port, steps, OUT)
    finally:
        shutil.rmtree(apps, ignore_errors=True)
    problems = violations(pages)
    for page in pages:
        assert os.path.getsize(os.path.join(OUT, page["name"] + ".png")) > 1000
    assert len(pages) == 24, [p["name"] for p in pages]
    # the states the flow went through really are those states
    by = {p["name"]: p for p in pages}
    assert by["tutorial-question-service-errors"]["title"].startswith("Error: "), by["tutorial-question-service-errors"]
    assert by["tutorial-check-answers"]["url"].endswith("/tutorial/feedback/check")
    assert by["tutorial-confirmation"]["url"].endswith("/tutorial/feedback/done")
    assert by["residents-detail"]["url"].endswith("/fx/residents/1?saved=1"), by["residents-detail"]
    assert not problems, "\n".join(problems)


if __name__ == "__main__":
    run()
