--- borough.chart: charts drawn on the server as SVG, in GOV.UK style.
--
-- Each chart is a <figure>: its title as the caption, a sentence saying
-- what it shows, the picture (an SVG with no script, labelled by the title
-- and the sentence), and its data as a GOV.UK table inside "Show the data"
-- (a <details> a keyboard and a screen reader reach). Colours are told
-- apart by colour-blind readers and in black-and-white print: every series
-- also has its own pattern (bars) or dash and marker (lines), and red, amber
-- and green always come with their words.
--
--   local chart = require "borough.chart"       -- also borough.chart
--   chart.bar { title = "Referrals by partner", summary = "The food bank has the most.",
--               labels = { "Food bank", "Pharmacy" },
--               series = { { name = "Referrals", values = { 42, 17 } } } }
--
--   {{ barChart({ title: "Referrals by partner", labels: partners,
--                 series: [{ name: "Referrals", values: counts }] }) }}
--
-- Options shared by every chart:
--   title    the caption (required)
--   summary  one or two sentences saying what the chart shows (required:
--            the picture alone tells a screen reader nothing)
--   id       the figure's id (default "chart-" and the title's words); give
--            one when two charts on a page share a title
--   prefix, suffix   around every number ("£", "%")
--
-- chart.bar (barChart): one horizontal bar per label for each series;
--   stacked = true puts a label's series end to end (the total at the end).
-- chart.line (lineChart): each series over the labels (dates, weeks, ...);
--   a nil (or db.NULL) value leaves a gap in its line.
-- chart.rag (ragSummary): how many are red, amber and green, as one bar:
--   counts = { red = 3, amber = 5, green = 12 }, or items = { { label =
--   "Housing", status = "amber" }, ... } (counted, and listed in the table).
-- Each returns safe HTML for a template ({{ chart }}) or a handler.

local view = require "borough.view"
local govuk = require "borough.govuk"
local i18n = require "borough.i18n"

local chart = {}
local escape, concat, fmt = borough.escape, table.concat, string.format
local floor, ceil, max, min, abs = math.floor, math.ceil, math.max, math.min, math.abs
local t = i18n.t

-- Series colours, each at least 3:1 against white (WCAG 1.4.11), in an
-- order (after Okabe and Ito) that stays distinct for the common kinds of
-- colour blindness; each pattern tells the series apart in grey print.
local SERIES = {
  { colour = "#1d70b8" },
  { colour = "#d55e00", pattern = '<path d="M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2" stroke="#fff" stroke-width="1.5"/>' },
  { colour = "#007a87", pattern = '<circle cx="3" cy="3" r="1.3" fill="#fff"/>' },
  { colour = "#912b88", pattern = '<path d="M0,3 h6 M3,0 v6" stroke="#fff" stroke-width="1.2"/>' },
  { colour = "#a86400", pattern = '<path d="M-1,5 l2,2 M0,0 l6,6 M5,-1 l2,2" stroke="#fff" stroke-width="1.5"/>' },
  { colour = "#0b0c0c", pattern = '<path d="M0,1.5 h6 M0,4.5 h6" stroke="#fff" stroke-width="1"/>' },
}
local DASHES = { nil, "8 4", "2 3", "10 3 2 3", "4 4", "12 4" }
local TEXT, GRID, AXIS = "#0b0c0c", "#b1b4b6", "#505a5f"

-- RAG colours with the text colour that reads on each.
local RAG = {
  { key = "red", colour = "#d4351c", ink = "#fff" },
  { key = "amber", colour = "#f47738", ink = TEXT },
  { key = "green", colour = "#00703c", ink = "#fff" },
}

local W = 640                  -- every chart is drawn 640 wide and scales with the page
local CHAR = 8                 -- the width of a wide character at 14px, for layout

-------------------------------------------------------------------------------
-- numbers, text and checks
-------------------------------------------------------------------------------

-- A wrong option: raised as a table, so that the public function (which
-- catches it) can name its caller's line whatever depth it came from.
local Refusal = {}

local function fail(what, msg, ...)
  error(setmetatable({ message = ("borough.chart.%s: " .. msg):format(what, ...) }, Refusal))
end

-- fn as a public function: a refusal is raised again at the caller's line.
local function public(fn)
  return function(opts)
    local ok, result = pcall(fn, opts)
    if ok then return result end
    if getmetatable(result) == Refusal then error(result.message, 2) end
    error(result, 0)
  end
end

-- A value as a number, or nil for a gap (nil, db.NULL, "").
local function number(what, v)
  if v == nil or v == db.NULL or v == "" then return nil end
  local n = tonumber(v)
  if not n or n ~= n or n == math.huge or n == -math.huge then
    fail(what, "values must be numbers, not %s", type(v) == "string" and ("%q"):format(v) or type(v))
  end
  return n
end

-- 1234567.5 -> "1,234,567.5"; at most two decimal places.
local function group(n)
  local s = n == floor(n) and fmt("%d", floor(n)) or (fmt("%.2f", n):gsub("0+$", ""))
  local sign, int, frac = s:match("^(-?)(%d+)(.*)$")
  int = int:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return sign .. int .. frac
end

-- The text of a number with the chart's prefix and suffix; short = true
-- for an axis, where 25,000,000 is "25m" (the exact value is in the table).
local function label_of(opts, short)
  return function(n)
    if n == nil then return "" end
    local text
    if short and abs(n) >= 1e9 then text = group(n / 1e9) .. "bn"
    elseif short and abs(n) >= 1e6 then text = group(n / 1e6) .. "m"
    elseif short and abs(n) >= 1e4 then text = group(n / 1e3) .. "k"
    else text = group(n) end
    return (opts.prefix or "") .. text .. (opts.suffix or "")
  end
end

local function slug(s)
  local id = tostring(s):lower():gsub("[^%w]+", "-"):gsub("^-+", ""):gsub("-+$", "")
  return "chart-" .. (id ~= "" and id:sub(1, 40) or "figure")
end

local function check(what, opts)
  if type(opts) ~= "table" then fail(what, "expects a table of options") end
  if type(opts.title) ~= "string" or opts.title == "" then fail(what, "title is required") end
  if type(opts.summary) ~= "string" or opts.summary == "" then
    fail(what, "summary is required: a sentence saying what the chart shows")
  end
end

-- The labels and series of a bar or line chart, checked and with numbers.
local function read_series(what, opts)
  local labels, series = opts.labels, opts.series
  if type(labels) ~= "table" or #labels == 0 then fail(what, "labels must be a list of one or more labels") end
  if type(series) ~= "table" or #series == 0 then fail(what, "series must be a list such as { { name = \"Calls\", values = { 3, 5 } } }") end
  if #series > #SERIES then fail(what, "at most %d series can be told apart", #SERIES) end
  local out = {}
  for i, s in ipairs(series) do
    if type(s) ~= "table" or type(s.values) ~= "table" then fail(what, "series[%d] needs values", i) end
    local values = {}
    for j = 1, #labels do values[j] = number(what, s.values[j]) end
    out[i] = { name = tostring(s.name or ""), values = values, n = i }
  end
  return labels, out
end

-- Up to about `count` round steps covering lo..hi: 0, 250, 500, ...
local function ticks(lo, hi, count)
  if hi <= lo then hi = lo + 1 end
  local raw = (hi - lo) / count
  local step = 10 ^ floor(math.log(raw, 10))
  local r = raw / step
  step = step * (r > 5 and 10 or r > 2 and 5 or r > 1 and 2 or 1)
  local first, last = floor(lo / step + 1e-9) * step, ceil(hi / step - 1e-9) * step
  local list = {}
  for k = 0, floor((last - first) / step + 0.5) do list[#list + 1] = first + k * step end
  return list, first, last
end

-- Text split into lines of at most `width` characters, at spaces.
local function wrap(text, width)
  local lines, line = {}, ""
  for word in tostring(text):gmatch("%S+") do
    if line ~= "" and #line + 1 + #word > width then
      lines[#lines + 1], line = line, word
    else
      line = line == "" and word or line .. " " .. word
    end
  end
  if line ~= "" then lines[#lines + 1] = line end
  return lines
end

-------------------------------------------------------------------------------
-- drawing
-------------------------------------------------------------------------------

local function text(out, x, y, s, anchor, extra, ink)
  out[#out + 1] = fmt('<text x="%.1f" y="%.1f" fill="%s"%s%s>%s</text>', x, y, ink or TEXT,
    anchor and (' text-anchor="' .. anchor .. '"') or "", extra or "", escape(s))
end

-- The fill of series i: its colour, or its pattern (defined in defs).
local function fill_of(id, i)
  return SERIES[i].pattern and ("url(#" .. id .. "-p" .. i .. ")") or SERIES[i].colour
end

local function defs(out, id, count)
  out[#out + 1] = "<defs>"
  for i = 1, count do
    local s = SERIES[i]
    if s.pattern then
      out[#out + 1] = fmt('<pattern id="%s-p%d" width="6" height="6" patternUnits="userSpaceOnUse">'
        .. '<rect width="6" height="6" fill="%s"/>%s</pattern>', id, i, s.colour, s.pattern)
    end
  end
  out[#out + 1] = "</defs>"
end

-- A legend across the top, wrapping; returns the height it took.
local function legend(out, id, series, line_style)
  if #series < 2 then return 0 end
  local x, y = 0, 14
  for i, s in ipairs(series) do
    local wide = 24 + #s.name * CHAR + 20
    if x > 0 and x + wide > W then x, y = 0, y + 22 end
    if line_style then
      out[#out + 1] = fmt('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"%s/>',
        x, y - 4, x + 18, y - 4, SERIES[i].colour, DASHES[i] and (' stroke-dasharray="' .. DASHES[i] .. '"') or "")
    else
      out[#out + 1] = fmt('<rect x="%.1f" y="%.1f" width="16" height="16" fill="%s"/>', x, y - 12, fill_of(id, i))
    end
    text(out, x + 24, y, s.name)
    x = x + wide
  end
  return y + 12
end

-- The vertical grid and value axis of a bar chart along x0..x1.
local function value_axis(out, list, lo, hi, x0, x1, y0, y1, label)
  local function at(v) return x0 + (v - lo) / (hi - lo) * (x1 - x0) end
  for _, v in ipairs(list) do
    local x = at(v)
    out[#out + 1] = fmt('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1"/>',
      x, y0, x, y1, v == 0 and AXIS or GRID)
    text(out, x, y1 + 18, label(v), "middle")
  end
  return at
end

-- The <figure>: caption, summary, picture, legend-free table of the data.
local function figure(opts, id, svg, height, head, rows)
  local table_html = govuk.table {
    caption = opts.title, captionClasses = "govuk-visually-hidden", firstCellIsHeader = true,
    head = head, rows = rows,
  }
  local details = govuk.details { summaryText = t("chart.show_data"), html = table_html }
  return view.safe(concat {
    '<figure class="borough-chart" id="', escape(id), '">',
    '<figcaption class="govuk-heading-s borough-chart__title" id="', escape(id), '-title">', escape(opts.title), '</figcaption>',
    '<p class="govuk-body borough-chart__summary" id="', escape(id), '-summary">', escape(opts.summary), '</p>',
    fmt('<svg class="borough-chart__picture" viewBox="0 0 %d %d" width="%d" height="%d" role="img" '
      .. 'aria-labelledby="%s-title" aria-describedby="%s-summary" focusable="false" '
      .. 'font-family="inherit" font-size="14">', W, height, W, height, escape(id), escape(id)),
    svg, '</svg>', tostring(details), '</figure>',
  })
end

local function table_rows(labels, series, label)
  local head = { { text = "" } }
  for i, s in ipairs(series) do head[i + 1] = { text = s.name ~= "" and s.name or t("chart.value"), format = "numeric" } end
  local rows = {}
  for j, l in ipairs(labels) do
    local row = { { text = tostring(l) } }
    for i, s in ipairs(series) do row[i + 1] = { text = label(s.values[j]), format = "numeric" } end
    rows[j] = row
  end
  return head, rows
end

-------------------------------------------------------------------------------
-- the charts
-------------------------------------------------------------------------------

--- chart.bar(opts): horizontal bars, grouped by label or stacked.
local function bar(opts)
  check("bar", opts)
  local labels, series = read_series("bar", opts)
  local id, label = opts.id or slug(opts.title), label_of(opts)
  local stacked = opts.stacked == true
  -- The range: from 0 (or the lowest value) to the highest bar.
  local lo, hi = 0, 0
  for j = 1, #labels do
    local pos, neg = 0, 0
    for _, s in ipairs(series) do
      local v = s.values[j] or 0
      if stacked then
        if v >= 0 then pos = pos + v else neg = neg + v end
      else
        pos, neg = max(pos, v), min(neg, v)
      end
    end
    hi, lo = max(hi, pos), min(lo, neg)
  end
  local list, first, last = ticks(lo, hi, 5)
  -- The label column fits the longest label, wrapped to two lines.
  local widest = 0
  local wrapped = {}
  for j, l in ipairs(labels) do
    wrapped[j] = wrap(l, 28)
    for _, line in ipairs(wrapped[j]) do widest = max(widest, #line) end
  end
  local x0 = min(W * 0.4, widest * CHAR + 12)
  local x1 = W - (#label(last) + 1) * CHAR - 8
  local out = {}
  defs(out, id, #series)
  local top = legend(out, id, series, false) + 6
  local bar = stacked and 24 or (#series == 1 and 24 or 16)
  local group_h = (stacked and bar or bar * #series) + 16
  local y1 = top + group_h * #labels
  local at = value_axis(out, list, first, last, x0, x1, top, y1, label_of(opts, true))
  for j, l in ipairs(labels) do
    local gy = top + (j - 1) * group_h + 8
    local lines = wrapped[j]
    local mid = gy + (group_h - 16) / 2 + 5 - (#lines - 1) * 8
    for k, line in ipairs(lines) do text(out, x0 - 8, mid + (k - 1) * 16, line, "end") end
    local pos, neg = 0, 0
    for i, s in ipairs(series) do
      local v = s.values[j]
      if v then
        local from, to, y
        if stacked then
          if v >= 0 then from, to, pos = pos, pos + v, pos + v else from, to, neg = neg + v, neg, neg + v end
          y = gy
        else
          from, to, y = min(0, v), max(0, v), gy + (i - 1) * bar
        end
        out[#out + 1] = fmt('<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"%s><title>%s</title></rect>',
          at(from), y, abs(at(to) - at(from)), bar - 2, fill_of(id, i),
          stacked and ' stroke="#fff" stroke-width="1"' or "",
          escape(tostring(l) .. (s.name ~= "" and (", " .. s.name) or "") .. ": " .. label(v)))
        if not stacked then text(out, at(max(0, v)) + 6, y + bar / 2 + 3, label(v)) end
      end
    end
    if stacked then text(out, at(pos) + 6, gy + bar / 2 + 4, label(pos + neg), nil, ' font-weight="bold"') end
  end
  local head, rows = table_rows(labels, series, label)
  if stacked then
    head[#head + 1] = { text = t("chart.total"), format = "numeric" }
    for j, row in ipairs(rows) do
      local total = 0
      for _, s in ipairs(series) do total = total + (s.values[j] or 0) end
      row[#row + 1] = { text = label(total), format = "numeric" }
    end
  end
  return figure(opts, id, concat(out), y1 + 28, head, rows)
end

-- The marker of series i at (x, y): circle, square, triangle, diamond, ...
local function marker(i, x, y, colour)
  local k = (i - 1) % 4
  if k == 0 then return fmt('<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>', x, y, colour) end
  if k == 1 then return fmt('<rect x="%.1f" y="%.1f" width="8" height="8" fill="%s"/>', x - 4, y - 4, colour) end
  if k == 2 then
    return fmt('<path d="M%.1f,%.1fl5,9h-10z" fill="%s"/>', x, y - 5, colour)
  end
  return fmt('<path d="M%.1f,%.1fl5,5l-5,5l-5,-5z" fill="%s"/>', x, y - 5, colour)
end

--- chart.line(opts): each series over the labels, in order.
local function line(opts)
  check("line", opts)
  local labels, series = read_series("line", opts)
  local id, label = opts.id or slug(opts.title), label_of(opts)
  local lo, hi = 0, 0
  for _, s in ipairs(series) do
    for j = 1, #labels do
      local v = s.values[j]
      if v then lo, hi = min(lo, v), max(hi, v) end
    end
  end
  local list, first, last = ticks(lo, hi, 5)
  local axis_label = label_of(opts, true)
  local widest = 0
  for _, v in ipairs(list) do widest = max(widest, #axis_label(v)) end
  local out = {}
  local top = legend(out, id, series, true) + 10
  local widest_label = 1
  for _, l in ipairs(labels) do widest_label = max(widest_label, #tostring(l)) end
  local x0, x1 = max(widest * CHAR + 12, widest_label * CHAR / 2), W - widest_label * CHAR / 2 - 4
  local y0, y1 = top, top + 240
  local function ya(v) return y1 - (v - first) / (last - first) * (y1 - y0) end
  local function xa(j) return #labels == 1 and (x0 + x1) / 2 or x0 + (j - 1) / (#labels - 1) * (x1 - x0) end
  for _, v in ipairs(list) do
    out[#out + 1] = fmt('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1"/>',
      x0, ya(v), x1, ya(v), v == 0 and AXIS or GRID)
    text(out, x0 - 8, ya(v) + 5, axis_label(v), "end")
  end
  -- As many labels along the bottom as fit, evenly spaced.
  local every = max(1, ceil(#labels / max(1, floor((x1 - x0) / ((widest_label + 2) * CHAR)))))
  for j = 1, #labels, every do text(out, xa(j), y1 + 20, tostring(labels[j]), "middle") end
  local dots = #labels <= 40
  for i, s in ipairs(series) do
    local colour, run = SERIES[i].colour, {}
    local function flush()
      if #run > 1 then
        out[#out + 1] = fmt('<polyline points="%s" fill="none" stroke="%s" stroke-width="3" '
          .. 'stroke-linejoin="round"%s/>', concat(run, " "), colour,
          DASHES[i] and (' stroke-dasharray="' .. DASHES[i] .. '"') or "")
      end
      run = {}
    end
    for j = 1, #labels do
      local v = s.values[j]
      if v then run[#run + 1] = fmt("%.1f,%.1f", xa(j), ya(v)) else flush() end
    end
    flush()
    if dots or #series > 1 then
      for j = 1, #labels, dots and 1 or every do
        local v = s.values[j]
        if v then out[#out + 1] = marker(i, xa(j), ya(v), colour) end
      end
    end
  end
  local head, rows = table_rows(labels, series, label)
  return figure(opts, id, concat(out), y1 + 32, head, rows)
end

--- chart.rag(opts): how many are red, amber and green.
local function rag(opts)
  check("rag", opts)
  local id = opts.id or slug(opts.title)
  local counts, items = { red = 0, amber = 0, green = 0 }, opts.items
  if items ~= nil then
    if type(items) ~= "table" then fail("rag", "items must be a list of { label =, status = }") end
    for i, item in ipairs(items) do
      local s = type(item) == "table" and item.status
      if counts[s] == nil then
        fail("rag", "items[%d].status must be \"red\", \"amber\" or \"green\"", i)
      end
      counts[s] = counts[s] + 1
    end
  elseif type(opts.counts) == "table" then
    for k, v in pairs(opts.counts) do
      if counts[k] == nil then fail("rag", "counts has red, amber and green only, not %s", tostring(k)) end
      local n = number("rag", v) or 0
      if n < 0 or n ~= floor(n) then fail("rag", "counts.%s must be a whole number of 0 or more", k) end
      counts[k] = n
    end
  else
    fail("rag", "give counts = { red =, amber =, green = } or items = { { label =, status = }, ... }")
  end
  local total = counts.red + counts.amber + counts.green
  local out, x = {}, 0
  for _, r in ipairs(RAG) do
    local n = counts[r.key]
    if n > 0 then
      local w = n / total * W
      local word = t("chart.rag." .. r.key)
      out[#out + 1] = fmt('<rect x="%.1f" y="0" width="%.1f" height="40" fill="%s" stroke="#fff" stroke-width="2">'
        .. '<title>%s: %d</title></rect>', x, w, r.colour, escape(word), n)
      local words = fmt("%d %s", n, word)
      if #words * CHAR + 12 <= w then
        text(out, x + 8, 25, words, nil, ' font-weight="bold"', r.ink)
      elseif #tostring(n) * CHAR + 8 <= w then
        text(out, x + w / 2, 25, tostring(n), "middle", ' font-weight="bold"', r.ink)
      end
      x = x + w
    end
  end
  if total == 0 then
    out[#out + 1] = fmt('<rect x="0" y="0" width="%d" height="40" fill="#f3f2f1"/>', W)
    text(out, 8, 25, t("chart.rag.none"))
  end
  -- The words under the bar, so colour is never the only way to read it.
  local kx = 0
  for _, r in ipairs(RAG) do
    local words = fmt("%s: %d", t("chart.rag." .. r.key), counts[r.key])
    out[#out + 1] = fmt('<rect x="%.1f" y="52" width="14" height="14" fill="%s"/>', kx, r.colour)
    text(out, kx + 20, 64, words)
    kx = kx + 20 + #words * CHAR + 24
  end
  local head, rows
  if items then
    head = { { text = t("chart.rag.item") }, { text = t("chart.rag.status") } }
    rows = {}
    for i, item in ipairs(items) do
      rows[i] = { { text = tostring(item.label or "") }, { text = t("chart.rag." .. item.status) } }
    end
  else
    head = { { text = t("chart.rag.status") }, { text = t("chart.rag.count"), format = "numeric" } }
    rows = {}
    for i, r in ipairs(RAG) do
      rows[i] = { { text = t("chart.rag." .. r.key) }, { text = group(counts[r.key]), format = "numeric" } }
    end
  end
  return figure(opts, id, concat(out), 76, head, rows)
end

chart.bar, chart.line, chart.rag = public(bar), public(line), public(rag)

-- Templates: {{ barChart({...}) }}, {{ lineChart({...}) }}, {{ ragSummary({...}) }}.
view.globals.barChart = chart.bar
view.globals.lineChart = chart.line
view.globals.ragSummary = chart.rag
borough.chart = chart

return chart
