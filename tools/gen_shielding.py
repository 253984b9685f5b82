#!/usr/bin/env python3
"""Writes a FAKE shielding list as CSV on stdout, like the lists councils
received of residents advised to shield, for benchmarks and demos.

    tools/gen_shielding.py 23000 > shielding.csv
    tools/gen_shielding.py 1000000 --seed 7 > big.csv
    tools/gen_shielding.py 500 --dirty 0.1 --report > dirty.csv

Columns: NHS Number, First Name, Last Name, Date of Birth, Address,
Postcode, Phone, Email, Category, Needs Food, Notes, Flags (the government
list's: NHS number, name, date of birth, address, postcode, phone, flags).

--dirty RATE makes about that share of the rows dirty, as real lists were,
each in one of these ways (--report prints how many of each on stderr):
  bad_nhs       an NHS number whose check digit is wrong     (rejected)
  no_postcode   the postcode left empty                      (rejected if required)
  duplicate     a row repeated, same NHS number              (rejected if unique)
  latin1        a name with an accent saved as Latin-1 bytes (rejected: not UTF-8)
  smart_quotes  O’Brien with a curly apostrophe (UTF-8) (kept)
  whitespace    stray spaces and tabs around values          (kept, trimmed)
Which rows are dirty, and how, depends on the seed alone, and the clean
rows are the same with or without --dirty.

Nothing in it is real personal data:
  - names are drawn at random from common first names and surnames;
  - NHS numbers start with 9, a range the NHS does not issue to patients
    (999 is its published test range), and carry a valid check digit;
  - telephone numbers are in Ofcom's ranges reserved for drama
    (07700 900xxx, 01632 960xxx), emails are at example.com/.org/.net;
  - postcodes have real shapes with made-up districts and streets.
The same seed gives the same file.
"""
import argparse
import csv
import io
import random
import sys

FIRST = ("Oliver Amelia George Isla Harry Ava Noah Mia Jack Ivy Leo Lily Arthur Isabella Muhammad Rosie "
         "Oscar Sophia Charlie Grace Jacob Freya Thomas Florence Henry Willow William Emily Alfie Ella "
         "Joshua Poppy Freddie Evie Archie Elsie Theo Charlotte Ethan Evelyn Isaac Sienna Alexander "
         "Sofia Joseph Daisy Edward Phoebe Samuel Alice Max Harper Daniel Sophie Arlo Matilda Lucas "
         "Ruby Mohammed Emilia Logan Maya Teddy Millie James Eva Sebastian Luna Finley Layla Adam "
         "Esme Dylan Aria Reggie Violet Harrison Jessica Hunter Margaret Dorothy Maureen Brian Keith "
         "Sandra Pauline Derek Barbara Colin Jean Gwen Dafydd Siobhan Aled Morag Angus Priya Sanjay "
         "Aisha Bilal Ngozi Chidi Kwame Agnieszka Tomasz Stefan Ana").split()
LAST = ("Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson "
        "Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner "
        "Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott "
        "Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson "
        "Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan Marshall Anderson Simpson Ellis "
        "Adams Singh Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali Hunt Hussain "
        "Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker Fisher "
        "Stevens Jenkins Murray Dixon Harvey Graham Pearson Ahmed Fletcher Walsh Kaur Gibson Howard "
        "Andrews Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks West Lawrence Cole "
        "Atkinson Bradley Spencer Gill Dawson Ball Burton O'Brien Watts Rose Booth Perry Ryan Grant Wells "
        "Armstrong Francis Rees Hayes Hart Hudson Newman Barrett Webster Hunter Gregory Carr Lowe "
        "Nowak Kowalski Okafor Mensah Nguyen Chen Wong Oyelaran Da Silva").split()
STREETS = ("High Street, Station Road, Church Lane, Victoria Road, Green Lane, Manor Road, Park Avenue, "
           "Queens Road, New Road, Mill Lane, Kings Road, School Lane, The Crescent, Albert Street, "
           "Chapel Street, Orchard Close, Meadow View, Castle Street, Brook Lane, Elm Grove").split(", ")
TOWNS = "LS BD HX WF HD S DN YO HG BB M OL SK WA".split()
LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
CATEGORIES = ["clinically extremely vulnerable", "clinically vulnerable", "other"]
FLAGS = ["", "", "", "lives alone", "no phone", "carer", "dietary needs", "mobility", "lives alone; mobility",
         "hearing impaired", "carer; dietary needs"]
ACCENTED = ["Zo\u00eb", "Si\u00e2n", "Chlo\u00e9", "Ren\u00e9e", "Se\u00e1n", "Bj\u00f6rn", "Jos\u00e9"]
DIRT = ["bad_nhs", "no_postcode", "duplicate", "latin1", "smart_quotes", "whitespace"]
NOTES = ["", "", "", "Lives alone.", "Carer visits on Tuesdays.", "Prefers a phone call, not a letter.",
         "Needs large print.", "Deliveries to the side door, please.", "Has a guide dog.\nBark is worse than bite."]


def nhs_numbers(rng, n):
    """n distinct fake NHS numbers (starting with 9), each with a valid
    modulus 11 check digit."""
    seen = set()
    while len(seen) < n:
        base = rng.randrange(900_000_000, 1_000_000_000)
        if base in seen:
            continue
        digits = str(base)
        total = sum(int(d) * (10 - i) for i, d in enumerate(digits))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check == 10:
            continue
        seen.add(base)
        yield digits + str(check)


def bad_check_digit(nhs):
    """The same NHS number with a check digit that is wrong."""
    return nhs[:9] + str((int(nhs[9]) + 1) % 10)     # a number has one right check digit


def dirty(row, kind, rng, earlier):
    """row (a list of fields) spoiled in one way; returns it and its encoding."""
    if kind == "bad_nhs":
        digits = row[0].replace(" ", "")
        row[0] = bad_check_digit(digits)
    elif kind == "no_postcode":
        row[5] = ""
    elif kind == "duplicate" and earlier:
        row = list(rng.choice(earlier))
    elif kind == "latin1":
        row[1] = rng.choice(ACCENTED)
        return row, "latin-1"
    elif kind == "smart_quotes":
        row[2] = "O\u2019Brien"
        row[10] = "\u201cPlease ring first\u201d \u2013 daughter\u2019s number on file"
    elif kind == "whitespace":
        row[1] = "  " + row[1] + "\t"
        row[2] = row[2] + "   "
        row[0] = " " + row[0] + " "
        row[5] = row[5].lower() + " "
    return row, "utf-8"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rows", type=int)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--dirty", type=float, default=0.0, metavar="RATE",
                    help="share of rows made dirty (0 to 1), in the ways listed above")
    ap.add_argument("--report", action="store_true", help="print how many rows of each kind of dirt on stderr")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    extra = random.Random(args.seed * 7919 + 1)     # flags and dirt: the clean rows stay as they were
    counts = {k: 0 for k in DIRT}
    earlier = []
    out = sys.stdout.buffer
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")

    def put(row, encoding="utf-8"):
        writer.writerow(row)
        out.write(text.getvalue().encode(encoding))
        text.seek(0)
        text.truncate()

    put(["NHS Number", "First Name", "Last Name", "Date of Birth", "Address", "Postcode",
         "Phone", "Email", "Category", "Needs Food", "Notes", "Flags"])
    for nhs in nhs_numbers(rng, args.rows):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        dob = "%02d/%02d/%d" % (rng.randint(1, 28), rng.randint(1, 12), rng.randint(1925, 2005))
        address = "%d %s" % (rng.randint(1, 240), rng.choice(STREETS))
        postcode = "%s%d %d%s%s" % (rng.choice(TOWNS), rng.randint(1, 29), rng.randint(0, 9),
                                    rng.choice(LETTERS), rng.choice(LETTERS))
        if rng.random() < 0.6:
            phone = "07700 900%03d" % rng.randint(0, 999)
        else:
            phone = "01632 960%03d" % rng.randint(0, 999)
        email = "" if rng.random() < 0.3 else "%s.%s%d@example.%s" % (
            first.lower(), last.lower().replace("'", ""), rng.randint(1, 99), rng.choice(["com", "org", "net"]))
        row = [nhs[:3] + " " + nhs[3:6] + " " + nhs[6:], first, last, dob, address, postcode, phone,
               email, rng.choice(CATEGORIES), rng.choice(["yes", "no"]), rng.choice(NOTES), extra.choice(FLAGS)]
        encoding = "utf-8"
        if args.dirty > 0 and extra.random() < args.dirty:
            kind = extra.choice(DIRT)
            if kind == "duplicate" and not earlier:
                kind = "bad_nhs"
            counts[kind] += 1
            row, encoding = dirty(row, kind, extra, earlier)
        elif len(earlier) < 1000:
            earlier.append(row)
        put(row, encoding)
    if args.report:
        sys.stderr.write(" ".join("%s=%d" % (k, counts[k]) for k in DIRT) + "\n")


if __name__ == "__main__":
    main()
