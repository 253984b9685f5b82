-- Validation of the forms, with GOV.UK-style messages.
local nhs = require "lib.nhs"
local fmt = require "lib.format"
local forms = {}

local function text(v) return fmt.trim(type(v) == "string" and v or "") end

function forms.resident(f)
  local values, errors = {}, {}
  values.name = text(f.name)
  if values.name == "" then errors.name = "Enter the resident's full name" end
  values.nhs_number = nhs.normalise(text(f.nhs_number))
  if not nhs.valid(values.nhs_number) then errors.nhs_number = "Enter a real NHS number, like 485 777 3456" end
  values.postcode = text(f.postcode):upper()
  if not values.postcode:match("^%u%u?%d[%u%d]? ?%d%u%u$") then errors.postcode = "Enter a real postcode" end
  values.dob = text(f.dob)
  if values.dob ~= "" and not values.dob:match("^%d%d%d%d%-%d%d%-%d%d$") then
    errors.dob = "Date of birth must be a real date"
  end
  values.address, values.phone, values.flags = text(f.address), text(f.phone), text(f.flags)
  return values, errors
end

function forms.call(f, outcomes)
  local errors = {}
  if not outcomes[f.outcome or ""] then errors.outcome = "Select how the call went" end
  if f.note and #f.note > 2000 then errors.note = "Note must be 2000 characters or fewer" end
  return { outcome = f.outcome, note = text(f.note) }, errors
end

return forms
