#!/usr/bin/env python3
"""Writes a FAKE shielding list as CSV on stdout, like the lists councils
received of residents advised to shield, for benchmarks and demos.

    tools/gen_shielding.py 23000 > shielding.csv
    tools/gen_shielding.py 1000000 --seed 7 > big.csv

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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rows", type=int)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    out = csv.writer(sys.stdout, lineterminator="\r\n")
    out.writerow(["NHS Number", "First Name", "Last Name", "Date of Birth", "Address", "Postcode",
                  "Phone", "Email", "Category", "Needs Food", "Notes"])
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
        out.writerow([nhs[:3] + " " + nhs[3:6] + " " + nhs[6:], first, last, dob, address, postcode, phone,
                      email, rng.choice(CATEGORIES), rng.choice(["yes", "no"]), rng.choice(NOTES)])


if __name__ == "__main__":
    main()
