-- The C readers of core/lfields.c against fields.lua's parse: a randomised
-- differential test over every field type fields.lua knows.
--
-- For each type it makes thousands of values, from good ones written the
-- ways people write them to adversarial ones (whitespace of every kind,
-- Unicode, bad UTF-8, control characters, huge numbers, "1e3", "0x10",
-- "-0", "£-5", "1,2,3", NaN and infinity spellings, ...), and checks:
--   * read_fields (Entity:validate's C part): every value it reads is the
--     value parse gives, of the same Lua type, and every value it reads
--     without asking Lua to check it passes fields.check; Entity:validate
--     as a whole refuses and keeps exactly what fields.lua alone does;
--   * insert_rows (the import's C path): every record it inserts stores,
--     column for column (value and SQLite type), what the same values read
--     by parse and inserted by Entity:_insert store in a twin entity.
-- What the C readers leave to Lua is not compared: Lua reads it.
--
-- The seed comes from seed.lua (tests/e2e/test_fields.py writes it; set
-- FIELDS_SEED there to repeat a run), else a fixed one; every failure
-- names it.
local t = require "borough.test"
local fields = require "borough.fields"
local models = require "models"

local lex = borough._fields
local types = fields.types
local has_seed, given = pcall(require, "seed")
local SEED = has_seed and given or 20261207
local ROUNDS = 3000          -- records read by read_fields, per variant
local ROWS = 1000            -- rows a field, per variant, through insert_rows

-- ---- a generator of random values (xorshift64*: the same on every host) ----

local state
local function seed(n)
  state = n ~ 0x2545F4914F6CDD1D
  if state == 0 then state = 1 end
end

local function next64()
  local x = state
  x = x ~ (x >> 12)
  x = x ~ (x << 25)
  x = x ~ (x >> 27)
  state = x
  return x * 0x2545F4914F6CDD1D
end

local function below(n) return (next64() >> 1) % n end
local function pick(list) return list[below(#list) + 1] end
local function chance(p) return below(1000000) < p * 1000000 end

local function digits(n)
  local d = {}
  for i = 1, n do d[i] = string.char(48 + below(10)) end
  return table.concat(d)
end

local function letters(n, set)
  set = set or "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
  local out = {}
  for i = 1, n do
    local k = below(#set) + 1
    out[i] = set:sub(k, k)
  end
  return table.concat(out)
end

-- "1234567" -> "1,234,567"
local function grouped(d)
  return (d:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

-- Whitespace Lua's %s knows, and some it does not (no-break space, em space).
local SPACES = { " ", "  ", "\t", "\n", "\r\n", "\r", "\v", "\f", " \t ", "\xc2\xa0", "\u{2003}" }

-- Bytes and characters that make trouble.
local ODD = { "0", "1", "5", "9", " ", "  ", ",", ".", "-", "+", "£", "\xc2", "\xa3", "e", "E", "x", "X", "n",
              "N", "a", "i", "f", "(", ")", "/", "@", "\0", "\x7f", "\1", "\x1b", "\t", "\n", "\r", "\v", "'",
              "\"", "é", "É", "ß", "\xff", "\xfe", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\u{2028}",
              "\u{FF11}", "\u{0661}", "\u{00A0}", "\u{FEFF}", "😀", "_", ":", "T", "Z", "z", "%", "$", "€" }

-- Up to three random edits of bytes (which may split a character).
local function mutate(s)
  for _ = 1, 1 + below(3) do
    local i, op = below(#s + 1), below(3)
    if op == 0 then
      s = s:sub(1, i) .. pick(ODD) .. s:sub(i + 1)
    elseif op == 1 and #s > 0 then
      s = s:sub(1, i - 1) .. s:sub(i + 1)
    else
      s = s:sub(1, i - 1) .. pick(ODD) .. s:sub(i + 1)
    end
  end
  return s
end

local function maybe_spaces(s)
  if chance(0.25) then s = pick(SPACES) .. s end
  if chance(0.25) then s = s .. pick(SPACES) end
  return s
end

-- Numbers, as people and spreadsheets write them, and the edges.
local NUMBERS = {
  "0", "-0", "+0", "-0.0", "0.0", "00", "007", "0.", ".0", ".5", "5.", ".", "+", "-", "+.5", "-.5", "-.", "+-1",
  "9223372036854775807", "9223372036854775808", "9223372036854775809", "-9223372036854775807",
  "-9223372036854775808", "-9223372036854775809", "-9223372036854776832", "-9223372036854776833",
  "-9223372036854777856", "9223372036854775807.0", "-9223372036854775808.0", "9223372036854775808.0",
  "9,223,372,036,854,775,807", "18446744073709551615", "18446744073709551616", "99999999999999999999",
  "00000000000000000000000000000000000001", "1" .. ("0"):rep(400), "0." .. ("0"):rep(300) .. "1",
  ("9"):rep(70), ("1"):rep(64) .. ".5", "4503599627370497", "9007199254740993", "9007199254740993.0",
  "9007199254740992.5", "123456789012345", "1234567890123456", "999999999999999.99", "1000000000000000",
  "0000000000000001", "000000000000001", "1.0", "1.00", "1.50", "1.5", "-1.5", "0.1", "0.30000000000000004",
  "12345.678", "12345.6780", "12345.6781", "12345.677", "-0.5", "-0.50", "-0.51", "-0.49", "1000000", "1000001",
  "-5", "-6", "-4", "25000", "25000.00", "25000.01", "-10", "-10.00", "-10.01", "2500000", "2500001",
  "1e3", "1E3", "1e+3", "1e-3", "1.5e2", "0x10", "0X1A", "0x", "0b101", "0o17", "1,2,3", "1,,2", ",", ",5", "5,",
  "1_000", "1'000", "1 000", "1\t000", "1.000,50", "1,000.50", "£", "£-5", "-£5", "+£5", "£+5", "--5", "-+5",
  "£-", "£.5", "£5.", "£5.5", "£5.55", "£5.555", "£0.01", "£££5", "££5", "£ 5", "5£", "£-£5", "-£-5", "+£-5",
  "£1,250.50", "£25,000", "£ 1 , 250 . 50", "(5)", "5-", "5+", "inf", "-inf", "+inf", "Inf", "INF", "infinity",
  "Infinity", "nan", "NaN", "-nan", "NAN", "1e400", "-1e400", "0.1e1", "1d3", "1f", "5%", "$5", "€5", "5p",
  "\u{FF11}\u{FF12}", "\u{0661}\u{0662}", "1\u{00A0}000", "1\u{2009}000", "١٢٣",
}

local function number_text()
  local r = below(10)
  if r < 3 then return pick(NUMBERS) end
  local sign = pick({ "", "", "", "-", "+", "£", "-£", "£-", "+£", " - " })
  local whole = r == 3 and digits(16 + below(8)) or digits(below(7) + (chance(0.9) and 1 or 0))
  if chance(0.3) then whole = grouped(whole) end
  local frac = ""
  if chance(0.4) then frac = "." .. digits(below(5)) end
  if r == 4 then        -- near a power of two where floats and integers part
    local n = pick({ 1 << 53, 1 << 62, math.maxinteger, math.mininteger, -(1 << 53) }) + below(2049) - 1024
    return tostring(n) .. (chance(0.3) and ".0" or "")
  end
  return sign .. whole .. frac
end

-- A valid NHS number's ten digits, or with a wrong check digit.
local function nhs_digits()
  while true do
    local d = "9" .. digits(8)
    local sum = 0
    for i = 1, 9 do sum = sum + (d:byte(i) - 48) * (11 - i) end
    local check = 11 - sum % 11
    if check == 11 then check = 0 end
    if check ~= 10 then
      if chance(0.2) then check = (check + 1 + below(9)) % 10 end
      return d .. check
    end
  end
end

-- Digits with separators between groups of them.
local function spaced(d, sizes)
  local out, at = {}, 1
  local sep = pick({ " ", "-", ".", "", "  ", " - ", "/", "_" })
  for _, n in ipairs(sizes) do
    out[#out + 1] = d:sub(at, at + n - 1)
    at = at + n
  end
  out[#out + 1] = d:sub(at)
  local s = table.concat(out, sep)
  if chance(0.1) then s = "(" .. s .. ")" end
  return s
end

local OPTIONS = { "Red", "Green", "Light blue", "ÄRGER", "n/a", "red", "RED", "green ", "light BLUE", "ärger",
                  "N/A", "Blue", "", "Light  blue", "Reds" }
local BOOLEANS = { "yes", "y", "true", "1", "on", "no", "n", "false", "0", "off", "Yes", "YES", "True", "ON",
                   "Off", "N", "maybe", "2", "yes please", "oui", "tru", "t", "f", "00", "01", "1.0", "-1", "ye s" }
local LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

local function date_text()
  local y = pick({ 2024, 2023, 1900, 1899, 1000, 999, 9999, 10000, 2000, 1970, 2100, 24, 0 }) + below(3) - 1
  local m, d = below(14), below(33)
  local r = below(6)
  if r == 0 then return ("%04d-%02d-%02d"):format(y, m, d) end
  if r == 1 then return ("%d-%d-%d"):format(y, m, d) end
  local sep = pick({ "/", "-", ".", " ", "//", " / ", "\t", ",", "" })
  local dd = chance(0.5) and ("%02d"):format(d) or tostring(d)
  local mm = chance(0.5) and ("%02d"):format(m) or tostring(m)
  return dd .. sep .. mm .. sep .. y
end

local GEN = {
  text = function()
    local parts = {}
    for i = 1, below(6) do
      parts[i] = pick({ letters(1 + below(8)), " ", "O’Brien", "Zoë", "名前", "7", "Ada Lovelace", "\t", "\r\n",
                        "\n", "ﬁ", "x\u{0301}", "\0", "\x7f" })
    end
    return table.concat(parts)
  end,
  email = function()
    local name = pick({ "ada", "a.b", "a..b", "", "ada+tag", "A.Lovelace", "zoë", "a b", "7x", "-x", "x." })
    local domain = pick({ "example.com", "example.co.uk", "x.y", "localhost", "-x.com", "x-.com", "x..com",
                          "EXAMPLE.ORG", "ex_ample.com", "例え.jp", "x.c", ".com", "x.com.", "1.2.3.4", "" })
    local at = pick({ "@", "@", "@", "@@", "", " @ " })
    return name .. at .. domain
  end,
  phone = function()
    local r = below(6)
    local d = "0" .. digits(9 + below(2))
    if r == 0 then return "+44 " .. spaced(d:sub(2), { 4, 3 }) end
    if r == 1 then return "+44 (0)" .. d:sub(2) end
    if r == 2 then return "0044 " .. spaced(d:sub(2), { 3, 3 }) end
    if r == 3 then return pick({ "+1 555 0100", "+4", "+", "0044", "00440", "+440", "0", "999", "1" .. digits(10) }) end
    return spaced(d, { 5, 3 })
  end,
  postcode = function()
    if chance(0.05) then return pick({ "GIR 0AA", "gir0aa", "G I R 0 A A", "GIR 0AB" }) end
    local shape = pick({ "A9", "A99", "AA9", "AA99", "A9A", "AA9A", "AAA9", "9A", "A" })
    local out = shape:gsub("A", function() return letters(1, chance(0.8) and "ABDEFGHJLNPRSTUWY" or LETTERS) end)
                     :gsub("9", function() return digits(1) end)
    local inward = digits(1) .. letters(2, chance(0.9) and "ABDEFGHJLNPQRSTUWXYZ" or LETTERS)
    if chance(0.05) then inward = inward:sub(1, 2) end
    local s = out .. pick({ " ", "", "  ", "\t", " \n " }) .. inward
    return chance(0.3) and s:lower() or s
  end,
  nhs_number = function()
    local d = nhs_digits()
    if chance(0.05) then d = d .. digits(1) end
    if chance(0.05) then d = d:sub(2) end
    return spaced(d, { 3, 3 })
  end,
  sort_code = function() return spaced(digits(5 + below(3)), { 2, 2 }) end,
  account_number = function() return spaced(digits(5 + below(5)), { 4 }) end,
  choice = function() return pick(OPTIONS) end,
  boolean = function()
    local b = pick(BOOLEANS)
    return chance(0.2) and b:upper() or b
  end,
  date = date_text,
  datetime = function()
    local d = ("%04d-%02d-%02d"):format(2024, 1 + below(12), 1 + below(31))
    return d .. pick({ "T", " ", "t", "" }) .. ("%02d:%02d"):format(below(25), below(61))
           .. pick({ "", ":00", ":59", ":60", ".5", "Z", "z", "+01:00", "-0130", "+24:00", "+01", " Z" })
  end,
  integer = number_text,
  number = number_text,
  money = number_text,
  reference = function() return pick({ "1", "2", "0", "-1", "007", "12abc", "1.0", "1e2", "99999999999999999999" }) end,
  file = function()
    return pick({ "report.pdf", "a b.docx", "名前.txt", "x\0y", "bad\x7f", "\xff.txt", "notes.txt", "c:\\x" })
  end,
}
GEN.long_text = function()
  local parts = {}
  for i = 1, 1 + below(4) do parts[i] = GEN.text() end
  return table.concat(parts, pick({ "\n", "\r\n", "\r", "\r\r\n", " " }))
end

-- Other values a Lua caller may give (read_fields only: an import's are text).
local OTHERS = { 0, 1, -1, 12, 2 ^ 53, 1.5, -0.0, 0 / 0, math.huge, -math.huge, math.maxinteger, true, false, {} }

-- A value for a field of type ty: mostly its own kind, sometimes another
-- type's or an edge case; dressed in whitespace and sometimes mutated.
local function value_for(ty)
  local s
  local r = below(100)
  if r < 8 then
    s = GEN[pick({ "integer", "date", "postcode", "text", "boolean", "phone", "choice", "email" })]()
  else
    s = GEN[ty]()
  end
  s = maybe_spaces(s)
  if chance(0.2) then s = mutate(s) end
  if chance(0.02) then s = pick(SPACES) end
  if chance(0.01) then s = "" end
  return s
end

-- ---- what fields.lua alone makes of a value ----

local function blank(raw)
  return raw == nil or (type(raw) == "string" and (raw == "" or (raw:byte(1) <= 32 and not raw:find("%S"))))
end

-- A new record's value as Entity:validate reads it in Lua: "none", "value"
-- and the value, or "refused".
local function lua_reads(f, raw)
  if raw == nil then raw = f.default end
  if blank(raw) then return f.required and "refused" or "none" end
  local v, why = f.parse(f, raw)
  if why then return "refused" end
  if v == nil then return f.required and "refused" or "none" end
  return "value", v
end

-- Whether the checks after reading pass (those of fields.check: bounds,
-- lengths, pattern, validators).
local function lua_passes(f, v, record)
  return not (f.checks and fields.check(f, v, record))
end

local function same(a, b)
  if math.type(a) ~= math.type(b) or type(a) ~= type(b) then return false end
  if math.type(a) == "float" then return string.pack("<d", a) == string.pack("<d", b) end
  return a == b
end

-- A value printed with every byte outside printable ASCII escaped.
local function show(v)
  if type(v) ~= "string" then
    return math.type(v) == "float" and ("%s (float %a)"):format(v, v) or ("%s (%s)"):format(tostring(v), math.type(v) or type(v))
  end
  return '"' .. v:gsub("[^%w%p ]", function(c) return ("\\x%02x"):format(c:byte()) end) .. '"'
end

local function report(problems, what)
  if #problems == 0 then return end
  local lines = { ("%s: %d disagreement(s) with seed %d (FIELDS_SEED=%d to repeat); the first:"):format(
    what, #problems, SEED, SEED) }
  for i = 1, math.min(#problems, 12) do lines[#lines + 1] = "  " .. problems[i] end
  t.fail(table.concat(lines, "\n"))
end

-- ---- the tests ----

t.test("the generators cover every field type fields.lua knows", function()
  for name in pairs(types) do
    t.ok(GEN[name], "no generator for the type " .. name .. ": add one to tests/lua/fields/tests/fields_test.lua")
    t.ok(models.plain.field["f_" .. name] or models.plain.field[name],
         "no field of type " .. name .. " in tests/lua/fields/models.lua")
  end
end)

-- The fields a variant's entity has, but k.
local function fields_of(e)
  local out = {}
  for i, f in ipairs(e.fields) do if i > 1 then out[#out + 1] = { i = i, f = f } end end
  return out
end

-- read_fields and Entity:validate on ROUNDS records of random values.
local function read_fields_agree(variant, salt)
  seed(SEED + salt)
  local e = models[variant]
  local fs, list = e.fields, fields_of(e)
  local problems, claimed = {}, {}
  local function problem(f, raw, msg)
    problems[#problems + 1] = ("%s.%s (%s) %s: %s"):format(variant, f.name, f.type, show(raw), msg)
  end
  for _ = 1, ROUNDS do
    local values = { k = "k" }
    for _, x in ipairs(list) do
      local f = x.f
      local r = below(100)
      if r < 3 then
        values[f.name] = nil
      elseif r < 6 then
        values[f.name] = pick(OTHERS)
      else
        values[f.name] = value_for(f.type)
      end
    end
    local clean = {}
    local unread, recheck = lex.read_fields(fs, values, clean, types, fields.today)
    local expected = {}
    for _, x in ipairs(list) do
      local f, bit = x.f, 1 << (x.i - 1)
      local raw = values[f.name]
      local status, v = lua_reads(f, raw)
      expected[f.name] = { status, v }
      if unread ~= -1 and unread & bit == 0 then
        local got = clean[f.name]
        claimed[f.type] = (claimed[f.type] or 0) + (got ~= nil and 1 or 0)
        if got == nil then
          if status ~= "none" then problem(f, raw, "C: no value; Lua: " .. status .. " " .. show(v)) end
        elseif status ~= "value" then
          problem(f, raw, "C read " .. show(got) .. "; Lua: " .. status)
        elseif not same(got, v) then
          problem(f, raw, "C read " .. show(got) .. "; Lua " .. show(v))
        elseif recheck & bit == 0 and (f.unique or f.type == "reference" or not lua_passes(f, v, clean)) then
          problem(f, raw, "C read " .. show(got) .. " as checked; Lua's checks refuse it")
        end
      end
    end
    -- Entity:validate as a whole keeps and refuses what Lua alone does
    -- (references and unique values aside: they look in the database).
    local ok, errors = e:validate(values)
    for _, x in ipairs(list) do
      local f = x.f
      if f.type ~= "reference" and not f.unique then
        local status, v = expected[f.name][1], expected[f.name][2]
        if status == "value" and not lua_passes(f, v, ok or {}) then status = "refused" end
        local refused = errors and errors[f.name] ~= nil
        if refused ~= (status == "refused") then
          problem(f, values[f.name], "validate " .. (refused and "refused it: " .. errors[f.name] or "took it")
                  .. "; Lua alone: " .. status)
        elseif ok and status == "value" and not same(ok[f.name], v) then
          problem(f, values[f.name], "validate kept " .. show(ok[f.name]) .. "; Lua alone " .. show(v))
        elseif ok and status == "none" and ok[f.name] ~= nil then
          problem(f, values[f.name], "validate kept " .. show(ok[f.name]) .. "; Lua alone nothing")
        end
      end
    end
  end
  report(problems, "read_fields on " .. variant)
  return claimed
end

-- Every type C reads is read in C for some of the values (so a fast path
-- turned off by mistake fails here).
local C_TYPES = { "text", "long_text", "email", "phone", "postcode", "nhs_number", "choice", "boolean", "date",
                  "integer", "number", "money" }

-- Spellings the C readers must read themselves (the differential tests
-- only show that what C reads agrees; these, that C reads them at all).
local COMMON = {
  { "text", "  Ada  ", "Ada" }, { "long_text", "one\r\ntwo", "one\ntwo" },
  { "email", " ada@example.com ", "ada@example.com" }, { "phone", "07700 900 982", "07700900982" },
  { "phone", "+44 (0)20 7946 0018", "02079460018" }, { "postcode", "sw1a1aa", "SW1A 1AA" },
  { "nhs_number", "943 476 5919", "9434765919" }, { "choice", " light BLUE ", "Light blue" },
  { "boolean", " Yes ", true }, { "boolean", "0", false }, { "date", "1/4/2024", "2024-04-01" },
  { "integer", "1,250", 1250 }, { "integer", " -12 ", -12 }, { "integer", "+7", 7 }, { "integer", "1 000", 1000 },
  { "integer", "1\t000", 1000 }, { "integer", "007", 7 }, { "integer", "-0", 0 },
  { "integer", "9223372036854775807", math.maxinteger }, { "integer", "-9223372036854775808", math.mininteger },
  { "number", "12.5", 12.5 }, { "number", "1,250.75", 1250.75 }, { "number", ".5", 0.5 }, { "number", "5.", 5 },
  { "number", "-0.0", 0 }, { "number", "2.50", 2.5 }, { "number", "-3", -3 }, { "number", "1e3", nil },
  { "number", "99999999999999999999", 1e20 }, { "number", "0.1", 0.1 },
  { "money", "£1,250.50", 125050 }, { "money", "1250.5", 125050 }, { "money", "-£5", -500 },
  { "money", "£-5", -500 }, { "money", "12", 1200 }, { "money", "0.05", 5 }, { "money", ".5", 50 },
  { "money", "+£3", 300 }, { "money", "£ 1 250", 125000 }, { "money", "2,500.00", 250000 },
}

t.test("the C readers read the common spellings themselves", function()
  local e = models.plain
  local position = {}
  for i, f in ipairs(e.fields) do position[f.name] = i end
  for _, c in ipairs(COMMON) do
    local ty, s, want = c[1], c[2], c[3]
    local f = e.field[ty]
    t.ok(same((f.parse(f, s)), want), ("fields.lua reads %s %s as %s"):format(ty, show(s), show(want)))
    if want ~= nil then
      local clean = {}
      local unread, recheck = lex.read_fields(e.fields, { [ty] = s }, clean, types, fields.today)
      local bit = 1 << (position[ty] - 1)
      t.ok(unread & bit == 0 and recheck & bit == 0, ("%s %s left to Lua"):format(ty, show(s)))
      t.ok(same(clean[ty], want), ("C read %s %s as %s"):format(ty, show(s), show(clean[ty])))
    end
  end
end)

t.test("read_fields reads as fields.lua does: plain fields", function()
  local claimed = read_fields_agree("plain", 1)
  for _, ty in ipairs(C_TYPES) do
    t.ok((claimed[ty] or 0) > ROUNDS // 20, ("read_fields read few %s values in C: %d"):format(ty, claimed[ty] or 0))
  end
end)

t.test("read_fields reads as fields.lua does: lengths and bounds", function()
  read_fields_agree("bounded", 2)
end)

t.test("read_fields reads as fields.lua does: patterns and validators", function()
  read_fields_agree("checked", 3)
end)

t.test("read_fields reads as fields.lua does: required, unique and defaults", function()
  read_fields_agree("required", 4)
end)

-- A CSV field: always quoted.
local function csv_field(s)
  return '"' .. s:gsub('"', '""') .. '"'
end

-- insert_rows on ROWS rows a field (that field's value, the others blank);
-- then the rows Lua alone reads and checks go into the twin through
-- Entity:_insert, and each record C inserted must be the same there.
local function insert_rows_agree(variant, salt)
  seed(SEED + salt)
  local e, twin = models[variant], models[variant .. "_lua"]
  local list = fields_of(e)
  local header, rows, given = { "k" }, {}, {}
  for _, x in ipairs(list) do header[#header + 1] = x.f.name end
  for c, x in ipairs(list) do
    for j = 1, ROWS do
      local key = ("%s:%d"):format(x.f.name, j)
      local s = value_for(x.f.type)
      given[key] = { f = x.f, s = s }
      local row = { csv_field(key) }
      for i = 1, #list do row[i + 1] = i == c and csv_field(s) or "" end
      rows[#rows + 1] = table.concat(row, ",")
    end
  end
  local text = table.concat(header, ",") .. "\r\n" .. table.concat(rows, "\r\n") .. "\r\n"
  local handed, refused = 0, 0
  db.tx(function()
    local reader = borough.csv.reader(text)
    local names = reader:next()
    local values, ids = {}, {}
    while true do
      local _, _, _, row = e:_insert_rows(reader, names, values, ids, 1 << 40)
      if row == nil then break end
      if row == false then refused = refused + 1 else handed = handed + 1 end
    end
    -- (A reference Lua also looks up; C leaves them all to Lua: none here.)
    for key, g in pairs(given) do
      local status, v = lua_reads(g.f, g.s)
      local record = { k = key }
      if g.f.type == "reference" and status == "value" then
        -- none
      elseif status == "value" and lua_passes(g.f, v, record) then
        record[g.f.name] = v
        twin:_insert(record, nil, nil, nil, "bulk")
      elseif status == "none" then
        twin:_insert(record, nil, nil, nil, "bulk")
      end
    end
  end)
  local same_columns = {}
  for _, x in ipairs(list) do
    same_columns[#same_columns + 1] = ('(a."%s" IS b."%s" AND typeof(a."%s") = typeof(b."%s"))')
                                      :format(x.f.name, x.f.name, x.f.name, x.f.name)
  end
  local problems = {}
  local sql = ('SELECT a.* FROM "%s" a LEFT JOIN "%s" b ON b.k = a.k WHERE b.k IS NULL OR NOT (%s) ORDER BY a.id')
              :format(variant, variant .. "_lua", table.concat(same_columns, " AND "))
  for _, r in ipairs(db.query(sql)) do
    local g = given[r.k]
    local status, v = lua_reads(g.f, g.s)
    if status == "value" and not lua_passes(g.f, v, { k = r.k }) then status = "refused by its checks" end
    problems[#problems + 1] = ("%s.%s (%s) %s: C stored %s; Lua: %s %s"):format(variant, g.f.name, g.f.type,
      show(g.s), show(r[g.f.name]), status, v == nil and "" or show(v))
  end
  report(problems, "insert_rows on " .. variant)
  local inserted = db.one(('SELECT count(*) AS n FROM "%s"'):format(variant)).n
  return inserted, handed, refused, #list * ROWS
end

t.test("insert_rows stores what fields.lua reads: plain fields", function()
  local inserted, handed, refused, total = insert_rows_agree("plain", 11)
  t.eq(inserted + handed + refused, total, "every row inserted, handed to Lua or refused by the reader")
  for _, ty in ipairs(C_TYPES) do
    local n = db.one(('SELECT count(*) AS n FROM plain WHERE "%s" IS NOT NULL'):format(ty)).n
    t.ok(n > ROWS // 20, ("insert_rows stored few %s values in C: %d"):format(ty, n))
  end
end)

t.test("insert_rows stores what fields.lua reads: lengths and bounds", function()
  insert_rows_agree("bounded", 12)
end)

t.test("insert_rows stores what fields.lua reads: patterns and validators", function()
  insert_rows_agree("checked", 13)
end)

t.test("a number too large for a float is refused, not stored as infinity", function()
  local fields = require "borough.fields"
  local f = { name = "amount", type = "number", label = "Amount" }
  local v, err = fields.types.number.parse(f, ("9"):rep(400))
  t.eq(v, nil)
  t.eq(err, "Amount must be a smaller number")
  t.eq(fields.types.number.parse(f, "-1" .. ("0"):rep(300)), -1e300)
end)
