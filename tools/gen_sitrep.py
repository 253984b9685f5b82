#!/usr/bin/env python3
"""Writes FAKE situation report data for apps/sitrep's tests, benchmarks and
demos: a folder of CSV files that `borough import sitrep <entity> <file>`
reads, in this order:

    tools/gen_sitrep.py OUT                      # 35 departments, 500 managers, 50 measures, 12,000 updates
    tools/gen_sitrep.py OUT --updates 100000 --seed 3
    for e in departments members measures updates answers; do
      borough import sitrep $e OUT/$e.csv
    done

departments.csv  id, Name, Directorate
members.csv      id, Name, Email, Department (each manager in one department,
                 one in five in a second too)
measures.csv     id, Department, Question, Answer (number, rag, yes_no, text),
                 Which is better, Amber at, Red at: every department has at
                 least one; numbers have thresholds in the direction that is good
updates.csv      id, Department, Date, Sent at, Late, Sent by, Rating,
                 Escalation, Issue: one a day from each department, going
                 back from --today (default: today) until --updates are made;
                 about one in twenty days a department sends none (missing),
                 one in ten sends after the 16:00 deadline (late), and about
                 one update in thirty escalates an issue to Silver or Gold
answers.csv      id, Update, Measure, Date, Number, Text, Rating: one per
                 measure of the update's department, rated as the app rates

Nothing in it is real: names are made of common first names and surnames,
addresses are at example.org, issues are made of stock phrases. The same
seed gives the same files. Times are UTC (the deadline is taken as 16:00
UTC, near enough for fake data).
"""
import argparse
import csv
import datetime
import os
import random

FIRST = ["Aled", "Amara", "Ben", "Cerys", "Dev", "Eleri", "Femi", "Gwen", "Hamza", "Iolo", "Jas", "Kemi", "Lena",
         "Macsen", "Nia", "Omar", "Priya", "Rhys", "Sian", "Tomos", "Uma", "Wil", "Yusuf", "Zara"]
LAST = ["Ahmed", "Bevan", "Clarke", "Davies", "Evans", "Fisher", "Griffiths", "Hughes", "Islam", "Jones", "Khan",
        "Lewis", "Morgan", "Nolan", "Owen", "Patel", "Price", "Roberts", "Singh", "Thomas", "Walsh", "Williams"]
SERVICES = ["Adult social care", "Children's services", "Libraries", "Waste collection", "Street cleansing",
            "Housing repairs", "Homelessness", "Council tax", "Benefits", "Parks", "Leisure centres",
            "Registrars", "Bereavement services", "Highways", "Parking", "Planning", "Building control",
            "Environmental health", "Trading standards", "Licensing", "Schools admissions", "Home to school transport",
            "Early years", "Youth services", "Public health", "Contact centre", "Customer services",
            "Digital services", "IT", "HR", "Payroll", "Procurement", "Legal services", "Democratic services",
            "Emergency planning", "Community safety", "Economic development", "Housing allocations",
            "Occupational therapy", "Reablement"]
DIRECTORATES = ["People", "Place", "Resources", "Communities"]
NUMBERS = [("Staff absent today", "lower", 5, 10), ("Staff self-isolating", "lower", 3, 8),
           ("Calls waiting at noon", "lower", 20, 50), ("Cases waiting more than a week", "lower", 30, 60),
           ("Rounds completed (%)", "higher", 90, 75), ("Days of PPE in stock", "higher", 14, 7),
           ("Volunteers available", "higher", 10, 5), ("Visits made yesterday", "higher", 40, 20)]
OTHERS = [("Overall service status", "rag", ""), ("Are all sites open", "yes_no", "yes"),
          ("Is business continuity plan in use", "yes_no", "no"), ("Anything else command should know", "text", "")]
ISSUES = ["Staff shortage on the late shift", "PPE delivery delayed", "Two sites closed after positive tests",
          "Agency cover not available", "Vehicle fleet short of drivers", "Demand up sharply since Monday"]


def rate(kind, good, amber, red, number, text):
    if kind == "number":
        if good == "lower":
            return "red" if number >= red else "amber" if number >= amber else "green"
        return "red" if number <= red else "amber" if number <= amber else "green"
    if kind == "rag":
        return text
    if kind == "yes_no":
        return "green" if text == good else "red"
    return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--departments", type=int, default=35)
    ap.add_argument("--managers", type=int, default=500)
    ap.add_argument("--measures", type=int, default=50)
    ap.add_argument("--updates", type=int, default=12000)
    ap.add_argument("--today", default=datetime.date.today().isoformat())
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    ndept = min(a.departments, len(SERVICES) * 10)

    def writer(name, header):
        f = open(os.path.join(a.out, name + ".csv"), "w", newline="", encoding="utf-8")
        w = csv.writer(f)
        w.writerow(header)
        return f, w

    f, w = writer("departments", ["id", "Name", "Directorate"])
    for d in range(1, ndept + 1):
        name = SERVICES[(d - 1) % len(SERVICES)] + ("" if d <= len(SERVICES) else " %d" % ((d - 1) // len(SERVICES) + 1))
        w.writerow([d, name, DIRECTORATES[d % len(DIRECTORATES)]])
    f.close()

    f, w = writer("members", ["id", "Name", "Email", "Department"])
    mid, people = 0, {}
    for p in range(1, a.managers + 1):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        email = "%s.%s%d@example.org" % (first.lower(), last.lower(), p)
        depts = [(p - 1) % ndept + 1]
        if rnd.random() < 0.2:
            depts.append(rnd.randint(1, ndept))
        for d in sorted(set(depts)):
            mid += 1
            w.writerow([mid, first + " " + last, email, d])
            people.setdefault(d, []).append(first + " " + last)
    f.close()

    f, w = writer("measures", ["id", "Department", "Question", "Answer", "Which is better", "Amber at", "Red at"])
    measures = {}
    for i in range(1, a.measures + 1):
        d = i if i <= ndept else rnd.randint(1, ndept)
        asked = {m[5] for m in measures.get(d, [])}
        if rnd.random() < 0.6:
            q, good, amber, red = rnd.choice([n for n in NUMBERS if n[0] not in asked] or NUMBERS)
            m = (i, "number", good, amber, red, q)
            w.writerow([i, d, q, "number", good, amber, red])
        else:
            q, kind, good = rnd.choice([o for o in OTHERS if o[0] not in asked] or OTHERS)
            m = (i, kind, good, None, None, q)
            w.writerow([i, d, q, kind, good, "", ""])
        measures.setdefault(d, []).append(m)
    f.close()

    fu, wu = writer("updates", ["id", "Department", "Date", "Sent at", "Late", "Sent by", "Rating", "Escalation",
                                "Issue"])
    fa, wa = writer("answers", ["id", "Update", "Measure", "Date", "Number", "Text", "Rating"])
    today = datetime.date.fromisoformat(a.today)
    uid = aid = 0
    day = 0
    while uid < a.updates:
        date = (today - datetime.timedelta(days=day)).isoformat()
        for d in range(1, ndept + 1):
            if uid >= a.updates:
                break
            if rnd.random() < 0.05:
                continue                                   # missing
            late = rnd.random() < 0.1
            hour = rnd.randint(16, 19) if late else rnd.randint(8, 15)
            sent_at = "%sT%02d:%02d:00Z" % (date, hour, rnd.randint(0, 59) if hour > 16 or not late else rnd.randint(1, 59))
            uid += 1
            ratings = []
            for (mid_, kind, good, amber, red, q) in measures.get(d, []):
                aid += 1
                number, text = "", ""
                if kind == "number":
                    centre = amber if good == "lower" else amber + 5
                    number = max(0, int(rnd.gauss(centre * 0.8 if good == "lower" else centre, max(2, centre / 4))))
                    if "%" in q:
                        number = min(100, number)
                elif kind == "rag":
                    text = rnd.choices(["green", "amber", "red"], [7, 2, 1])[0]
                elif kind == "yes_no":
                    text = rnd.choices([good, "no" if good == "yes" else "yes"], [9, 1])[0]
                else:
                    text = rnd.choice(["", "", "Nothing new", "Quieter than usual"])
                r = rate(kind, good, amber, red, number, text)
                ratings.append(r)
                wa.writerow([aid, uid, mid_, date, number, text, r])
            order = {"red": 3, "amber": 2, "green": 1, "": 0}
            worst = max(ratings, key=lambda x: order[x]) if ratings else ""
            esc = rnd.choices(["none", "silver", "gold"], [96, 3, 1])[0]
            wu.writerow([uid, d, date, sent_at, "yes" if late else "no", rnd.choice(people.get(d, ["A Manager"])),
                         worst, esc, rnd.choice(ISSUES) if esc != "none" else ""])
        day += 1
    fu.close()
    fa.close()


if __name__ == "__main__":
    main()
