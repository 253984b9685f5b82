-- Entities with a field of every type fields.lua knows, in four variants,
-- for the differential test of the C readers (core/lfields.c: read_fields
-- and insert_rows) against fields.lua's parse (tests/fields_test.lua).
-- Each variant but "required" has a twin ("<variant>_lua") that the test
-- fills through the Lua path alone.
local M = {}

-- A field of each type, with the options of each variant (missing: none).
local SPECS = {
  { "text" },
  { "long_text" },
  { "email" },
  { "phone" },
  { "postcode" },
  { "nhs_number" },
  { "sort_code" },
  { "account_number" },
  { "choice", options = { "Red", "Green", "Light blue", "ÄRGER", "n/a" } },
  { "boolean" },
  { "date" },
  { "datetime" },
  { "integer" },
  { "number" },
  { "money" },
  { "reference", to = "plain" },
  { "file" },
}

local VARIANTS = {
  -- Limits: lengths for text, bounds for numbers, money and dates (a float
  -- bound and bounds at the edges of the integers for numbers).
  bounded = {
    text = { min_length = 2, max_length = 12 }, long_text = { min_length = 3, max_length = 40 },
    email = { max_length = 24 }, phone = { min_length = 11 }, postcode = { max_length = 7 },
    account_number = { min_length = 7 }, file = { max_length = 10 },
    integer = { min = -5, max = 1000000 }, number = { min = -0.5, max = 12345.678 },
    money = { min = "£-10", max = "£25,000" }, date = { min = "1900-01-01", max = "today" },
    number_edges = { min = math.mininteger, max = 2.0 ^ 63 },
    integer_edges = { min = math.mininteger + 1, max = math.maxinteger - 1 },
  },
  -- A check only Lua makes: a validator refusing values written with an
  -- odd number of characters, and a pattern on text.
  checked = { all = function(spec)
    spec.validate = function(v) if #tostring(v) % 2 == 1 then return "Odd" end end
    if spec[2] == "text" or spec[2] == "email" then spec.pattern = "^[^7]*$" end
  end },
  -- Required, some unique, some with a default.
  required = { all = function(spec) spec.required = true end,
    text = { unique = true }, integer = { unique = true }, money = { default = 500 },
    boolean = { default = false }, date = { default = "2024-04-01" }, choice = { default = "Red" } },
  plain = {},
}

local function entity(name, variant)
  local spec = { { "k", "text" } }
  local list = {}
  for _, s in ipairs(SPECS) do list[#list + 1] = s end
  if variant.integer_edges then
    list[#list + 1] = { "integer", name = "integer_edges" }
    list[#list + 1] = { "number", name = "number_edges" }
  end
  for _, s in ipairs(list) do
    local f = { s.name or s[1], s[1] }
    for k, v in pairs(s) do if k ~= 1 and k ~= "name" then f[k] = v end end
    for k, v in pairs(variant[f[1]] or {}) do f[k] = v end
    if variant.all then variant.all(f) end
    spec[#spec + 1] = f
  end
  return borough.entity(name)(spec)
end

for _, name in ipairs({ "plain", "bounded", "checked", "required" }) do
  local variant = VARIANTS[name]
  M[name] = entity(name, variant)
  if name ~= "required" then M[name .. "_lua"] = entity(name .. "_lua", variant) end
end

return M
