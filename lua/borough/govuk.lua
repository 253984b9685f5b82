--- borough.govuk: GOV.UK Frontend components, from Lua and from templates.
--
-- Each component takes the same options as GOV.UK Frontend's Nunjucks
-- macro (the names in the GOV.UK Design System, camelCase included) and
-- returns the same HTML, as a safe string (templates output it as it is; a
-- handler may return it, or tostring() it):
--
--   local govuk = borough.govuk
--   govuk.input { label = { text = "Full name" }, id = "name", name = "name",
--                 errorMessage = errors.name and { text = errors.name } }
--
--   {{ govukInput({ label: { text: "Full name" }, id: "name", name: "name" }) }}
--
-- Text options (`text`, `titleText`, ...) are escaped; `html` options are
-- output as they are, so only put trusted HTML there (another component's
-- output, or text you escaped yourself). Every URL a component writes
-- (href options, and href, src, formaction, ... in `attributes` given as a
-- table) goes through the templates' one check (view.safe_url): a
-- javascript: or data: URL, marked safe or not, becomes
-- about:invalid#blocked. Defaults the macros write in
-- English ("Back", "There is a problem", "Day", ...) come from the message
-- table in the request's language (borough.t).
--
-- Components: backLink, breadcrumbs, button, characterCount, checkboxes,
-- dateInput, details, errorMessage, errorSummary, fieldset, fileUpload,
-- footer, genericHeader, header, hint, input, insetText, label,
-- notificationBanner, pagination, panel, phaseBanner, radios, select,
-- skipLink, summaryList, table, tag, taskList, textarea, warningText.
-- In Lua they are also reachable in snake_case (govuk.back_link, ...).

local view = require "borough.view"
local i18n = require "borough.i18n"
local logo = require "borough.govuk_logo"

local govuk = {}

local escape, concat, type, tostring, pairs, ipairs = borough.escape, table.concat, type, tostring, pairs, ipairs
local getmetatable, sort = getmetatable, table.sort
local Safe = view.Safe
local t = i18n.t

-------------------------------------------------------------------------------
-- helpers
-------------------------------------------------------------------------------

-- Nunjucks truthiness: nil, false, "", 0 are false.
local function has(v)
  return v ~= nil and v ~= false and v ~= "" and v ~= 0
end

local function str(v)
  if v == nil then return "" end
  if getmetatable(v) == Safe then return v.body end
  if type(v) == "number" and math.type(v) == "float" and v == math.floor(v) then
    return string.format("%d", v)
  end
  return tostring(v)
end

local function esc(v)
  if getmetatable(v) == Safe then return escape(v.body) end
  return escape(str(v))
end

-- A URL for an href: checked as every URL attribute is (view.safe_url:
-- javascript: and the like become about:invalid#blocked), then escaped.
local url_attr, url_attrs = view.url_attr, view.url_attrs
local function url(v)
  return url_attr(str(v))
end

-- The HTML of an option pair: html as it is, else text escaped.
local function content(html, text)
  if has(html) then return str(html) end
  return esc(text)
end

local function field(tbl, k)
  if type(tbl) == "table" then return tbl[k] end
  return nil
end

-- " extra" when extra is set.
local function cls(extra)
  if has(extra) then return " " .. str(extra) end
  return ""
end

-- govukAttributes: a string as it is, or name = value | { value =, optional = }
-- pairs (sorted by name, as Lua tables keep no order).
local function attributes(a)
  if a == nil then return "" end
  if type(a) == "string" then return a end
  if getmetatable(a) == Safe then return a.body end
  if type(a) ~= "table" then return "" end
  local names = {}
  for name in pairs(a) do names[#names + 1] = name end
  sort(names)
  local out = {}
  for _, name in ipairs(names) do
    local item = a[name]
    local value, optional = item, false
    if type(item) == "table" and getmetatable(item) ~= Safe then
      value, optional = item.value, item.optional == true
    end
    if optional and value == true then
      out[#out + 1] = " " .. escape(name)
    elseif not optional or (value ~= nil and value ~= false) then
      local v = value
      if v == nil then v = "" end
      if type(v) == "boolean" then v = v and "true" or "false" end
      local ve
      if url_attrs[name:lower()] then ve = url_attr(v)
      else ve = getmetatable(v) == Safe and v.body or escape(str(v)) end
      out[#out + 1] = " " .. escape(name) .. '="' .. ve .. '"'
    end
  end
  return concat(out)
end

-- Ordered attributes for the components' own use: { {name, value, optional}, ... }.
local function ordered(list)
  local out = {}
  for _, a in ipairs(list) do
    local name, value, optional = a[1], a[2], a[3]
    if optional and value == true then
      out[#out + 1] = " " .. name
    elseif not optional or (value ~= nil and value ~= false) then
      if value == nil then value = "" end
      if type(value) == "boolean" then value = value and "true" or "false" end
      out[#out + 1] = " " .. name .. '="' .. esc(value) .. '"'
    end
  end
  return concat(out)
end

-- govukI18nAttributes
local function i18n_attrs(key, message, messages)
  if type(messages) == "table" then
    local rules = {}
    for rule in pairs(messages) do rules[#rules + 1] = rule end
    sort(rules)
    local out = {}
    for _, rule in ipairs(rules) do
      out[#out + 1] = (' data-i18n.%s.%s="%s"'):format(key, rule, esc(messages[rule]))
    end
    return concat(out)
  elseif has(message) then
    return (' data-i18n.%s="%s"'):format(key, esc(message))
  end
  return ""
end

local function loose_eq(a, b)
  if a == nil or b == nil then return a == b end
  return str(a) == str(b)
end

local function capitalize(s)
  s = str(s)
  return s:sub(1, 1):upper() .. s:sub(2):lower()
end

-- beforeInput/afterInput style { text =, html = } blocks.
local function block(b)
  if type(b) ~= "table" then return "" end
  return content(b.html, b.text)
end

-------------------------------------------------------------------------------
-- the components (each returns a plain string; the exported ones are safe)
-------------------------------------------------------------------------------

local C = {}

function C.label(p)
  if not (has(p.html) or has(p.text)) then return "" end
  local label = ('<label class="govuk-label%s"%s%s>\n  %s\n</label>'):format(
    cls(p.classes), attributes(p.attributes), has(p["for"]) and (' for="' .. esc(p["for"]) .. '"') or "",
    content(p.html, p.text))
  if p.isPageHeading then
    return '<h1 class="govuk-label-wrapper">\n  ' .. label .. '\n</h1>'
  end
  return label
end

function C.hint(p)
  return ('<div%s class="govuk-hint%s"%s>\n  %s\n</div>'):format(
    has(p.id) and (' id="' .. esc(p.id) .. '"') or "", cls(p.classes), attributes(p.attributes),
    content(p.html, p.text))
end

function C.errorMessage(p)
  local hidden = p.visuallyHiddenText
  if hidden == nil then hidden = t("error_message.prefix") end
  local text = content(p.html, p.text)
  local inner
  if has(hidden) then
    inner = '<span class="govuk-visually-hidden">' .. esc(hidden) .. ':</span> ' .. text
  else
    inner = text
  end
  return ('<p%s class="govuk-error-message%s"%s>\n  %s\n</p>'):format(
    has(p.id) and (' id="' .. esc(p.id) .. '"') or "", cls(p.classes), attributes(p.attributes), inner)
end

function C.fieldset(p)
  local out = { ('<fieldset class="govuk-fieldset%s"%s%s%s>'):format(
    cls(p.classes), has(p.role) and (' role="' .. esc(p.role) .. '"') or "",
    has(p.describedBy) and (' aria-describedby="' .. esc(p.describedBy) .. '"') or "",
    attributes(p.attributes)) }
  local legend = p.legend
  if type(legend) == "table" and (has(legend.html) or has(legend.text)) then
    out[#out + 1] = '<legend class="govuk-fieldset__legend' .. cls(legend.classes) .. '">'
    if legend.isPageHeading then
      out[#out + 1] = '<h1 class="govuk-fieldset__heading">\n' .. content(legend.html, legend.text) .. '\n</h1>'
    else
      out[#out + 1] = content(legend.html, legend.text)
    end
    out[#out + 1] = '</legend>'
  end
  if has(p.html) then out[#out + 1] = str(p.html) end
  out[#out + 1] = '</fieldset>'
  return concat(out, "\n")
end

-- The form group opening tag shared by the form components.
local function form_group(p)
  local fg = p.formGroup or {}
  return ('<div class="govuk-form-group%s%s"%s>'):format(
    has(p.errorMessage) and " govuk-form-group--error" or "", cls(fg.classes), attributes(fg.attributes))
end

-- The form group around a component's inputs (inner, a list of lines),
-- inside a fieldset when the component has one, as GOV.UK's radios,
-- checkboxes and date input are; role is the fieldset's role, if any.
local function grouped(p, fs, described, inner, role)
  local inner_html = concat(inner, "\n")
  local out = { form_group(p) }
  if fs ~= nil and fs ~= false then
    out[#out + 1] = C.fieldset { describedBy = described, classes = field(fs, "classes"), role = role,
                                 attributes = field(fs, "attributes"), legend = field(fs, "legend"),
                                 html = inner_html }
  else
    out[#out + 1] = inner_html
  end
  out[#out + 1] = '</div>'
  return concat(out, "\n")
end

-- Appends the hint and error message of a component whose ids start with
-- base to out; returns describedBy with their ids added.
local function hint_and_error(p, base, described, out)
  if has(p.hint) then
    local hid = str(base) .. "-hint"
    described = has(described) and (str(described) .. " " .. hid) or hid
    local h = p.hint
    out[#out + 1] = C.hint { id = hid, classes = h.classes, attributes = h.attributes, html = h.html, text = h.text }
  end
  if has(p.errorMessage) then
    local eid = str(base) .. "-error"
    described = has(described) and (str(described) .. " " .. eid) or eid
    local e = p.errorMessage
    out[#out + 1] = C.errorMessage { id = eid, classes = e.classes, attributes = e.attributes, html = e.html,
                                     text = e.text, visuallyHiddenText = e.visuallyHiddenText }
  end
  return described
end

-- Label, hint and error message of a single-field component; returns the
-- HTML parts and the new describedBy.
local function field_head(p, id, described)
  local out = {}
  local label = p.label or {}
  out[#out + 1] = C.label { html = label.html, text = label.text, classes = label.classes,
                            isPageHeading = label.isPageHeading, attributes = label.attributes, ["for"] = id }
  return out, hint_and_error(p, id, described, out)
end

-- The start of a single-field component: the form group, label, hint and
-- error message; returns its id, formGroup options, the parts so far and
-- the describedBy ids.
local function field_start(p, described)
  local id = has(p.id) and p.id or p.name
  local out = { form_group(p) }
  local head
  head, described = field_head(p, id, described)
  for _, h in ipairs(head) do out[#out + 1] = h end
  return id, p.formGroup or {}, out, described
end

-- The end of one: afterInput and the form group's closing tag.
local function field_end(out, fg)
  if has(fg.afterInput) then out[#out + 1] = block(fg.afterInput) end
  out[#out + 1] = '</div>'
  return concat(out, "\n")
end

function C.input(p)
  local classes = "govuk-input" .. cls(p.classes) .. (has(p.errorMessage) and " govuk-input--error" or "")
  local id, fg, out, described = field_start(p, has(p.describedBy) and p.describedBy or nil)
  local spell = p.spellcheck
  if spell == true or spell == false then spell = tostring(spell) else spell = false end
  local input = "<input" .. ordered {
    { "class", classes }, { "id", id }, { "name", p.name }, { "type", has(p.type) and p.type or "text" },
    { "spellcheck", spell, true }, { "value", p.value, true }, { "disabled", p.disabled, true },
    { "aria-describedby", described, true }, { "autocomplete", p.autocomplete, true },
    { "autocapitalize", p.autocapitalize, true }, { "pattern", p.pattern, true },
    { "inputmode", p.inputmode, true },
  } .. attributes(p.attributes) .. ">"
  local function affix(a) return type(a) == "table" and (has(a.text) or has(a.html)) end
  local before, after = affix(fg.beforeInput), affix(fg.afterInput)
  if affix(p.prefix) or affix(p.suffix) or before or after then
    local w = p.inputWrapper or {}
    out[#out + 1] = '<div class="govuk-input__wrapper' .. cls(w.classes) .. '"' .. attributes(w.attributes) .. '>'
    if before then out[#out + 1] = block(fg.beforeInput) end
    if affix(p.prefix) then
      out[#out + 1] = ('<div class="govuk-input__prefix%s" aria-hidden="true"%s>%s</div>'):format(
        cls(p.prefix.classes), attributes(p.prefix.attributes), content(p.prefix.html, p.prefix.text))
    end
    out[#out + 1] = input
    if affix(p.suffix) then
      out[#out + 1] = ('<div class="govuk-input__suffix%s" aria-hidden="true"%s>%s</div>'):format(
        cls(p.suffix.classes), attributes(p.suffix.attributes), content(p.suffix.html, p.suffix.text))
    end
    if after then out[#out + 1] = block(fg.afterInput) end
    out[#out + 1] = '</div>'
  else
    out[#out + 1] = input
  end
  out[#out + 1] = '</div>'
  return concat(out, "\n")
end

function C.textarea(p)
  local id, fg, out, described = field_start(p, has(p.describedBy) and p.describedBy or "")
  if has(fg.beforeInput) then out[#out + 1] = block(fg.beforeInput) end
  out[#out + 1] = ('<textarea class="govuk-textarea%s%s" id="%s" name="%s" rows="%s"%s%s%s%s%s>%s</textarea>'):format(
    has(p.errorMessage) and " govuk-textarea--error" or "", cls(p.classes), esc(id), esc(p.name),
    has(p.rows) and esc(p.rows) or "5",
    (p.spellcheck == true or p.spellcheck == false) and (' spellcheck="' .. tostring(p.spellcheck) .. '"') or "",
    p.disabled and " disabled" or "",
    has(described) and (' aria-describedby="' .. esc(described) .. '"') or "",
    has(p.autocomplete) and (' autocomplete="' .. esc(p.autocomplete) .. '"') or "",
    attributes(p.attributes), esc(p.value))
  return field_end(out, fg)
end

function C.characterCount(p)
  local count_type = p.countType or (has(p.maxwords) and "words" or nil)
  local no_limit = not has(p.maxwords) and not has(p.maxlength)
  local limit = has(p.maxwords) and p.maxwords or p.maxlength
  local desc = p.textareaDescriptionText
  if not has(desc) then
    desc = t(count_type == "words" and "character_count.description.words" or "character_count.description.characters",
             nil)
  end
  local desc_text = nil
  if not no_limit then desc_text = (str(desc):gsub("%%{count}", function() return str(limit) end)) end
  local id = has(p.id) and p.id or p.name
  local fg = p.formGroup or {}
  local cm = p.countMessage or {}
  local message = C.hint { text = desc_text, id = str(id) .. "-info",
                           classes = "govuk-character-count__message" .. cls(cm.classes) }
  if has(fg.afterInput) then message = message .. "\n" .. block(fg.afterInput) end
  local attrs = ordered {
    { "data-module", "govuk-character-count" }, { "data-maxlength", p.maxlength, true },
    { "data-maxwords", p.maxwords, true }, { "data-threshold", p.threshold, true },
    { "data-count-type", count_type or false, true },
  }
  if no_limit and has(p.textareaDescriptionText) then
    attrs = attrs .. i18n_attrs("textarea-description", nil, { other = p.textareaDescriptionText })
  end
  attrs = attrs .. i18n_attrs("characters-under-limit", nil, p.charactersUnderLimitText)
    .. i18n_attrs("characters-at-limit", p.charactersAtLimitText)
    .. i18n_attrs("characters-over-limit", nil, p.charactersOverLimitText)
    .. i18n_attrs("words-under-limit", nil, p.wordsUnderLimitText)
    .. i18n_attrs("words-at-limit", p.wordsAtLimitText)
    .. i18n_attrs("words-over-limit", nil, p.wordsOverLimitText)
  if type(fg.attributes) == "table" then
    local names = {}
    for k in pairs(fg.attributes) do names[#names + 1] = k end
    sort(names)
    for _, k in ipairs(names) do attrs = attrs .. " " .. escape(k) .. '="' .. esc(fg.attributes[k]) .. '"' end
  end
  local label = p.label or {}
  return C.textarea {
    id = id, name = p.name, describedBy = str(id) .. "-info", rows = p.rows, spellcheck = p.spellcheck,
    value = p.value,
    formGroup = { classes = "govuk-character-count" .. cls(fg.classes), attributes = attrs,
                  beforeInput = fg.beforeInput, afterInput = { html = message } },
    classes = "govuk-js-character-count" .. cls(p.classes),
    label = { html = label.html, text = label.text, classes = label.classes, isPageHeading = label.isPageHeading,
              attributes = label.attributes },
    hint = p.hint, errorMessage = p.errorMessage, attributes = p.attributes,
  }
end

-- Radios and checkboxes share their shape.
local function choices(p, kind)
  local id_prefix = has(p.idPrefix) and p.idPrefix or p.name
  local fs = p.fieldset
  local described = field(fs, "describedBy")
  if kind == "checkboxes" then
    described = has(p.describedBy) and p.describedBy or ""
    if has(field(fs, "describedBy")) then described = fs.describedBy end
  elseif not has(described) then
    described = ""
  end
  local has_fieldset = fs ~= nil and fs ~= false
  local inner = {}
  described = hint_and_error(p, id_prefix, described, inner)
  local fg = p.formGroup or {}
  inner[#inner + 1] = ('<div class="govuk-%s%s"%s data-module="govuk-%s">'):format(
    kind, cls(p.classes), attributes(p.attributes), kind)
  if has(fg.beforeInputs) then inner[#inner + 1] = block(fg.beforeInputs) end
  local item_kind = kind == "radios" and "radio" or "checkbox"
  for index, item in ipairs(p.items or {}) do
    if has(item) then
      local item_id = has(item.id) and item.id or (str(id_prefix) .. (index > 1 and ("-" .. index) or ""))
      local cond_id = "conditional-" .. str(item_id)
      if has(item.divider) then
        inner[#inner + 1] = ('<div class="govuk-%s__divider">%s</div>'):format(kind, esc(item.divider))
      else
        local checked
        if has(item.checked) then
          checked = item.checked
        elseif kind == "radios" then
          checked = has(p.value) and (loose_eq(item.value, p.value) and item.checked ~= false) or false
        else
          local found = false
          for _, v in ipairs(type(p.values) == "table" and p.values or {}) do
            if loose_eq(v, item.value) then found = true end
          end
          checked = has(p.values) and (found and item.checked ~= false) or false
        end
        local hint = item.hint
        local has_hint = type(hint) == "table" and (has(hint.text) or has(hint.html))
        local item_hint_id = str(item_id) .. "-item-hint"
        local describedby
        if kind == "radios" then
          describedby = has_hint and item_hint_id or nil
        else
          local d = has_fieldset and "" or str(described)
          describedby = (d .. " " .. (has_hint and item_hint_id or "")):match("^%s*(.-)%s*$")
        end
        local cond = field(item.conditional, "html")
        inner[#inner + 1] = '<div class="govuk-' .. kind .. '__item">'
        inner[#inner + 1] = ('<input class="govuk-%s__input" id="%s" name="%s" type="%s" value="%s"%s%s%s%s%s%s>'):format(
          kind, esc(item_id), esc(kind == "checkboxes" and has(item.name) and item.name or p.name), item_kind,
          esc(item.value), has(checked) and " checked" or "", item.disabled and " disabled" or "",
          has(cond) and (' data-aria-controls="' .. esc(cond_id) .. '"') or "",
          (kind == "checkboxes" and has(item.behaviour)) and (' data-behaviour="' .. esc(item.behaviour) .. '"') or "",
          has(describedby) and (' aria-describedby="' .. esc(describedby) .. '"') or "",
          attributes(item.attributes))
        local label = item.label or {}
        inner[#inner + 1] = C.label { html = item.html, text = item.text,
                                      classes = "govuk-" .. kind .. "__label" .. cls(label.classes),
                                      attributes = label.attributes, ["for"] = item_id }
        if has_hint then
          inner[#inner + 1] = C.hint { id = item_hint_id, classes = "govuk-" .. kind .. "__hint" .. cls(hint.classes),
                                       attributes = hint.attributes, html = hint.html, text = hint.text }
        end
        inner[#inner + 1] = '</div>'
        if has(cond) then
          inner[#inner + 1] = ('<div class="govuk-%s__conditional%s" id="%s">\n%s\n</div>'):format(
            kind, has(checked) and "" or (" govuk-" .. kind .. "__conditional--hidden"), esc(cond_id), str(cond))
        end
      end
    end
  end
  if has(fg.afterInputs) then inner[#inner + 1] = block(fg.afterInputs) end
  inner[#inner + 1] = '</div>'
  return grouped(p, fs, described, inner)
end

function C.radios(p) return choices(p, "radios") end
function C.checkboxes(p) return choices(p, "checkboxes") end

function C.select(p)
  local id, fg, out, described = field_start(p, has(p.describedBy) and p.describedBy or "")
  if has(fg.beforeInput) then out[#out + 1] = block(fg.beforeInput) end
  out[#out + 1] = ('<select class="govuk-select%s%s" id="%s" name="%s"%s%s%s>'):format(
    cls(p.classes), has(p.errorMessage) and " govuk-select--error" or "", esc(id), esc(p.name),
    p.disabled and " disabled" or "", has(described) and (' aria-describedby="' .. esc(described) .. '"') or "",
    attributes(p.attributes))
  for _, item in ipairs(p.items or {}) do
    if has(item) then
      local effective = item.value
      if effective == nil then effective = item.text end
      local selected
      if has(item.selected) then
        selected = item.selected
      else
        selected = has(p.value) and (loose_eq(effective, p.value) and item.selected ~= false) or false
      end
      out[#out + 1] = ('<option%s%s%s%s>%s</option>'):format(
        item.value ~= nil and (' value="' .. esc(item.value) .. '"') or "", has(selected) and " selected" or "",
        item.disabled and " disabled" or "", attributes(item.attributes), esc(item.text))
    end
  end
  out[#out + 1] = '</select>'
  return field_end(out, fg)
end

local function contains(s, part)
  return has(s) and str(s):find(part, 1, true) ~= nil
end

function C.dateInput(p)
  local values = type(p.values) == "table" and p.values or {}
  local day = p.day or { name = "day", value = values.day, classes = "govuk-input--width-2" }
  local month = p.month or { name = "month", value = values.month, classes = "govuk-input--width-2" }
  local year = p.year or { name = "year", value = values.year, classes = "govuk-input--width-4" }
  local items = (type(p.items) == "table" and #p.items > 0) and p.items or { day, month, year }
  local any_error = false
  for _, item in ipairs(items) do
    if has(item.error) or contains(item.classes, "govuk-input--error") then any_error = true end
  end
  local fs = p.fieldset
  local inner = {}
  local described = hint_and_error(p, p.id, has(field(fs, "describedBy")) and fs.describedBy or "", inner)
  local fg = p.formGroup or {}
  inner[#inner + 1] = ('<div class="govuk-date-input%s"%s%s>'):format(
    cls(p.classes), attributes(p.attributes), has(p.id) and (' id="' .. esc(p.id) .. '"') or "")
  if has(fg.beforeInputs) then inner[#inner + 1] = block(fg.beforeInputs) end
  local prefix = has(p.namePrefix) and (str(p.namePrefix) .. "-") or ""
  for _, item in ipairs(items) do
    if has(item) then
      local name, value, width, classes = item.name, item.value, 2, ""
      local item_error = has(item.error) or contains(item.classes, "govuk-input--error")
      local function is(which, default)
        return item == which or (has(item.name) and (item.name == default or item.name == which.name))
      end
      if is(day, "day") then
        name = has(item.name) and item.name or "day"
        if value == nil then value = day.value end
      elseif is(month, "month") then
        name = has(item.name) and item.name or "month"
        if value == nil then value = month.value end
      elseif is(year, "year") then
        name = has(item.name) and item.name or "year"
        if value == nil then value = year.value end
        width = 4
      end
      if not contains(item.classes, "govuk-input--error") and
         (item_error or (item.error ~= false and has(p.errorMessage) and not any_error)) then
        classes = (classes .. " govuk-input--error"):match("^%s*(.-)%s*$")
      end
      if not contains(item.classes, "govuk-input--width-") then
        classes = (classes .. " govuk-input--width-" .. width):match("^%s*(.-)%s*$")
      end
      if has(item.classes) then classes = (classes .. " " .. str(item.classes)):match("^%s*(.-)%s*$") end
      local label = item.label
      if not has(label) then
        local key = "date_input." .. str(name)
        label = (name == "day" or name == "month" or name == "year") and t(key) or capitalize(name)
      end
      if value == nil then value = values[prefix .. str(name)] end
      inner[#inner + 1] = '<div class="govuk-date-input__item">\n' .. C.input {
        label = { text = label, classes = "govuk-date-input__label" },
        id = has(item.id) and item.id or (str(p.id) .. "-" .. str(name)),
        classes = "govuk-date-input__input" .. cls(classes),
        name = prefix .. str(name), value = value, type = "text",
        inputmode = has(item.inputmode) and item.inputmode or "numeric",
        autocomplete = item.autocomplete, pattern = item.pattern, attributes = item.attributes,
      } .. '\n</div>'
    end
  end
  if has(fg.afterInputs) then inner[#inner + 1] = block(fg.afterInputs) end
  inner[#inner + 1] = '</div>'
  return grouped(p, fs, described, inner, "group")
end

function C.fileUpload(p)
  local id, fg, out, described = field_start(p, has(p.describedBy) and p.describedBy or "")
  if has(fg.beforeInput) then out[#out + 1] = block(fg.beforeInput) end
  if p.javascript then
    out[#out + 1] = '<div class="govuk-file-upload-wrapper' .. cls(p.wrapperClasses) .. '" data-module="govuk-file-upload"'
      .. i18n_attrs("choose-files-button", p.chooseFilesButtonText)
      .. i18n_attrs("no-file-chosen", p.noFileChosenText)
      .. i18n_attrs("multiple-files-chosen", nil, p.multipleFilesChosenText)
      .. i18n_attrs("drop-instruction", p.dropInstructionText)
      .. i18n_attrs("entered-drop-zone", p.enteredDropZoneText)
      .. i18n_attrs("left-drop-zone", p.leftDropZoneText)
      .. attributes(p.wrapperAttributes) .. '>'
  end
  out[#out + 1] = ('<input class="govuk-file-upload%s%s" id="%s" name="%s" type="file"%s%s%s%s>'):format(
    cls(p.classes), has(p.errorMessage) and " govuk-file-upload--error" or "", esc(id), esc(p.name),
    p.disabled and " disabled" or "", p.multiple and " multiple" or "",
    has(described) and (' aria-describedby="' .. esc(described) .. '"') or "", attributes(p.attributes))
  if p.javascript then out[#out + 1] = '</div>' end
  return field_end(out, fg)
end

function C.button(p)
  local classes = "govuk-button" .. cls(p.classes) .. (p.isStartButton and " govuk-button--start" or "")
  local common = (' class="%s" data-module="govuk-button"%s%s'):format(
    esc(classes), attributes(p.attributes), has(p.id) and (' id="' .. esc(p.id) .. '"') or "")
  local text
  if has(p.html) and p.isStartButton then
    text = "<span>" .. str(p.html) .. "</span>"
  else
    text = content(p.html, p.text)
  end
  local icon = p.isStartButton and '<svg class="govuk-button__start-icon" xmlns="http://www.w3.org/2000/svg" '
    .. 'width="17.5" height="19" viewBox="0 0 33 40" aria-hidden="true" focusable="false">\n'
    .. '<path fill="currentColor" d="M0 0h13l20 20-20 20H0l20-20z"/>\n</svg>' or ""
  if has(p.href) then
    return ('<a href="%s" role="button" draggable="false"%s>\n%s%s\n</a>'):format(url(p.href), common, text, icon)
  end
  local pdc = ""
  if p.preventDoubleClick ~= nil then
    pdc = ' data-prevent-double-click="' .. esc(p.preventDoubleClick == true and "true"
                                               or p.preventDoubleClick == false and "false" or p.preventDoubleClick) .. '"'
  end
  return ('<button type="%s"%s%s%s%s%s>\n%s%s\n</button>'):format(
    has(p.type) and esc(p.type) or "submit", has(p.value) and (' value="' .. esc(p.value) .. '"') or "",
    has(p.name) and (' name="' .. esc(p.name) .. '"') or "", p.disabled and ' disabled aria-disabled="true"' or "",
    pdc, common, text, icon)
end

function C.skipLink(p)
  return ('<a href="%s" class="govuk-skip-link%s"%s data-module="govuk-skip-link">%s</a>'):format(
    has(p.href) and url(p.href) or "#content", cls(p.classes), attributes(p.attributes), content(p.html, p.text))
end

function C.backLink(p)
  local text = has(p.html) and str(p.html) or esc(has(p.text) and p.text or t("back_link.text"))
  return ('<a href="%s" class="govuk-back-link%s"%s>%s</a>'):format(
    has(p.href) and url(p.href) or "#", cls(p.classes), attributes(p.attributes), text)
end

function C.tag(p)
  return ('<strong class="govuk-tag%s"%s>\n  %s\n</strong>'):format(
    cls(p.classes), attributes(p.attributes), content(p.html, p.text))
end

function C.insetText(p)
  return ('<div%s class="govuk-inset-text%s"%s>\n  %s\n</div>'):format(
    has(p.id) and (' id="' .. esc(p.id) .. '"') or "", cls(p.classes), attributes(p.attributes),
    content(p.html, p.text))
end

function C.warningText(p)
  return ('<div class="govuk-warning-text%s"%s>\n  <span class="govuk-warning-text__icon" aria-hidden="true">!</span>\n'
          .. '  <strong class="govuk-warning-text__text">\n    <span class="govuk-visually-hidden">%s</span>\n    %s\n'
          .. '  </strong>\n</div>'):format(
    cls(p.classes), attributes(p.attributes), esc(has(p.iconFallbackText) and p.iconFallbackText or t("warning_text.icon")),
    content(p.html, p.text))
end

function C.details(p)
  return ('<details%s class="govuk-details%s"%s%s>\n  <summary class="govuk-details__summary">\n'
          .. '    <span class="govuk-details__summary-text">\n      %s\n    </span>\n  </summary>\n'
          .. '  <div class="govuk-details__text">\n    %s\n  </div>\n</details>'):format(
    has(p.id) and (' id="' .. esc(p.id) .. '"') or "", cls(p.classes), attributes(p.attributes),
    p.open and " open" or "", content(p.summaryHtml, p.summaryText), content(p.html, p.text))
end

function C.phaseBanner(p)
  local tag = p.tag or {}
  return ('<div class="govuk-phase-banner govuk-width-container%s"%s>\n  <p class="govuk-phase-banner__content">\n'
          .. '%s\n    <span class="govuk-phase-banner__text">\n      %s\n    </span>\n  </p>\n</div>'):format(
    cls(p.classes), attributes(p.attributes),
    C.tag { text = tag.text, html = tag.html, classes = "govuk-phase-banner__content__tag" .. cls(tag.classes) },
    content(p.html, p.text))
end

function C.breadcrumbs(p)
  local classes = "govuk-breadcrumbs" .. cls(p.classes) .. (p.collapseOnMobile and " govuk-breadcrumbs--collapse-on-mobile" or "")
  local label = p.labelText
  if label == nil then label = t("breadcrumbs.label") end
  local out = { ('<nav class="%s"%s aria-label="%s">\n  <ol class="govuk-breadcrumbs__list">'):format(
    esc(classes), attributes(p.attributes), esc(label)) }
  for _, item in ipairs(p.items or {}) do
    if has(item.href) then
      out[#out + 1] = ('<li class="govuk-breadcrumbs__list-item">\n<a class="govuk-breadcrumbs__link" href="%s"%s>%s</a>\n</li>'):format(
        url(item.href), attributes(item.attributes), content(item.html, item.text))
    else
      out[#out + 1] = ('<li class="govuk-breadcrumbs__list-item" aria-current="page">%s</li>'):format(
        content(item.html, item.text))
    end
  end
  out[#out + 1] = '  </ol>\n</nav>'
  return concat(out, "\n")
end

function C.errorSummary(p)
  local out = { ('<div class="govuk-error-summary%s"%s%s data-module="govuk-error-summary">\n  <div role="alert">'):format(
    cls(p.classes),
    p.disableAutoFocus ~= nil and (' data-disable-auto-focus="' .. esc(p.disableAutoFocus) .. '"') or "",
    attributes(p.attributes)) }
  local title
  if has(p.titleHtml) then title = str(p.titleHtml)
  else title = esc(has(p.titleText) and p.titleText or t("error_summary.title")) end
  out[#out + 1] = '<h2 class="govuk-error-summary__title">\n' .. title .. '\n</h2>'
  out[#out + 1] = '<div class="govuk-error-summary__body">'
  if has(p.descriptionHtml) or has(p.descriptionText) then
    out[#out + 1] = '<p>\n' .. content(p.descriptionHtml, p.descriptionText) .. '\n</p>'
  end
  local list = p.errorList or {}
  if #list > 0 then
    out[#out + 1] = '<ul class="govuk-list govuk-error-summary__list">'
    for _, item in ipairs(list) do
      if has(item.href) then
        out[#out + 1] = ('<li>\n<a href="%s"%s>%s</a>\n</li>'):format(
          url(item.href), attributes(item.attributes), content(item.html, item.text))
      else
        out[#out + 1] = '<li>\n' .. content(item.html, item.text) .. '\n</li>'
      end
    end
    out[#out + 1] = '</ul>'
  end
  out[#out + 1] = '</div>\n  </div>\n</div>'
  return concat(out, "\n")
end

local function action_link(action, card_title)
  local hidden = ""
  if has(action.visuallyHiddenText) or card_title then
    hidden = '<span class="govuk-visually-hidden">'
      .. (has(action.visuallyHiddenText) and (" " .. esc(action.visuallyHiddenText)) or "")
      .. (card_title and (" (" .. content(card_title.html, card_title.text) .. ")") or "") .. '</span>'
  end
  return ('<a class="govuk-link%s" href="%s"%s>%s%s</a>'):format(
    cls(action.classes), url(action.href), attributes(action.attributes), content(action.html, action.text), hidden)
end

function C.summaryList(p)
  local rows = p.rows or {}
  local any_actions = false
  for _, row in ipairs(rows) do
    if has(row) and #(field(field(row, "actions"), "items") or {}) > 0 then any_actions = true end
  end
  local card_title = field(p.card, "title")
  local out = { ('<dl class="govuk-summary-list%s"%s>'):format(cls(p.classes), attributes(p.attributes)) }
  for _, row in ipairs(rows) do
    if has(row) then
      local items = field(row.actions, "items")
      out[#out + 1] = ('<div class="govuk-summary-list__row%s%s">'):format(
        (any_actions and not has(items)) and " govuk-summary-list__row--no-actions" or "", cls(row.classes))
      local key, value = row.key or {}, row.value or {}
      out[#out + 1] = ('<dt class="govuk-summary-list__key%s">\n%s\n</dt>'):format(cls(key.classes), content(key.html, key.text))
      out[#out + 1] = ('<dd class="govuk-summary-list__value%s">\n%s\n</dd>'):format(cls(value.classes), content(value.html, value.text))
      if items and #items > 0 then
        out[#out + 1] = '<dd class="govuk-summary-list__actions' .. cls(row.actions.classes) .. '">'
        if #items == 1 then
          out[#out + 1] = action_link(items[1], card_title)
        else
          out[#out + 1] = '<ul class="govuk-summary-list__actions-list">'
          for _, a in ipairs(items) do
            out[#out + 1] = '<li class="govuk-summary-list__actions-list-item">\n' .. action_link(a, card_title) .. '\n</li>'
          end
          out[#out + 1] = '</ul>'
        end
        out[#out + 1] = '</dd>'
      end
      out[#out + 1] = '</div>'
    end
  end
  out[#out + 1] = '</dl>'
  local list = concat(out, "\n")
  if not has(p.card) then return list end
  local card = p.card
  local c = { ('<div class="govuk-summary-card%s"%s>\n<div class="govuk-summary-card__title-wrapper">'):format(
    cls(card.classes), attributes(card.attributes)) }
  if has(card.title) then
    local level = has(card.title.headingLevel) and str(card.title.headingLevel) or "2"
    c[#c + 1] = ('<h%s class="govuk-summary-card__title%s">\n%s\n</h%s>'):format(
      level, cls(card.title.classes), content(card.title.html, card.title.text), level)
  end
  local actions = field(field(card, "actions"), "items") or {}
  if #actions == 1 then
    c[#c + 1] = '<div class="govuk-summary-card__actions' .. cls(card.actions.classes) .. '">\n'
      .. action_link(actions[1], card.title) .. '\n</div>'
  elseif #actions > 1 then
    c[#c + 1] = '<ul class="govuk-summary-card__actions' .. cls(card.actions.classes) .. '">'
    for _, a in ipairs(actions) do
      c[#c + 1] = '<li class="govuk-summary-card__action">\n' .. action_link(a, card.title) .. '\n</li>'
    end
    c[#c + 1] = '</ul>'
  end
  c[#c + 1] = '</div>\n<div class="govuk-summary-card__content">\n' .. list .. '\n</div>\n</div>'
  return concat(c, "\n")
end

function C.table(p)
  local out = { ('<table class="govuk-table%s"%s>'):format(cls(p.classes), attributes(p.attributes)) }
  if has(p.caption) then
    out[#out + 1] = ('<caption class="govuk-table__caption%s">%s</caption>'):format(cls(p.captionClasses), esc(p.caption))
  end
  if has(p.head) then
    out[#out + 1] = '<thead class="govuk-table__head">\n<tr class="govuk-table__row">'
    for _, item in ipairs(p.head) do
      out[#out + 1] = ('<th scope="col" class="govuk-table__header%s%s"%s%s%s>%s</th>'):format(
        has(item.format) and (" govuk-table__header--" .. esc(item.format)) or "", cls(item.classes),
        has(item.colspan) and (' colspan="' .. esc(item.colspan) .. '"') or "",
        has(item.rowspan) and (' rowspan="' .. esc(item.rowspan) .. '"') or "",
        attributes(item.attributes), content(item.html, item.text))
    end
    out[#out + 1] = '</tr>\n</thead>'
  end
  out[#out + 1] = '<tbody class="govuk-table__body">'
  for _, row in ipairs(p.rows or {}) do
    if has(row) then
      out[#out + 1] = '<tr class="govuk-table__row">'
      for i, cell in ipairs(row) do
        local common = (has(cell.colspan) and (' colspan="' .. esc(cell.colspan) .. '"') or "")
          .. (has(cell.rowspan) and (' rowspan="' .. esc(cell.rowspan) .. '"') or "") .. attributes(cell.attributes)
        if i == 1 and p.firstCellIsHeader then
          out[#out + 1] = ('<th scope="row" class="govuk-table__header%s"%s>%s</th>'):format(
            cls(cell.classes), common, content(cell.html, cell.text))
        else
          out[#out + 1] = ('<td class="govuk-table__cell%s%s"%s>%s</td>'):format(
            has(cell.format) and (" govuk-table__cell--" .. esc(cell.format)) or "", cls(cell.classes), common,
            content(cell.html, cell.text))
        end
      end
      out[#out + 1] = '</tr>'
    end
  end
  out[#out + 1] = '</tbody>\n</table>'
  return concat(out, "\n")
end

function C.panel(p)
  local level = has(p.headingLevel) and str(p.headingLevel) or "1"
  local interruption = contains(p.classes, "govuk-panel--interruption")
  local out = { ('<div class="govuk-panel%s%s"%s>'):format(
    interruption and "" or " govuk-panel--confirmation", cls(p.classes), attributes(p.attributes)) }
  out[#out + 1] = ('<h%s class="govuk-panel__title">\n%s\n</h%s>'):format(level, content(p.titleHtml, p.titleText), level)
  if has(p.html) or has(p.text) then
    out[#out + 1] = '<div class="govuk-panel__body">\n' .. content(p.html, p.text) .. '\n</div>'
  end
  if interruption and has(p.actions) then
    local actions = p.actions
    out[#out + 1] = '<div class="govuk-panel__actions' .. cls(actions.classes) .. '"' .. attributes(actions.attributes) .. '>'
    if #(actions.items or {}) > 0 then
      out[#out + 1] = '<div class="govuk-button-group">'
      for _, a in ipairs(actions.items) do
        if not has(a.href) or a.type == "button" then
          out[#out + 1] = C.button { text = a.text, type = has(a.type) and a.type or "button",
                                     classes = "govuk-button--inverse" .. cls(a.classes), href = a.href,
                                     attributes = a.attributes }
        else
          out[#out + 1] = ('<a class="govuk-link govuk-link--inverse%s" href="%s"%s>%s</a>'):format(
            cls(a.classes), url(a.href), attributes(a.attributes), esc(a.text))
        end
      end
      out[#out + 1] = '</div>'
    end
    out[#out + 1] = '</div>'
  end
  out[#out + 1] = '</div>'
  return concat(out, "\n")
end

function C.notificationBanner(p)
  local success = p.type == "success"
  local role = has(p.role) and p.role or (success and "alert" or "region")
  local title
  if has(p.titleHtml) then title = str(p.titleHtml)
  elseif has(p.titleText) then title = esc(p.titleText)
  else title = esc(t(success and "notification_banner.success" or "notification_banner.important")) end
  local title_id = has(p.titleId) and esc(p.titleId) or "govuk-notification-banner-title"
  local level = has(p.titleHeadingLevel) and str(p.titleHeadingLevel) or "2"
  local body = ""
  if has(p.html) then
    body = str(p.html)
  elseif has(p.text) then
    body = '<p class="govuk-notification-banner__heading">\n' .. esc(p.text) .. '\n</p>'
  end
  return ('<div class="govuk-notification-banner%s%s" role="%s" aria-labelledby="%s" data-module="govuk-notification-banner"%s%s>\n'
          .. '  <div class="govuk-notification-banner__header">\n    <h%s class="govuk-notification-banner__title" id="%s">\n'
          .. '      %s\n    </h%s>\n  </div>\n  <div class="govuk-notification-banner__content">\n%s\n  </div>\n</div>'):format(
    success and " govuk-notification-banner--success" or "", cls(p.classes), esc(role), title_id,
    p.disableAutoFocus ~= nil and (' data-disable-auto-focus="' .. esc(p.disableAutoFocus) .. '"') or "",
    attributes(p.attributes), level, title_id, title, level, body)
end

local arrow_prev = '<svg class="govuk-pagination__icon govuk-pagination__icon--prev" xmlns="http://www.w3.org/2000/svg" '
  .. 'height="13" width="15" aria-hidden="true" focusable="false" viewBox="0 0 15 13">\n'
  .. '<path d="m6.5938-0.0078125-6.7266 6.7266 6.7441 6.4062 1.377-1.449-4.1856-3.9768h12.896v-2h-12.984l4.2931-4.293-1.414-1.414z"></path>\n</svg>'
local arrow_next = '<svg class="govuk-pagination__icon govuk-pagination__icon--next" xmlns="http://www.w3.org/2000/svg" '
  .. 'height="13" width="15" aria-hidden="true" focusable="false" viewBox="0 0 15 13">\n'
  .. '<path d="m8.107-0.0078125-1.4136 1.414 4.2926 4.293h-12.986v2h12.896l-4.1855 3.9766 1.377 1.4492 6.7441-6.4062-6.7246-6.7266z"></path>\n</svg>'

function C.pagination(p)
  local block_level = not has(p.items) and (has(p.next) or has(p.previous))
  local out = { ('<nav class="govuk-pagination%s%s" aria-label="%s"%s>'):format(
    block_level and " govuk-pagination--block" or "", cls(p.classes),
    esc(has(p.landmarkLabel) and p.landmarkLabel or t("pagination.label")), attributes(p.attributes)) }
  local function arrow(link, kind)
    local word = kind == "prev" and t("pagination.previous") or t("pagination.next")
    local title = (has(link.html) or has(link.text)) and content(link.html, link.text)
      or (esc(word) .. '<span class="govuk-visually-hidden">' .. esc(t("pagination.page_hidden")) .. '</span>')
    local o = { ('<div class="govuk-pagination__%s">\n<a class="govuk-link govuk-pagination__link" href="%s" rel="%s"%s>'):format(
      kind, url(link.href), kind, attributes(link.attributes)) }
    if block_level or kind == "prev" then o[#o + 1] = kind == "prev" and arrow_prev or arrow_next end
    o[#o + 1] = ('<span class="govuk-pagination__link-title%s">\n%s\n</span>'):format(
      (block_level and not has(link.labelText)) and " govuk-pagination__link-title--decorated" or "", title)
    if has(link.labelText) and block_level then
      o[#o + 1] = '<span class="govuk-visually-hidden">:</span>\n<span class="govuk-pagination__link-label">'
        .. esc(link.labelText) .. '</span>'
    end
    if not block_level and kind == "next" then o[#o + 1] = arrow_next end
    o[#o + 1] = '</a>\n</div>'
    return concat(o, "\n")
  end
  if type(p.previous) == "table" and has(p.previous.href) then out[#out + 1] = arrow(p.previous, "prev") end
  if has(p.items) then
    out[#out + 1] = '<ul class="govuk-pagination__list">'
    for _, item in ipairs(p.items) do
      if type(item) == "table" and next(item) ~= nil then
        local li = ('<li class="govuk-pagination__item%s%s">'):format(
          item.current and " govuk-pagination__item--current" or "", item.ellipsis and " govuk-pagination__item--ellipsis" or "")
        if item.ellipsis then
          li = li .. "\n&ctdot;\n"
        else
          local label = has(item.visuallyHiddenText) and item.visuallyHiddenText
            or t("pagination.page_number", { number = str(item.number) })
          li = li .. ('\n<a class="govuk-link govuk-pagination__link" href="%s" aria-label="%s"%s%s>\n%s\n</a>\n'):format(
            url(item.href), esc(label), item.current and ' aria-current="page"' or "", attributes(item.attributes),
            esc(item.number))
        end
        out[#out + 1] = li .. '</li>'
      end
    end
    out[#out + 1] = '</ul>'
  end
  if type(p.next) == "table" and has(p.next.href) then out[#out + 1] = arrow(p.next, "next") end
  out[#out + 1] = '</nav>'
  return concat(out, "\n")
end

function C.taskList(p)
  local prefix = has(p.idPrefix) and str(p.idPrefix) or "task-list"
  local out = { ('<ul class="govuk-task-list%s"%s>'):format(cls(p.classes), attributes(p.attributes)) }
  for index, item in ipairs(p.items or {}) do
    if has(item) then
      local hint_id, status_id = prefix .. "-" .. index .. "-hint", prefix .. "-" .. index .. "-status"
      local title = item.title or {}
      out[#out + 1] = ('<li class="govuk-task-list__item%s%s">\n<div class="govuk-task-list__name-and-hint">'):format(
        has(item.href) and " govuk-task-list__item--with-link" or "", cls(item.classes))
      if has(item.href) then
        out[#out + 1] = ('<a class="govuk-link govuk-task-list__link%s" href="%s" aria-describedby="%s%s">\n%s\n</a>'):format(
          cls(title.classes), url(item.href), has(item.hint) and (esc(hint_id) .. " ") or "", esc(status_id),
          content(title.html, title.text))
      else
        out[#out + 1] = ('<div%s>\n%s\n</div>'):format(
          has(title.classes) and (' class="' .. esc(title.classes) .. '"') or "", content(title.html, title.text))
      end
      if has(item.hint) then
        out[#out + 1] = ('<div id="%s" class="govuk-task-list__hint">\n%s\n</div>'):format(
          esc(hint_id), content(item.hint.html, item.hint.text))
      end
      local status = item.status or {}
      out[#out + 1] = ('</div>\n<div class="govuk-task-list__status%s" id="%s">\n%s\n</div>\n</li>'):format(
        cls(status.classes), esc(status_id), has(status.tag) and C.tag(status.tag) or content(status.html, status.text))
    end
  end
  out[#out + 1] = '</ul>'
  return concat(out, "\n")
end

-- The GOV.UK logo (macros/logo.njk).
local function govuk_logo(p)
  local use_logotype = p.useLogotype ~= false
  local width = use_logotype and 162 or 32
  local aria = p.ariaLabelText
  return ('<svg focusable="false" role="%s" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d 60" height="30" '
          .. 'width="%d" fill="currentcolor"%s%s%s>%s\n%s%s\n</svg>'):format(
    has(aria) and "img" or "presentation", width * 2, width,
    has(p.classes) and (' class="' .. esc(p.classes) .. '"') or "",
    has(aria) and (' aria-label="' .. esc(aria) .. '"') or "", attributes(p.attributes),
    has(aria) and ("<title>" .. esc(aria) .. "</title>") or "", logo.crown,
    use_logotype and ("\n" .. logo.logotype) or "")
end

function C.genericHeader(p)
  local ns = has(p._namespace) and str(p._namespace) or "govuk-generic"
  return ('<div class="%s-header%s"%s>\n  <div class="%s-header__container %s">\n    <div class="%s-header__logo">\n'
          .. '      <a href="%s" class="%s-header__homepage-link">\n        %s\n      </a>\n    </div>\n  </div>\n</div>'):format(
    ns, cls(p.classes), attributes(p.attributes), ns,
    has(p.containerClasses) and esc(p.containerClasses) or "govuk-width-container", ns,
    has(p.url) and url(p.url) or "/", ns, has(p.logoHtml) and str(p.logoHtml) or esc(p.logoText))
end

function C.header(p)
  local logo_html = govuk_logo { classes = "govuk-header__logotype", ariaLabelText = "GOV.UK" }
  if has(p.productName) then
    logo_html = logo_html .. '\n<span class="govuk-header__product-name">' .. esc(p.productName) .. '</span>'
  end
  return C.genericHeader { _namespace = "govuk", logoHtml = logo_html,
                           url = has(p.homepageUrl) and p.homepageUrl or "//gov.uk",
                           containerClasses = p.containerClasses, classes = p.classes, attributes = p.attributes }
end

local licence_logo = '<svg aria-hidden="true" focusable="false" class="govuk-footer__licence-logo" '
  .. 'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 483.2 195.7" height="17" width="41">\n'
  .. '<path fill="currentColor" d="M421.5 142.8V.1l-50.7 32.3v161.1h112.4v-50.7zm-122.3-9.6A47.12 47.12 0 0 1 221 97.8c0-26 '
  .. '21.1-47.1 47.1-47.1 16.7 0 31.4 8.7 39.7 21.8l42.7-27.2A97.63 97.63 0 0 0 268.1 0c-36.5 0-68.3 20.1-85.1 49.7A98 98 0 '
  .. '0 0 97.8 0C43.9 0 0 43.9 0 97.8s43.9 97.8 97.8 97.8c36.5 0 68.3-20.1 85.1-49.7a97.76 97.76 0 0 0 149.6 25.4l19.4 '
  .. '22.2h3v-87.8h-80l24.3 27.5zM97.8 145c-26 0-47.1-21.1-47.1-47.1s21.1-47.1 47.1-47.1 47.2 21 47.2 47S123.8 145 97.8 145"/>\n</svg>'

function C.footer(p)
  local out = { ('<div class="govuk-footer%s"%s>\n<div class="govuk-width-container%s">'):format(
    cls(p.classes), attributes(p.attributes), cls(p.containerClasses)) }
  out[#out + 1] = govuk_logo { classes = "govuk-footer__crown", useLogotype = false }
  local nav = p.navigation or {}
  if #nav > 0 then
    out[#out + 1] = '<div class="govuk-footer__navigation">'
    for _, section in ipairs(nav) do
      out[#out + 1] = ('<div class="govuk-footer__section govuk-grid-column-%s">\n<h2 class="govuk-footer__heading govuk-heading-m">%s</h2>'):format(
        has(section.width) and esc(section.width) or "full", esc(section.title))
      local items = section.items or {}
      if #items > 0 then
        out[#out + 1] = ('<ul class="govuk-footer__list%s">'):format(
          has(section.columns) and (" govuk-footer__list--columns-" .. esc(section.columns)) or "")
        for _, item in ipairs(items) do
          if has(item.href) and has(item.text) then
            out[#out + 1] = ('<li class="govuk-footer__list-item">\n<a class="govuk-footer__link" href="%s"%s>\n%s\n</a>\n</li>'):format(
              url(item.href), attributes(item.attributes), esc(item.text))
          end
        end
        out[#out + 1] = '</ul>'
      end
      out[#out + 1] = '</div>'
    end
    out[#out + 1] = '</div>\n<hr class="govuk-footer__section-break">'
  end
  out[#out + 1] = '<div class="govuk-footer__meta">\n<div class="govuk-footer__meta-item govuk-footer__meta-item--grow">'
  if has(p.meta) then
    local meta = p.meta
    out[#out + 1] = '<h2 class="govuk-visually-hidden">'
      .. esc(has(meta.visuallyHiddenTitle) and meta.visuallyHiddenTitle or t("footer.support_links")) .. '</h2>'
    if #(meta.items or {}) > 0 then
      out[#out + 1] = '<ul class="govuk-footer__inline-list">'
      for _, item in ipairs(meta.items) do
        out[#out + 1] = ('<li class="govuk-footer__inline-list-item">\n<a class="govuk-footer__link" href="%s"%s>\n%s\n</a>\n</li>'):format(
          url(item.href), attributes(item.attributes), esc(item.text))
      end
      out[#out + 1] = '</ul>'
    end
    if has(meta.text) or has(meta.html) then
      out[#out + 1] = '<div class="govuk-footer__meta-custom">\n' .. content(meta.html, meta.text) .. '\n</div>'
    end
  end
  if p.contentLicence ~= false then
    local lic = p.contentLicence or {}
    out[#out + 1] = licence_logo
    local text
    if has(lic.html) or has(lic.text) then
      text = content(lic.html, lic.text)
    else
      text = 'All content is available under the\n<a class="govuk-footer__link" '
        .. 'href="https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/" rel="license">'
        .. 'Open Government Licence v3.0</a>, except where otherwise stated'
    end
    out[#out + 1] = '<span class="govuk-footer__licence-description">\n' .. text .. '\n</span>'
  end
  out[#out + 1] = '</div>\n<div class="govuk-footer__meta-item">\n<a class="govuk-footer__link govuk-footer__copyright-logo" '
    .. 'href="https://www.nationalarchives.gov.uk/information-management/re-using-public-sector-information/'
    .. 'uk-government-licensing-framework/crown-copyright/">'
  local copyright = p.copyright or {}
  out[#out + 1] = (has(copyright.html) or has(copyright.text)) and content(copyright.html, copyright.text)
    or "© Crown copyright"
  out[#out + 1] = '</a>\n</div>\n</div>\n</div>\n</div>'
  return concat(out, "\n")
end

-------------------------------------------------------------------------------
-- exports: govuk.<name> (camelCase and snake_case) and the template globals
-- govuk<Name> (as the Nunjucks macros are named)
-------------------------------------------------------------------------------

govuk.attributes = attributes

for name, fn in pairs(C) do
  local function component(params)
    if params ~= nil and type(params) ~= "table" then
      error(("govuk.%s expects a table of options"):format(name), 2)
    end
    return view.safe(fn(params or {}))
  end
  govuk[name] = component
  local snake = name:gsub("%u", function(c) return "_" .. c:lower() end)
  govuk[snake] = component
  view.globals["govuk" .. name:sub(1, 1):upper() .. name:sub(2)] = component
end

borough.govuk = govuk

return govuk
