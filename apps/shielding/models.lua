-- The records of the shielding service: residents on the government list,
-- the calls made to them, the needs found, the referrals to partner
-- organisations (a workflow) and the visits to those never reached.
local M = {}

-- After this many calls without an answer (no answer, wrong number) a
-- resident goes on the visiting list.
M.FAILED_CALLS_BEFORE_VISIT = 3

M.STATUSES = {
  { "to_call", "To call", "blue" }, { "reached", "Reached", "green" }, { "declined", "Declined help", "grey" },
  { "to_visit", "To visit", "orange" }, { "visited", "Visited", "turquoise" },
}
M.NEEDS = { "Food parcel", "Prescription collection", "Baby supplies", "Other" }
M.CALL_OUTCOMES = { "Reached", "No answer", "Wrong number", "Declined" }
M.VISIT_OUTCOMES = { "Spoke to resident", "No reply, card left", "Moved away", "In hospital" }

-- Partner organisations by name: who each need goes to, and where the
-- referral is emailed (fake addresses).
M.PARTNERS = {
  { "Food bank", "referrals@foodbank.example.org", need = "Food parcel" },
  { "Pharmacy volunteers", "pickups@pharmacy.example.org", need = "Prescription collection" },
  { "Baby bank", "help@babybank.example.org", need = "Baby supplies" },
  { "Council support team", "support@council.example.org", need = "Other" },
}
local partner_names, partner_email, partner_for = {}, {}, {}
for i, p in ipairs(M.PARTNERS) do
  partner_names[i], partner_email[p[1]], partner_for[p.need] = p[1], p[2], p[1]
end

M.Residents = borough.entity "residents" {
  label = "resident",
  search = { "first_name", "last_name", "postcode" },
  indexes = { { "status", "attempts", "last_call_at" } },
  { "nhs_number", "nhs_number", required = true, unique = true, label = "NHS number", encrypted = true, lookup = true },
  { "first_name", "text", required = true, max_length = 100 },
  { "last_name", "text", required = true, max_length = 100 },
  { "date_of_birth", "date", max = "today" },
  { "address", "text", required = true },
  { "postcode", "postcode", required = true },
  { "phone", "phone", encrypted = true },
  { "flags", "text" },
  { "status", "choice", options = { "to_call", "reached", "declined", "to_visit", "visited" }, default = "to_call" },
  { "attempts", "integer", default = 0 },
  { "failed_calls", "integer", default = 0 },
  { "last_call_at", "datetime" },
  { "assigned_to", "text", index = true },
  { "assigned_name", "text" },
}

M.Calls = borough.entity "calls" {
  { "resident", "reference", to = "residents", required = true, index = true },
  { "outcome", "choice", options = M.CALL_OUTCOMES, required = true, label = "Call outcome" },
  { "handler", "text" },
  { "note", "long_text" },
}

M.Needs = borough.entity "needs" {
  validate = function(n)
    if n.kind == "Other" and not n.note then return { note = "Enter what the other need is" } end
  end,
  { "resident", "reference", to = "residents", required = true, index = true },
  { "kind", "choice", options = M.NEEDS, required = true, label = "Need" },
  { "note", "text", label = "Other need" },
}

M.Visits = borough.entity "visits" {
  { "resident", "reference", to = "residents", required = true, index = true },
  { "outcome", "choice", options = M.VISIT_OUTCOMES, required = true, label = "Visit outcome" },
  { "officer", "text" },
  { "note", "long_text" },
}

M.Referrals = borough.entity "referrals" {
  { "resident", "reference", to = "residents", required = true, index = true },
  { "need", "reference", to = "needs", required = true },
  { "partner", "choice", options = partner_names, label = "Partner organisation" },
  { "outcome", "long_text", label = "What the partner said" },
  { "state", "text", index = true },
  { "due_at", "datetime", index = true },
}

-- Notify's template for a referral (made in GOV.UK Notify; its id here).
local REFERRAL_TEMPLATE = "5f7d3c1e-2b4a-4c8e-9a61-0d2f8e7b3a10"

-- Emails the partner; on sending, a reminder is queued for two days later.
local function send_referral(ref, reminder)
  local r, need = M.Residents:find(ref.resident), M.Needs:find(ref.need)
  notify.email {
    email_address = partner_email[ref.partner], template_id = REFERRAL_TEMPLATE,
    reference = "referral-" .. ref.id .. (reminder and "-reminder" or ""),   -- no personal data in it
    personalisation = { name = r.first_name .. " " .. r.last_name, address = r.address, postcode = r.postcode,
                        phone = r.phone or "none given", need = need.kind, detail = need.note or "",
                        reminder = reminder and "yes" or "no" },
  }
  if not reminder then jobs.enqueue("remind_partner", { referral = ref.id }, { delay = 2 * 86400 }) end
end

--- The job remind_partner (app.lua): reminds the partner of a referral
-- still not answered.
function M.remind_partner(id)
  local ref = M.Referrals:find(id)
  if ref and ref.state == "sent" then send_referral(ref, true) end
end

M.ReferralFlow = borough.workflow {
  entity = M.Referrals,
  states = {
    { "new", "To send", colour = "blue", due = "1 days" },
    { "sent", "Sent", colour = "yellow", due = "2 days" },
    { "accepted", "Accepted", colour = "purple", due = "3 days" },
    { "done", "Delivered", colour = "green" },
    { "declined", "Declined by partner", colour = "red" },
  },
  steps = {
    { "send", "Send the referral", from = "new", to = "sent", role = { "call_handler", "manager" },
      fields = { "partner" }, after = function(ref) send_referral(ref) end },
    { "accept", "Partner accepted", from = "sent", to = "accepted", role = { "call_handler", "manager" } },
    { "deliver", "Record delivery", from = { "sent", "accepted" }, to = "done",
      role = { "call_handler", "manager" }, note = true },
    { "decline", "Partner declined", from = { "sent", "accepted" }, to = "declined",
      role = "manager", fields = { "outcome" } },
  },
}

local function name_of(user)
  return user and (user.name or user.email) or nil
end

-- The needs found on a call or a visit, each with its referral (to send);
-- nil, or the errors of the first need that could not be recorded.
local function record_needs(resident, form, user)
  for _, kind in ipairs(form.needs or {}) do
    local need, errors = M.Needs:create { resident = resident.id, kind = kind, note = form.other_need }
    if not need then return errors end
    M.ReferralFlow:start({ resident = resident.id, need = need.id, partner = partner_for[need.kind] }, { user = user })
  end
end

--- The residents to call, next first: not yet reached, fewest calls, those
-- not tried for longest (never first), then in the order of the list.
function M.call_list(page)
  return M.Residents:where({ status = "to_call" },
                          { order = { "attempts", "last_call_at" }, page = page, per_page = 25 })
end

--- Assigns the next unassigned resident on the call list to user; nil if
-- there is no one left to call.
function M.take_next(user)
  return db.tx(function()
    local next = M.Residents:where({ status = "to_call", assigned_to = db.NULL },
                                   { order = { "attempts", "last_call_at" }, per_page = 1 })[1]
    if next then M.assign(next, user) end
    return next
  end)
end

function M.assign(resident, user)
  return M.Residents:update(resident.id, { assigned_to = tostring(user.id), assigned_name = name_of(user) })
end

--- Records a call (form: outcome, note, needs = { kinds }, other_need);
-- true, or nil and errors (and then nothing is kept: db.tx rolls back).
function M.record_call(resident, form, user)
  return db.tx(function()
    local call, errors = M.Calls:create { resident = resident.id, outcome = form.outcome, note = form.note,
                                          handler = name_of(user) }
    if not call then return nil, errors end
    local failed = (resident.failed_calls or 0) + ((call.outcome == "No answer" or call.outcome == "Wrong number") and 1 or 0)
    local status = ({ Reached = "reached", Declined = "declined" })[call.outcome]
                   or (failed >= M.FAILED_CALLS_BEFORE_VISIT and "to_visit" or "to_call")
    M.Residents:update(resident.id, { status = status, attempts = (resident.attempts or 0) + 1,
      failed_calls = failed, last_call_at = call.created_at, assigned_to = db.NULL, assigned_name = db.NULL })
    errors = call.outcome == "Reached" and record_needs(resident, form, user)
    if errors then return nil, errors end
    return true
  end)
end

--- Records a visit (form: outcome, note, needs, other_need); true, or nil
-- and errors. A visit with no reply leaves the resident on the list.
function M.record_visit(resident, form, user)
  return db.tx(function()
    local visit, errors = M.Visits:create { resident = resident.id, outcome = form.outcome, note = form.note,
                                            officer = name_of(user) }
    if not visit then return nil, errors end
    if visit.outcome ~= "No reply, card left" then M.Residents:update(resident.id, { status = "visited" }) end
    errors = visit.outcome == "Spoke to resident" and record_needs(resident, form, user)
    if errors then return nil, errors end
    return true
  end)
end

--- Residents for a search: by NHS number when the text is one, else by
-- name or postcode.
function M.search(text, page)
  local digits = (text or ""):gsub("[%s%-]", "")
  if digits:find("^%d%d%d%d%d%d%d%d%d%d$") then
    local r = M.Residents:find { nhs_number = digits }
    return { r }
  end
  return (M.Residents:search(text or "", { page = page }))
end

--- Counts for the dashboard: residents by status, needs by kind, referrals by state.
function M.counts()
  local by = function(sql)
    local n = {}
    for _, row in ipairs(db.query(sql)) do n[row.k] = row.n end
    return n
  end
  local status = by("SELECT status AS k, count(*) AS n FROM residents GROUP BY status")
  local kinds = by("SELECT kind AS k, count(*) AS n FROM needs GROUP BY kind")
  local out = { statuses = {}, needs = {}, referrals = M.ReferralFlow:counts() }
  for i, s in ipairs(M.STATUSES) do out.statuses[i] = { label = s[2], count = status[s[1]] or 0 } end
  for i, k in ipairs(M.NEEDS) do out.needs[i] = { label = k, count = kinds[k] or 0 } end
  return out
end

return M
