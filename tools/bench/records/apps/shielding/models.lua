-- The shielding list: residents advised to shield, imported from the
-- government's list and kept up to date by the council's support team.
local M = {}

M.Residents = borough.entity "residents" {
  label = "resident",
  search = { "first_name", "last_name", "postcode" },
  indexes = { { "last_name", "first_name" } },
  { "nhs_number", "nhs_number", required = true, unique = true, label = "NHS number" },
  { "first_name", "text", required = true, max_length = 100 },
  { "last_name", "text", required = true, max_length = 100 },
  { "date_of_birth", "date", required = true, max = "today" },
  { "address", "text", required = true },
  { "postcode", "postcode", required = true },
  { "phone", "phone" },
  { "email", "email" },
  { "category", "choice", required = true,
    options = { "clinically extremely vulnerable", "clinically vulnerable", "other" } },
  { "needs_food", "boolean" },
  { "notes", "long_text" },
}

return M
