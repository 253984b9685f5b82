-- The feedback the public sends, and staff read.
local M = {}

M.Feedback = borough.entity "feedback" {
  label = "feedback",
  search = { "reference", "comments" },
  { "reference", "text", unique = true, max_length = 8 },
  { "service", "choice", required = true,
    options = { "Bins and recycling", "Council Tax", "Libraries", "Parking", "Planning" } },
  { "rating", "choice", required = true, label = "Rating",
    options = { "Very satisfied", "Satisfied", "Neither satisfied nor dissatisfied", "Dissatisfied",
                "Very dissatisfied" } },
  { "comments", "long_text", max_length = 1200 },
  { "email", "email", label = "Email address" },
  { "notes", "long_text", label = "Staff notes", max_length = 2000 },
}

return M
