--- borough.fields: the field types of entities, how each reads a value and
-- the message a person sees when a value is wrong.
--
-- Every type has a `parse(field, value)` that turns what came in (text
-- from a form or a CSV file, or a Lua value) into what is stored, or
-- returns nil and a message. Messages follow the GOV.UK Design System's
-- error message guidance: say what went wrong and how to fix it, in plain
-- words, using the field's label ("Enter a real NHS number", "Date of
-- birth must be a real date").
--
-- How values are stored (and what Lua code reads back):
--   text, long_text, email, phone, postcode, nhs_number, sort_code,
--   account_number, choice, file      strings
--   integer                            integers
--   number                             numbers (integers stay integers)
--   money                              whole pence, an integer (£12.50 is 1250)
--   boolean                            true or false
--   date                               "YYYY-MM-DD"
--   datetime                           "YYYY-MM-DDTHH:MM:SSZ", in UTC
--   reference                          the id of the other record
--
-- Text from a person is read generously: spaces and dashes in numbers,
-- "£1,250.50", "07700 900 982", "sw1a1aa", "1/4/2024" are all understood
-- and stored in one standard form.

local fields = {}

-- The lexical work (trimming, digits, dates, postcodes, email shapes) is
-- done by C helpers (core/lfields.c), one pass over the text each: an
-- import checks a dozen fields a row, a million rows at a time.
-- core/lfields.c also reads text values of the common types itself, for
-- Entity:validate and the import (read_fields, insert_rows), exactly as
-- the parse functions below read them: a change to what a parse accepts
-- needs the same change there (tests/lua/fields compares the two on
-- random and adversarial values of every type).
local lex = borough._fields

-- ---- labels and messages ----

--- The label with its first letter lower-cased for use inside a sentence,
-- unless it starts with an abbreviation ("NHS number" stays as it is).
function fields.lower(label)
  if label:find("^%u%u") then return label end
  return label:sub(1, 1):lower() .. label:sub(2)
end

local lower = fields.lower

local function upper(label)
  return label:sub(1, 1):upper() .. label:sub(2)
end

--- "a" or "an" before a word.
function fields.article(word)
  if word:find("^[aeiouAEIOU]") or word:find("^[FHLMNRSX]%u") then return "an" end
  return "a"
end

-- Abbreviations written in capitals when a label is made from a name.
local capitals = { nhs = "NHS", uk = "UK", id = "ID", ni = "NI", url = "URL", gp = "GP", vat = "VAT" }

--- A label made from a field name: "date_of_birth" -> "Date of birth",
-- "nhs_number" -> "NHS number".
function fields.label_from_name(name)
  local words = {}
  for word in name:gmatch("[^_]+") do
    words[#words + 1] = capitals[word] or word
  end
  return upper(table.concat(words, " "))
end

-- The message for a failed check: the field's own (messages[key]) or the
-- default made by fn.
local function message(f, key, default)
  local own = f.messages and f.messages[key]
  if own then return own end
  return default
end

--- The message for a required field left empty.
function fields.required_message(f)
  local t = fields.types[f.type]
  return message(f, "required", t.verb .. " " .. lower(f.label))
end

-- ---- reading text ----

local function trim(s)
  local first, last = s:byte(1), s:byte(-1)
  if first and first > 32 and last > 32 then return s end    -- nothing to trim: the common case
  return (s:match("^%s*(.-)%s*$"))
end
fields.trim = trim

-- A value given as text: strings as they are, numbers as Lua writes them.
local function as_text(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then return math.type(v) == "integer" and tostring(v) or ("%.17g"):format(v) end
  return nil
end

-- Text trimmed at both ends: valid UTF-8 without control characters (a
-- tab is fine); long text may hold line breaks (stored as "\n").
local lex_text = lex.text
local function clean_text(f, s, multiline)
  local text, why = lex_text(s, multiline)
  if text then return text end
  if why == "lines" then
    return nil, message(f, "invalid", upper(lower(f.label)) .. " must be on one line")
  end
  return nil, message(f, "invalid", upper(lower(f.label)) .. " must only include letters, numbers and symbols")
end

-- ---- numbers and money ----


--- Pence as money text: 125050 -> "£1,250.50", 2500000 -> "£25,000".
function fields.format_money(pence)
  local sign = pence < 0 and "-" or ""
  pence = math.abs(pence)
  local pounds = tostring(pence // 100):reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  local p = pence % 100
  if p == 0 then return sign .. "£" .. pounds end
  return ("%s£%s.%02d"):format(sign, pounds, p)
end

--- Pence as the plain decimal text the importer reads back: 125050 -> "1250.50".
function fields.money_text(pence)
  local sign = pence < 0 and "-" or ""
  pence = math.abs(pence)
  return ("%s%d.%02d"):format(sign, pence // 100, pence % 100)
end

-- "£1,250.50", "1250.5", "-£5", "12" -> pence; nil if it is not money.
-- ("£" is two bytes, so it is matched as a string, not in a pattern.)
local function parse_money_text(s)
  s = s:gsub("[%s,]", "")
  local negative = false
  local sign = s:sub(1, 1)
  if sign == "-" or sign == "+" then negative, s = sign == "-", s:sub(2) end
  if s:sub(1, 2) == "£" then s = s:sub(3) end
  if not negative and s:sub(1, 1) == "-" then negative, s = true, s:sub(2) end
  local whole, frac = s:match("^(%d*)%.?(%d?%d?)$")
  if not whole or (whole == "" and frac == "") or #whole > 15 then return nil end
  local pence = (tonumber(whole) or 0) * 100 + (frac == "" and 0 or tonumber(frac) * (#frac == 1 and 10 or 1))
  return negative and -pence or pence
end

-- ---- dates and times ----

-- Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = (z >= 0 and z or z - 146096) // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function real_date(y, m, d)
  if m < 1 or m > 12 or d < 1 or y < 1000 or y > 9999 then return false end
  local y2, m2, d2 = civil_from_days(days_from_civil(y, m, d))
  return y2 == y and m2 == m and d2 == d
end

-- The start of British Summer Time in year y: 01:00 UTC on the last Sunday
-- of March; it ends at 01:00 UTC on the last Sunday of October.
local function last_sunday(y, m)
  local last = days_from_civil(y, m + 1, 1) - 1
  return last - (last + 4) % 7       -- 1970-01-01 was a Thursday (4)
end

--- fields.days_from_civil(y, m, d): days since 1970-01-01 of a date, and
-- fields.civil_from_days(days): the date back (y, m, d).
fields.days_from_civil, fields.civil_from_days = days_from_civil, civil_from_days

--- Seconds UK time is ahead of UTC at the UTC time t (0 or 3600).
function fields.uk_offset(t)
  local y = civil_from_days(t // 86400)
  local starts = last_sunday(y, 3) * 86400 + 3600
  local ends = last_sunday(y, 10) * 86400 + 3600
  return (t >= starts and t < ends) and 3600 or 0
end

local today, today_until = nil, 0

--- Today's date in the UK, "YYYY-MM-DD".
function fields.today()
  local now = os.time()
  if now >= today_until then       -- worked out again once a minute
    local y, m, d = civil_from_days((now + fields.uk_offset(now)) // 86400)
    today, today_until = ("%04d-%02d-%02d"):format(y, m, d), now - now % 60 + 60
  end
  return today
end

local month_names = { "January", "February", "March", "April", "May", "June", "July",
                      "August", "September", "October", "November", "December" }

--- fields.month_name(m [, short]): month m (1-12) named in the language of
-- the page being made ("December" or "Rhagfyr"; short: "Dec", "Rhag").
function fields.month_name(m, short)
  local t = borough.t          -- set once borough.i18n has loaded
  if t then return t((short and "date.month_short." or "date.month.") .. m) end
  return short and month_names[m]:sub(1, 3) or month_names[m]
end

--- "2024-04-01" -> "1 April 2024", as GOV.UK writes dates.
function fields.format_date(iso)
  local y, m, d = iso:match("^(%d+)-(%d+)-(%d+)$")
  if not y then return iso end
  return ("%d %s %d"):format(tonumber(d), fields.month_name(tonumber(m)), tonumber(y))
end

--- "2024-04-01T09:30:00Z" (UTC) -> "1 April 2024 at 10:30am" (UK time), as GOV.UK writes times.
function fields.format_datetime(iso)
  local y, mo, d, h, mi, sec = iso:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)Z$")
  if not y then return iso end
  local t = days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400 + tonumber(h) * 3600
            + tonumber(mi) * 60 + tonumber(sec)
  t = t + fields.uk_offset(t)
  local yy, mm, dd = civil_from_days(t // 86400)
  local hour, minute = t % 86400 // 3600, t % 3600 // 60
  local clock = ("%d:%02d%s"):format((hour + 11) % 12 + 1, minute, hour < 12 and "am" or "pm")
  return ("%d %s %d at %s"):format(dd, fields.month_name(mm), yy, clock)
end

local function iso_date(y, m, d)
  return ("%04d-%02d-%02d"):format(y, m, d)
end

-- A date from text: "2024-04-01", "1/4/2024", "1-4-2024", "1.4.2024" or
-- "1 4 2024" (day, month, year), and only a real date.
local parse_date_text = lex.date

-- A date from the three boxes of a GOV.UK date input: { day =, month =, year = }.
local function parse_date_parts(f, t)
  local parts, missing = {}, {}
  for _, k in ipairs({ "day", "month", "year" }) do
    local v = t[k]
    if type(v) == "string" then v = trim(v) end
    if v == nil or v == "" then
      missing[#missing + 1] = k
    else
      parts[k] = tonumber(v)
      if not parts[k] or math.type(parts[k]) ~= "integer" then
        return nil, message(f, "invalid", upper(lower(f.label)) .. " must be a real date")
      end
    end
  end
  if #missing == 3 then return nil end
  if #missing > 0 then
    return nil, message(f, "invalid", ("%s must include a %s"):format(upper(lower(f.label)), table.concat(missing, " and ")))
  end
  if parts.year < 1000 then
    return nil, message(f, "invalid", upper(lower(f.label)) .. " must include a year with 4 numbers")
  end
  if not real_date(parts.year, parts.month, parts.day) then
    return nil, message(f, "invalid", upper(lower(f.label)) .. " must be a real date")
  end
  return iso_date(parts.year, parts.month, parts.day)
end

-- A date and time from text. Without a zone it is UK time.
local function parse_datetime_text(s)
  local y, mo, d, h, mi, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[T ](%d%d):(%d%d)(.*)$")
  if not y then return nil end
  local sec, zone = rest:match("^:(%d%d)%.?%d*(.*)$")
  if not sec then sec, zone = "0", rest end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  if not real_date(y, mo, d) or h > 23 or mi > 59 or sec > 59 then return nil end
  local t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
  if zone == "Z" or zone == "z" then
    -- UTC as it is
  elseif zone == "" then
    t = t - fields.uk_offset(t - 3600)
  else
    local sign, zh, zm = zone:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then
      sign, zh = zone:match("^([+-])(%d%d)$")
      zm = "0"
    end
    if not sign or tonumber(zh) > 23 or tonumber(zm) > 59 then return nil end
    local offset = tonumber(zh) * 3600 + tonumber(zm) * 60
    t = sign == "+" and t - offset or t + offset
  end
  return fields.iso_datetime(t)
end

--- "2024-04-01" (midnight UTC) or "2024-04-01T09:30:00Z" (as stored) ->
-- seconds since 1970, UTC; nil for anything else.
function fields.seconds(iso)
  local y, m, d, rest = tostring(iso):match("^(%d%d%d%d)-(%d%d)-(%d%d)(.*)$")
  if not y then return nil end
  local h, mi, sec = 0, 0, 0
  if rest ~= "" then
    h, mi, sec = rest:match("^T(%d%d):(%d%d):(%d%d)Z$")
    if not h then return nil end
  end
  return days_from_civil(tonumber(y), tonumber(m), tonumber(d)) * 86400 + tonumber(h) * 3600
         + tonumber(mi) * 60 + tonumber(sec)
end

--- Seconds since 1970 (UTC) as "YYYY-MM-DDTHH:MM:SSZ".
function fields.iso_datetime(t)
  local days = t // 86400
  local secs = t - days * 86400
  local y, m, d = civil_from_days(days)
  return ("%04d-%02d-%02dT%02d:%02d:%02dZ"):format(y, m, d, secs // 3600, secs % 3600 // 60, secs % 60)
end

-- ---- UK formats ----

--- True if the 10 digits pass the NHS number's modulus 11 check.
function fields.nhs_check(digits)
  local d1, d2, d3, d4, d5, d6, d7, d8, d9, d10 = digits:byte(1, 10)
  local sum = (d1 - 48) * 10 + (d2 - 48) * 9 + (d3 - 48) * 8 + (d4 - 48) * 7 + (d5 - 48) * 6
              + (d6 - 48) * 5 + (d7 - 48) * 4 + (d8 - 48) * 3 + (d9 - 48) * 2
  local check = 11 - sum % 11
  if check == 11 then check = 0 end
  return check ~= 10 and check == d10 - 48
end

-- A UK postcode in its standard form ("SW1A 1AA"): an outward code of the
-- shapes A9, A99, AA9, AA99, A9A or AA9A (with the letters Royal Mail uses
-- in each place) and an inward code of a digit and two letters.
local parse_postcode = lex.postcode

-- A UK telephone number as its 10 or 11 digits starting with 0; +44 and
-- 0044 (with or without the (0) after them) mean 0.
local function parse_phone(s)
  local plus = s:find("^%s*%+")
  local digits = lex.digits(plus and s:gsub("^%s*%+", "", 1) or s)
  if not digits then return nil end
  if plus then
    if digits:sub(1, 2) ~= "44" then return nil end
    digits = "0" .. digits:sub(digits:sub(3, 3) == "0" and 4 or 3)
  elseif digits:sub(1, 4) == "0044" then
    digits = "0" .. digits:sub(digits:sub(5, 5) == "0" and 6 or 5)
  end
  if digits:byte(1) == 48 and (#digits == 10 or #digits == 11) then return digits end
  return nil
end

-- ---- the types ----

-- Each type: sql (the column type), verb (of the required message: "Enter"
-- or "Select") and parse(field, value) -> stored value | nil, message.
-- Types marked `text` take min_length, max_length and pattern; types marked
-- `ordered` take min and max.
local types = {}
fields.types = types

local function invalid(f, default)
  return nil, message(f, "invalid", default)
end

types.text = { sql = "TEXT", verb = "Enter", text = true, default_max_length = 1000,
  parse = function(f, v)
    if type(v) == "string" then     -- the common case, without a call more
      local text = lex_text(v, false)
      if text then return text end
    end
    local s = as_text(v)
    if not s then return invalid(f, upper(lower(f.label)) .. " must be text") end
    return clean_text(f, s, false)
  end }

types.long_text = { sql = "TEXT", verb = "Enter", text = true, default_max_length = 100000,
  parse = function(f, v)
    local s = as_text(v)
    if not s then return invalid(f, upper(lower(f.label)) .. " must be text") end
    return clean_text(f, s, true)
  end }

types.integer = { sql = "INTEGER", verb = "Enter", ordered = true,
  parse = function(f, v)
    if math.type(v) == "integer" then return v end
    if math.type(v) == "float" and math.tointeger(v) then return math.tointeger(v) end
    local s = type(v) == "string" and v:gsub("[%s,]", "")
    local n = s and s:find("^[+-]?%d+$") and math.tointeger(tonumber(s))
    if not n then return invalid(f, upper(lower(f.label)) .. " must be a whole number") end
    return n
  end }

types.number = { sql = "NUMERIC", verb = "Enter", ordered = true,
  parse = function(f, v)
    if type(v) == "number" then
      if v ~= v or v == math.huge or v == -math.huge then
        return invalid(f, upper(lower(f.label)) .. " must be a number")
      end
      return v
    end
    local s = type(v) == "string" and v:gsub("[%s,]", "")
    if s and (s:find("^[+-]?%d+%.?%d*$") or s:find("^[+-]?%.%d+$")) then
      local n = tonumber(s)
      if n == math.huge or n == -math.huge then     -- 309 digits and more
        return invalid(f, upper(lower(f.label)) .. " must be a smaller number")
      end
      return math.tointeger(n) or n
    end
    return invalid(f, upper(lower(f.label)) .. " must be a number")
  end }

types.money = { sql = "INTEGER", verb = "Enter", ordered = true,
  parse = function(f, v)
    if math.type(v) == "integer" then return v end       -- pence, as Lua code holds money
    local pence = type(v) == "string" and parse_money_text(v)
    if not pence then
      return invalid(f, upper(lower(f.label)) .. " must be an amount of money, like 150 or 150.50")
    end
    return pence
  end }

local truth = { yes = true, y = true, ["true"] = true, ["1"] = true, on = true,
                no = false, n = false, ["false"] = false, ["0"] = false, off = false }

types.boolean = { sql = "INTEGER", verb = "Select",
  parse = function(f, v)
    if type(v) == "boolean" then return v end
    if v == 1 or v == 0 then return v == 1 end
    local b = type(v) == "string" and truth[trim(v):lower()]
    if b == nil then return invalid(f, upper(lower(f.label)) .. " must be yes or no") end
    return b
  end }

types.date = { sql = "TEXT", verb = "Enter", ordered = true,
  parse = function(f, v)
    if type(v) == "table" then return parse_date_parts(f, v) end
    local d = type(v) == "string" and parse_date_text(trim(v))
    if not d then return invalid(f, upper(lower(f.label)) .. " must be a real date") end
    return d
  end }

types.datetime = { sql = "TEXT", verb = "Enter",
  parse = function(f, v)
    if math.type(v) == "integer" then return fields.iso_datetime(v) end
    local t = type(v) == "string" and parse_datetime_text(trim(v))
    if not t then return invalid(f, upper(lower(f.label)) .. " must be a real date and time") end
    return t
  end }

-- An email address: name@domain.tld, without spaces, with one @, a dot in
-- the domain and no "..".
types.email = { sql = "TEXT", verb = "Enter", text = true, default_max_length = 254,
  parse = function(f, v)
    local s = type(v) == "string" and trim(v)
    if not s or not lex.email(s) then
      return invalid(f, "Enter an email address in the correct format, like name@example.com")
    end
    return s
  end }

types.phone = { sql = "TEXT", verb = "Enter", text = true,
  parse = function(f, v)
    local s = as_text(v)
    local phone = s and parse_phone(s)
    if not phone then
      return invalid(f, "Enter a telephone number, like 01632 960 001, 07700 900 982 or +44 808 157 0192")
    end
    return phone
  end }

types.postcode = { sql = "TEXT", verb = "Enter", text = true,
  parse = function(f, v)
    local pc = type(v) == "string" and parse_postcode(v)
    if not pc then return invalid(f, "Enter a real postcode") end
    return pc
  end }

-- The digits of a number written with spaces, dashes, dots or brackets
-- ("943 476 5919", "30-94-30"), or nil if it holds anything else.
local function digits_of(v)
  local s = as_text(v)
  return s and lex.digits(s)
end

types.nhs_number = { sql = "TEXT", verb = "Enter", text = true,
  parse = function(f, v)
    local s = digits_of(v)
    if not s or #s ~= 10 then
      return invalid(f, upper(lower(f.label)) .. " must be 10 digits")
    end
    if not fields.nhs_check(s) then return invalid(f, "Enter a real NHS number") end
    return s
  end }

types.sort_code = { sql = "TEXT", verb = "Enter", text = true,
  parse = function(f, v)
    local s = digits_of(v)
    if not s then return invalid(f, "Enter a valid sort code like 309430") end
    if #s ~= 6 then return invalid(f, upper(lower(f.label)) .. " must be 6 digits long") end
    return s
  end }

types.account_number = { sql = "TEXT", verb = "Enter", text = true,
  parse = function(f, v)
    local s = digits_of(v)
    if not s then return invalid(f, "Enter a valid account number like 00733445") end
    if #s < 6 or #s > 8 then
      return invalid(f, upper(lower(f.label)) .. " must be between 6 and 8 digits")
    end
    return s
  end }

types.choice = { sql = "TEXT", verb = "Select",
  parse = function(f, v)
    local s = as_text(v)
    s = s and trim(s)
    local option = s and (f.option_set[s] or f.option_set[s:lower()])
    if not option then return invalid(f, "Select " .. lower(f.label) .. " from the list") end
    return option
  end }

types.reference = { sql = "INTEGER", verb = "Select",
  parse = function(f, v)
    if type(v) == "table" then v = v.id end
    if type(v) == "string" then v = trim(v):find("^%d+$") and math.tointeger(tonumber(v)) end
    if math.type(v) ~= "integer" or v <= 0 then
      return invalid(f, "Select " .. lower(f.label) .. " from the list")
    end
    return v
  end }

types.file = { sql = "TEXT", verb = "Select", text = true, default_max_length = 1024,
  parse = function(f, v)
    local s = type(v) == "string" and trim(v)
    if not s or s:find("[%z\1-\31\127]") or not utf8.len(s) then
      return invalid(f, upper(lower(f.label)) .. " must be the name of an uploaded file")
    end
    return s
  end }

-- Other spellings of type names.
fields.aliases = { ["long text"] = "long_text", ["nhs number"] = "nhs_number", ["sort code"] = "sort_code",
                   ["account number"] = "account_number", ["uk phone"] = "phone", telephone = "phone",
                   ["uk postcode"] = "postcode", ref = "reference" }

-- ---- checks after parsing ----

-- How a bound of an ordered field reads in a message.
local function show(f, v)
  if f.type == "money" then return fields.format_money(v) end
  if f.type == "date" then return fields.format_date(v) end
  return tostring(v)
end

local function date_bound(b)
  if b == "today" then return fields.today() end
  return b
end

--- True if fields.check has something to check for field f (bounds,
-- length, a pattern, validators); the entity skips the call otherwise.
function fields.has_checks(f)
  local t = types[f.type]
  return (t.ordered and (f.min ~= nil or f.max ~= nil)) or (t.text and (f.min_length or f.max_length or f.pattern))
         or #f.validators > 0
end

--- Checks a parsed value against the field's min, max, length, pattern
-- and custom validators; returns nil or the message. `values` is the whole
-- record being checked (for validators that look at other fields).
function fields.check(f, v, values)
  local t = types[f.type]
  if t.ordered and (f.min ~= nil or f.max ~= nil) then
    local lo, hi = f.min, f.max
    if f.type == "date" then lo, hi = date_bound(lo), date_bound(hi) end
    if (lo ~= nil and v < lo) or (hi ~= nil and v > hi) then
      local label, default = upper(lower(f.label)), nil
      if f.type == "date" then
        if f.max == "today" and f.min == nil then
          default = label .. " must be today or in the past"
        elseif f.min == "today" and f.max == nil then
          default = label .. " must be today or in the future"
        elseif lo ~= nil and hi ~= nil then
          default = ("%s must be between %s and %s"):format(label, show(f, lo), show(f, hi))
        elseif lo ~= nil then
          default = ("%s must be the same as or after %s"):format(label, show(f, lo))
        else
          default = ("%s must be the same as or before %s"):format(label, show(f, hi))
        end
      elseif lo ~= nil and hi ~= nil then
        default = ("%s must be between %s and %s"):format(label, show(f, lo), show(f, hi))
      elseif lo ~= nil then
        default = ("%s must be %s or more"):format(label, show(f, lo))
      else
        default = ("%s must be %s or less"):format(label, show(f, hi))
      end
      return message(f, "range", default)
    end
  end
  if t.text then
    local lo, hi = f.min_length, f.max_length
    -- A character is 1 to 4 bytes: count them only when the bytes cannot tell.
    local bytes = #v
    local n = ((hi and bytes > hi) or (lo and bytes < 4 * lo)) and (utf8.len(v) or bytes) or bytes
    if (lo and n < lo) or (hi and n > hi) then
      local label, default = upper(lower(f.label)), nil
      if lo and hi and f.max_length_given then
        default = ("%s must be between %d and %d characters"):format(label, lo, hi)
      elseif lo and n < lo then
        default = ("%s must be %d characters or more"):format(label, lo)
      else
        default = ("%s must be %d characters or less"):format(label, hi)
      end
      return message(f, "length", default)
    end
    if f.pattern and not v:find(f.pattern) then
      return message(f, "pattern", "Enter " .. lower(f.label) .. " in the correct format")
    end
  end
  local validators = f.validators
  for i = 1, #validators do
    local ok, why = validators[i](v, values)
    if type(ok) == "string" then return ok end
    if ok == false then return why or message(f, "invalid", "Enter a valid " .. lower(f.label)) end
  end
  return nil
end

--- Reads a bound (min or max) given in a declaration into the stored form:
-- money may be written as text ("£25,000") or as pence, dates as
-- "YYYY-MM-DD" or "today".
function fields.read_bound(f, b)
  if f.type == "date" then
    if b == "today" then return b end
    local d = type(b) == "string" and parse_date_text(b)
    return d or nil
  end
  local v = types[f.type].parse(f, b)
  return v
end

return fields
