#!/usr/bin/env python3
"""Writes FAKE grants data as CSV on stdout, for apps/grants's tests,
benchmarks and demos: a council's business rates list, or applications.

    tools/gen_grants.py rates 3800 > rates.csv
    tools/gen_grants.py rates 500 --dirty 0.1 --report > dirty-rates.csv
    tools/gen_grants.py applications 10000 --scheme 2 > applications.csv

rates: Account reference, Business name, Address, Postcode, Rateable value,
Property type, Email, Mobile (what apps/grants's upload page and
`borough import grants businesses` read). About four in five rateable
values are under £15,000, most others under £51,000, a few above.

applications: Reference, Scheme, State, Business name, Business rates
account reference, Full name, Address, Postcode, Email address, Telephone
number, Name on the account, Sort code, Account number, Amount, Submitted
at (`borough import grants applications` reads them, for a scheme that
exists: --scheme ID). States are mostly submitted, some being assessed,
approved, rejected or paid.

--dirty RATE makes about that share of the rows dirty, each in one of these
ways (--report prints how many of each on stderr):
  rates:         no_name, bad_postcode, bad_value, bad_email, latin1 (each
                 rejected, by line), duplicate (an account reference again:
                 an import with a key updates the first, never adds one),
                 whitespace (kept, trimmed)
  applications:  bad_sort_code, bad_account, bad_postcode, latin1 (rejected),
                 whitespace (kept)
Which rows are dirty, and how, depends on the seed alone; the clean rows
are the same with or without --dirty.

Nothing in it is real: business names are made of common words, account
references start with 6 and are made up, emails are at example.com, mobile
numbers in Ofcom's drama range (07700 900xxx), postcodes have real shapes
with made-up districts, sort codes start 40-9 (not a bank's), and account
numbers are random. The same seed gives the same file.
"""
import argparse
import csv
import io
import random
import sys

WORDS = ("Corner Bakery Tea Room Florist Barber Kebab Bookshop Hardware Chippy Launderette Newsagent Deli "
         "Garage Pet Shop Bike Works Nail Bar Cafe Butcher Pharmacy Fabrics Antiques Gallery Brewery Inn Arms "
         "Hotel Guest House Gym Studio Tailor Cobbler Market Stall Print Shop Toy Shop Music Grocer").split()
NAMES = ("Ada Bryn Cara Dev Elin Femi Gwyn Hana Ivor Jude Kit Lola Mo Nia Omar Priya Quinn Rhys Sam Tariq Uma "
         "Vic Wren Yusuf Zara").split()
SURNAMES = "Smith Jones Patel Khan Evans Wright Okafor Nguyen Kowalski Hughes Begum Murphy Reid Shah".split()
STREETS = ("High Street, Station Road, Church Lane, Market Place, Mill Lane, Bridge Street, Castle Street, "
           "King Street, North Parade, Albion Street, Briggate, Kirkgate, Call Lane").split(", ")
TOWNS = "LS BD HX WF HD".split()
LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
TYPES = ["Shop", "Cafe", "Restaurant", "Pub", "Hotel", "Office", "Workshop", "Gym", "Hairdresser", "Warehouse"]
ACCENTED = ["Caf\u00e9 Ren\u00e9e", "Cr\u00eaperie", "S\u00e9ance Salon", "Pi\u00f1ata World"]
RATES_DIRT = ["no_name", "bad_postcode", "bad_value", "bad_email", "latin1", "duplicate", "whitespace"]
APP_DIRT = ["bad_sort_code", "bad_account", "bad_postcode", "latin1", "whitespace"]
STATES = ["submitted"] * 6 + ["assessing", "assessing", "approved", "rejected", "paid"]


def postcode(rng):
    return "%s%d %d%s%s" % (rng.choice(TOWNS), rng.randint(1, 29), rng.randint(0, 9), rng.choice(LETTERS),
                            rng.choice(LETTERS))


def business(rng):
    return "%s's %s" % (rng.choice(NAMES), rng.choice(WORDS)) if rng.random() < 0.5 else \
        "%s %s" % (rng.choice(STREETS).split()[0], rng.choice(WORDS))


def rateable_value(rng):
    r = rng.random()
    if r < 0.8:
        return rng.randint(1500, 15000)
    if r < 0.97:
        return rng.randint(15001, 51000)
    return rng.randint(51001, 250000)


def rates_rows(rng, extra, n, rate, counts):
    yield ["Account reference", "Business name", "Address", "Postcode", "Rateable value", "Property type", "Email",
           "Mobile"], "utf-8"
    earlier = []
    for i in range(n):
        ref = "6%07d" % (i + 1)
        name = business(rng)
        email = "" if rng.random() < 0.1 else "owner%d@example.com" % (i + 1)
        mobile = "07700 900%03d" % rng.randint(0, 999) if rng.random() < 0.7 else ""
        row = [ref, name, "%d %s" % (rng.randint(1, 300), rng.choice(STREETS)), postcode(rng),
               "%d" % rateable_value(rng), rng.choice(TYPES), email, mobile]
        encoding = "utf-8"
        if rate > 0 and extra.random() < rate:
            kind = extra.choice(RATES_DIRT)
            if kind == "duplicate" and not earlier:
                kind = "no_name"
            counts[kind] += 1
            if kind == "no_name":
                row[1] = ""
            elif kind == "bad_postcode":
                row[3] = "XX%d" % extra.randint(1, 9)
            elif kind == "bad_value":
                row[4] = "twelve thousand"
            elif kind == "bad_email":
                row[6] = "owner at example dot com"
            elif kind == "latin1":
                row[1] = extra.choice(ACCENTED)
                encoding = "latin-1"
            elif kind == "duplicate":
                row = list(extra.choice(earlier))
            elif kind == "whitespace":
                row = [" " + v + "\t" for v in row]
        elif len(earlier) < 1000:
            earlier.append(row)
        yield row, encoding


def references(rng, n):
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    seen = set()
    while len(seen) < n:
        ref = "".join(rng.choice(letters) for _ in range(3)) + "%04d" % rng.randint(0, 9999) + rng.choice(letters)
        if ref not in seen:
            seen.add(ref)
            yield ref


def application_rows(rng, extra, n, rate, counts, scheme):
    yield ["Reference", "Scheme", "State", "Business name", "Business rates account reference", "Full name", "Address",
           "Postcode", "Email address", "Telephone number", "Name on the account", "Sort code", "Account number",
           "Amount", "Submitted at"], "utf-8"
    for i, ref in enumerate(references(rng, n)):
        name = "%s %s" % (rng.choice(NAMES), rng.choice(SURNAMES))
        state = rng.choice(STATES)
        row = [ref, str(scheme), state, business(rng), "6%07d" % rng.randint(1, 999999), name,
               "%d %s" % (rng.randint(1, 300), rng.choice(STREETS)), postcode(rng),
               "applicant%d@example.com" % (i + 1), "07700 900%03d" % rng.randint(0, 999), name,
               "40-%02d-%02d" % (rng.randint(90, 99), rng.randint(0, 99)), "%08d" % rng.randint(0, 99999999),
               "" if state in ("submitted", "assessing", "rejected") else "10000",
               "2020-%02d-%02dT%02d:%02d:00Z" % (rng.randint(4, 9), rng.randint(1, 28), rng.randint(8, 18),
                                                 rng.randint(0, 59))]
        encoding = "utf-8"
        if rate > 0 and extra.random() < rate:
            kind = extra.choice(APP_DIRT)
            counts[kind] += 1
            if kind == "bad_sort_code":
                row[11] = "40-9"
            elif kind == "bad_account":
                row[12] = "1234"
            elif kind == "bad_postcode":
                row[7] = "NOWHERE"
            elif kind == "latin1":
                row[3] = extra.choice(ACCENTED)
                encoding = "latin-1"
            elif kind == "whitespace":
                row = [" " + v + " " for v in row]
        yield row, encoding


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=["rates", "applications"])
    ap.add_argument("rows", type=int)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--scheme", type=int, default=1, help="applications: the id of the scheme they are for")
    ap.add_argument("--dirty", type=float, default=0.0, metavar="RATE",
                    help="share of rows made dirty (0 to 1), in the ways listed above")
    ap.add_argument("--report", action="store_true", help="print how many rows of each kind of dirt on stderr")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    extra = random.Random(args.seed * 7919 + 1)     # the dirt: the clean rows stay as they were
    kinds = RATES_DIRT if args.kind == "rates" else APP_DIRT
    counts = {k: 0 for k in kinds}
    rows = rates_rows(rng, extra, args.rows, args.dirty, counts) if args.kind == "rates" else \
        application_rows(rng, extra, args.rows, args.dirty, counts, args.scheme)
    out = sys.stdout.buffer
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    for row, encoding in rows:
        writer.writerow(row)
        out.write(text.getvalue().encode(encoding))
        text.seek(0)
        text.truncate()
    if args.report:
        sys.stderr.write(" ".join("%s=%d" % (k, counts[k]) for k in kinds) + "\n")


if __name__ == "__main__":
    main()
