#!/usr/bin/env python3
"""End-to-end tests of borough.form, borough.flow and borough.pages: the
components each field type gets, validation errors and the error summary,
escaping in every place a value is shown, a one-thing-per-page flow with
check answers, change links and a confirmation with a reference, drafts
that survive a server restart, CSRF refusals that write nothing, and the
generated list (sort, search, paging), detail, create, edit and delete
pages of an entity.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, Server, execute, execute_platform, query, table_names, ROOT  # noqa: E402
from formlib import Browser, staff_browser  # noqa: E402

from forms_fixture import TREE  # noqa: E402

XSS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "' onmouseover='alert(1)"]
PAYLOAD = " ".join(XSS)


def assert_safe(text, where):
    """No payload survives unescaped anywhere in the page."""
    for bad in ("<script>alert", "<img src=x", "' onmouseover='", '"><img', "<b>choice"):
        assert bad not in text, (where, bad, text[max(0, text.find(bad) - 300):text.find(bad) + 100])


def db(s, sql, *args):
    return query(os.path.join(s.data_dir, "fx", "app.db"), sql, *args)


def summary_links(text):
    m = re.search(r'<div class="govuk-error-summary".*?</ul>', text, re.S)
    assert m, "no error summary:\n" + text[:3000]
    return re.findall(r'<a href="([^"]*)">([^<]*)</a>', m.group(0))


def add_resident(b, **fields):
    page = b.get("/fx/residents/new")
    assert page.status == 200, page
    r = b.submit(page, fields)
    assert r.status == 303, r.text[:3000]
    return r


# ---------------------------------------------------------------------------
# Components and validation
# ---------------------------------------------------------------------------

@test
def each_field_type_gets_its_component():
    with Server(TREE) as s:
        b = staff_browser(s, "fx")
        page = b.get("/fx/residents/new")
        assert page.status == 200, page
        t = page.text
        assert '<form method="post" novalidate action="/fx/residents/new">' in t, t
        assert re.search(r'<input type="hidden" name="csrf_token" value="[^"]+">', t)
        # a date: three boxes in a fieldset, named after the field
        assert 'class="govuk-date-input"' in t and 'name="date-of-birth-day"' in t and 'name="date-of-birth-year"' in t
        assert "For example, 27 3 1980" in t
        # money: a £ prefix and a decimal keyboard
        assert 'class="govuk-input__prefix" aria-hidden="true">£</div>' in t, t
        assert re.search(r'<input class="govuk-input[^"]*" id="grant" name="grant" type="text" inputmode="decimal"', t), t
        # email, phone, postcode: types and autocomplete
        assert re.search(r'id="email" name="email" type="email"[^>]*spellcheck="false"[^>]*autocomplete="email"', t), t
        assert re.search(r'id="phone" name="phone" type="tel"[^>]*autocomplete="tel"', t), t
        assert re.search(r'id="postcode" name="postcode"[^>]*autocomplete="postal-code"', t), t
        # a choice of three: radios; yes/no asked as a checkbox; long text: a textarea
        assert 'class="govuk-radios__input" id="support" name="support" type="radio" value="food"' in t, t
        assert 'class="govuk-checkboxes__input" id="shielding" name="shielding" type="checkbox" value="yes"' in t, t
        assert '<textarea class="govuk-textarea" id="notes" name="notes"' in t, t
        # the standalone form: autocomplete given by the app
        t = b.get("/fx/contact").text
        assert 'autocomplete="name"' in t and "What is your name?" in t and "<h1" in t


@test
def errors_show_the_summary_linked_to_each_field_and_keep_the_values():
    with Server(TREE) as s:
        b = staff_browser(s, "fx")
        page = b.get("/fx/residents/new")
        r = b.submit(page, {"first_name": "Ada", "last_name": "", "date-of-birth-day": "31",
                            "date-of-birth-month": "2", "date-of-birth-year": "1980", "email": "not an email",
                            "grant": "£900", "postcode": "nowhere"})
        assert r.status == 200, r
        t = r.text
        assert "<title>Error: Add a resident" in t, t[:500]
        links = summary_links(t)
        assert links == [("#last-name", "Enter last name"),
                         ("#date-of-birth-day", "Date of birth must be a real date"),
                         ("#email", "Enter an email address in the correct format, like name@example.com"),
                         ("#postcode", "Enter a real postcode"),
                         ("#grant", "Grant must be £500 or less")], links
        # each field marked, with its message, and what was typed kept
        assert 'id="last-name-error"' in t and 'class="govuk-input govuk-input--error" id="last-name"' in t, t
        assert 'value="Ada"' in t and 'value="not an email"' in t and 'value="£900"' in t
        assert re.search(r'name="date-of-birth-day"[^>]*value="31"', t), t
        assert db(s, "SELECT count(*) AS n FROM residents")[0]["n"] == 0
        # the standalone form checks with the same rules
        c = b.get("/fx/contact")
        r = b.submit(c, {"name": " ", "amount": "lots"})
        assert summary_links(r.text) == [("#name", "Enter name"),
                                         ("#amount", "Amount must be an amount of money, like 150 or 150.50")], r.text
        r = b.submit(c, {"name": "Ada", "amount": "12.50"})
        assert r.status == 200 and r.text == '{"name":"Ada","amount":1250}', r.text


@test
def values_are_escaped_in_every_place_they_are_shown():
    with Server(TREE) as s:
        b = staff_browser(s, "fx")
        # kept after an error: input values and the textarea
        page = b.get("/fx/residents/new")
        r = b.submit(page, {"first_name": PAYLOAD, "last_name": "", "notes": PAYLOAD, "postcode": PAYLOAD})
        assert r.status == 200
        assert_safe(r.text, "form with errors")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
        # saved, then shown in the list, the detail page, the edit form and a search
        r = add_resident(b, first_name=XSS[0], last_name=XSS[1], notes=PAYLOAD + "\nline two", postcode="", phone="")
        rid = re.search(r"/fx/residents/(\d+)", r.header("location")).group(1)
        for path in ("/fx/residents", "/fx/residents/" + rid, "/fx/residents/" + rid + "/edit",
                     "/fx/residents?q=%3Cscript%3E", "/fx/residents?q=" + "%22%3E%3Cimg%20src%3Dx%3E",
                     "/fx/residents?sort=%22%3E%3Cscript%3E&dir=%27", "/fx/residents/" + rid + "/delete"):
            r = b.get(path)
            assert r.status == 200, (path, r)
            assert_safe(r.text, path)
        assert "line two" in b.get("/fx/residents/" + rid).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; line two" not in b.get("/fx/residents/" + rid).text
        # the flow: the question page, its error state, check answers
        f = Browser(s.port)
        page = f.get("/fx/apply/name")
        r = f.submit(page, {"full_name": PAYLOAD})
        assert r.status == 303, r
        page = f.get("/fx/apply/name?change=1")
        assert_safe(page.text, "question with a draft value")
        assert "&lt;script&gt;" in page.text
        # an option holding quotes and markup is escaped in attributes and text
        r = f.submit(f.get("/fx/apply/date-of-birth"), {"date-of-birth-day": "1", "date-of-birth-month": "4",
                                                        "date-of-birth-year": "1980"})
        r = f.submit(f.get("/fx/apply/needs-help"), {"needs_help": "yes"})
        page = f.get("/fx/apply/help")
        assert 'value="A &quot;quoted&quot; &lt;b&gt;choice&lt;/b&gt; &amp; more"' in page.text, page.text
        r = f.submit(page, {"help": 'A "quoted" <b>choice</b> & more'})
        r = f.submit(f.get("/fx/apply/amount"), {"amount": ""})
        r = f.submit(f.get("/fx/apply/details"), {"details": PAYLOAD})
        check = f.get("/fx/apply/check")
        assert check.status == 200
        assert_safe(check.text, "check answers")
        assert "<b>choice" not in check.text


# ---------------------------------------------------------------------------
# One thing per page
# ---------------------------------------------------------------------------

def answer(b, slug, fields, expect=None):
    page = b.get("/fx/apply/" + slug)
    assert page.status == 200, (slug, page)
    r = b.submit(page, fields)
    assert r.status == 303, (slug, r.text[:3000])
    if expect:
        assert r.header("location") == expect, (slug, r.header("location"))
    return r


@test
def the_flow_end_to_end_with_check_answers_change_and_a_reference():
    with Server(TREE) as s:
        b = Browser(s.port)
        r = b.get("/fx/apply")
        assert r.status == 302 and r.header("location") == "/fx/apply/name", r
        page = b.get("/fx/apply/name")
        assert "<h1 class=\"govuk-heading-l\">Your name</h1>" in page.text
        assert "govuk-back-link" not in page.text        # the first page has no back link unless given
        answer(b, "name", {"full_name": "Ada Lovelace"}, "/fx/apply/date-of-birth")
        # the draft cookie: random, HttpOnly, SameSite=Lax, for the flow's pages
        cookie = [c for c in b.set_cookies if c.startswith("borough_draft=")][0]
        assert re.fullmatch(r"borough_draft=[0-9a-f]{32}; Path=/fx/apply; Max-Age=86400; HttpOnly; SameSite=Lax",
                            cookie), cookie
        # a question whose label is the page heading; the back link goes to the page before
        page = b.get("/fx/apply/date-of-birth")
        assert '<h1 class="govuk-fieldset__heading">' in page.text and "What is your date of birth?" in page.text
        assert 'href="/fx/apply/name"' in page.text and "govuk-back-link" in page.text
        # errors on a question page
        r = b.submit(page, {"date-of-birth-day": "1", "date-of-birth-month": "", "date-of-birth-year": "1980"})
        assert r.status == 200
        assert summary_links(r.text) == [("#date-of-birth-day", "Date of birth must include a month")], r.text
        assert "<title>Error: What is your date of birth?" in r.text
        answer(b, "date-of-birth", {"date-of-birth-day": "10", "date-of-birth-month": "12",
                                    "date-of-birth-year": "1815"}, "/fx/apply/needs-help")
        # "no": the help question does not apply and is skipped
        answer(b, "needs-help", {"needs_help": "no"}, "/fx/apply/amount")
        answer(b, "amount", {"amount": "250"}, "/fx/apply/details")
        answer(b, "details", {"details": "Line one\nLine two"}, "/fx/apply/check")
        check = b.get("/fx/apply/check")
        t = check.text
        assert "<h1 class=\"govuk-heading-l\">Check your answers</h1>" in t
        for shown in ("Ada Lovelace", "10 December 1815", "No", "£250", "Line one<br>Line two"):
            assert shown in t, (shown, t)
        assert "What help do you need?" not in t
        assert ('<a class="govuk-link" href="/fx/apply/needs-help?change=1">Change'
                '<span class="govuk-visually-hidden"> whether you need help</span></a>') in t, t
        assert 'href="/fx/apply/details"' in t          # back to the last question
        # change "no" to "yes": the new question is asked, then back to check answers
        page = b.get("/fx/apply/needs-help?change=1")
        assert 'href="/fx/apply/check"' in page.text      # back goes to check answers
        assert re.search(r'value="no" checked', page.text), page.text
        r = b.submit(page, {"needs_help": "yes"})
        assert r.header("location") == "/fx/apply/help?change=1", r
        r = b.submit(b.get("/fx/apply/help?change=1"), {"help": "Medicine"})
        assert r.header("location") == "/fx/apply/check", r
        # a change that adds nothing goes straight back
        r = b.submit(b.get("/fx/apply/amount?change=1"), {"amount": "300"})
        assert r.header("location") == "/fx/apply/check", r
        t = b.get("/fx/apply/check").text
        assert "Medicine" in t and "£300" in t
        assert db(s, "SELECT count(*) AS n FROM applications")[0]["n"] == 0
        # send: the record is made, the draft deleted, the confirmation shows the reference
        r = b.submit(b.get("/fx/apply/check"), {})
        assert r.status == 303 and r.header("location") == "/fx/apply/done", r
        done = b.get("/fx/apply/done")
        assert 'class="govuk-panel govuk-panel--confirmation"' in done.text
        ref = re.search(r"<strong>([A-Z]{3}[0-9]{4}[A-Z])</strong>", done.text).group(1)
        assert not set(ref) & set("IO"), ref
        rows = db(s, "SELECT reference, full_name, date_of_birth, needs_help, help, amount, details FROM applications")
        assert rows == [{"reference": ref, "full_name": "Ada Lovelace", "date_of_birth": "1815-12-10",
                         "needs_help": 1, "help": "Medicine", "amount": 30000, "details": "Line one\nLine two"}], rows
        assert db(s, "SELECT count(*) AS n FROM _borough_drafts")[0]["n"] == 0
        audit = db(s, "SELECT action, who FROM _borough_audit WHERE entity = 'applications'")
        assert audit == [{"action": "create", "who": "public"}], audit
        # the draft is gone: the flow starts again
        assert "borough_draft" not in b.cookies
        assert b.get("/fx/apply").header("location") == "/fx/apply/name"
        # references are different each time
        b2 = Browser(s.port)
        for slug, fields in (("name", {"full_name": "Bo"}), ("date-of-birth", {"date-of-birth-day": "1",
                             "date-of-birth-month": "1", "date-of-birth-year": "1990"}),
                             ("needs-help", {"needs_help": "no"}), ("amount", {}), ("details", {})):
            answer(b2, slug, fields)
        b2.submit(b2.get("/fx/apply/check"), {})
        refs = [r["reference"] for r in db(s, "SELECT reference FROM applications")]
        assert len(set(refs)) == 2, refs


@test
def check_answers_sends_the_visitor_back_to_an_unanswered_question():
    with Server(TREE) as s:
        b = Browser(s.port)
        r = b.get("/fx/apply/check")
        assert r.status == 302 and r.header("location") == "/fx/apply/name", r
        answer(b, "name", {"full_name": "Ada"})
        assert b.get("/fx/apply/check").header("location") == "/fx/apply/date-of-birth"
        assert b.get("/fx/apply/nowhere").status == 404
        # the confirmation without a submission goes back to the start
        assert b.get("/fx/apply/done").status == 302


@test
def a_draft_survives_a_reload_and_a_server_restart():
    s = Server(TREE)
    s.start()
    try:
        b = Browser(s.port)
        answer(b, "name", {"full_name": "Grace Hopper"})
        answer(b, "date-of-birth", {"date-of-birth-day": "9", "date-of-birth-month": "12", "date-of-birth-year": "1906"})
        assert 'value="Grace Hopper"' in b.get("/fx/apply/name").text      # a reload of the page
        s.stop()
        s.start()
        b.port = s.port
        page = b.get("/fx/apply/name")
        assert 'value="Grace Hopper"' in page.text, page.text
        page = b.get("/fx/apply/date-of-birth")
        assert re.search(r'name="date-of-birth-year"[^>]*value="1906"', page.text), page.text
        assert b.get("/fx/apply").header("location") == "/fx/apply/needs-help"
        # another browser has no draft
        assert 'value="Grace Hopper"' not in Browser(s.port).get("/fx/apply/name").text
        # an expired draft is not used
        execute_platform(os.path.join(s.data_dir, "fx", "app.db"), "UPDATE _borough_drafts SET expires_at = 0")
        assert 'value="Grace Hopper"' not in b.get("/fx/apply/name").text
        # an id the server did not make (or whose draft is gone) is replaced, not adopted
        made_up = "0123456789abcdef0123456789abcdef"
        b.cookies["borough_draft"] = made_up
        answer(b, "name", {"full_name": "Eve"})
        assert b.cookies["borough_draft"] != made_up
        assert db(s, "SELECT count(*) AS n FROM _borough_drafts WHERE id = ?", made_up)[0]["n"] == 0
        for bad in ("../../etc", "x" * 5000, "%00"):
            b.cookies["borough_draft"] = bad
            assert b.get("/fx/apply/name").status == 200
    finally:
        s.stop()


@test
def csrf_refusals_write_nothing():
    with Server(TREE) as s:
        b = staff_browser(s, "fx")
        page = b.get("/fx/apply/name")
        # no token, a wrong token: 403, no draft
        r = b.submit(page, {"full_name": "Ada"}, drop=("csrf_token",))
        assert r.status == 403, r
        r = b.submit(page, {"full_name": "Ada", "csrf_token": "1.00000000000000000000000000000000"})
        assert r.status == 403, r
        assert "_borough_drafts" not in table_names(os.path.join(s.data_dir, "fx", "app.db"))
        # a complete flow whose send lacks the token: no record, the draft kept
        for slug, fields in (("name", {"full_name": "Bo"}), ("date-of-birth", {"date-of-birth-day": "1",
                             "date-of-birth-month": "1", "date-of-birth-year": "1990"}),
                             ("needs-help", {"needs_help": "no"}), ("amount", {}), ("details", {})):
            answer(b, slug, fields)
        r = b.submit(b.get("/fx/apply/check"), {}, drop=("csrf_token",))
        assert r.status == 403
        assert db(s, "SELECT count(*) AS n FROM applications")[0]["n"] == 0
        assert db(s, "SELECT count(*) AS n FROM _borough_drafts")[0]["n"] == 1
        # generated pages: create, edit and delete without the token
        r = b.submit(b.get("/fx/residents/new"), {"first_name": "A", "last_name": "B"}, drop=("csrf_token",))
        assert r.status == 403
        assert db(s, "SELECT count(*) AS n FROM residents")[0]["n"] == 0
        add_resident(b, first_name="Ada", last_name="Lovelace")
        r = b.submit(b.get("/fx/residents/1/edit"), {"first_name": "Eve"}, drop=("csrf_token",))
        assert r.status == 403
        r = b.submit(b.get("/fx/residents/1/delete"), {"csrf_token": "nonsense"})
        assert r.status == 403
        assert db(s, "SELECT first_name FROM residents") == [{"first_name": "Ada"}]
        # the standalone form
        r = b.submit(b.get("/fx/contact"), {"name": "A", "amount": "1"}, drop=("csrf_token",))
        assert r.status == 403


# ---------------------------------------------------------------------------
# Generated pages
# ---------------------------------------------------------------------------

PEOPLE = [("Ada", "Lovelace", "SW1A 1AA", "250"), ("Grace", "Hopper", "EC1A 1BB", "100"),
          ("Alan", "Turing", "M1 1AE", "500"), ("Katherine", "Johnson", "B33 8TH", "5"),
          ("Mary", "Smith", "CR2 6XH", "75")]


@test
def the_list_sorts_searches_and_pages():
    with Server(TREE) as s:
        b = staff_browser(s, "fx")
        for first, last, pc, grant in PEOPLE:
            add_resident(b, first_name=first, last_name=last, postcode=pc, grant=grant)
        r = b.get("/fx/residents")
        t = r.text
        assert r.status == 200 and "<h1 class=\"govuk-heading-l\">Residents</h1>" in t
        assert t.count('<tr class="govuk-table__row">') == 4          # the header row and 3 a page
        assert 'aria-sort="none"' in t and 'href="/fx/residents?sort=last_name"' in t, t
        assert 'class="govuk-pagination"' in t and 'href="/fx/residents?page=2"' in t, t
        assert 'aria-current="page"' in t
        p2 = b.get("/fx/residents?page=2").text
        assert "Johnson" in p2 and "Smith" in p2 and "Lovelace" not in p2
        # sorted by last name, both ways
        t = b.get("/fx/residents?sort=last_name").text
        names = re.findall(r'<a class="govuk-link" href="/fx/residents/\d+">([^<]*)</a>', t)
        assert names == ["Hopper", "Johnson", "Lovelace"], names
        assert re.search(r'aria-sort="ascending"[^>]*>\s*<a class="govuk-link borough-sort" '
                         r'href="/fx/residents\?sort=last_name&amp;dir=desc">Last name', t) or \
            'aria-sort="ascending"' in t, t
        t = b.get("/fx/residents?sort=last_name&dir=desc").text
        names = re.findall(r'<a class="govuk-link" href="/fx/residents/\d+">([^<]*)</a>', t)
        assert names == ["Turing", "Smith", "Lovelace"], names
        assert 'aria-sort="descending"' in t
        t = b.get("/fx/residents?sort=grant&page=2").text
        assert "£500" in t and "£250" in t and "£5<" not in t, t
        # search through the entity's full-text index
        t = b.get("/fx/residents?q=gra").text
        names = re.findall(r'<a class="govuk-link" href="/fx/residents/\d+">([^<]*)</a>', t)
        assert names == ["Hopper"], names
        assert 'value="gra"' in t and "Clear search" in t
        t = b.get("/fx/residents?q=nobody").text
        assert "No records found." in t
        # an unknown sort is ignored, not an error
        assert b.get("/fx/residents?sort=secret").status == 200


@test
def detail_create_edit_and_delete():
    with Server(TREE) as s:
        b = staff_browser(s, "fx")
        r = add_resident(b, first_name="Ada", last_name="Lovelace", **{
            "date-of-birth-day": "10", "date-of-birth-month": "12", "date-of-birth-year": "1815",
            "grant": "£1,00", "support": "both", "shielding": "yes", "phone": "07700 900 982"})
        assert r.header("location") == "/fx/residents/1?saved=1", r
        t = b.get(r.header("location")).text
        assert "govuk-notification-banner--success" in t and "The resident has been saved" in t
        assert '<dl class="govuk-summary-list">' in t
        for shown in ("Ada", "Lovelace", "10 December 1815", "£100", "both", "Yes", "07700900982"):
            assert shown in t, (shown, t)
        # edit: the form holds the stored values, as a person writes them
        page = b.get("/fx/residents/1/edit")
        t = page.text
        assert 'value="Ada"' in t and 'value="100"' in t and re.search(r'name="date-of-birth-day"[^>]*value="10"', t)
        assert re.search(r'value="both" checked', t) and re.search(r'value="yes" checked', t), t
        r = b.submit(page, {"postcode": "nowhere"})
        assert r.status == 200 and summary_links(r.text) == [("#postcode", "Enter a real postcode")]
        assert 'value="nowhere"' in r.text
        r = b.submit(page, {"postcode": "sw1a1aa", "shielding": []})
        assert r.status == 303, r.text[:2000]
        row = db(s, "SELECT postcode, shielding, first_name FROM residents WHERE id = 1")[0]
        assert row == {"postcode": "SW1A 1AA", "shielding": 0, "first_name": "Ada"}, row
        actions = [a["action"] for a in db(s, "SELECT action FROM _borough_audit ORDER BY id")]
        assert actions == ["create", "update"], actions
        # a record that is not there answers 404
        assert b.get("/fx/residents/99").status == 404
        assert b.get("/fx/residents/99/edit").status == 404
        assert b.get("/fx/residents/abc").status == 404
        # delete, after asking
        page = b.get("/fx/residents/1/delete")
        assert "Are you sure you want to delete this resident?" in page.text
        r = b.submit(page, {})
        assert r.status == 303 and r.header("location") == "/fx/residents?deleted=1"
        assert db(s, "SELECT count(*) AS n FROM residents")[0]["n"] == 0
        assert "The resident has been deleted" in b.get("/fx/residents?deleted=1").text


@test
def pages_are_in_welsh_when_asked():
    with Server(TREE) as s:
        b = staff_browser(s, "fx")
        t = b.get("/fx/residents?lang=cy").text
        assert "Chwilio" in t and "Ychwanegu" in t
        t = b.get("/fx/apply/name?lang=cy").text
        assert "Parhau" in t


@test
def route_options_and_row_rules_reach_the_generated_pages():
    with Server(TREE) as s:
        anonymous = Browser(s.port)
        assert anonymous.get("/fx/apply/name").status == 200          # public = true
        b = staff_browser(s, "fx")
        r = anonymous.get("/fx/residents")
        if b.cookies:                                                 # a platform with sign-in
            assert r.status in (302, 303) and "/_account/sign-in" in r.header("location"), r
        execute(os.path.join(s.data_dir, "fx", "app.db"),
                "INSERT INTO cases (id, title, team, created_at, updated_at) VALUES "
                "(1, 'North case', 'north', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z'), "
                "(2, 'South case', 'south', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')")
        t = b.get("/fx/cases").text
        assert "North case" in t and "South case" not in t, t
        assert b.get("/fx/cases/1").status == 200
        for path in ("/fx/cases/2", "/fx/cases/2/edit"):
            assert b.get(path).status == 404, path
        # a change the rules refuse is shown as an error, and not made
        r = b.submit(b.get("/fx/cases/1/edit"), {"team": "south"})
        assert r.status == 200 and "There is a problem" in r.text and "You cannot change this case" in r.text, r.text
        assert db(s, "SELECT team FROM cases WHERE id = 1") == [{"team": "north"}]
        r = b.submit(b.get("/fx/cases/1/edit"), {"title": "North case, updated"})
        assert r.status == 303
        assert db(s, "SELECT title FROM cases WHERE id = 1") == [{"title": "North case, updated"}]


@test
def a_flow_without_an_entity_runs_its_submit_in_the_transaction():
    with Server(TREE) as s:
        b = Browser(s.port)
        page = b.get("/fx/survey/colour")
        assert "Which colour?" in page.text
        r = b.submit(page, {})
        assert summary_links(r.text) == [("#colour", "Select colour")], r.text
        b.submit(page, {"colour": "Blue"})
        r = b.submit(b.get("/fx/survey/reason"), {"reason": "x" * 30})
        assert summary_links(r.text) == [("#reason", "Reason must be 20 characters or less")], r.text
        r = b.submit(b.get("/fx/survey/reason"), {"reason": "The sky"})
        assert r.header("location") == "/fx/survey/check"
        r = b.submit(b.get("/fx/survey/check"), {})
        assert r.header("location") == "/fx/survey/done", r
        ref = re.search(r"<strong>([A-Z]{3}[0-9]{4}[A-Z])</strong>", b.get("/fx/survey/done").text).group(1)
        assert db(s, "SELECT reference, colour, reason FROM survey") == [
            {"reference": ref, "colour": "Blue", "reason": "The sky"}]
        assert db(s, "SELECT count(*) AS n FROM _borough_drafts")[0]["n"] == 0


def multipart(fields, files):
    boundary = "----borough-test-boundary"
    out = b""
    for k, v in fields.items():
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (boundary, k, v)).encode()
    for k, (name, data) in files.items():
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n" % (boundary, k, name)).encode() + data + b"\r\n"
    out += ("--%s--\r\n" % boundary).encode()
    return {"Content-Type": "multipart/form-data; boundary=" + boundary}, out


@test
def a_file_field_uploads_with_its_limits():
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    with Server(TREE) as s:
        b = Browser(s.port)
        page = b.get("/fx/evidence")
        t = page.text
        assert 'enctype="multipart/form-data"' in t and 'class="govuk-file-upload" id="evidence" name="evidence" type="file"' in t, t
        token = re.search(r'name="csrf_token" value="([^"]+)"', t).group(1)
        for name, data, message in (("nothing.png", None, "Select evidence"),
                                    ("page.png", b"<html><script>x</script></html>", "The selected file must be a PDF or PNG"),
                                    ("big.png", png + b"\0" * 3000, "The selected file must be smaller than 1 KB")):
            files = {"evidence": (name, data)} if data else {}
            h, body = multipart({"csrf_token": token}, files)
            r = b.request("POST", "/fx/evidence", h, body)
            assert r.status == 200, r
            assert summary_links(r.text) == [("#evidence", message)], (name, summary_links(r.text))
        h, body = multipart({"csrf_token": token}, {"evidence": ("scan.png", png)})
        r = b.request("POST", "/fx/evidence", h, body)
        assert r.status == 200 and re.fullmatch(r'\{"evidence":"[0-9a-f]{64}\.png"\}', r.text), r.text
        h, body = multipart({}, {"evidence": ("scan.png", png)})
        assert b.request("POST", "/fx/evidence", h, body).status == 403


@test
def the_draft_cookie_is_secure_over_https():
    certs = tempfile.mkdtemp(prefix="borough-forms-tls-")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", "key.pem", "-out", "cert.pem"], cwd=certs, check=True, capture_output=True)
    try:
        with Server(TREE, args=["--tls-cert", os.path.join(certs, "cert.pem"),
                                "--tls-key", os.path.join(certs, "key.pem")]) as s:
            jar = os.path.join(certs, "jar")
            base = "https://127.0.0.1:%d/fx/apply/name" % s.port

            def curl(*args):
                p = subprocess.run(["curl", "-sk", "-c", jar, "-b", jar, "-D", "-", *args, base],
                                   capture_output=True, text=True, timeout=30)
                return p.stdout
            page = curl()
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            out = curl("-d", "full_name=Ada", "-d", "csrf_token=" + token)
            cookie = re.search(r"(?im)^set-cookie: (borough_draft=.*)$", out).group(1).strip()
            assert cookie.endswith("; HttpOnly; SameSite=Lax; Secure"), cookie
    finally:
        shutil.rmtree(certs, ignore_errors=True)


@test
def declaration_mistakes_name_the_line_of_app_lua():
    head = 'local app = borough.app { title = "B" }\nlocal E = borough.entity "things" { { "name", "text" } }\n'
    cases = [
        ('borough.flow { name = "x", entity = E, pages = { "nmae" } }:mount(app, "/x")', 3,
         "things has no field 'nmae'"),
        ('borough.pages(E, { columns = { "nope" } }):mount(app, "/t")', 3,
         "borough.pages(things): things has no field 'nope'"),
        # Every building block refuses an option it does not know, at the app's line.
        ('borough.pages(E, { roles = "staff" }):mount(app, "/t")', 3,
         "borough.pages(things): unknown option 'roles' (who may do it is role = "),
        ('borough.pages(E):mount(app, "/t", { roles = "staff" })', 3,
         "borough.pages(things):mount(\"/t\"): unknown option 'roles'"),
        ('borough.pages(app, "/t", E, {})', 3, "is now borough.pages(Entity, spec):mount(app, path"),
        ('borough.form(E):mount(app, "/f", { titel = "Add" })', 3, "form:mount(\"/f\"): unknown option 'titel'"),
        ('borough.form(E, { { "name", hnit = "x" } })', 3, "name.hnit: unknown option"),
        ('borough.flow { name = "x", entity = E, pages = { "name" }, chek = {} }', 3,
         "borough.flow: unknown option 'chek'"),
        ('borough.flow { name = "x", entity = E, pages = { "name" }, check = { titel = "x" } }', 3,
         "borough.flow(\"x\") check: unknown option 'titel'"),
        ('borough.flow { name = "x", entity = E, pages = { "name" } }:mount(app, "/x", { role = "staff", bak = "/" })',
         3, "flow:mount(\"/x\"): unknown option 'bak'"),
        ('app:job("x", { attemps = 3 }, function() end)', 3, "app:job(\"x\"): unknown option 'attemps'"),
        # Every role named must be one of the app's roles (or admin).
        ('app:get("/", { role = "manger" }, function() end)', 3,
         'app:get("/"): role "manger" is not one of the app\'s roles'),
        ('borough.pages(E):mount(app, "/t", { role = "staf" })', 3, 'role "staf" is not one of the app\'s roles'),
        ('borough.form(E):mount(app, "/f", { role = "public" })', 3, 'role "public" is for workflow steps'),
        # A platform error caused by the app names the app's line: here a
        # route that two generated pages both declare.
        ('borough.pages(E):mount(app, "/t")\nborough.pages(E):mount(app, "/t")', 4, "GET /t is declared twice"),
        ('local F = borough.form { { "name", "txt" } }', 3, "form.name: unknown field type 'txt'"),
        ('borough.form(E, { { "name", as = "slider" } })', 3, "name.as must be one of input, textarea"),
        ('borough.form { { "name", "text" } }:mount(app, "/f")', 3, 'form:mount("/f"): needs done'),
        ('borough.flow { name = "x", entity = E, pages = { "name" }, reference = "ref" }', 3,
         'reference = "ref" is not a field'),
    ]
    tmp = tempfile.mkdtemp(prefix="borough-forms-check-")
    try:
        for code, line, message in cases:
            app = os.path.join(tmp, "b")
            os.makedirs(app, exist_ok=True)
            with open(os.path.join(app, "app.lua"), "w") as f:
                f.write(head + code + "\nreturn app\n")
            p = subprocess.run([os.environ.get("BOROUGH", os.path.join(ROOT, "borough")), "check", app],
                               capture_output=True, text=True)
            out = p.stdout + p.stderr
            assert p.returncode == 1 and ("%s/app.lua:%d: " % (app, line)) in out and message in out, (code, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run()
