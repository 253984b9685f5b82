#!/usr/bin/env python3
"""The shielding app (apps/shielding): its own tests under `borough test`;
the government list made by tools/gen_shielding.py with dirty rows,
imported by `borough import` with exactly the dirty rows rejected; and in
Debian's chromium (tests/browser/a11y.js, axe-core for WCAG 2.1 A and AA):
a call handler signs in, takes the next resident, records a call with a
food need and sends the referral; a visiting officer on a phone-sized
screen records a visit. No axe violation on any of those pages;
screenshots in build/a11y-shielding/."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, borough, query, Server  # noqa: E402
from browserlib import ensure_tools, run_scenario, violations  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@test
def app_tests_pass():
    status, out, err = borough("test", "apps/shielding", cwd=ROOT)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    m = re.match(r"^(\d+) passed, (\d+) failed$", last)
    assert status == 0 and m and m.group(2) == "0" and int(m.group(1)) >= 13, (status, out, err)


@test
def a_dirty_list_imports_with_exactly_the_bad_rows_rejected():
    with tempfile.TemporaryDirectory(prefix="borough-shielding-") as tmp:
        gen = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_shielding.py"), "400",
                              "--dirty", "0.2", "--seed", "11", "--report"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
        counts = dict(kv.split("=") for kv in gen.stderr.decode().split())
        counts = {k: int(v) for k, v in counts.items()}
        assert all(counts[k] > 0 for k in counts), counts
        path = os.path.join(tmp, "list.csv")
        with open(path, "wb") as f:
            f.write(gen.stdout)
        rejects = os.path.join(tmp, "rejects.csv")
        status, out, err = borough("import", "shielding", "residents", path, "--skip-bad-rows",
                                   "--rejects", rejects, "--data", os.path.join(tmp, "data"), cwd=ROOT)
        bad = counts["bad_nhs"] + counts["no_postcode"] + counts["duplicate"] + counts["latin1"]
        assert status == 0, (status, out, err)
        assert "imported %d residents" % (400 - bad) in out + err, (out, err, counts)
        text = open(rejects, encoding="utf-8").read()
        assert text.count("Enter a real NHS number") == counts["bad_nhs"], text
        assert text.count("Enter postcode") == counts["no_postcode"], text
        assert text.count("already exists") == counts["duplicate"], text
        assert text.count("not UTF-8") == counts["latin1"], text


PASSWORD = "a long fake password 7391"
HANDLER, OFFICER, MANAGER = "callum.caller@example.org", "vera.visitor@example.org", "mina.manager@example.org"


def sign_in(email):
    return [["goto", "/shielding/_account/sign-in"], ["fill", "#email", email], ["fill", "#password", PASSWORD],
            ["click", "form button.govuk-button"]]


@test
def a_call_and_a_visit_in_chromium_with_no_axe_violations():
    ensure_tools()
    apps = tempfile.mkdtemp(prefix="borough-shielding-apps-")
    out_dir = os.path.join(ROOT, "build", "a11y-shielding")
    try:
        shutil.copytree(os.path.join(ROOT, "apps", "shielding"), os.path.join(apps, "shielding"))
        with Server(apps) as s:
            listing = os.path.join(s.tmp, "list.csv")
            with open(listing, "w") as f:
                f.write("NHS Number,First Name,Last Name,Date of Birth,Address,Postcode,Phone,Flags,Status\n"
                        "999 000 0018,Ada,Lovelace,10/12/1940,1 High Street,LS1 4AB,07700 900001,lives alone,to_call\n"
                        "999 000 0026,Alan,Turing,23/06/1942,2 High Street,LS1 4AB,07700 900002,,to_call\n"
                        "999 000 0034,Grace,Hopper,09/12/1936,3 Mill Lane,LS2 7AB,,mobility,to_visit\n")
            status, out, err = borough("import", os.path.join(apps, "shielding"), "residents", listing,
                                       "--data", s.data_dir)
            assert status == 0, (out, err)
            dirty = os.path.join(s.tmp, "dirty.csv")
            gen = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_shielding.py"), "40",
                                  "--dirty", "0.3", "--seed", "5", "--report"], capture_output=True, check=True)
            with open(dirty, "wb") as f:
                f.write(gen.stdout)
            dirt = {k: int(v) for k, v in (kv.split("=") for kv in gen.stderr.decode().split())}
            assert dirt["latin1"] > 0, dirt
            pw = os.path.join(s.tmp, "password")
            with open(pw, "w") as f:
                f.write(PASSWORD + "\n")
            for email, name, role in ((HANDLER, "Callum Caller", "call_handler"),
                                      (OFFICER, "Vera Visitor", "visiting_officer"),
                                      (MANAGER, "Mina Manager", "manager")):
                assert borough("user", "add", email, "--name", name, "--password-file", pw,
                               "--data", s.data_dir)[0] == 0
                assert borough("user", "role", email, "shielding", role, "--data", s.data_dir)[0] == 0
            save = "form[method=post] button.govuk-button"
            steps = sign_in(HANDLER) + [
                ["goto", "/shielding/calls"], ["audit", "call-list"],
                ["click", "form[action='/shielding/calls/next'] button"], ["audit", "record-call"],
                ["click", save], ["audit", "record-call-errors"],
                ["check", "#outcome"], ["check", "#needs"], ["fill", "#call-note", "Happy to get a food parcel"],
                ["click", save], ["audit", "resident-reached"],
                ["click", "a.govuk-button:has-text('Send the referral')"], ["audit", "send-referral"],
                ["click", save], ["audit", "referral-sent"],
                ["goto", "/shielding/search?q=lovelace"], ["audit", "search"],
                ["goto", "/shielding/_account/sign-out"], ["click", "form button.govuk-button"],
                ["viewport", 375, 667],
            ] + sign_in(OFFICER) + [
                ["goto", "/shielding/visits"], ["audit", "visits-phone"],
                ["click", "a.govuk-button:has-text('Record a visit')"], ["audit", "record-visit-phone"],
                ["check", "#outcome"], ["click", save], ["audit", "visits-after-phone"],
                ["goto", "/shielding/_account/sign-out"], ["click", "form button.govuk-button"],
                ["viewport", 1024, 768],
            ] + sign_in(MANAGER) + [
                ["goto", "/shielding/dashboard"], ["audit", "dashboard"],
                ["goto", "/shielding/upload"], ["audit", "upload"],
                ["upload", "#list", dirty], ["click", save], ["audit", "upload-rejects"],
                ["goto", "/shielding/referrals/1"], ["audit", "referral"],
            ]
            pages = {page["name"]: page for page in run_scenario(s.port, steps, out_dir)}
            db = os.path.join(s.data_dir, "shielding", "app.db")

            def rows(sql):
                return [tuple(r.values()) for r in query(db, sql)]
            states = dict(rows("SELECT first_name, status FROM residents WHERE id <= 3"))
            referral = rows("SELECT partner, state FROM referrals")
            outbox = rows("SELECT kind, CASE WHEN recipient LIKE 'bo1.%' THEN 1 ELSE 0 END AS sealed FROM _borough_outbox")
            visits = rows("SELECT outcome, officer FROM visits")
            residents = rows("SELECT count(*) AS n FROM residents")[0][0]
    finally:
        shutil.rmtree(apps, ignore_errors=True)
    problems = violations(pages.values())
    assert len(pages) == 14, sorted(pages)
    assert pages["record-call"]["url"].endswith("/call"), pages["record-call"]
    assert pages["record-call-errors"]["title"].startswith("Error: Record a call"), pages["record-call-errors"]
    assert states == {"Ada": "reached", "Alan": "to_call", "Grace": "visited"}, states
    assert referral == [("Food bank", "sent")], referral
    assert outbox == [("email", 1)], outbox      # the partner's address is sealed
    assert visits == [("Spoke to resident", "Vera Visitor")], visits
    # the dirty list (Latin-1 rows included) uploaded: every clean row in, every dirty one listed
    assert pages["upload-rejects"]["title"].startswith("Upload the shielding list"), pages["upload-rejects"]
    bad = dirt["bad_nhs"] + dirt["no_postcode"] + dirt["duplicate"] + dirt["latin1"]
    assert residents == 3 + 40 - bad, (residents, dirt)
    assert not problems, "\n".join(problems)


if __name__ == "__main__":
    run()
