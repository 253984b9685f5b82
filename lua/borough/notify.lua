--- borough.notify: messages through GOV.UK Notify, kept in the app's outbox.
--
--   local id, ref = notify.email {
--     email_address = resident.email,
--     template_id = "f33517ff-2a88-4f6e-b855-c550268ce08a",
--     personalisation = { name = resident.first_name, reference = claim.ref },
--   }
--
-- The fields are Notify's own (v2 API): email_address, phone_number,
-- template_id, personalisation, reference, email_reply_to_id,
-- sms_sender_id, one_click_unsubscribe_url, postage. A call writes the
-- message to the app's outbox (the table _borough_outbox) and returns its
-- id and reference: inside db.tx it joins the transaction, so the message
-- exists if and only if the change that made it commits. The server's one
-- sender (core/notify.c) posts it to Notify later, retrying until Notify
-- accepts it. A reference is unique in the outbox: give one that names
-- the event ("claim-42-approved") and a second message for the same event
-- is refused (nil and a message) instead of sent twice; without one, the
-- platform makes one. References must not hold personal data: the
-- recipient and the message are kept sealed (core/notify.h) and removed
-- once the message is done, the reference stays in the clear.
--
-- Mistakes in the fields raise an error; the global `notify` is this table.

local P = borough._notify        -- the C half (core/lnotify.c)

local notify = {}

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

local fields = {
  email = { email_address = "string", template_id = "uuid", personalisation = "table", reference = "string",
            email_reply_to_id = "uuid", one_click_unsubscribe_url = "string" },
  sms = { phone_number = "string", template_id = "uuid", personalisation = "table", reference = "string",
          sms_sender_id = "uuid" },
  letter = { template_id = "uuid", personalisation = "table", reference = "string", postage = "string" },
}
local required = {
  email = { "email_address", "template_id" },
  sms = { "phone_number", "template_id" },
  letter = { "template_id", "personalisation" },
}
local postages = { first = true, second = true, economy = true, europe = true, ["rest-of-world"] = true }

local function names(t)
  local list = {}
  for k in pairs(t) do list[#list + 1] = k end
  table.sort(list)
  return table.concat(list, ", ")
end

-- A personalisation value: text, a number, or a list of them (Notify
-- shows a list as bullet points).
local function value_ok(v)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return true end
  if t ~= "table" then return false end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  if n ~= #v then return false end
  for _, item in ipairs(v) do
    if type(item) ~= "string" and type(item) ~= "number" then return false end
  end
  return true
end

-- Checks a message; errors name the caller of notify.email/sms/letter.
local function check(kind, msg)
  local what = "notify." .. kind
  if type(msg) ~= "table" then error(what .. " expects a table of Notify's fields", 4) end
  local allowed = fields[kind]
  for k, v in pairs(msg) do
    local want = allowed[k]
    if not want then
      error(("%s: unknown field '%s' (the fields are %s)"):format(what, tostring(k), names(allowed)), 4)
    end
    if want == "uuid" then
      if type(v) ~= "string" or not v:find(UUID) then
        error(("%s: %s must be an id such as \"f33517ff-2a88-4f6e-b855-c550268ce08a\""):format(what, k), 4)
      end
    elseif type(v) ~= want then
      error(("%s: %s must be a %s, not a %s"):format(what, k, want, type(v)), 4)
    end
  end
  for _, k in ipairs(required[kind]) do
    if msg[k] == nil or msg[k] == "" then error(("%s: %s is required"):format(what, k), 4) end
  end
  if msg.personalisation then
    for k, v in pairs(msg.personalisation) do
      if type(k) ~= "string" or not value_ok(v) then
        error(("%s: personalisation.%s must be text, a number or a list of them"):format(what, tostring(k)), 4)
      end
    end
  end
  if kind == "email" and not msg.email_address:find("^[^%s@]+@[^%s@]+$") then
    error(what .. ": email_address is not an email address", 4)
  elseif kind == "sms" and not msg.phone_number:find("^%+?[%d%s%-%(%)]+$") then
    error(what .. ": phone_number is not a telephone number", 4)
  elseif kind == "letter" then
    local p, lines = msg.personalisation, 0
    if type(p.address_line_1) ~= "string" or p.address_line_1 == "" then
      error(what .. ": personalisation.address_line_1 is required", 4)
    end
    for i = 1, 7 do if p["address_line_" .. i] then lines = lines + 1 end end
    if p.postcode then lines = lines + 1 end
    if lines < 3 then error(what .. ": an address needs at least 3 lines (address_line_1 to 7, or postcode)", 4) end
    if msg.postage and not postages[msg.postage] then
      error(what .. ": postage must be first, second, economy, europe or rest-of-world", 4)
    end
  end
  if msg.reference and (#msg.reference > 1000 or msg.reference:find("[%c]")) then
    error(what .. ": reference must be at most 1000 characters, on one line", 4)
  end
end

local function send(kind, msg)
  check(kind, msg)
  local body = {}
  for k, v in pairs(msg) do body[k] = v end
  body.reference = msg.reference or P.reference()
  local recipient = msg.email_address or msg.phone_number or msg.personalisation.address_line_1
  local id, why = P.add(kind, recipient, msg.template_id, json.encode(body), body.reference)
  if not id then return nil, why end
  return id, body.reference
end

--- notify.email{ email_address =, template_id =, personalisation =, reference =, ... }
-- -> the outbox id and the reference, or nil and why (a message with that
-- reference is already in the outbox).
function notify.email(msg)
  local id, ref = send("email", msg)
  return id, ref
end

--- notify.sms{ phone_number =, template_id =, personalisation =, reference =, sms_sender_id = }
function notify.sms(msg)
  local id, ref = send("sms", msg)
  return id, ref
end

--- notify.letter{ template_id =, personalisation = { address_line_1 =, ..., postcode = }, reference =, postage = }
function notify.letter(msg)
  local id, ref = send("letter", msg)
  return id, ref
end

return notify
