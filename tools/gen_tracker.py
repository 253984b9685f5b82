#!/usr/bin/env python3
"""Writes FAKE delivery tracker data (apps/tracker) as CSV files into a
folder, one per entity, in the order `borough import` takes them:

    tools/gen_tracker.py DIR                       # 10 portfolios of 160 projects, a year of updates
    tools/gen_tracker.py DIR --portfolios 2 --projects 5 --months 3 --seed 7
    for e in portfolios group_members programmes projects milestones risks updates documents; do
      borough import tracker $e DIR/$e.csv
    done

Files: portfolios.csv, group_members.csv (a manager, manager<P>@example.org,
and four members, member<P>-<N>@example.org, of each portfolio P),
programmes.csv (three a portfolio), projects.csv (--projects a portfolio,
each in a programme or none), milestones.csv (six a project; about one in
ten past its date and not met), risks.csv (four risks and issues a
project), updates.csv (one a month for --months months up to this month,
each project's status walking between green, amber and red; about one
project in twenty has no update yet this month) and documents.csv (two
links a project). Each row has its id, so references hold. A project's
status and reason are those of its latest update.

Nothing in it is real: names are made of common words, people's names are
invented, email addresses are at example.org, links go to example.org. The
same seed gives the same files (the months count back from today).
"""
import argparse
import csv
import datetime
import os
import random

PORTFOLIOS = ["Housing", "Regeneration", "Adult social care", "Children's services", "Highways and transport",
              "Digital and data", "Climate and environment", "Leisure and culture", "Finance transformation",
              "Public health"]
THINGS = ["library", "leisure centre", "depot", "care home", "school", "bridge", "car park", "market", "park",
          "estate", "town hall", "cycle lane", "flood defence", "housing block", "contact centre", "website",
          "case system", "payments platform", "street lighting", "bus station"]
DOING = ["refurbishment", "replacement", "new build", "redesign", "move", "upgrade", "closure", "expansion",
         "review", "procurement", "retrofit", "digital service"]
FIRST = ["Alex", "Bea", "Cai", "Dee", "Eli", "Fen", "Gus", "Hana", "Ifan", "Jo", "Kit", "Lowri", "Mo", "Nia", "Olu",
         "Pat", "Rhys", "Sam", "Tal", "Vee"]
LAST = ["Ashdown", "Brook", "Cole", "Dale", "Evans", "Ford", "Gray", "Hale", "Iles", "Jones", "Kerr", "Lane", "Moss",
        "Nash", "Owen", "Price", "Reed", "Shaw", "Tate", "Wynn"]
REASONS = {
    "green": ["On track against the plan", "Milestones met this month", "Within budget and on time"],
    "amber": ["Supplier late with designs", "Costs rising with inflation", "Staff vacancies slowing work",
              "Planning decision delayed"],
    "red": ["Contractor gone into administration", "Funding not yet confirmed", "Critical milestone missed",
            "Legal challenge to the decision"],
}
RISKS = ["Contractor capacity", "Rising costs", "Planning refusal", "Data migration", "Key staff leaving",
         "Supply chain delays", "Public objections", "Legal challenge", "Weather", "Funding withdrawn"]
STEP = {"green": ["green"] * 8 + ["amber"] * 2, "amber": ["green"] * 3 + ["amber"] * 5 + ["red"] * 2,
        "red": ["amber"] * 4 + ["red"] * 6}


def month_back(today, n):
    y, m = divmod(today.year * 12 + today.month - 1 - n, 12)
    return "%04d-%02d" % (y, m + 1)


def person(rnd):
    return "%s %s" % (rnd.choice(FIRST), rnd.choice(LAST))


def write(out, name, header, rows):
    with open(os.path.join(out, name + ".csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="the folder to write into (made if need be)")
    ap.add_argument("--portfolios", type=int, default=10)
    ap.add_argument("--projects", type=int, default=160, help="projects in each portfolio")
    ap.add_argument("--months", type=int, default=12, help="months of updates, up to this month")
    ap.add_argument("--seed", type=int, default=16)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    today = datetime.date.today()
    portfolios, members, programmes, projects, milestones, risks, updates, documents = ([] for _ in range(8))
    for p in range(1, a.portfolios + 1):
        name = PORTFOLIOS[(p - 1) % len(PORTFOLIOS)] + ("" if p <= len(PORTFOLIOS) else " %d" % ((p - 1) // len(PORTFOLIOS) + 1))
        portfolios.append([p, name, "The council's %s projects." % name.lower()])
        members.append([len(members) + 1, "portfolios", p, "manager%d@example.org" % p, person(rnd), "manager"])
        for n in range(1, 5):
            members.append([len(members) + 1, "portfolios", p, "member%d-%d@example.org" % (p, n), person(rnd), "member"])
        progs = []
        for _ in range(3):
            progs.append(len(programmes) + 1)
            programmes.append([len(programmes) + 1, "%s %s programme" % (name, rnd.choice(DOING)), p, person(rnd)])
        for _ in range(a.projects):
            pid = len(projects) + 1
            start = today - datetime.timedelta(days=rnd.randint(60, 720))
            end = start + datetime.timedelta(days=rnd.randint(365, 1100))
            rag = rnd.choice(["green"] * 6 + ["amber"] * 3 + ["red"])
            missing_now = rnd.random() < 0.05
            latest = None
            for back in range(a.months - 1, -1, -1):
                if back == 0 and missing_now:
                    break
                rag = rnd.choice(STEP[rag])
                latest = (rag, rnd.choice(REASONS[rag]))
                updates.append([len(updates) + 1, pid, p, month_back(today, back), rag, latest[1],
                                "Work this month on the %s." % rnd.choice(THINGS), "Next: %s." % rnd.choice(DOING),
                                person(rnd)])
            rag, reason = latest or ("green", "")
            projects.append([pid, "%s %s %s" % (rnd.choice(THINGS).capitalize(), rnd.choice(DOING), pid), p,
                             rnd.choice(progs + [""]), person(rnd), "To improve the %s." % rnd.choice(THINGS),
                             start.isoformat(), end.isoformat(), rnd.randint(5, 500) * 10000, rag, reason])
            for k in range(6):
                due = start + (end - start) * (k + 1) // 7
                done = ""
                if due < today and rnd.random() > 0.1:
                    done = min(today, due + datetime.timedelta(days=rnd.randint(-10, 20))).isoformat()
                milestones.append([len(milestones) + 1, pid, p, "Stage %d: %s" % (k + 1, rnd.choice(DOING)),
                                   due.isoformat(), done])
            for _ in range(4):
                risks.append([len(risks) + 1, pid, p, rnd.choice(["risk", "risk", "issue"]), rnd.choice(RISKS),
                              person(rnd), rnd.choice(["high", "medium", "medium", "low"]),
                              "Mitigation agreed with the board.", rnd.choice(["open", "open", "open", "closed"])])
            for title in ("Business case", "Project plan"):
                documents.append([len(documents) + 1, pid, p, title,
                                  "https://docs.example.org/projects/%d/%s" % (pid, title.lower().replace(" ", "-"))])
    write(a.out, "portfolios", ["id", "name", "description"], portfolios)
    write(a.out, "group_members", ["id", "kind", "group_id", "email", "name", "level"], members)
    write(a.out, "programmes", ["id", "name", "portfolio", "sro"], programmes)
    write(a.out, "projects", ["id", "name", "portfolio", "programme", "manager", "summary", "start_on", "end_on",
                              "budget", "rag", "rag_reason"], projects)
    write(a.out, "milestones", ["id", "project", "portfolio", "title", "due_on", "done_on"], milestones)
    write(a.out, "risks", ["id", "project", "portfolio", "kind", "title", "owner", "severity", "action", "status"], risks)
    write(a.out, "updates", ["id", "project", "portfolio", "month", "rag", "rag_reason", "progress", "next_steps",
                             "author"], updates)
    write(a.out, "documents", ["id", "project", "portfolio", "title", "url"], documents)


if __name__ == "__main__":
    main()
