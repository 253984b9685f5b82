#!/usr/bin/env python3
"""The data feed for BI tools (borough.feed) and API tokens (borough token),
against the real server: paging by the next link, updated_since, filters on
indexed fields, token scopes, expiry and revocation, row rules through the
token's roles, encrypted fields only when named, CORS off unless
configured, every use counted and audited once an hour, and the command
line."""
import csv
import hashlib
import io
import json
import os
import re
import time
from urllib.parse import urlsplit

from lib import Client, Server, borough, execute, get, query, run, staff_cookie, stored_bytes, test

APP = {
    "models.lua": '''
local M = {}
M.Measures = borough.entity "measures" {
  { "name", "text", required = true },
  { "status", "choice", options = { "open", "closed" }, index = true },
  { "amount", "money" },
  { "ok", "boolean" },
  { "owner", "text" },
  { "team", "reference", to = "teams" },
  { "note", "text", secret = true },
  { "nhs_number", "nhs_number", encrypted = true },
  rules = { read = function(user)
    if user and user.roles.viewer then return true end
    return { owner = user and user.email or "nobody" }
  end },
}
M.Teams = borough.entity "teams" { { "name", "text", required = true } }
return M
''',
    "app.lua": '''
local app = borough.app { title = "SitRep", mount = "/sitrep", roles = { "viewer", "reporting" } }
local M = require "models"

borough.feed {
  { M.Measures, filters = { "status", "team" } },
  M.Teams,
}:mount(app, "/_feed", { role = FEED_ROLE })

-- ?n= measures, owned by ?owner=, in team 1 or 2.
app:post("/seed", { public = true, csrf = false }, function(req)
  return db.tx(function()
    if M.Teams:count() == 0 then M.Teams:create { name = "North" } M.Teams:create { name = "South" } end
    for i = 1, tonumber(req.query.n or "10") do
      M.Measures:create { name = "m" .. i, status = i % 2 == 0 and "open" or "closed", amount = i * 1005,
                          ok = i % 3 == 0, owner = req.query.owner, team = i % 2 + 1, note = "secret " .. i,
                          nhs_number = "9434765919" }
    end
    return "ok"
  end)
end)

return app
''',
}


def app_with(role="nil", extra=""):
    tree = dict(APP)
    tree["app.lua"] = APP["app.lua"].replace("FEED_ROLE", role).replace('{ role = ' + role + ' }',
                                                                          '{ role = ' + role + extra + ' }')
    return tree


def token(s, entities="measures,teams", role=None, name="Power BI", app="sitrep", expires=None):
    args = ["token", "create", app, "--entities", entities, "--name", name, "--data", s.data_dir]
    if role:
        args += ["--role", role]
    if expires:
        args += ["--expires", expires]
    status, out, err = borough(*args)
    assert status == 0, err
    assert re.fullmatch(r"borough_[A-Za-z0-9_-]{43}\n", out), out
    assert "This is the only time the token is shown" in err, err
    return out.strip()


def seed(s, n=10, owner=""):
    r = Client(s.port).request("POST", "/sitrep/seed?n=%d&owner=%s" % (n, owner))
    assert r.status == 200, r


def feed(s, path, tok, headers=None):
    h = {"Authorization": "Bearer " + tok} if tok else {}
    h.update(headers or {})
    return Client(s.port).get("/sitrep/_feed/" + path, h)


def page(s, path, tok):
    r = feed(s, path, tok)
    assert r.status == 200, r
    assert r.header("content-type") == "application/json", r
    return json.loads(r.body)


def platform(s, sql, *args):
    return query(os.path.join(s.data_dir, "borough.db"), sql, *args)


@test
def json_pages_follow_the_next_link_in_id_order_and_csv_holds_every_record():
    with Server({"sitrep": app_with()}) as s:
        seed(s, 1203)
        t = token(s, role="viewer")
        doc = page(s, "measures.json", t)
        assert len(doc["value"]) == 500, len(doc["value"])
        first = doc["value"][0]
        assert list(first) == ["id", "name", "status", "amount", "ok", "owner", "team", "created_at", "updated_at"], first
        assert first["amount"] == 10.05 and first["ok"] is False and first["owner"] is None and first["team"] == 2, first
        ids, link, pages = [r["id"] for r in doc["value"]], doc.get("@odata.nextLink"), 1
        while link:
            u = urlsplit(link)
            assert u.scheme == "http" and u.path == "/sitrep/_feed/measures.json", link
            doc = page(s, "measures.json?" + u.query, t)
            ids += [r["id"] for r in doc["value"]]
            link, pages = doc.get("@odata.nextLink"), pages + 1
        assert pages == 3 and ids == list(range(1, 1204)), (pages, ids[:5], ids[-5:])
        doc = page(s, "measures.json?per_page=2&after=10", t)
        assert [r["id"] for r in doc["value"]] == [11, 12]
        assert doc["@odata.nextLink"].endswith("/sitrep/_feed/measures.json?after=12&per_page=2"), doc
        r = feed(s, "measures.csv", t)
        assert r.status == 200 and r.header("content-type") == "text/csv; charset=utf-8", r
        rows = list(csv.reader(io.StringIO(r.text)))
        assert rows[0] == ["id", "name", "status", "amount", "ok", "owner", "team", "created_at", "updated_at"]
        assert len(rows) == 1204 and rows[1][:5] == ["1", "m1", "closed", "10.05", "false"], rows[1]
        assert rows[3][4] == "true" and rows[1203][3] == "12090.15", (rows[3], rows[1203])


@test
def updated_since_and_filters_narrow_the_records():
    with Server({"sitrep": app_with()}) as s:
        seed(s, 20)
        t = token(s, role="viewer")
        execute(os.path.join(s.data_dir, "sitrep", "app.db"),
                "UPDATE measures SET updated_at = '2030-01-01T09:00:00Z' WHERE id IN (3, 7, 12)")
        doc = page(s, "measures.json?updated_since=2030-01-01T08:00:00Z", t)
        assert [r["id"] for r in doc["value"]] == [3, 7, 12], doc
        assert [r["id"] for r in page(s, "measures.json?updated_since=2030-01-01", t)["value"]] == [3, 7, 12]
        assert page(s, "measures.json?updated_since=2030-01-01T10:00:00%2B01:00", t)["value"][0]["id"] == 3
        open_ = page(s, "measures.json?status=open", t)["value"]
        assert [r["id"] for r in open_] == list(range(2, 21, 2)), open_
        both = page(s, "measures.json?status=open&status=closed&team=1&per_page=3", t)
        assert [r["id"] for r in both["value"]] == [2, 4, 6], both
        assert both["@odata.nextLink"].endswith("?after=6&per_page=3&status=closed&status=open&team=1"), both
        for q, why in (("owner=x", "unknown parameter 'owner' (the parameters are after, updated_since, per_page, "
                                   "status, team)"),
                       ("status=pending", "status: \"pending\" is not a value of the field"),
                       ("updated_since=yesterday", "updated_since must be a time"),
                       ("per_page=501", "per_page must be a whole number from 1 to 500"),
                       ("after=-1", "after must be a record's id"),
                       ("access_token=" + t, "unknown parameter 'access_token'")):
            r = feed(s, "measures.json?" + q, t)
            assert r.status == 400, (q, r)
            assert json.loads(r.body)["error"] == "bad_request" and why in json.loads(r.body)["message"], (q, r.body)
        r = feed(s, "measures.csv?per_page=10", t)
        assert r.status == 400 and b"a .csv holds every record" in r.body, r


@test
def a_filter_on_a_field_without_an_index_stops_the_app_loading():
    tree = dict(APP)
    tree["app.lua"] = APP["app.lua"].replace('filters = { "status", "team" }', 'filters = { "owner" }')
    with Server({"sitrep": tree}) as s:
        assert get(s.port, "/sitrep/_feed/").status == 503
        assert re.search(r'app\.lua:5: borough\.feed\(measures\): filters names \'owner\': a feed filters only by '
                         r'indexed fields', s.log()), s.log()


@test
def tokens_are_refused_without_scope_after_expiry_and_once_revoked():
    with Server({"sitrep": app_with()}) as s:
        seed(s, 3)
        r = feed(s, "measures.json", None)
        assert r.status == 401 and r.header("www-authenticate") == 'Bearer realm="sitrep"', r
        # A session cookie opens no feed.
        r = feed(s, "measures.json", None, staff_cookie(s, "sitrep", roles=("viewer",)))
        assert r.status == 401, r
        r = feed(s, "measures.json", "borough_" + "A" * 43)
        assert r.status == 401 and 'error="invalid_token"' in r.header("www-authenticate"), r
        assert json.loads(r.body)["message"] == "the token is not one of this app's"
        teams_only = token(s, entities="teams", role="viewer")
        r = feed(s, "measures.json", teams_only)
        assert r.status == 403 and json.loads(r.body)["message"] == "the token is not for measures (its scope: teams)", r
        assert [e["name"] for e in page(s, "", teams_only)["value"]] == ["teams"]
        assert page(s, "teams.json", teams_only)["value"][0]["name"] == "North"
        t = token(s, role="viewer", expires="1h")
        assert feed(s, "measures.json", t).status == 200
        tid = platform(s, "SELECT id FROM api_tokens WHERE prefix = ?", t[:12])[0]["id"]
        execute(os.path.join(s.data_dir, "borough.db"), "UPDATE api_tokens SET expires_ms = ? WHERE id = ?",
                int(time.time() * 1000) - 1, tid)
        r = feed(s, "measures.json", t)
        assert r.status == 401 and "the token has expired" in r.header("www-authenticate"), r
        other = token(s, role="viewer")
        assert feed(s, "measures.json", other).status == 200
        oid = platform(s, "SELECT id FROM api_tokens WHERE prefix = ?", other[:12])[0]["id"]
        status, out, err = borough("token", "revoke", str(oid), "--data", s.data_dir)
        assert status == 0 and out == "token %d revoked\n" % oid, (out, err)
        r = feed(s, "measures.json", other)
        assert r.status == 401 and "the token has been revoked" in r.header("www-authenticate"), r
        # A token is for one app.
        two = {"sitrep": app_with(), "other": {"app.lua": APP["app.lua"].replace("/sitrep", "/other").replace(
            "FEED_ROLE", "nil"), "models.lua": APP["models.lua"]}}
    with Server(two) as s:
        t = token(s, role="viewer", app="other")
        assert Client(s.port).get("/other/_feed/", {"Authorization": "Bearer " + t}).status == 200
        assert feed(s, "", t).status == 401


@test
def row_rules_and_the_mounts_role_apply_to_the_tokens_account():
    with Server({"sitrep": app_with('"reporting"')}) as s:
        t = token(s, role="reporting")
        email = platform(s, "SELECT u.email FROM api_tokens t JOIN users u ON u.id = t.user_id")[0]["email"]
        assert re.fullmatch(r"power-bi-[0-9a-f]{4}@sitrep\.token\.invalid", email), email
        seed(s, 4, owner="someone@example.gov.uk")
        seed(s, 2, owner=email)
        # Without viewer the rule shows only the account's own records.
        assert [r["id"] for r in page(s, "measures.json", t)["value"]] == [5, 6]
        status, out, err = borough("user", "role", email, "sitrep", "viewer", "--data", s.data_dir)
        assert status == 0, err
        assert len(page(s, "measures.json", t)["value"]) == 6
        # A token without the mount's role: 403.
        r = feed(s, "measures.json", token(s, role="viewer", name="Excel"))
        assert r.status == 403, r
        # The account signs no one in: it has no password, and cannot be
        # given one; nor can a person's account take its form.
        assert platform(s, "SELECT password_hash FROM users WHERE email = ?", email)[0]["password_hash"] == ""
        pw = os.path.join(s.data_dir, "pw.txt")
        with open(pw, "w") as f:
            f.write("a long enough passphrase for a person\n")
        status, out, err = borough("user", "password", email, "--password-file", pw, "--data", s.data_dir)
        assert (status, out) == (1, "") and "is an API token's service account: it has no password" in err, err
        assert platform(s, "SELECT password_hash FROM users WHERE email = ?", email)[0]["password_hash"] == ""
        status, out, err = borough("user", "add", "x@sitrep.token.invalid", "--name", "X", "--password-file", pw,
                                   "--data", s.data_dir)
        assert status == 1 and "the form of an API token's service account" in err, err


@test
def encrypted_fields_are_published_only_when_named_and_their_reads_are_audited():
    tree = dict(APP)
    tree["app.lua"] = APP["app.lua"].replace('{ M.Measures, filters = { "status", "team" } }',
                                             '{ M.Measures, fields = { "name", "nhs_number", "note" } }')
    with Server({"sitrep": app_with()}) as s:
        seed(s, 2)
        row = page(s, "measures.json", token(s, role="viewer"))["value"][0]
        assert "nhs_number" not in row and "note" not in row, row
    with Server({"sitrep": tree}) as s:
        seed(s, 2)
        t = token(s, role="viewer")
        row = page(s, "measures.json", t)["value"][0]
        assert list(row) == ["id", "name", "nhs_number", "note", "created_at", "updated_at"], row
        assert row["nhs_number"] == "9434765919" and row["note"] == "secret 1", row
        reads = platform(s, "SELECT who, detail FROM platform_audit WHERE action = 'read encrypted'")
        assert len(reads) == 1 and re.fullmatch(r"power-bi-[0-9a-f]{4}@sitrep\.token\.invalid", reads[0]["who"]), reads
        assert "measures (nhs_number) of 2 records: 1, 2" in reads[0]["detail"], reads


@test
def cors_headers_are_absent_unless_origins_are_configured():
    with Server({"sitrep": app_with()}) as s:
        seed(s, 1)
        t = token(s, role="viewer")
        r = feed(s, "measures.json", t, {"Origin": "https://dash.example.gov.uk"})
        assert r.status == 200 and r.header("access-control-allow-origin") is None, r
        r = Client(s.port).request("OPTIONS", "/sitrep/_feed/measures.json",
                                   {"Origin": "https://dash.example.gov.uk", "Access-Control-Request-Method": "GET"})
        assert r.header("access-control-allow-origin") is None and r.header("access-control-allow-headers") is None, r
    with Server({"sitrep": app_with("nil", ', cors = { "https://dash.example.gov.uk" }')}) as s:
        seed(s, 1)
        t = token(s, role="viewer")
        r = feed(s, "measures.json", t, {"Origin": "https://dash.example.gov.uk"})
        assert r.header("access-control-allow-origin") == "https://dash.example.gov.uk", r
        assert r.header("vary") == "Origin", r
        r = feed(s, "measures.json", t, {"Origin": "https://evil.example.com"})
        assert r.header("access-control-allow-origin") is None, r
        r = Client(s.port).request("OPTIONS", "/sitrep/_feed/measures.json",
                                   {"Origin": "https://dash.example.gov.uk", "Access-Control-Request-Method": "GET",
                                    "Access-Control-Request-Headers": "authorization"})
        assert r.status == 204, r
        assert r.header("access-control-allow-origin") == "https://dash.example.gov.uk", r
        assert r.header("access-control-allow-headers") == "Authorization", r
        assert r.header("access-control-allow-methods") == "GET", r
        assert r.header("access-control-allow-credentials") is None, r
        r = feed(s, "measures.json?status=x", t, {"Origin": "https://dash.example.gov.uk"})
        assert r.status == 400 and r.header("access-control-allow-origin") == "https://dash.example.gov.uk", r


@test
def every_use_is_counted_and_audited_once_an_hour():
    with Server({"sitrep": app_with()}) as s:
        seed(s, 1)
        t = token(s, role="viewer")
        for _ in range(5):
            assert feed(s, "measures.json", t).status == 200
        row = platform(s, "SELECT id, uses, used_ms, used_ip, audited_ms FROM api_tokens")[0]
        assert row["uses"] == 5 and row["used_ip"] == "127.0.0.1" and row["audited_ms"] > 0, row
        uses = platform(s, "SELECT who, app, detail FROM platform_audit WHERE action = 'token use'")
        assert len(uses) == 1, uses
        assert re.fullmatch(r'API token #1 "Power BI" used: GET /sitrep/_feed/measures\.json from 127\.0\.0\.1 '
                            r'\(use 1; the first use of the hour\)', uses[0]["detail"]), uses
        execute(os.path.join(s.data_dir, "borough.db"), "UPDATE api_tokens SET audited_ms = audited_ms - 3600001")
        assert feed(s, "teams.json", t).status == 200
        uses = platform(s, "SELECT detail FROM platform_audit WHERE action = 'token use' ORDER BY id")
        assert len(uses) == 2 and "GET /sitrep/_feed/teams.json" in uses[1]["detail"] and "(use 6;" in uses[1]["detail"]
        assert platform(s, "SELECT uses FROM api_tokens")[0]["uses"] == 6
        status, out, err = borough("audit", "verify", "--data", s.data_dir)
        assert status == 0, (out, err)


@test
def the_command_line_shows_a_token_once_and_keeps_only_its_hash():
    with Server({"sitrep": app_with()}) as s:
        t = token(s, role="viewer,reporting", expires="30d")
        row = platform(s, "SELECT token_hash, prefix, entities, expires_ms - created_ms AS life FROM api_tokens")[0]
        assert row["token_hash"] == hashlib.sha256(t.encode()).digest() and row["prefix"] == t[:12], row
        assert row["entities"] == " measures teams " and row["life"] == 30 * 86400 * 1000, row
        assert t.encode() not in stored_bytes(os.path.join(s.data_dir, "borough.db"))
        status, out, err = borough("token", "list", "--data", s.data_dir)
        assert status == 0 and t not in out and t[:12] + "..." in out, out
        assert "entities: measures teams; roles: reporting viewer" in out and "active; used 0 times" in out, out
        created = platform(s, "SELECT who, detail FROM platform_audit WHERE action = 'token create'")
        assert created[0]["who"].startswith("cli:") and "made for entities measures teams" in created[0]["detail"]
        for args, code, msg in ((["create", "sitrep", "--name", "x"], 2, "needs --entities"),
                                (["create", "sitrep", "--entities", "Bad-Name", "--name", "x"], 1,
                                 "the entity Bad-Name must be lower-case"),
                                (["create", "sitrep", "--entities", "a", "--name", "x", "--expires", "400d"], 1,
                                 "a token expires within 366 days"),
                                (["create", "sitrep", "--entities", "a", "--name", "x", "--expires", "soon"], 2,
                                 "--expires wants days or hours"),
                                (["revoke", "99"], 1, "there is no token 99"),
                                (["revoke", "1"], 0, "token 1 revoked"),
                                (["revoke", "1"], 1, "token 1 is revoked already")):
            status, out, err = borough("token", *args, "--data", s.data_dir)
            assert status == code and msg in out + err, (args, status, out, err)


if __name__ == "__main__":
    run()
