-- Community grants: applications imported from a funder's spreadsheet, for
-- the import benchmark of records with whole numbers, money and a score
-- (docs/performance.md, "Data").
local M = {}

M.Grants = borough.entity "grants" {
  label = "grant",
  { "grant_ref", "text", required = true, unique = true, label = "Reference" },
  { "applicant", "text", required = true, max_length = 100 },
  { "organisation", "text", max_length = 200 },
  { "postcode", "postcode", required = true },
  { "applied_on", "date", required = true, max = "today" },
  { "people_helped", "integer", min = 0 },
  { "amount", "money", required = true, min = "£1", max = "£25,000" },
  { "match_funding", "money" },
  { "score", "number", min = 0, max = 10 },
  { "approved", "boolean" },
}

return M
