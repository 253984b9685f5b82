-- Fake schemes, businesses and staff for the tests in tests/ (it lives beside
-- the app because tests/ is not part of what the app loads) (rates references and
-- bank details made up; phone numbers from Ofcom's drama range).
local m = require "models"
local F = {}

F.manager = { "mia@example.org", { name = "Mia Manager", roles = { "manager" } } }
F.assessor = { "asa@example.org", { name = "Asa Assessor", roles = { "assessor" } } }
F.assessor2 = { "abe@example.org", { name = "Abe Assessor", roles = { "assessor" } } }
F.approver = { "apu@example.org", { name = "Apu Approver", roles = { "approver" } } }
F.both = { "bo@example.org", { name = "Bo Both", roles = { "assessor", "approver" } } }
F.finance = { "fin@example.org", { name = "Fin Finance", roles = { "finance" } } }

--- Empties the app's records between tests that count.
function F.clear()
  for _, t in ipairs { "workflow_moves", "applications", "businesses", "schemes", "record_flags", "budgets",
                       "budget_lines", "payment_items", "payment_runs", "single_use_links", "known_fraud" } do
    db.exec("DELETE FROM " .. t)
  end
end

--- The example schemes; returns them by short name.
function F.schemes()
  local out = {}
  for _, def in ipairs(require "seeds") do
    local s = assert(m.import_scheme(def))
    out[s.slug] = s
  end
  return out
end

local serial = 0
--- A business on the rates list (values override the defaults).
function F.business(values)
  serial = serial + 1
  local b = { account_ref = ("6%07d"):format(serial), business_name = "Shop " .. serial, address = serial .. " High Street",
              postcode = "LS1 4AB", rateable_value = "£12,000", property_type = "Shop",
              email = "owner" .. serial .. "@example.com", mobile = "07700 900" .. ("%03d"):format(serial % 1000) }
  for k, v in pairs(values or {}) do b[k] = v end
  return assert(m.Businesses:create(b))
end

-- What F.apply answers, by field (a page's fields it does not name keep what is there).
local ANSWERS = {
  trading = "yes", in_administration = "no", other_grant = "no", told_to_isolate = "yes", lose_income = "yes",
  closed = "yes", sector = "Retail", employees = "3", property_costs = "450", test_and_trace_id = "12345678",
  business_name = "Cafe", address = "1 Mill Lane", postcode = "LS2 7AB", contact_name = "Ann Owner",
  email = "ann@example.com", account_name = "Cafe Ltd", sort_code = "40-12-34", account_number = "10000001",
  declaration = "yes",
}

--- Applies as the public does, page by page, from `start` (an invitation's
-- /start/<token>, or a scheme's short name), answering with ANSWERS and
-- values; a scheme with evidence has it dropped first unless keep_evidence.
-- opts.client: the browser to use (its device cookie). Returns the application. The fraud checks' IP and device flags (every
-- test applies from 127.0.0.1) are taken off unless keep_flags.
function F.apply(t, start, values, opts)
  opts = opts or {}
  local c = opts.client or t.client()
  local base
  if start:find("^/start/") then
    base = (start:gsub("^/start/", "/apply/"))
  else
    if not opts.keep_evidence then m.Schemes:update(m.Schemes:find { slug = start }.id, { evidence = db.NULL }) end
    base = (c:submit(c:get("/apply-to/" .. start), {}):header("location"):gsub("^/grants", ""))
  end
  local at = c:get(base):header("location")
  for _ = 1, 20 do
    if at:find("/check$") then break end
    local page = c:get((at:gsub("^/grants", "")))
    local form, fill = t.forms(page.body)[1], {}
    for name, v in pairs(values or {}) do fill[name] = v end
    for name, v in pairs(ANSWERS) do
      if fill[name] == nil and (form.fields[name] == nil or form.fields[name] == "") then fill[name] = v end
    end
    for name in pairs(fill) do
      if not page.body:find('name="' .. name .. '"', 1, true) then fill[name] = nil end
    end
    local r = c:submit(page, fill)
    assert(r.status == 303, "page " .. at .. " did not take the answers: " .. tostring(r.body:match('error%-message">.-</span>(.-)<')))
    at = r:header("location")
  end
  local r = c:submit(c:get((at:gsub("^/grants", ""))), {})
  assert(r.status == 303, "not sent: " .. tostring(r.body:match('error%-summary__list">(.-)</ul>')))
  local ref = c:get((r:header("location"):gsub("^/grants", ""))).body:match("<strong>(%u%u%u%d%d%d%d%u)</strong>")
  local a = m.Applications:find { reference = ref }
  if not opts.keep_flags then db.exec("DELETE FROM record_flags WHERE kind IN ('ip', 'device')") end
  return a, c
end

--- Waits (up to 10 s) until no job is queued or running: the server's
-- worker runs them while the tests wait.
function F.wait_jobs(t)
  local deadline = os.time() + 10
  repeat t.get("//healthz")
  until db.one("SELECT count(*) AS n FROM _borough_jobs WHERE state IN ('queued', 'running')").n == 0
        or os.time() > deadline
end

--- Invites the businesses on the list to a scheme as a manager does (the
-- button, then the jobs).
function F.invite(t, scheme)
  local c = t.client()
  c:login(table.unpack(F.manager))
  local r = c:submit(c:get("/schemes/" .. scheme.id), {}, "/grants/schemes/" .. scheme.id .. "/invite")
  assert(r.status == 303, r.status)
  F.wait_jobs(t)
end

return F
