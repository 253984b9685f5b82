-- The records of the grants service: schemes (data a grants manager sets
-- up), the business rates list, applications (a workflow from invitation
-- to payment), and the council's list of bank accounts known for fraud.
-- The rules of the service are the functions below, each one transaction.
local bank, links, budget, flags = borough.bank, borough.links, borough.budget, borough.flags
local questions, fields = borough.questions, require "borough.fields"
local M = {}

M.ASSESSORS, M.STAFF = { "assessor", "manager" }, { "assessor", "approver", "finance", "manager" }

-- Notify templates (made in GOV.UK Notify; their ids here).
local T = { invite = "0b5e3f52-6c0e-4f3a-9d1e-7a2c1b9f4e01", sms = "0b5e3f52-6c0e-4f3a-9d1e-7a2c1b9f4e02",
            reminder = "0b5e3f52-6c0e-4f3a-9d1e-7a2c1b9f4e03", received = "0b5e3f52-6c0e-4f3a-9d1e-7a2c1b9f4e04",
            info = "0b5e3f52-6c0e-4f3a-9d1e-7a2c1b9f4e05", rejected = "0b5e3f52-6c0e-4f3a-9d1e-7a2c1b9f4e06",
            paid = "0b5e3f52-6c0e-4f3a-9d1e-7a2c1b9f4e07" }

-- Bands: "15000: 10000" a line (rateable value up to, in pounds: the grant).
local function bands_of(text)
  local out = {}
  for line in (text or ""):gmatch("[^\r\n]+") do
    local up, pay = line:gsub("[£,%s]", ""):match("^(%d+):(%d+)$")
    if not up then return nil end
    out[#out + 1] = { up_to = tonumber(up) * 100, amount = tonumber(pay) * 100 }
  end
  return out
end

M.Schemes = borough.entity "schemes" {
  label = "scheme",
  validate = function(s)
    if s.closes_on < s.opens_on then return { closes_on = "The closing date must be after the opening date" } end
    if s.amount_rule == "fixed" and not s.amount then return { amount = "Enter the fixed amount" } end
    if s.amount_rule == "bands" and not (s.bands and bands_of(s.bands)) then
      return { bands = "Enter the bands, a line each, like 15000: 10000" }
    end
    if s.amount_rule == "proposed" and not (s.min_amount and s.max_amount) then
      return { max_amount = "Enter the least and the most the assessor may propose" }
    end
    if s.questions and not questions.check(json.decode(s.questions) or {}) then return { questions = "Check the questions" } end
  end,
  { "name", "text", required = true, unique = true, max_length = 100 },
  { "slug", "text", required = true, unique = true, pattern = "^[a-z0-9%-]+$", max_length = 40, label = "Short name",
    messages = { pattern = "Short name must be lower-case letters, digits and hyphens, like small-business" } },
  { "who", "choice", required = true, label = "Who may apply",
    options = { { "invited", "Businesses invited from the rates list" }, { "anyone", "Anyone" } } },
  { "details", "choice", required = true, label = "Details asked for",
    options = { { "business", "A business's details" }, { "personal", "A person's details" } } },
  { "amount_rule", "choice", required = true, label = "The amount",
    options = { { "fixed", "A fixed amount" }, { "bands", "By rateable value" }, { "proposed", "Proposed by the assessor" } } },
  { "amount", "money", min = 0, label = "Fixed amount" },
  { "bands", "long_text", label = "Bands by rateable value" },
  { "min_amount", "money", min = 0, label = "Least amount" },
  { "max_amount", "money", min = 0, label = "Most amount" },
  { "budget", "money", required = true, min = 0 },
  { "opens_on", "date", required = true, label = "Opening date" },
  { "closes_on", "date", required = true, label = "Closing date" },
  { "intro", "long_text", max_length = 2000, label = "What the grant is for" },
  { "evidence", "long_text", max_length = 2000, label = "Evidence required" },
  { "reminder_days", "integer", min = 1, default = 7, label = "Days before a reminder" },
  { "questions", "long_text" },
}

M.Businesses = borough.entity "businesses" {
  label = "business",
  search = { "account_ref", "business_name", "postcode" },
  { "account_ref", "text", required = true, unique = true, max_length = 20, label = "Account reference" },
  { "business_name", "text", required = true, max_length = 200 },
  { "address", "text", required = true, max_length = 300 },
  { "postcode", "postcode", required = true },
  { "rateable_value", "money", required = true, min = 0 },
  { "property_type", "text", max_length = 100 },
  { "email", "email" },
  { "mobile", "phone" },
}

M.KnownFraud = borough.entity "known_fraud" {
  label = "known fraud account",
  { "sort_code", "sort_code", required = true, encrypted = true, lookup = true },
  { "account_number", "account_number", required = true, encrypted = true, lookup = true },
  { "note", "text" },
}

M.Applications = borough.entity "applications" {
  label = "application",
  search = { "reference", "business_name", "contact_name", "postcode" },
  indexes = { { "scheme", "state" } },
  { "reference", "text", unique = true },
  { "business_name", "text", max_length = 200 },
  { "scheme", "reference", to = "schemes", required = true, index = true },
  { "state", "text", index = true },
  { "assigned_name", "text", label = "Assigned to" },
  { "due_at", "datetime", index = true, label = "Due" },
  { "business", "reference", to = "businesses" },
  { "invite_key", "text", unique = true, secret = true },            -- one application per invited business
  { "rates_ref", "text", max_length = 20, label = "Business rates account reference", index = true },
  { "contact_name", "text", max_length = 100, label = "Full name" },
  { "address", "text", max_length = 300 },
  { "postcode", "postcode" },
  { "email", "email", label = "Email address" },
  { "phone", "phone", label = "Telephone number" },
  { "account_name", "text", max_length = 100, label = "Name on the account" },
  { "sort_code", "sort_code", encrypted = true, lookup = true },
  { "account_number", "account_number", encrypted = true, lookup = true, validate = bank.validate },
  { "evidence_1", "file", label = "Evidence" },
  { "evidence_2", "file", label = "Second file" },
  { "evidence_3", "file", label = "Third file" },
  { "declaration", "boolean", messages = { required = "Confirm that what you have told us is true" } },
  { "answers", "long_text" },
  { "amount", "money", min = 0 },
  { "info_request", "long_text", max_length = 2000, label = "What you need to know" },
  { "info_reply", "long_text", max_length = 5000, label = "Your answer" },
  { "reject_reason", "long_text", max_length = 2000, label = "Why it is rejected" },
  { "assigned_to", "text", index = true },
  { "ip", "text", index = true },
  { "device", "text", index = true },
  { "submitted_at", "datetime", index = true },
  { "decided_at", "datetime" },
  { "reminded_at", "datetime" },
}
local Apps, Schemes = M.Applications, M.Schemes

local function now() return fields.iso_datetime(os.time()) end
local function money(p) return borough.form.display(Apps.field.amount, p) end
local function scheme_of(a) return Schemes:find(a.scheme) end

--- The amount a scheme pays an application: fixed, by the business's
-- rateable value, or nil (the assessor proposes it); and whether a value
-- is one the scheme allows.
function M.amount_for(scheme, business)
  if scheme.amount_rule == "fixed" then return scheme.amount end
  if scheme.amount_rule == "bands" and business then
    for _, b in ipairs(bands_of(scheme.bands)) do
      if business.rateable_value <= b.up_to then return b.amount end
    end
  end
end

local function amount_problem(scheme, a)
  if not a.amount then return "Enter the amount" end
  local want = M.amount_for(scheme, a.business and M.Businesses:find(a.business))
  if scheme.amount_rule ~= "proposed" and a.amount ~= want then return "The amount must be " .. money(want) end
  if scheme.amount_rule == "proposed" and (a.amount < scheme.min_amount or a.amount > scheme.max_amount) then
    return ("The amount must be between %s and %s"):format(money(scheme.min_amount), money(scheme.max_amount))
  end
end

local function email(a, template, event, more)
  if not a.email then return end
  local p = { name = a.contact_name or a.business_name or "", reference = a.reference or "",
              scheme = scheme_of(a).name }
  for k, v in pairs(more or {}) do p[k] = v end
  notify.email { email_address = a.email, template_id = template, reference = ("application-%d-%s"):format(a.id, event),
                 personalisation = p }
end

-- Fraud checks ----------------------------------------------------------------

local function simple(s) return (s or ""):lower():gsub("[^%w]", "") end

--- Runs the council's fraud checks on an application, raising a flag with
-- its reason for each finding (a flag already raised is not raised again).
function M.check_fraud(a)
  local function flag(kind, reason) flags.raise(Apps, a.id, kind, reason) end
  for _, o in ipairs(flags.sharing(Apps, a.id, { "sort_code", "account_number" },
                                   { "reference", "business_name", "rates_ref" })) do
    if simple(o.business_name) ~= simple(a.business_name) or (o.rates_ref or "") ~= (a.rates_ref or "") then
      flag("bank", ("The same bank account is on application %s, for %s"):format(o.reference or "not yet sent",
                                                                                 o.business_name or "another applicant"))
    end
  end
  if a.rates_ref then
    for _, o in ipairs(db.query("SELECT reference FROM applications WHERE scheme = ? AND rates_ref = ? AND id <> ? "
                                .. "AND state <> 'started' LIMIT 20", a.scheme, a.rates_ref, a.id)) do
      flag("reference", ("The business rates reference %s is also on application %s"):format(a.rates_ref, o.reference))
    end
    local listed = M.Businesses:find { account_ref = a.rates_ref }
    if not listed then
      flag("list", ("The business rates reference %s is not on the rates list"):format(a.rates_ref))
    elseif simple(listed.business_name) ~= simple(a.business_name) or listed.postcode ~= a.postcode then
      flag("list", ("The details differ from the rates list, which has %s, %s"):format(listed.business_name, listed.postcode))
    end
  end
  local hour_ago = fields.iso_datetime(os.time() - 3600)
  for _, k in ipairs { { "ip", "IP address" }, { "device", "device" } } do
    local n = a[k[1]] and Apps:count { [k[1]] = a[k[1]], submitted_at = { ge = hour_ago } } or 0
    if n >= 3 then flag(k[1], ("%d applications came from the same %s within an hour"):format(n, k[2])) end
  end
  if a.sort_code and M.KnownFraud:count { sort_code = a.sort_code, account_number = a.account_number } > 0 then
    flag("known", "The bank account is on the council's list of accounts known for fraud")
  end
end

-- The workflow ----------------------------------------------------------------

local function assign(a, move)
  Apps:update(a.id, { assigned_to = tostring(move.user.id), assigned_name = move.user.name or move.user.email })
end

local function approve(a)
  local scheme = scheme_of(a)
  if #flags.open(Apps, a.id) > 0 then return nil, "Someone other than the assessor must clear the flags first" end
  local why = amount_problem(scheme, a)
  if why then return nil, why end
  local name = "scheme-" .. scheme.id
  if not budget.get(name) or budget.get(name).total ~= scheme.budget then
    local ok, errors = budget.set(name, scheme.budget)
    if not ok then return nil, errors[1].message end
  end
  local line, over = budget.commit(name, "application-" .. a.id, a.amount)
  if not line then return nil, over end
  Apps:update(a.id, { decided_at = now() })
end

M.Flow = borough.workflow {
  entity = Apps,
  states = {
    { "started", "Not yet sent", colour = "grey" },
    { "submitted", "Submitted", colour = "blue", due = "5 days" },
    { "assessing", "Being assessed", colour = "yellow", due = "3 days" },
    { "more_info", "More information requested", colour = "orange", due = "14 days" },
    { "recommended", "Recommended", colour = "purple", due = "2 days" },
    { "approved", "Approved", colour = "green" },
    { "rejected", "Rejected", colour = "red" },
    { "paid", "Paid", colour = "turquoise" },
  },
  steps = {
    { "submit", "Send the application", from = "started", to = "submitted", role = "public",
      after = function(a) M.check_fraud(a); email(a, T.received, "received") end },
    { "assess", "Start assessing", from = "submitted", to = "assessing", role = M.ASSESSORS, after = assign },
    { "request_info", "Ask for more information", from = "assessing", to = "more_info", role = M.ASSESSORS,
      fields = { "info_request" }, after = function(a)
        local token = links.new("more-info", a.id, { days = 14 })
        email(a, T.info, "info-" .. os.time(), { question = a.info_request,
                                                link = borough.url("/more-info/" .. token, { absolute = true }) })
      end },
    { "info_added", "Information added", from = "more_info", to = "assessing", role = "public" },
    { "recommend", "Recommend approval", from = "assessing", to = "recommended", role = M.ASSESSORS,
      fields = { "amount" }, after = function(a)
        local why = amount_problem(scheme_of(a), a)
        if why then return nil, why end
      end },
    { "approve", "Approve", from = "recommended", to = "approved", role = "approver", not_by = { "assess", "recommend" },
      after = approve },
    { "reject", "Reject", from = { "submitted", "assessing", "more_info", "recommended" }, to = "rejected",
      role = { "assessor", "approver", "manager" }, fields = { "reject_reason" }, after = function(a)
        Apps:update(a.id, { decided_at = now() })
        email(a, T.rejected, "rejected", { reason = a.reject_reason })
      end },
    { "pay", "Paid", from = "approved", to = "paid", role = "finance", after = function(a)
        budget.pay("application-" .. a.id)
        email(a, T.paid, "paid", { amount = money(a.amount) })
      end },
  },
}

-- Applying ----------------------------------------------------------------------

--- The pages an application asks, from its scheme: the eligibility
-- questions (those with ineligible answers) first, the business's or
-- person's details, the scheme's other questions, bank details, evidence
-- and the declaration. The key names this version of them (what they are made of).
function M.pages_for(a)
  local scheme = scheme_of(a)
  local list = json.decode(scheme.questions or "[]")
  local first, rest = {}, {}
  for _, q in ipairs(list) do table.insert(q.ineligible and first or rest, q) end
  local pages = questions.pages(first, { title = "You cannot apply for this grant" })
  local function need(name, more) local f = { name, required = true } for k, v in pairs(more or {}) do f[k] = v end return f end
  local you = { need("contact_name", { autocomplete = "name" }), need("email"), "phone" }
  if scheme.details == "business" then
    pages[#pages + 1] = { name = "business", title = "About the business", fields = { need("business_name"),
      { "rates_ref", hint = "On the business rates bill, like 60012345" }, need("address"), need("postcode") } }
  else
    table.insert(you, 2, need("address", { autocomplete = "street-address" }))
    table.insert(you, 3, need("postcode"))
  end
  pages[#pages + 1] = { name = "contact", title = scheme.details == "business" and "Your contact details" or "Your details",
                        fields = you }
  for _, q in ipairs(questions.pages(rest)) do pages[#pages + 1] = q end
  pages[#pages + 1] = { name = "bank", title = "Bank details", intro = "We pay the grant into this account.",
    fields = { need("account_name"), need("sort_code", { hint = "Must be 6 digits long" }),
               need("account_number", { hint = "Must be between 6 and 8 digits long" }) } }
  if scheme.evidence then
    pages[#pages + 1] = { name = "evidence", title = "Upload your evidence", intro = scheme.evidence,
      fields = { need("evidence_1", { hint = "A PDF, PNG or JPG, smaller than 10 MB" }), "evidence_2", "evidence_3" } }
  end
  pages[#pages + 1] = { name = "declaration", title = "Declaration", fields = { need("declaration", { as = "checkbox",
    question = "I confirm that what I have told you is true, and that the council may check it and take back a grant "
               .. "paid because of false information" }) } }
  return pages, borough.sha256(json.encode { scheme.questions, scheme.details, scheme.evidence })
end

--- Whether a scheme takes applications today.
function M.open(scheme)
  local today = fields.today()
  return scheme and scheme.opens_on <= today and today <= scheme.closes_on
end

--- An application sent: what the applicant's browser told us, the amount
-- the scheme pays, the links spent, the move (fraud checks, the email).
function M.submitted(a, req)
  local scheme = scheme_of(a)
  a = Apps:update(a.id, { submitted_at = now(), ip = req.ip, device = req.cookies.grants_device,
                          amount = M.amount_for(scheme, a.business and M.Businesses:find(a.business)) })
  links.use("apply", a.id)
  local moved, errors = M.Flow:move(a, "submit", {}, { user = false })
  if not moved then return nil, errors end
  return true
end

--- A new application to an open scheme: its link (the applicant's way back).
function M.start(scheme)
  return db.tx(function()
    local a = assert(M.Flow:start({ scheme = scheme.id }, { user = false }))
    return links.new("apply", a.id, { days = 28 })
  end)
end

-- Inviting ----------------------------------------------------------------------

-- Days until a scheme closes (at least one): how long its links last.
local function days_left(scheme)
  return math.max(1, (fields.seconds(scheme.closes_on .. "T23:59:59Z") - os.time()) // 86400 + 1)
end

--- Invites the businesses with ids first..last that the scheme can pay
-- and that can be reached (an email or a mobile), each once: the
-- application, prefilled from the rates list, and its link by email and
-- text message. One transaction (a job of m.invite_all).
function M.invite(scheme_id, first, last)
  local scheme = Schemes:find(scheme_id)
  return db.tx(function()
    local n = 0
    for _, b in ipairs(M.Businesses:where({ id = { ge = first, le = last } }, { per_page = 500 })) do
      local key = scheme.id .. "/" .. b.id
      if (b.email or b.mobile) and (scheme.amount_rule ~= "bands" or M.amount_for(scheme, b))
         and not Apps:find { invite_key = key } then
        local a = assert(M.Flow:start({ scheme = scheme.id, business = b.id, invite_key = key, rates_ref = b.account_ref,
          business_name = b.business_name, address = b.address, postcode = b.postcode, email = b.email, phone = b.mobile },
          { user = false }))
        local link = borough.url("/start/" .. links.new("apply", a.id, { days = days_left(scheme) }), { absolute = true })
        email(a, T.invite, "invite", { link = link, closes = fields.format_date(scheme.closes_on) })
        if b.mobile then
          notify.sms { phone_number = b.mobile, template_id = T.sms, reference = ("application-%d-sms"):format(a.id),
                       personalisation = { scheme = scheme.name, link = link } }
        end
        n = n + 1
      end
    end
    return n
  end)
end

--- Queues the invitations of a scheme: a job for each 250 businesses.
function M.invite_all(scheme)
  local n, after = 0, 0
  repeat
    local page = db.query("SELECT id FROM businesses WHERE id > ? ORDER BY id LIMIT 250", after)
    if #page > 0 then
      jobs.enqueue("invite", { scheme = scheme.id, first = page[1].id, last = page[#page].id })
      n, after = n + 1, page[#page].id
    end
  until #page < 250
  return n
end

--- Reminds, once, those invited to a scheme N days ago (its reminder_days)
-- who have not applied, with a new link (the first is not kept).
function M.remind(scheme_id)
  local scheme = Schemes:find(scheme_id)
  if not M.open(scheme) then return end
  local before = fields.iso_datetime(os.time() - scheme.reminder_days * 86400)
  repeat
    local page = Apps:where({ scheme = scheme.id, state = "started", reminded_at = db.NULL,
                              created_at = { le = before } }, { per_page = 200 })
    db.tx(function()
      for _, a in ipairs(page) do
        Apps:update(a.id, { reminded_at = now() })
        local link = borough.url("/start/" .. links.new("apply", a.id, { days = days_left(scheme) }), { absolute = true })
        email(a, T.reminder, "reminder", { link = link, closes = fields.format_date(scheme.closes_on) })
      end
      return true
    end)
  until #page < 200
end

-- Paying and reporting ---------------------------------------------------------

--- Applications approved and in no payment run, as payments.run takes them.
function M.due()
  local out, after = {}, nil
  repeat
    local page = Apps:where({ state = "approved" }, { after = after, per_page = 500 })
    for _, a in ipairs(page) do out[#out + 1] = { item = "application-" .. a.id, amount = a.amount } end
    after = page[#page] and page[#page].id
  until #page < 500
  return out
end

--- Per scheme: applications by state, the budget's sums, the days from
-- sending to a decision, open flags.
function M.report(scheme)
  local b = budget.get("scheme-" .. scheme.id) or { committed = 0, paid = 0 }
  local d = db.one("SELECT avg(julianday(decided_at) - julianday(submitted_at)) AS days, count(*) AS n "
                   .. "FROM applications WHERE scheme = ? AND decided_at IS NOT NULL", scheme.id)
  local open = db.one("SELECT count(*) AS n FROM record_flags f JOIN applications a ON a.id = f.record "
                      .. "WHERE f.entity = 'applications' AND f.state = 'open' AND a.scheme = ?", scheme.id).n
  local n = Apps:count_by("state", { scheme = scheme.id })
  local states = {}
  for i, st in ipairs(M.Flow.states) do states[i] = { label = st.label, count = n[st.name] or 0 } end
  return { scheme = scheme, states = states, committed = b.committed, remaining = scheme.budget - b.committed,
           sums = { { "Budget", money(scheme.budget) }, { "Committed", money(b.committed) }, { "Paid", money(b.paid) },
                    { "Left", money(scheme.budget - b.committed) } },
           decided = d.n, days = d.days and ("%.1f"):format(d.days) or "none yet", flags = open }
end

--- Adds a scheme from its definition (a table, or JSON text: the fields
-- of a scheme, with its questions as a list), or changes the scheme of the
-- same short name. Returns the scheme, or nil and errors.
function M.import_scheme(def)
  if type(def) == "string" then def = json.decode(def) end
  if type(def) ~= "table" then return nil, { { field = "", message = "The definition is not JSON" } } end
  local values = {}
  for k, v in pairs(def) do values[k] = v end
  local ok, why = questions.check(def.questions or {}, { taken = Apps.names })
  if not ok then return nil, { { field = "questions", message = why } } end
  values.questions = json.encode(def.questions or {})
  local known = def.slug and Schemes:find { slug = def.slug }
  if known then return Schemes:update(known.id, values) end
  return Schemes:create(values)
end

M.money = money
return M
