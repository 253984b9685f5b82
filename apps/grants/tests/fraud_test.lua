-- The council's fraud checks, on sending and on demand: one bank account
-- for different businesses (by blind index), many applications from one IP
-- address or device, a business rates reference twice, details unlike the
-- rates list, an account on the known-fraud list; each flag with its
-- reason, cleared only by a second person, with a note, in the audit trail.
local t = require "borough.test"
local m = require "models"
local F = require "fixtures"
local flags = borough.flags

local function kinds(a)
  local out = {}
  for _, f in ipairs(flags.open(m.Applications, a.id)) do out[#out + 1] = f.kind end
  table.sort(out)
  return out
end

local function reasons(a)
  local out = {}
  for _, f in ipairs(flags.open(m.Applications, a.id)) do out[#out + 1] = f.reason end
  return table.concat(out, " | ")
end

t.test("the same bank account for different businesses is flagged, with the other application named", function()
  F.clear()
  F.schemes()
  local first = F.apply(t, "discretionary", { business_name = "Ada's Cafe", sort_code = "11-22-33", account_number = "44556677" })
  local same = F.apply(t, "discretionary", { business_name = "Ada's Cafe", sort_code = "112233", account_number = "44556677" })
  local other = F.apply(t, "discretionary", { business_name = "Bob's Bikes", sort_code = "112233", account_number = "4455 6677" })
  t.eq(kinds(first), {})
  t.eq(kinds(same), {}, "the same business's second application is the reference check's, not this one's")
  t.eq(kinds(other), { "bank", "bank" }, "one flag for each other application")
  t.contains(reasons(other), "The same bank account is on application " .. first.reference .. ", for Ada's Cafe")
  -- compared by blind index: the columns hold no account number
  local raw = db.one("SELECT account_number, account_number__blind FROM applications WHERE id = ?", other.id)
  t.no_match(raw.account_number, "44556677")
  t.eq(raw.account_number__blind, db.one("SELECT account_number__blind FROM applications WHERE id = ?", first.id).account_number__blind)
end)

t.test("many applications from one IP address or one device within an hour", function()
  F.clear()
  F.schemes()
  local browser = t.client()
  local apps = {}
  for i = 1, 3 do
    apps[i] = F.apply(t, "test-and-trace", { account_number = "2000000" .. i }, { keep_flags = true, client = browser })
  end
  t.eq(kinds(apps[2]), {})
  t.eq(kinds(apps[3]), { "device", "ip" })
  t.contains(reasons(apps[3]), "3 applications came from the same IP address within an hour")
  t.contains(reasons(apps[3]), "3 applications came from the same device within an hour")
end)

t.test("a business rates reference twice, one not on the list, and details unlike the list", function()
  F.clear()
  F.schemes()
  local listed = F.business { business_name = "Corner Shop", postcode = "LS1 4AB" }
  local a = F.apply(t, "discretionary", { rates_ref = listed.account_ref, business_name = "Corner Shop", postcode = "LS1 4AB",
                                          account_number = "30000001" })
  t.eq(kinds(a), {})
  local b = F.apply(t, "discretionary", { rates_ref = listed.account_ref, business_name = "Corner Shop Two",
                                          postcode = "LS9 9ZZ", account_number = "30000002" })
  t.eq({ b.rates_ref, b.business_name }, { listed.account_ref, "Corner Shop Two" })
  t.eq(kinds(b), { "list", "reference" })
  t.contains(reasons(b), "The business rates reference " .. listed.account_ref .. " is also on application " .. a.reference)
  t.contains(reasons(b), "The details differ from the rates list, which has Corner Shop, LS1 4AB")
  local c = F.apply(t, "discretionary", { rates_ref = "99999999", account_number = "30000003" })
  t.contains(reasons(c), "The business rates reference 99999999 is not on the rates list")
end)

t.test("an account on the known-fraud list the council uploads, also found by checking again later", function()
  F.clear()
  F.schemes()
  local a = F.apply(t, "test-and-trace", { sort_code = "40-11-22", account_number = "55555555" })
  t.eq(kinds(a), {})
  local manager = t.client()
  manager:login(table.unpack(F.manager))
  local page = manager:get("/upload/fraud")
  local b = "----fraudlist"
  local body = table.concat { "--", b, '\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n',
    t.forms(page.body)[1].fields.csrf_token, "\r\n--", b, '\r\nContent-Disposition: form-data; name="list"; filename="fraud.csv"\r\n',
    "Content-Type: text/csv\r\n\r\nSort code,Account number,Note\r\n401122,55555555,Reported by the bank\r\nnot a sort code,1,bad\r\n--", b, "--\r\n" }
  local r = manager:post("/upload/fraud", body, { headers = { ["Content-Type"] = "multipart/form-data; boundary=" .. b } })
  t.contains(r.body, "1 rows added or updated")
  t.match(r.body, '<td class="govuk%-table__cell">3</td>')
  local asa = t.client()
  asa:login(table.unpack(F.assessor))
  asa:submit(asa:get("/applications/" .. a.id), {}, "/grants/applications/" .. a.id .. "/checks")
  t.eq(kinds(a), { "known" })
  t.contains(asa:get("/applications/" .. a.id).body, "The bank account is on the council&#39;s list of accounts known for fraud")
end)

t.test("a flagged application waits for a second person to clear the flag; clearing is audited", function()
  F.clear()
  F.schemes()
  F.apply(t, "test-and-trace", { contact_name = "First Person", account_number = "66666666" })
  local a = F.apply(t, "test-and-trace", { contact_name = "Other Person", account_number = "66666666", address = "9 Elm Road" })
  db.exec("UPDATE applications SET business_name = contact_name")     -- (a personal scheme has no business name)
  m.check_fraud(m.Applications:find(a.id))
  t.eq(kinds(a), { "bank" })
  local asa, apu = t.client(), t.client()
  asa:login(table.unpack(F.assessor))
  apu:login(table.unpack(F.approver))
  asa:submit(asa:get("/applications/" .. a.id), {}, "/grants/applications/" .. a.id .. "/steps/assess")
  asa:submit(asa:get("/applications/" .. a.id .. "/steps/recommend"), { amount = "500" })
  local r = apu:submit(apu:get("/applications/" .. a.id .. "/steps/approve"), {})
  t.eq(r.status, 409)
  t.contains(r.body, "Someone other than the assessor must clear the flags first")
  local flag = flags.open(m.Applications, a.id)[1]
  local path = "/grants/applications/" .. a.id .. "/flags/" .. flag.id
  r = asa:submit(asa:get("/applications/" .. a.id), { note = "Looks fine to me" }, path)
  t.eq(r.status, 409)
  t.contains(r.body, "Someone else must clear this flag")
  r = apu:submit(apu:get("/applications/" .. a.id), { note = "" }, path)
  t.contains(r.body, "Enter why the flag can be cleared")
  r = apu:submit(apu:get("/applications/" .. a.id), { note = "Husband and wife, one joint account" }, path)
  t.eq(r.status, 303)
  t.contains(apu:get("/applications/" .. a.id).body, "Cleared by Apu Approver: Husband and wife, one joint account")
  local trail = flags.Flags:history(flag.id)
  t.eq(trail[#trail].after.note, "Husband and wife, one joint account")
  t.ok(trail[#trail].who ~= "system" and trail[#trail].who ~= "public", "who cleared it")
  t.eq(apu:submit(apu:get("/applications/" .. a.id .. "/steps/approve"), {}).status, 303)
  t.eq(m.Applications:find(a.id).state, "approved")
end)
