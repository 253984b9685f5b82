--- borough.download: CSV files for people to download, written as they are
-- sent, a page of rows at a time, so a long list is never held in memory.
--
--   app:get("/return.csv", function(req)
--     return borough.download.csv("return.csv", { "NHS number", "Name" }, function(after)
--       local page = Residents:where({}, { after = after, per_page = 500 })
--       local rows = {}
--       for i, r in ipairs(page) do rows[i] = { r.nhs_number, r.first_name } end
--       return rows, page[#page] and page[#page].id     -- the rows, and where the next page starts
--     end)
--   end)
--
-- Each row is a list of values, one per column of the header; nil is an
-- empty field. Values are quoted as RFC 4180 needs (borough.csv.line).
-- A text value that a spreadsheet would run as a formula (one starting with
-- "=", "+", "-", "@", a tab or a carriage return) is written with a "'"
-- before it, so it shows as text (OWASP's advice on CSV injection); numbers,
-- and text that is just a number such as "-12.50", are written as they are.
-- `borough export` writes values unchanged, for `borough import` to read
-- back exactly.

local download = {}

-- A value as a spreadsheet may safely open it.
local function cell(v)
  if type(v) ~= "string" or not v:find("^[=+%-@\t\r]") or v:find("^[+-]?%d+%.?%d*$") then
    return v
  end
  return "'" .. v
end

--- download.csv(filename, header, pages) -> a response: the header line,
-- then the rows of pages(nil), pages(cursor), ... until a page is empty or
-- no cursor comes back.
function download.csv(filename, header, pages)
  local n = #header
  local cursor, state = nil, "header"
  return {
    headers = { ["Content-Type"] = "text/csv; charset=utf-8",
                ["Content-Disposition"] = 'attachment; filename="' .. filename:gsub('[^%w%-_.]', "") .. '"' },
    body = function()
      if state == "header" then
        state = "rows"
        return borough.csv.line(header)
      end
      if state == "done" then return nil end
      local rows, next_cursor = pages(cursor)
      cursor = next_cursor
      if cursor == nil then state = "done" end
      local out = {}
      for i, row in ipairs(rows or {}) do
        local line = {}
        for c = 1, n do line[c] = row[c] == nil and "" or cell(row[c]) end
        out[i] = borough.csv.line(line)
      end
      if #out == 0 then
        state = "done"
        return nil
      end
      return table.concat(out)
    end,
  }
end

return download
