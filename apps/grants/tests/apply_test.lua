-- Applying: an invited business follows its link, answers one question a
-- page (eligibility first), finds its details already there, gives bank
-- details (format and modulus checks), uploads evidence, checks its
-- answers, declares and gets a reference and an email; an open scheme.
local t = require "borough.test"
local m = require "models"
local F = require "fixtures"

-- A multipart POST of a page's form with files: { field = { name, type, content } }.
local function upload(page, path, fields, files)
  local b = "----grantsupload"
  local parts = {}
  local values = t.forms(page.body)[1].fields
  for k, v in pairs(fields or {}) do values[k] = v end
  for k, v in pairs(values) do
    parts[#parts + 1] = ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"):format(b, k, v)
  end
  for k, f in pairs(files) do
    parts[#parts + 1] = ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\nContent-Type: %s\r\n\r\n%s\r\n")
                        :format(b, k, f[1], f[2], f[3])
  end
  parts[#parts + 1] = "--" .. b .. "--\r\n"
  return t.post(path, table.concat(parts), { headers = { ["Content-Type"] = "multipart/form-data; boundary=" .. b } })
end
local PDF = "%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"

local function invited(values)
  F.clear()
  local s = F.schemes()
  local b = F.business(values)
  F.invite(t, s["small-business"])
  local a = m.Applications:find { business = b.id }
  local msg = t.outbox("application-" .. a.id .. "-invite")
  local link = json.decode(msg.body).personalisation.link
  return a, link:match("/grants(/start/[%w_%-]+)$"), s, b, msg
end

t.test("an invitation's link opens the application, eligibility first, then the business's details", function()
  local a, start, _, b, msg = invited { business_name = "Ada's Tea Room" }
  t.eq(msg.recipient, b.email)
  local page = t.get(start)
  t.eq(page.status, 200)
  t.contains(page.body, "Small business grant")
  t.match(page:header("set-cookie"), "grants_device=")
  local base = start:gsub("/start/", "/apply/")
  local r = t.get(base)
  t.eq(r:header("location"), "/grants" .. base .. "/trading")
  r = t.submit(t.get(base .. "/trading"), { trading = "no" })
  t.contains(t.get(base .. "/trading/stop").body, "You cannot apply for this grant")
  t.contains(t.get(base .. "/trading/stop").body, "Only businesses that were trading on 11 March 2020 can apply.")
  t.submit(t.get(base .. "/trading?change=1"), { trading = "yes" })
  r = t.submit(t.get(base .. "/in-administration"), { in_administration = "no" })
  t.eq(r:header("location"), "/grants" .. base .. "/business")
  local business = t.get(base .. "/business")
  t.contains(business.body, 'value="Ada&#39;s Tea Room"')
  t.contains(business.body, 'value="' .. b.account_ref .. '"')
end)

t.test("bank details: formats, then the modulus check when the operator loaded the table", function()
  local a, start = invited()
  borough.bank.load("089000 089999 MOD10 0 0 0 0 0 0 7 1 3 7 1 3 7 1\n")
  local base = start:gsub("/start/", "/apply/")
  local bank = t.get(base .. "/bank")
  local r = t.submit(bank, { account_name = "Tea Room Ltd", sort_code = "08-99", account_number = "6637495x" })
  t.contains(r.body, "Sort code must be 6 digits long")
  t.contains(r.body, "Enter a valid account number like 00733445")
  r = t.submit(bank, { account_name = "Tea Room Ltd", sort_code = "08-99-99", account_number = "66374959" })
  t.contains(r.body, "Enter a valid combination of sort code and account number")
  r = t.submit(bank, { account_name = "Tea Room Ltd", sort_code = "08-99-99", account_number = "66374958" })
  t.eq(r.status, 303)
  db.exec('DELETE FROM "bank_weights"')
end)

-- Goes through every page of an invited application; returns the check page.
local function answer_all(base, bank)
  t.submit(t.get(base .. "/trading"), { trading = "yes" })
  t.submit(t.get(base .. "/in-administration"), { in_administration = "no" })
  t.submit(t.get(base .. "/business"), {})
  t.submit(t.get(base .. "/contact"), { contact_name = "Ada Owner" })
  t.submit(t.get(base .. "/bank"), bank or { account_name = "Tea Room Ltd", sort_code = "401234", account_number = "12345678" })
  return t.get(base .. "/declaration")
end

t.test("check answers, the declaration, the reference and the email; the link is then spent", function()
  local a, start = invited()
  local base = start:gsub("/start/", "/apply/")
  local decl = answer_all(base)
  local r = t.submit(decl, {})
  t.contains(r.body, "Confirm that what you have told us is true")
  t.submit(decl, { declaration = "yes" })
  local check = t.get(base .. "/check")
  t.contains(check.body, "Check your answers before sending your application")
  t.contains(check.body, "Ada Owner")
  r = t.submit(check, {})
  t.eq(r:header("location"), "/grants" .. base .. "/done")
  local done = t.get(base .. "/done")
  local ref = done.body:match("<strong>(%u%u%u%d%d%d%d%u)</strong>")
  t.ok(ref, "a reference")
  a = m.Applications:find(a.id)
  t.eq({ a.state, a.reference, a.amount, a.contact_name, a.ip }, { "submitted", ref, 1000000, "Ada Owner", "127.0.0.1" })
  local email = t.outbox("application-" .. a.id .. "-received")
  t.eq(json.decode(email.body).personalisation.reference, ref)
  -- spent: the link now shows the used page, and the application is not made twice
  t.eq(t.get(base .. "/trading").status, 410)
  t.contains(t.get(start).body, "This link has already been used")
  F.invite(t, m.Schemes:find(a.scheme))
  t.eq(m.Applications:count { business = a.business }, 1, "one application per invited business per scheme")
end)

t.test("a guessed or expired link shows a page saying what to do", function()
  local a, start = invited()
  local r = t.get("/start/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
  t.eq(r.status, 404)
  t.contains(r.body, "This link does not work")
  t.contains(r.body, "grants@council.example.gov.uk")
  db.exec("UPDATE single_use_links SET expires_at = '2020-01-01T00:00:00Z'")
  r = t.get(start:gsub("/start/", "/apply/") .. "/trading")
  t.eq(r.status, 410)
  t.contains(r.body, "This link has expired")
end)

t.test("evidence: PDF, JPEG or PNG, judged by what it holds, 10 MB at most; several files", function()
  F.clear()
  local s = F.schemes()
  local r = t.get("/apply-to/discretionary")
  t.contains(r.body, "Discretionary business grant")
  r = t.submit(r, {})
  local base = r:header("location"):gsub("^/grants", "")
  t.match(base, "^/apply/[%w_%-]+$")
  local page
  local a = m.Applications:where({ scheme = s.discretionary.id })[1]
  local draft_done = function()
    t.submit(t.get(base .. "/trading"), { trading = "yes" })
    t.submit(t.get(base .. "/other-grant"), { other_grant = "no" })
    t.submit(t.get(base .. "/business"), { business_name = "Market Stall", rates_ref = "", address = "Market Hall",
                                            postcode = "LS1 6DT" })
    t.submit(t.get(base .. "/contact"), { contact_name = "Sam Trader", email = "sam@example.com" })
    t.submit(t.get(base .. "/employees"), { employees = "3" })
    t.submit(t.get(base .. "/property-costs"), { property_costs = "450" })
    t.submit(t.get(base .. "/bank"), { account_name = "S Trader", sort_code = "401234", account_number = "87654321" })
  end
  draft_done()
  page = t.get(base .. "/evidence")
  t.eq(page.status, 200)
  r = upload(page, base .. "/evidence", {}, { evidence_1 = { "statement.pdf", "application/pdf", "<html><script>x</script></html>" } })
  t.contains(r.body, "The selected file must be a PDF, PNG or JPG")
  r = upload(page, base .. "/evidence", {}, { evidence_1 = { "big.pdf", "application/pdf", PDF .. ("x"):rep(10 * 1024 * 1024) } })
  t.contains(r.body, "The selected file must be smaller than 10 MB")
  r = upload(page, base .. "/evidence", {}, { evidence_1 = { "statement.pdf", "application/pdf", PDF },
                                              evidence_2 = { "bill.png", "image/png", "\137PNG\r\n\26\n" .. ("\0"):rep(40) } })
  t.eq(r.status, 303)
  t.submit(t.get(base .. "/declaration"), { declaration = "yes" })
  local check = t.get(base .. "/check")
  t.contains(check.body, "A PDF file")
  t.submit(check, {})
  a = m.Applications:find(a.id)
  t.eq({ a.state, a.contact_name, json.decode(a.answers).employees }, { "submitted", "Sam Trader", 3 })
  t.match(a.evidence_1, "^%x+%.pdf$")
  t.match(a.evidence_2, "^%x+%.png$")
  t.eq(a.evidence_3, nil)
end)

t.test("a scheme that has closed takes no applications", function()
  local a, start = invited()
  m.Schemes:update(a.scheme, { opens_on = "2020-01-01", closes_on = "2020-02-01" })
  local r = t.get(start:gsub("/start/", "/apply/") .. "/trading")
  t.eq(r.status, 410)
  t.contains(r.body, "This grant has closed")
  t.eq(t.get("/apply-to/small-business").status, 404, "an invited scheme has no open start page")
end)
