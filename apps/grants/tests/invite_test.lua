-- Inviting: the business rates list through the upload page (rejects by
-- line; a re-import updates), invitations by email and text message with
-- one link, queued in jobs; reminders once, after the scheme's days.
local t = require "borough.test"
local m = require "models"
local F = require "fixtures"

local HEADER = "Account reference,Business name,Address,Postcode,Rateable value,Property type,Email,Mobile\r\n"

local function upload(client, csv)
  local page = client:get("/upload/rates")
  local b = "----rateslist"
  local body = table.concat { "--", b, '\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n',
    t.forms(page.body)[1].fields.csrf_token, "\r\n--", b,
    '\r\nContent-Disposition: form-data; name="list"; filename="rates.csv"\r\nContent-Type: text/csv\r\n\r\n', csv,
    "\r\n--", b, "--\r\n" }
  return client:post("/upload/rates", body, { headers = { ["Content-Type"] = "multipart/form-data; boundary=" .. b } })
end

t.test("the rates list: good rows in, bad ones named by line; a second upload updates, never duplicates", function()
  F.clear()
  local mia = t.client()
  mia:login(table.unpack(F.manager))
  local r = upload(mia, HEADER
    .. "60000001,Ada's Tea Room,1 High Street,LS1 4AB,\"£12,000\",Cafe,ada@example.com,07700 900001\r\n"
    .. "60000002,,2 High Street,LS1 4AB,9000,Shop,,\r\n"                                  -- line 3: no name
    .. "60000003,Bad Postcode,3 High Street,XX,9000,Shop,,\r\n"                            -- line 4
    .. "60000004,Big Store,4 High Street,LS1 4AB,90000,Shop,big@example.com,\r\n"
    .. "60000005,No Contact,5 High Street,LS1 4AB,9000,Shop,,\r\n")
  t.eq(r.status, 200)
  t.contains(r.body, "3 rows added or updated")
  t.contains(r.body, "2 rows could not be added")
  t.match(r.body, '<td class="govuk%-table__cell">3</td>%s*<td class="govuk%-table__cell">Business name</td>')
  t.match(r.body, '<td class="govuk%-table__cell">4</td>%s*<td class="govuk%-table__cell">Postcode</td>')
  t.eq(m.Businesses:count(), 3)
  r = upload(mia, HEADER .. "60000001,Ada's Tea Rooms,1 High Street,LS1 4AB,12500,Cafe,ada@example.com,07700 900001\r\n"
                        .. "60000006,New Shop,6 High Street,LS1 4AB,5000,Shop,new@example.com,\r\n")
  t.contains(r.body, "2 rows added or updated")
  t.eq(m.Businesses:count(), 4)
  local ada = m.Businesses:find { account_ref = "60000001" }
  t.eq({ ada.business_name, ada.rateable_value }, { "Ada's Tea Rooms", 1250000 })
end)

t.test("invitations: queued as jobs, one application each, by email and text message with one link", function()
  F.clear()
  local s = F.schemes()
  local small = F.business { rateable_value = "£15,000" }
  local shop = F.business { rateable_value = "£40,000", mobile = "" }
  local big = F.business { rateable_value = "£60,000" }                 -- beyond the bands: not eligible
  local silent = F.business { email = "", mobile = "" }                 -- cannot be reached
  F.invite(t, s["small-business"])
  t.eq(m.Applications:count(), 2)
  local a = m.Applications:find { business = small.id }
  t.eq({ a.state, a.business_name, a.rates_ref, a.email }, { "started", small.business_name, small.account_ref, small.email })
  t.eq(m.Applications:find { business = big.id }, nil)
  t.eq(m.Applications:find { business = silent.id }, nil)
  local email = json.decode(t.outbox("application-" .. a.id .. "-invite").body)
  local sms = t.outbox("application-" .. a.id .. "-sms")
  t.eq(sms.recipient, "07700900" .. small.mobile:sub(-3))
  t.eq(json.decode(sms.body).personalisation.link, email.personalisation.link)
  t.match(email.personalisation.link, "^https?://[^/]+/grants/start/[%w_%-]+$")
  t.eq(t.outbox("application-" .. m.Applications:find { business = shop.id }.id .. "-sms"), nil, "no mobile, no text")
  t.eq(db.one("SELECT count(*) AS n FROM _borough_jobs WHERE name = 'invite' AND state = 'done' AND args LIKE ?",
              '%"scheme":' .. s["small-business"].id .. "}%").n, 1, "one job for up to 250 businesses")
  -- again: no second application, no second message
  F.invite(t, s["small-business"])
  t.eq(m.Applications:count(), 2)
end)

t.test("a reminder, once, to those who have not applied after the scheme's days, with a new link", function()
  F.clear()
  local s = F.schemes()
  local waiting, applied = F.business(), F.business()
  F.invite(t, s["small-business"])
  local w = m.Applications:find { business = waiting.id }
  local a = m.Applications:find { business = applied.id }
  local link = json.decode(t.outbox("application-" .. a.id .. "-invite").body).personalisation.link
  F.apply(t, link:match("/grants(/start/[%w_%-]+)$"))
  db.exec("UPDATE applications SET created_at = '2020-01-01T00:00:00.000Z'")
  local mia = t.client()
  mia:login(table.unpack(F.manager))
  local function remind()
    mia:submit(mia:get("/schemes/" .. s["small-business"].id), {}, "/grants/schemes/" .. s["small-business"].id .. "/remind")
    F.wait_jobs(t)
  end
  remind()
  local msg = t.outbox("application-" .. w.id .. "-reminder")
  t.ok(msg, "reminded")
  t.eq(t.outbox("application-" .. a.id .. "-reminder"), nil, "applied: no reminder")
  local new = json.decode(msg.body).personalisation.link
  t.ok(new ~= json.decode(t.outbox("application-" .. w.id .. "-invite").body).personalisation.link)
  t.eq(t.get(new:match("/grants(/start/[%w_%-]+)$")).status, 200, "the new link works")
  remind()
  t.eq(db.one("SELECT count(*) AS n FROM _borough_outbox WHERE reference LIKE '%-reminder'").n, 1, "once")
end)
