-- borough.bank: the formats, and the modulus check against the test cases
-- of Pay.UK's specification ("Validating account numbers", appendix),
-- with the sample of the weight table in bank_sample.lua.
local t = require "borough.test"
local bank = borough.bank
local sample = require "bank_sample"

-- { case, sort code, account number, valid } from the specification.
local CASES = {
  { 1, "089999", "66374958", true }, { 2, "107999", "88837491", true }, { 3, "202959", "63748472", true },
  { 4, "871427", "46238510", true }, { 5, "872427", "46238510", true }, { 6, "871427", "09123496", true },
  { 7, "871427", "99123496", true }, { 8, "820000", "73688637", true }, { 9, "827999", "73988638", true },
  { 10, "827101", "28748352", true }, { 11, "134020", "63849203", true }, { 12, "118765", "64371389", true },
  { 13, "200915", "41011166", true }, { 14, "938611", "07806039", true }, { 15, "938600", "42368003", true },
  { 16, "938063", "55065200", true }, { 17, "772798", "99345694", true }, { 18, "086090", "06774744", true },
  { 19, "309070", "02355688", true }, { 20, "309070", "12345668", true }, { 21, "309070", "12345677", true },
  { 22, "309070", "99345694", true }, { 23, "938063", "15764273", false }, { 24, "938063", "15764264", false },
  { 25, "938063", "15763217", false }, { 26, "118765", "64371388", false }, { 27, "203099", "66831036", false },
  { 28, "203099", "58716970", false }, { 29, "089999", "66374959", false }, { 30, "107999", "88837493", false },
  { 31, "074456", "12345112", true }, { 32, "070116", "34012583", true }, { 33, "074456", "11104102", true },
  { 34, "180002", "00000190", true },
}

t.test("without a table, every well-formed account passes as not checkable", function()
  db.exec('DELETE FROM "bank_weights"')
  t.eq(bank.loaded(), 0)
  t.eq({ bank.check("089999", "66374959") }, { true, "not in the table" })
  t.raises(function() bank.check("0899", "66374959") end, "a sort code is 6 digits")
end)

t.test("a table that is not valacdos.txt is refused whole, naming the line", function()
  t.eq({ bank.load("089000 089999 MOD10 0 0 0\n") }, { nil, "line 1: a line has two sort codes, MOD10, MOD11 or DBLAL, "
                                                             .. "14 weights and perhaps an exception" })
  t.eq({ bank.load("089000 089999 MOD10 0 0 0 0 0 0 7 1 3 7 1 3 7 1\n089000 089999 MOD12 0 0 0 0 0 0 7 1 3 7 1 3 7 1\n") },
       { nil, "line 2: Select method from the list" })
  t.eq(bank.loaded(), 0, "nothing kept")
end)

t.test("the specification's 34 test cases", function()
  t.eq(bank.load(sample.valacdos, sample.scsubtab), 25)
  for _, c in ipairs(CASES) do
    local ok, how = bank.check(c[2], c[3])
    t.eq(ok, c[4], ("case %d: %s %s (%s)"):format(c[1], c[2], c[3], how))
  end
  t.eq({ bank.check("200915", "41011166") }, { true, "foreign currency" })
  t.eq({ bank.check("999999", "12345678") }, { true, "not in the table" })
  -- 6 and 7 digit numbers are read with 0s in front
  t.eq(bank.check("086090", "6774744"), true)
end)

t.test("an entity field with validate = bank.validate refuses a number that fails", function()
  local m = require "models"
  local case, errors = m.Cases:create { name = "A", sort_code = "08-99-99", account_number = "66374959" }
  t.eq(case, nil)
  t.eq(errors.account_number, "Enter a valid combination of sort code and account number (your bank statement shows them)")
  t.ok(m.Cases:create { name = "B", sort_code = "08-99-99", account_number = "66374958" })
  t.eq(m.Cases:validate({ name = "C", sort_code = "086090", account_number = "6774744" }).account_number, "6774744")
end)
