#!/usr/bin/env python3
"""End-to-end tests of entities (lua/borough/entity.lua, fields.lua) against
the real server: every field type's reading of good and bad values with the
exact GOV.UK-style messages, required/unique/reference constraints, create,
find, where (conditions, order, pages), count, search, update, delete, how
NULL maps to Lua and JSON, and the audit trail each write leaves.

The app under test exposes its entities over small JSON routes; each test
starts its own server and checks exact bodies.
"""
import json
import random
import os
import sqlite3
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, Server, Client, query, execute  # noqa: E402
import pglib  # noqa: E402


def lua(text):
    return textwrap.dedent(text).lstrip("\n")


MODELS = lua('''
    local M = {}

    M.owners = borough.entity "owners" {
      { "name", "text", required = true },
    }

    M.forms = borough.entity "forms" {
      label = "form",
      { "name", "text", required = true, max_length = 10 },
      { "code", "text", pattern = "^%u%u%d%d$", messages = { pattern = "Enter a code like AB12" } },
      { "story", "long_text", min_length = 5 },
      { "age", "integer", min = 18, max = 120 },
      { "score", "number", min = 0 },
      { "grant", "money", max = "£25,000" },
      { "agreed", "boolean" },
      { "born", "date", max = "today" },
      { "starts", "date", min = "2024-01-01", max = "2024-12-31" },
      { "seen_at", "datetime" },
      { "email", "email" },
      { "phone", "phone" },
      { "postcode", "postcode" },
      { "nhs", "nhs_number", label = "NHS number" },
      { "sort_code", "sort_code" },
      { "account", "account_number" },
      { "colour", "choice", options = { "red", "green" } },
      { "owner", "reference", to = "owners" },
      { "letter", "file" },
      { "even", "integer", validate = function(v) if v % 2 == 1 then return "Even must be an even number" end end },
    }

    M.patients = borough.entity "patients" {
      label = "patient",
      search = { "first_name", "last_name" },
      { "nhs_number", "nhs_number", required = true, unique = true, label = "NHS number" },
      { "first_name", "text", required = true },
      { "last_name", "text", required = true },
      { "age", "integer" },
      { "phone", "phone" },
      { "shielding", "boolean" },
      { "owner", "reference", to = "owners" },
      validate = function(r)
        if r.first_name == r.last_name then return { last_name = "Last name must differ from first name" } end
      end,
    }

    return M
''')

APP = lua('''
    local app = borough.app { title = "Data", mount = "/data", public = true }
    local m = require "models"

    local function body(req) return json.decode(req.body) end
    local function reply(record, errors)
      if record then return borough.json(record) end
      return borough.json({ errors = errors }, 422)
    end

    -- One field checked alone: {field =, value =} -> {value =} | {error =}
    app:post("/check", { csrf = false }, function(req)
      local b = body(req)
      local values = { name = "x" }
      if b.field == "name" then values.name = nil end
      values[b.field] = b.value
      local clean, errors = m.forms:validate(values)
      if clean then return borough.json({ value = clean[b.field] == nil and json.null or clean[b.field] }) end
      return borough.json({ error = errors[b.field] or errors[1].message })
    end)

    -- Each {field, value} read by both ways validate reads a field: a new
    -- record's (in C where it can, core/lfields.c) and an update's (in Lua
    -- alone); answers those where they differ.
    app:post("/agree", { csrf = false }, function(req)
      local differ = json.array({})
      for _, case in ipairs(body(req)) do
        local values = { name = "x", [case[1]] = case[2] }
        local a, a_errors = m.forms:validate(values)
        local b, b_errors = m.forms:validate(values, { id = -1 })
        local va, vb = a and a[case[1]], b and b[case[1]]
        local ea, eb = a_errors and a_errors[case[1]], b_errors and b_errors[case[1]]
        if va ~= vb or ea ~= eb then
          differ[#differ + 1] = { case[1], case[2], tostring(va), tostring(vb), tostring(ea), tostring(eb) }
        end
      end
      return borough.json(differ)
    end)

    app:post("/:entity", { csrf = false }, function(req)
      local E = m[req.params.entity]
      return reply(E:create(body(req)))
    end)
    app:post("/:entity/:id", { csrf = false }, function(req)
      return reply(m[req.params.entity]:update(req.params.id, body(req)))
    end)
    app:delete("/:entity/:id", { csrf = false }, function(req)
      local ok, why = m[req.params.entity]:delete(req.params.id)
      if ok then return borough.json({ deleted = true, request = req.id }) end
      return borough.json({ error = why }, 409)
    end)
    app:get("/:entity/:id", function(req)
      local r = m[req.params.entity]:find(req.params.id)
      if not r then return borough.status(404) end
      return borough.json(r)
    end)
    app:get("/:entity/:id/history", function(req)
      return borough.json(m[req.params.entity]:history(req.params.id))
    end)
    -- where: ?q=<json conditions>&o=<json options>
    app:get("/:entity", function(req)
      local E = m[req.params.entity]
      local conds = req.query.q and json.decode(req.query.q) or {}
      local opts = req.query.o and json.decode(req.query.o) or {}
      for k, v in pairs(conds) do if v == "NULL" then conds[k] = db.NULL end end
      local list, page = E:where(conds, opts)
      local ids = json.array({})
      for i, r in ipairs(list) do ids[i] = r.id end
      return borough.json({ ids = ids, page = page, count = E:count(conds) })
    end)
    app:get("/search/:entity", function(req)
      local list, page = m[req.params.entity]:search(req.query.q, { page = req.query.page, per_page = 2 })
      local ids = json.array({})
      for i, r in ipairs(list) do ids[i] = r.id end
      return borough.json({ ids = ids, more = page.more, ranked = page.ranked })
    end)
    app:post("/import/:entity", { csrf = false, max_body = 4 * 1024 * 1024 }, function(req)
      local summary, err = m[req.params.entity]:import(req.body)
      return borough.json(summary or { error = err })
    end)
    -- How NULL looks in Lua: absent keys, and db.NULL is json.null.
    app:get("/null/:id", function(req)
      local r = m.patients:find(req.params.id)
      local row = db.one("SELECT * FROM patients WHERE id = ?", r.id)
      return borough.json({ phone_is_nil = r.phone == nil, row_has_phone = row.phone ~= nil,
                            same_sentinel = db.NULL == json.null, shielding = r.shielding })
    end)
    return app
''')


def app_files():
    return {"data": {"app.lua": APP, "models.lua": MODELS}}


def call(port, method, path, value=None):
    c = Client(port)
    try:
        body = json.dumps(value) if value is not None else b""
        r = c.request(method, path, {"Content-Type": "application/json"}, body)
        return r.status, (json.loads(r.body) if r.body and r.header("content-type") == "application/json" else r.body)
    finally:
        c.close()


def check(port, field, value):
    status, body = call(port, "POST", "/data/check", {"field": field, "value": value})
    assert status == 200, (status, body)
    return body


# Each case: field, input, and either ("value", stored) or ("error", message).
FIELD_CASES = [
    ("name", "  Ada  ", "value", "Ada"),
    ("name", "", "error", "Enter name"),
    ("name", "   ", "error", "Enter name"),
    ("name", "abcdefghijk", "error", "Name must be 10 characters or less"),
    ("name", "two\nlines", "error", "Name must be on one line"),
    ("name", "bell\u0007", "error", "Name must only include letters, numbers and symbols"),
    ("code", "AB12", "value", "AB12"),
    ("code", "ab12", "error", "Enter a code like AB12"),
    ("story", "Once upon\r\na time", "value", "Once upon\na time"),
    ("story", "Hi", "error", "Story must be 5 characters or more"),
    ("age", "42", "value", 42),
    ("age", 42, "value", 42),
    ("age", " 1,00 ", "value", 100),
    ("age", "4.5", "error", "Age must be a whole number"),
    ("age", "17", "error", "Age must be between 18 and 120"),
    ("age", "121", "error", "Age must be between 18 and 120"),
    ("score", "3.25", "value", 3.25),
    ("score", "1,234.5", "value", 1234.5),
    ("score", "-1", "error", "Score must be 0 or more"),
    ("score", "lots", "error", "Score must be a number"),
    ("grant", "£1,250.50", "value", 125050),
    ("grant", "12", "value", 1200),
    ("grant", "0.5", "value", 50),
    ("grant", 150, "value", 150),
    ("grant", "12.345", "error", "Grant must be an amount of money, like 150 or 150.50"),
    ("grant", "£30,000", "error", "Grant must be £25,000 or less"),
    ("agreed", "yes", "value", True),
    ("agreed", "No", "value", False),
    ("agreed", True, "value", True),
    ("agreed", "maybe", "error", "Agreed must be yes or no"),
    ("born", "1/4/2001", "value", "2001-04-01"),
    ("born", "2001-04-01", "value", "2001-04-01"),
    ("born", "29 2 2000", "value", "2000-02-29"),
    ("born", {"day": "7", "month": "3", "year": "1999"}, "value", "1999-03-07"),
    ("born", "29/2/2001", "error", "Born must be a real date"),
    ("born", "2001-02-30", "error", "Born must be a real date"),
    ("born", "yesterday", "error", "Born must be a real date"),
    ("born", "31/12/2999", "error", "Born must be today or in the past"),
    ("born", {"day": "7", "month": "", "year": "1999"}, "error", "Born must include a month"),
    ("born", {"day": "", "month": "", "year": "1999"}, "error", "Born must include a day and month"),
    ("born", {"day": "7", "month": "3", "year": "99"}, "error", "Born must include a year with 4 numbers"),
    ("starts", "2025-01-01", "error", "Starts must be between 1 January 2024 and 31 December 2024"),
    ("seen_at", "2024-07-01 10:30", "value", "2024-07-01T09:30:00Z"),          # British Summer Time
    ("seen_at", "2024-01-15 10:30", "value", "2024-01-15T10:30:00Z"),          # GMT
    ("seen_at", "2024-01-15T10:30:00+01:00", "value", "2024-01-15T09:30:00Z"),
    ("seen_at", "2024-01-15T10:30:05Z", "value", "2024-01-15T10:30:05Z"),
    ("seen_at", "2024-13-01 10:00", "error", "Seen at must be a real date and time"),
    ("email", " Ada@Example.com ", "value", "Ada@Example.com"),
    ("email", "ada@example", "error", "Enter an email address in the correct format, like name@example.com"),
    ("email", "ada..l@example.com", "error", "Enter an email address in the correct format, like name@example.com"),
    ("email", "ada @example.com", "error", "Enter an email address in the correct format, like name@example.com"),
    ("email", "a@b@example.com", "error", "Enter an email address in the correct format, like name@example.com"),
    ("phone", "+44 (0)7700 900982", "value", "07700900982"),
    ("phone", "0044 7700 900982", "value", "07700900982"),
    ("phone", "01632 960 001", "value", "01632960001"),
    ("phone", "12345", "error", "Enter a telephone number, like 01632 960 001, 07700 900 982 or +44 808 157 0192"),
    ("phone", "+1 212 555 0100", "error", "Enter a telephone number, like 01632 960 001, 07700 900 982 or +44 808 157 0192"),
    ("postcode", "sw1a1aa", "value", "SW1A 1AA"),
    ("postcode", " ls1  4ap ", "value", "LS1 4AP"),
    ("postcode", "M1 1AE", "value", "M1 1AE"),
    ("postcode", "QQ1 1AA", "error", "Enter a real postcode"),
    ("postcode", "SW1A 1AAA", "error", "Enter a real postcode"),
    ("nhs", "943 476 5919", "value", "9434765919"),
    ("nhs", "943-476-5919", "value", "9434765919"),
    ("nhs", "943 476 5918", "error", "Enter a real NHS number"),
    ("nhs", "12345", "error", "NHS number must be 10 digits"),
    ("nhs", "943 476 591X", "error", "NHS number must be 10 digits"),
    ("sort_code", "30-94-30", "value", "309430"),
    ("sort_code", "30-94-3", "error", "Sort code must be 6 digits long"),
    ("sort_code", "3O-94-30", "error", "Enter a valid sort code like 309430"),
    ("account", "00733445", "value", "00733445"),
    ("account", "12345", "error", "Account must be between 6 and 8 digits"),
    ("account", "0073344X", "error", "Enter a valid account number like 00733445"),
    ("colour", "Red", "value", "red"),
    ("colour", "blue", "error", "Select colour from the list"),
    ("owner", 1, "value", 1),
    ("owner", "1", "value", 1),
    ("owner", 99, "error", "There is no owner with the id 99"),
    ("owner", "abc", "error", "Select owner from the list"),
    ("letter", "uploads/letter.pdf", "value", "uploads/letter.pdf"),
    ("letter", "uploads/two\nlines.pdf", "error", "Letter must be the name of an uploaded file"),
    ("even", "4", "value", 4),
    ("even", "3", "error", "Even must be an even number"),
]


@test
def every_field_type_reads_good_values_and_names_bad_ones():
    with Server(app_files()) as s:
        status, _ = call(s.port, "POST", "/data/owners", {"name": "Council"})
        assert status == 200
        failures = []
        for field, value, kind, want in FIELD_CASES:
            got = check(s.port, field, value)
            if got != {kind: want}:
                failures.append("%s %r: got %r, want %r" % (field, value, got, {kind: want}))
        assert not failures, "\n".join(failures)


def generated_values(n=4000, seed=1):
    """Text for each field type read in C, tricky and random: spaces of
    every kind, cases, control bytes, line breaks, bytes at the limits."""
    rnd = random.Random(seed)
    pieces = {
        "name": ["Ada", " ", "\t", "\n", "\r", "\x01", "\x7f", "é", "€", "abcdefghij", "k", "\u00a0", "\v", "\f"],
        "story": ["Once", " ", "\r\n", "\r", "\n", "\t", "\x00", "ü", "ab", "\x1b"],
        "email": ["ada", "@", ".", "..", "example", "com", " ", "-", "é", "\t", "a@b", "_"],
        "postcode": ["SW1A", " ", "1AA", "sw", "1a", "GIR", "0AA", "QQ", "M1", "1AE", "ec1a", "1bb", "\t", "z", "9"],
        "nhs": ["943", "476", "5919", " ", "-", "(", ")", ".", "9", "0", "x", "5918", "\t"],
        "born": ["1", "4", "2001", "/", "-", ".", " ", "29", "2", "2000", "31", "12", "2999", "0", "13", "99"],
        "starts": ["2024", "-", "01", "12", "31", "2023", "2025", "06", "15", "/"],
        "agreed": ["yes", "YES", "No", " ", "y", "N", "true", "False", "1", "0", "on", "OFF", "maybe", "\t"],
        "colour": ["red", "Red", "RED", " ", "green", "Green ", "blue", "\t", "re", "d"],
        "phone": ["+", "44", "0", "7700", "900", "982", " ", "(0)", "0044", "01632", "960001", "-", "1", "+1", "\t"],
        "letter": ["a.pdf", "uploads/", " ", "\n"],
    }
    cases = []
    for field, parts in pieces.items():
        for _ in range(n // len(pieces)):
            cases.append([field, "".join(rnd.choice(parts) for _ in range(rnd.randint(0, 6)))])
    # Known edges, by hand.
    cases += [["name", "abcdefghij"], ["name", "abcdefghijk"], ["name", "éééééééééé"], ["name", "ééééééééééé"],
              ["story", "abcd"], ["story", "abcde"], ["story", "éééé"], ["story", "ééééé"],
              ["born", "1/1/1000"], ["born", "31/12/9999"], ["born", "0001-01-01"], ["born", "2024-02-30"],
              ["starts", "2024-01-01"], ["starts", "2023-12-31"], ["starts", "2024-12-31"], ["starts", "2025-01-01"],
              ["phone", "+44"], ["phone", "+440"], ["phone", "0044"], ["phone", "00440"], ["phone", "+44 (0)7700 900982"],
              ["phone", "+" * 3], ["phone", " +44 7700 900982"], ["phone", "07700900982 "], ["phone", "1234567890123456"],
              ["nhs", "9434765919"], ["nhs", "94347659190"], ["nhs", "943476591"], ["nhs", "0000000000"],
              ["email", "a@b.c"], ["email", "a@b..c"], ["email", "a b@c.d"], ["email", "@b.c"], ["email", "a@.c"],
              ["postcode", "GIR0AA"], ["postcode", "gir 0aa"], ["postcode", "W1A0AX"], ["postcode", "SW1A 1AAA"]]
    return cases


@test
def reading_in_c_agrees_with_reading_in_lua():
    with Server(app_files()) as s:
        cases = generated_values()
        status, differ = call(s.port, "POST", "/data/agree", cases)
        assert status == 200, (status, differ)
        assert differ == [], differ[:20]


@test
def empty_values_are_no_value():
    with Server(app_files()) as s:
        for field in ("code", "age", "grant", "born", "email", "phone", "colour", "owner", "agreed"):
            assert check(s.port, field, "") == {"value": None}, field
            assert check(s.port, field, "  ") == {"value": None}, field


@test
def required_unique_and_cross_field_errors_come_back_in_field_order():
    with Server(app_files()) as s:
        status, body = call(s.port, "POST", "/data/patients", {"first_name": "", "age": "x"})
        assert status == 422
        # borough.json(errors) is an object of field -> message, in the declaration's order.
        assert json.dumps(body) == json.dumps({"errors": {
            "nhs_number": "Enter NHS number", "first_name": "Enter first name",
            "last_name": "Enter last name", "age": "Age must be a whole number"}}), body
        status, body = call(s.port, "POST", "/data/patients",
                            {"nhs_number": "9434765919", "first_name": "Ada", "last_name": "Ada"})
        assert (status, body) == (422, {"errors": {"last_name": "Last name must differ from first name"}})
        status, first = call(s.port, "POST", "/data/patients",
                             {"nhs_number": "943 476 5919", "first_name": "Ada", "last_name": "Lovelace"})
        assert status == 200, first
        status, body = call(s.port, "POST", "/data/patients",
                            {"nhs_number": "9434765919", "first_name": "Bea", "last_name": "Lovelace"})
        assert (status, body) == (422, {"errors": {"nhs_number": "A patient with this NHS number already exists"}})
        # Unique ignores the record itself on update.
        status, body = call(s.port, "POST", "/data/patients/%d" % first["id"], {"nhs_number": "943 476 5919"})
        assert status == 200, body


@test
def references_must_exist_and_protect_what_they_point_to():
    with Server(app_files()) as s:
        _, owner = call(s.port, "POST", "/data/owners", {"name": "Leeds"})
        status, body = call(s.port, "POST", "/data/patients", {"nhs_number": "9434765919", "first_name": "A",
                                                              "last_name": "B", "owner": owner["id"] + 1})
        assert (status, body) == (422, {"errors": {"owner": "There is no owner with the id 2"}})
        status, p = call(s.port, "POST", "/data/patients", {"nhs_number": "9434765919", "first_name": "A",
                                                           "last_name": "B", "owner": owner["id"]})
        assert status == 200 and p["owner"] == owner["id"], p
        status, body = call(s.port, "DELETE", "/data/owners/%d" % owner["id"])
        assert (status, body) == (409, {"error": "This owner cannot be deleted because other records refer to it"})
        status, body = call(s.port, "DELETE", "/data/patients/%d" % p["id"])
        assert status == 200 and body["deleted"] is True
        status, body = call(s.port, "DELETE", "/data/owners/%d" % owner["id"])
        assert status == 200 and body["deleted"] is True
        status, body = call(s.port, "DELETE", "/data/owners/%d" % owner["id"])
        assert (status, body) == (409, {"error": "There is no owner with the id 1"})
        # The database enforces it too, for SQL that goes around the entity.
        insert = "INSERT INTO patients (nhs_number, first_name, last_name, owner) VALUES ('1', 'a', 'b', 42)"
        if pglib.shared():
            try:
                execute(os.path.join(s.data_dir, "data", "app.db"), insert)
                assert False, "the foreign key was not enforced"
            except AssertionError as e:
                assert "violates foreign key constraint" in str(e), e
            return
        db = sqlite3.connect(os.path.join(s.data_dir, "data", "app.db"))
        db.execute("PRAGMA foreign_keys = ON")
        try:
            db.execute(insert)
            assert False, "the foreign key was not enforced"
        except sqlite3.IntegrityError as e:
            assert str(e) == "FOREIGN KEY constraint failed"
        db.close()


@test
def create_find_update_and_null():
    with Server(app_files()) as s:
        status, r = call(s.port, "POST", "/data/patients", {"nhs_number": "9434765919", "first_name": " Ada ",
                                                           "last_name": "Lovelace", "phone": "07700 900982",
                                                           "shielding": "yes", "unknown_key": "ignored"})
        assert status == 200, r
        assert list(r.keys()) == ["id", "nhs_number", "first_name", "last_name", "age", "phone", "shielding",
                                  "owner", "created_at", "updated_at"], r
        assert (r["id"], r["first_name"], r["phone"], r["shielding"], r["age"]) == (1, "Ada", "07700900982", True, None)
        assert r["created_at"] == r["updated_at"] and r["created_at"].endswith("Z")
        status, found = call(s.port, "GET", "/data/patients/1")
        assert found == r
        status, u = call(s.port, "POST", "/data/patients/1", {"phone": "", "age": "36"})
        assert status == 200 and (u["phone"], u["age"], u["first_name"]) == (None, 36, "Ada"), u
        status, null = call(s.port, "GET", "/data/null/1")
        assert null == {"phone_is_nil": True, "row_has_phone": False, "same_sentinel": True, "shielding": True}, null
        status, body = call(s.port, "POST", "/data/patients/7", {"age": "1"})
        assert (status, body) == (422, {"errors": {"id": "There is no patient with the id 7"}})
        status, _ = call(s.port, "GET", "/data/patients/7")
        assert status == 404


NAMES = [("Ada", "Lovelace", 36, "07700900001"), ("Alan", "Turing", 41, None), ("Grace", "Hopper", 85, None),
         ("Annie", "Easley", 78, "07700900004"), ("Adam", "Smith", 67, None)]
NHS = ["9434765919", "4010232137", "4857773457", "9990000018", "9990000026"]


def seed(port):
    for (first, last, age, phone), nhs in zip(NAMES, NHS):
        status, r = call(port, "POST", "/data/patients", {"nhs_number": nhs, "first_name": first, "last_name": last,
                                                         "age": age, "phone": phone})
        assert status == 200, r


def where(port, conds=None, opts=None):
    from urllib.parse import quote
    path = "/data/patients?q=%s&o=%s" % (quote(json.dumps(conds or {})), quote(json.dumps(opts or {})))
    status, body = call(port, "GET", path)
    assert status == 200, body
    return body


@test
def where_conditions_order_and_pages():
    with Server(app_files()) as s:
        seed(s.port)
        assert where(s.port)["ids"] == [1, 2, 3, 4, 5]
        assert where(s.port, {"first_name": "Grace"})["ids"] == [3]
        assert where(s.port, {"age": {"ge": 41, "lt": 80}})["ids"] == [2, 4, 5]
        assert where(s.port, {"last_name": ["Turing", "Smith", "Nobody"]})["ids"] == [2, 5]
        assert where(s.port, {"phone": "NULL"})["ids"] == [2, 3, 5]
        assert where(s.port, {"phone": "07700 900 001"})["ids"] == [1]      # read as the field reads it
        assert where(s.port, {"last_name": {"contains": "o"}})["ids"] == [1, 3]
        assert where(s.port, {"last_name": {"contains": "%"}})["ids"] == []  # LIKE wildcards are literal
        assert where(s.port, {"age": "not a number"})["ids"] == []
        assert where(s.port, {}, {"order": "-age"})["ids"] == [3, 4, 5, 2, 1]
        assert where(s.port, {}, {"order": ["last_name"]})["ids"] == [4, 3, 1, 5, 2]
        p1 = where(s.port, {}, {"order": "age", "per_page": 2})
        assert (p1["ids"], p1["page"], p1["count"]) == ([1, 2], {"page": 1, "per_page": 2, "more": True}, 5)
        p3 = where(s.port, {}, {"order": "age", "per_page": 2, "page": 3})
        assert (p3["ids"], p3["page"]["more"]) == ([3], False)
        assert where(s.port, {}, {"after": 3, "per_page": 10})["ids"] == [4, 5]
        assert where(s.port, {"age": {"gt": 60}})["count"] == 3


@test
def where_refuses_names_not_declared():
    with Server(app_files()) as s:
        from urllib.parse import quote
        for conds, opts in (({"nope": 1}, {}), ({}, {"order": "nope"}), ({}, {"order": "age; DROP TABLE x"}),
                            ({}, {"per_page": 100000})):
            status, body = call(s.port, "GET", "/data/patients?q=%s&o=%s" % (quote(json.dumps(conds)),
                                                                             quote(json.dumps(opts))))
            assert status == 500, (conds, opts, status)
        log = s.log()
        assert "patients:where: unknown field 'nope'" in log, log
        assert "patients: cannot order by 'nope' (not a field)" in log
        assert "patients: cannot order by 'age; DROP TABLE x' (not a field)" in log
        assert "patients: per_page must be a whole number from 1 to 500" in log


def search(port, q, page=1):
    from urllib.parse import quote
    status, body = call(port, "GET", "/data/search/patients?q=%s&page=%d" % (quote(q), page))
    assert status == 200, body
    del body["ranked"]
    return body


def nhs_numbers(n, start=900000000):
    """n fake NHS numbers (starting with 9) with valid check digits."""
    out, base = [], start
    while len(out) < n:
        digits = str(base)
        base += 1
        total = sum(int(d) * (10 - i) for i, d in enumerate(digits))
        check = (11 - total % 11) % 11
        if check != 10:
            out.append(digits + str(check))
    return out


@test
def full_text_search_over_the_declared_fields():
    with Server(app_files()) as s:
        seed(s.port)
        assert search(s.port, "turing") == {"ids": [2], "more": False}
        assert search(s.port, "Tur") == {"ids": [2], "more": False}            # a prefix
        first, second = search(s.port, "a"), search(s.port, "a", 2)
        assert first["more"] and not second["more"], (first, second)
        assert sorted(first["ids"] + second["ids"]) == [1, 2, 4, 5]        # not Grace Hopper
        assert search(s.port, "ad smi") == {"ids": [5], "more": False}         # every word must match
        assert search(s.port, "")["ids"] == []
        # Nothing typed is FTS5 syntax: quotes, operators, column filters, stars.
        for q in ('"', 'ada OR 1', 'first_name:ada', '*', 'NEAR(a b)', "a'b", '-ada', '^ada'):
            search(s.port, q)
        # The index follows updates and deletes.
        call(s.port, "POST", "/data/patients/2", {"last_name": "Ross"})
        assert search(s.port, "turing")["ids"] == [] and search(s.port, "ross")["ids"] == [2]
        call(s.port, "DELETE", "/data/patients/2")
        assert search(s.port, "ross")["ids"] == []


@test
def search_ranks_at_most_250_matches():
    with Server(app_files()) as s:
        csv_text = "nhs_number,first_name,last_name\r\n" + "".join(
            "%s,Ann%d,Smith\r\n" % (nhs, i) for i, nhs in enumerate(nhs_numbers(1001)))
        c = Client(s.port)
        r = c.request("POST", "/data/import/patients", {"Content-Type": "text/csv"}, csv_text)
        c.close()
        assert json.loads(r.body)["imported"] == 1001, r.body
        from urllib.parse import quote
        # 1,001 matches (more than 250): in the order of their ids, not ranked.
        status, body = call(s.port, "GET", "/data/search/patients?q=smith")
        assert body == {"ids": [1, 2], "more": True, "ranked": False}, body
        # Ann5, Ann50-Ann59 and Ann500-Ann599: 111 matches, ranked best first.
        status, body = call(s.port, "GET", "/data/search/patients?q=%s" % quote("ann5"))
        assert body["ranked"] is True and body["more"] is True, body
        status, body = call(s.port, "GET", "/data/search/patients?q=%s" % quote("ann5 smith"))
        assert body["ranked"] is True, body


@test
def every_write_leaves_an_audit_row_in_the_same_database():
    with Server(app_files()) as s:
        status, r = call(s.port, "POST", "/data/patients", {"nhs_number": "9434765919", "first_name": "Ada",
                                                           "last_name": "Lovelace", "shielding": "no"})
        call(s.port, "POST", "/data/patients/1", {"last_name": "King", "age": 36})
        call(s.port, "POST", "/data/patients/1", {"last_name": "King"})           # no change: no row
        status, deleted = call(s.port, "DELETE", "/data/patients/1")
        status, history = call(s.port, "GET", "/data/patients/1/history")
        assert [h["action"] for h in history] == ["create", "update", "delete"], history
        create, update, delete = history
        assert create["before"] is None
        # create and delete hold every field, in order; update only what changed.
        assert create["after"] == {"nhs_number": "9434765919", "first_name": "Ada", "last_name": "Lovelace",
                                   "age": None, "phone": None, "shielding": False, "owner": None}
        assert update["before"] == {"last_name": "Lovelace", "age": None}
        assert update["after"] == {"last_name": "King", "age": 36}
        assert delete["before"] == {"nhs_number": "9434765919", "first_name": "Ada", "last_name": "King",
                                    "age": 36, "phone": None, "shielding": False, "owner": None}
        assert delete["after"] is None
        assert all(h["who"] == "public" for h in history)      # nobody signs in to this app
        assert delete["via"] == deleted["request"]              # the request's id
        assert all(h["at"].endswith("Z") and len(h["at"]) == 24 for h in history)
        path = os.path.join(s.data_dir, "data", "app.db")
        rows = [(r["entity"], r["record_id"], r["action"])
                for r in query(path, "SELECT entity, record_id, action FROM _borough_audit ORDER BY id")]
        assert rows == [("patients", 1, "create"), ("patients", 1, "update"), ("patients", 1, "delete")], rows
        after = query(path, "SELECT after FROM _borough_audit WHERE action = 'create'")[0]["after"]
        assert json.loads(after) == {"nhs_number": "9434765919", "first_name": "Ada", "last_name": "Lovelace",
                                     "age": None, "phone": None, "shielding": False, "owner": None}, after
        assert list(json.loads(after)) == ["nhs_number", "first_name", "last_name", "age", "phone", "shielding",
                                           "owner"], after      # the declared order


@test
def a_failed_write_leaves_no_audit_row():
    with Server(app_files()) as s:
        call(s.port, "POST", "/data/patients", {"nhs_number": "9434765919", "first_name": "Ada", "last_name": "L"})
        status, _ = call(s.port, "POST", "/data/patients", {"nhs_number": "9434765919", "first_name": "B",
                                                           "last_name": "L"})
        assert status == 422
        assert query(os.path.join(s.data_dir, "data", "app.db"), "SELECT count(*) AS n FROM _borough_audit") \
            == [{"n": 1}]


@test
def declaration_mistakes_name_the_line_of_models_lua():
    cases = [
        ('{ "x", "colour" }', "models.lua:1: things.x: unknown field type 'colour'"),
        ('{ "Bad Name", "text" }', "models.lua:1: a field name 'Bad Name' must be lower-case letters, digits and _"),
        ('{ "id", "text" }', "models.lua:1: things: 'id' is made by the platform; choose another field name"),
        ('{ "x", "text", min = 3 }', "models.lua:1: things.x: min and max are for numbers, money and dates"),
        ('{ "x", "choice" }', 'models.lua:1: things.x: a choice needs options = { "...", ... }'),
        ('{ "x", "reference" }', 'models.lua:1: things.x: a reference needs to = "<entity>"'),
        ('{ "x", "reference", to = "nowhere" }', "models.lua:1: things.x refers to 'nowhere', which is not a declared entity"),
        ('{ "x", "text", colour = 1 }', "models.lua:1: things.x: unknown option 'colour'"),
        ('{ "x", "money", max = "lots" }', "models.lua:1: things.x: max lots is not a valid money"),
    ]
    for spec, want in cases:
        apps = {"bad": {"app.lua": 'require "models"\nreturn borough.app { public = true, title = "Bad" }\n',
                        "models.lua": "local things = borough.entity \"things\" {\n  %s,\n}\nreturn things\n" % spec}}
        with Server(apps) as s:
            s.wait_log(r"bad.*models\.lua")
            assert want in s.log(), (want, s.log())


run()
