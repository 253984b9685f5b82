-- Importing the government's list through the upload page, with rejects.
local t = require "borough.test"
local m = require "models"
local S = require "fixtures"

local HEADER = "NHS Number,First Name,Last Name,Date of Birth,Address,Postcode,Phone,Flags\r\n"

-- A multipart body with the file, and the CSRF token from the page.
local function upload(page, csv)
  local token = t.forms(page.body)[1].fields.csrf_token
  local b = "----shieldingtest"
  local body = table.concat {
    "--", b, "\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n", token, "\r\n",
    "--", b, "\r\nContent-Disposition: form-data; name=\"list\"; filename=\"list.csv\"\r\n",
    "Content-Type: text/csv\r\n\r\n", csv, "\r\n--", b, "--\r\n" }
  return t.post("/upload", body, { headers = { ["Content-Type"] = "multipart/form-data; boundary=" .. b } })
end

t.test("the upload page imports the good rows and lists the rejects", function()
  S.clear()
  t.login(table.unpack(S.manager))
  local page = t.get("/upload")
  t.eq(page.status, 200)
  local csv = HEADER
    .. S.nhs(101) .. ",Ada,Lovelace,10/12/1940,1 High Street,LS1 4AB,07700 900001,lives alone\r\n"
    .. S.nhs(102):sub(1, 9) .. "0" .. ",Bad,Check,01/01/1950,2 High Street,LS1 4AB,,\r\n"      -- line 3
    .. S.nhs(103) .. ",No,Postcode,01/01/1950,3 High Street,,,\r\n"                             -- line 4
    .. S.nhs(101) .. ",Ada,Again,10/12/1940,1 High Street,LS1 4AB,,\r\n"                         -- line 5: duplicate
    .. S.nhs(104) .. ",Zo\xEB,Latin,01/01/1950,4 High Street,LS1 4AB,,\r\n"                      -- line 6: Latin-1
    .. S.nhs(105) .. ",Isaac,O\u{2019}Brien,01/01/1950,5 High Street,LS1 4AB,,\r\n"
    .. "  " .. S.nhs(106) .. "  ,  Grace\t,Hopper  ,01/01/1950,6 High Street, ls1 4ab ,,\r\n"
  local r = upload(page, csv)
  t.eq(r.status, 200, r.body:match('govuk%-error%-message">(.-)</p>'))
  t.contains(r.body, "3 residents added")
  t.contains(r.body, "4 rows could not be added")
  t.match(r.body, '<td class="govuk%-table__cell">3</td>%s*<td class="govuk%-table__cell">[^<]*</td>'
                  .. '<td class="govuk%-table__cell">Enter a real NHS number</td>')
  t.contains(r.body, "Enter a real NHS number")
  t.contains(r.body, "Enter postcode")
  t.contains(r.body, "A resident with this NHS number already exists")
  t.contains(r.body, "the text is not UTF-8 (save the file as &quot;CSV UTF-8&quot;)")
  t.eq(m.Residents:count(), 3)
  local grace = m.Residents:find { nhs_number = S.nhs(106) }
  t.eq({ grace.first_name, grace.last_name, grace.postcode, grace.status, grace.attempts },
       { "Grace", "Hopper", "LS1 4AB", "to_call", 0 })
  t.eq(m.Residents:find { nhs_number = S.nhs(105) }.last_name, "O\u{2019}Brien")
  local ada = m.Residents:find { nhs_number = S.nhs(101) }
  t.eq(ada.flags, "lives alone")
  -- NHS numbers and phone numbers are kept encrypted: the table holds neither
  local raw = db.one("SELECT nhs_number, phone FROM residents WHERE id = ?", ada.id)
  t.ok(raw.nhs_number ~= S.nhs(101) and not tostring(raw.nhs_number):find("999", 1, true), "NHS number sealed")
  t.ok(raw.phone ~= "07700900001" and not tostring(raw.phone):find("900001", 1, true), "phone sealed")
end)

t.test("an upload without a file, or not a CSV, is refused with a message", function()
  t.login(table.unpack(S.manager))
  local page = t.get("/upload")
  local r = t.submit(page, {})
  t.eq(r.status, 400)
  t.contains(r.body, "Select the shielding list (a CSV file)")
  r = upload(page, "%PDF-1.4\n")
  t.eq(r.status, 400)
end)

t.test("a row that is not UTF-8 (Latin-1 bytes from an old spreadsheet) is rejected on its own", function()
  S.clear()
  local summary = m.Residents:import(HEADER
    .. S.nhs(201) .. ",Zo\xEB,Latin,01/01/1950,4 High Street,LS1 4AB,,\r\n"
    .. S.nhs(202) .. ",Zoe,Plain,01/01/1950,5 High Street,LS1 4AB,,\r\n", { skip_bad_rows = true })
  t.eq({ summary.imported, summary.rejected }, { 1, 1 })
  t.eq(summary.rejects[1].line, 2)
  t.contains(summary.rejects[1].message, "not UTF-8")
end)
