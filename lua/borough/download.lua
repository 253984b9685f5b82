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
--
-- Every download leaves one "export" row in the platform audit log when
-- its request ends: who, the app, the entities whose records the pages
-- read, the file, the number of rows and the columns, and "cut short" if
-- it did not reach its end (an error, the time limit, the client leaving):
--   residents: CSV download return.csv of 1200 rows (NHS number, Name)

local download = {}

-- The platform's functions that record a download (given by borough.entity
-- when the platform loads, before any app code runs).
local export_begin, export_rows

function download._given(begin, rows)
  assert(not export_begin, "borough.download: already given")
  export_begin, export_rows = begin, rows
  download._given = nil
end

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
  local name = filename:gsub('[^%w%-_.]', "")
  return {
    headers = { ["Content-Type"] = "text/csv; charset=utf-8",
                ["Content-Disposition"] = 'attachment; filename="' .. name .. '"' },
    body = function()
      if state == "header" then
        state = "rows"
        local names = {}
        for c = 1, n do names[c] = tostring(header[c]) end
        export_begin("CSV download " .. name, table.concat(names, ", "))
        return borough.csv.line(header)
      end
      if state == "done" then
        export_rows(0, true)
        return nil
      end
      local rows, next_cursor = pages(cursor)
      cursor = next_cursor
      if cursor == nil then state = "done" end
      local out = {}
      for i, row in ipairs(rows or {}) do
        local line = {}
        for c = 1, n do line[c] = row[c] == nil and "" or cell(row[c]) end
        out[i] = borough.csv.line(line)
      end
      export_rows(#out, false)
      if #out == 0 then
        state = "done"
        export_rows(0, true)
        return nil
      end
      return table.concat(out)
    end,
  }
end

return download
