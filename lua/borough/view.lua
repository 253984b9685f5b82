--- borough.view: HTML templates (apps/<app>/views/*.html).
--
-- The syntax is a small part of Jinja/Nunjucks, which GOV.UK developers know:
--
--   {{ case.name }}                     output, HTML-escaped for where it stands
--   {{ case.notes | safe }}             output without escaping (the only way)
--   {{ name | default("none") | upper }} filters
--   {% if case.open %} ... {% elif x %} ... {% else %} ... {% endif %}
--   {% for c in cases %} {{ loop.index }} ... {% else %} none {% endfor %}
--   {% for key, value in table %} ... {% endfor %}
--   {% set title = "Cases" %}
--   {% extends "govuk/template" %} and {% block content %} ... {% endblock %}
--   {% include "partials/case_row" %}
--   {# a comment #}    and {%- -%} {{- -}} to trim whitespace around a tag
--
-- Expressions: names, "strings", numbers, true/false/none, a.b, a[b],
-- f(x, y), [lists], { key: value } tables, == != < > <= >= in, and or not,
-- + - * / %, ~ (joins text), "a if cond else b" and filters. There are no
-- statements: a template only shows what the handler prepared.
--
-- Escaping depends on where the output stands, which the compiler works out
-- from the HTML around it: in text and in quoted attribute values, & < > " '
-- become entities. A URL attribute (href, src, action, formaction, ...) that
-- holds any output is checked whole when the page is made, as the browser
-- will read it (every piece of it, escaped or marked safe, entities
-- decoded): it must be a relative URL or use http, https, mailto or tel, or
-- it becomes about:invalid#blocked (javascript: and data: included).
-- Output inside <script> or <style>, in an event handler or style
-- attribute, in an unquoted attribute value, in a comment or between
-- attributes is a compile error: there is no safe way to escape it. So is
-- output right after a "<", where a value would become a tag's name.
--
-- Every view is compiled when the app loads, so a mistake stops the load
-- (and `borough check`) with "apps/x/views/page.html:12: message". Compiled
-- views are Lua functions that append to one output table, joined once.

local view = {}

local escape, url_prefix = borough.escape, borough.url
local concat, tostring, type, pairs, ipairs, select = table.concat, tostring, type, pairs, ipairs, select
local getmetatable, setmetatable, error, pcall = getmetatable, setmetatable, error, pcall
local sort, find, format = table.sort, string.find, string.format

-------------------------------------------------------------------------------
-- Safe strings: text that is already HTML (component output, | safe).
-------------------------------------------------------------------------------

--- A safe string is { body = html }. It is also a valid response: a handler
-- may `return govuk.panel{...}`.
local Safe = {}
Safe.__index = Safe
Safe.__name = "borough.html"
Safe.__tostring = function(s) return s.body end
Safe.__concat = function(a, b)
  return (type(a) == "table" and a.body or a) .. (type(b) == "table" and b.body or b)
end
Safe.__len = function(s) return #s.body end
view.Safe = Safe

--- view.safe(html): marks html as safe to output without escaping.
function view.safe(html)
  if getmetatable(html) == Safe then return html end
  return setmetatable({ body = html == nil and "" or tostring(html) }, Safe)
end

-------------------------------------------------------------------------------
-- The run-time helpers compiled views call.
-------------------------------------------------------------------------------

local H = {}

local function text_of(v, what)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if math.type(v) == "float" and v == math.floor(v) and v > -1e15 and v < 1e15 then
      return format("%d", v)
    end
    return tostring(v)
  end
  if t == "nil" then return "" end
  if t == "boolean" then return v and "true" or "false" end
  if getmetatable(v) == Safe then return v.body end
  error(("cannot show a %s in %s"):format(t, what or "a template"), 3)
end
H.text = text_of

-- Escaped output for text and quoted attribute values.
function H.esc(v)
  if type(v) == "string" then return escape(v) end
  if getmetatable(v) == Safe then return v.body end
  return escape(text_of(v))
end

-- The one check of URLs in attributes (core/safeurl.c): templates and the
-- GOV.UK components both decide through it.
local url_allowed = borough._url_allowed
local BLOCKED = "about:invalid#blocked"

--- view.safe_url(s): s if it is a relative URL or uses http, https, mailto
-- or tel (read as a browser reads a URL: leading spaces, control
-- characters, tabs and newlines ignored, any case); otherwise
-- "about:invalid#blocked".
function view.safe_url(s)
  if url_allowed(s) then return s end
  return BLOCKED
end

--- view.url_attr(v): the HTML of a URL attribute's value for v: text is
-- checked, then escaped; safe HTML is checked as the browser decodes it.
function view.url_attr(v)
  if getmetatable(v) == Safe then
    if url_allowed(v.body, true) then return v.body end
    return BLOCKED
  end
  return escape(view.safe_url(text_of(v)))
end

-- A URL attribute's value that is one {{ }} alone.
H.url = view.url_attr

-- The end of a URL attribute's value that holds output: out[u + 1 .. n]
-- is the whole value (literal text, escaped values, safe HTML). Returns the
-- new end of out.
function H.URL(out, u, n)
  if url_allowed(out, u + 1, n) then return n end
  out[u + 1] = BLOCKED
  return u + 1
end

-- Truthiness as in Jinja: nil, false, "", 0 and an empty table are false.
local function truthy(v)
  if not v or v == "" or v == 0 then return false end
  if type(v) == "table" and getmetatable(v) ~= Safe then return next(v) ~= nil end
  if getmetatable(v) == Safe then return v.body ~= "" end
  return true
end
H.T = truthy


-- a.b and a[b]: nil when a is not a table (as Jinja's undefined).
function H.I(o, k)
  if type(o) == "table" then return o[k] end
  return nil
end

-- < > <= >=: false unless both sides are numbers or both are strings.
function H.CMP(a, op, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb or (ta ~= "number" and ta ~= "string") then return false end
  if op == "<" then return a < b elseif op == ">" then return a > b
  elseif op == "<=" then return a <= b else return a >= b end
end

function H.CAT(a, b) return text_of(a) .. text_of(b) end

-- + adds numbers and joins anything else (as in Nunjucks).
function H.ADD(a, b)
  if type(a) == "number" and type(b) == "number" then return a + b end
  if getmetatable(a) == Safe or getmetatable(b) == Safe then
    return view.safe(text_of(a) .. text_of(b))
  end
  return text_of(a) .. text_of(b)
end

function H.IN(a, b)
  if type(b) == "string" then return type(a) == "string" and find(b, a, 1, true) ~= nil end
  if type(b) == "table" then
    for _, v in ipairs(b) do if v == a then return true end end
    return b[a] ~= nil and type(a) ~= "number"
  end
  return false
end

function H.CALL(f, name, ...)
  if type(f) ~= "function" and not (type(f) == "table" and getmetatable(f) and getmetatable(f).__call) then
    error(("%s is not a function"):format(name), 2)
  end
  return f(...)
end

-- The (key, value) pairs of a table in a stable order: arrays in order,
-- otherwise by key (rows keep their column order through __pairs).
function H.PAIRS(t)
  if t == nil then return function() end end
  if type(t) ~= "table" then error("for k, v in ...: not a table", 2) end
  local mt = getmetatable(t)
  if mt and mt.__pairs then return pairs(t) end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  sort(keys, function(x, y)
    local tx, ty = type(x), type(y)
    if tx ~= ty then return tx < ty end
    if tx == "number" or tx == "string" then return x < y end
    return tostring(x) < tostring(y)
  end)
  local i = 0
  return function()
    i = i + 1
    local k = keys[i]
    if k ~= nil then return k, t[k] end
  end
end

-- The array a for loop runs over: nil is an empty list.
function H.LIST(t)
  if t == nil then return {} end
  if type(t) ~= "table" then error(("for ... in: not a list (a %s)"):format(type(t)), 2) end
  return t
end

-------------------------------------------------------------------------------
-- Filters: {{ value | name(args) }}.
-------------------------------------------------------------------------------

local F = {}
view.filters = F

F.safe = view.safe
function F.escape(v) return view.safe(H.esc(v)) end
F.e = F.escape
function F.default(v, d, falsy)
  if v == nil or (falsy and not truthy(v)) then return d end
  return v
end
F.d = F.default
function F.upper(v) return text_of(v):upper() end
function F.lower(v) return text_of(v):lower() end
function F.capitalize(v)
  local s = text_of(v)
  return s:sub(1, 1):upper() .. s:sub(2):lower()
end
function F.trim(v)
  local s = text_of(v):match("^%s*(.-)%s*$")
  if getmetatable(v) == Safe then return view.safe(s) end
  return s
end
function F.length(v)
  if type(v) == "table" and getmetatable(v) ~= Safe then
    if #v > 0 then return #v end
    local n = 0
    for _ in pairs(v) do n = n + 1 end
    return n
  end
  return #text_of(v)
end
F.count = F.length
function F.join(v, sep, attr)
  local parts = {}
  for i, x in ipairs(H.LIST(v)) do
    parts[i] = text_of(attr and H.I(x, attr) or x)
  end
  return concat(parts, sep or "")
end
function F.first(v) return type(v) == "table" and v[1] or nil end
function F.last(v) return type(v) == "table" and v[#v] or nil end
function F.replace(v, old, new)
  local s = text_of(v)
  local out, i = {}, 1
  old = text_of(old)
  if old == "" then return s end
  while true do
    local a, b = find(s, old, i, true)
    if not a then break end
    out[#out + 1] = s:sub(i, a - 1)
    out[#out + 1] = text_of(new)
    i = b + 1
  end
  out[#out + 1] = s:sub(i)
  return concat(out)
end
function F.int(v) return math.tointeger(tonumber(v) or 0) or math.floor(tonumber(v) or 0) end
function F.round(v, digits)
  local m = 10 ^ (digits or 0)
  local r = math.floor((tonumber(v) or 0) * m + 0.5) / m
  return (digits or 0) == 0 and math.tointeger(r) or r
end
function F.urlencode(v)
  return view.urlencode(text_of(v))
end
-- A date as entities keep it ("2024-04-01", or "2024-04-01T09:30:00Z",
-- shown in UK time), or seconds since 1970. With no format, as GOV.UK
-- writes dates ("7 December 2026"); in a format, %B and %b name the month
-- in the page's language, the rest is os.date's.
function F.date(v, fmt)
  local fields = require "borough.fields"
  local t, utc
  if type(v) == "string" and not tonumber(v) then
    t = fields.seconds(v)
    if not t then return v end
    if v:find("T", 1, true) then t = t + fields.uk_offset(t) end
    utc = "!"
  else
    t, utc = tonumber(v) or 0, ""
  end
  local d = os.date(utc .. "*t", t)
  if not fmt then return ("%d %s %d"):format(d.day, fields.month_name(d.month), d.year) end
  fmt = fmt:gsub("%%([%%Bb])", function(c)
    if c == "%" then return "%%" end
    return fields.month_name(d.month, c == "b")
  end)
  return os.date(utc .. fmt, t)
end
function F.dump(v) return json.encode(v) end
function F.indent(v) return v end   -- whitespace only: kept for pasted Nunjucks

-------------------------------------------------------------------------------
-- The compiler.
-------------------------------------------------------------------------------

-- Names every template can use (components, csrf_field, t, url, ...);
-- filled in by the modules that provide them. A field of the context with
-- the same name hides a helper.
local globals = {}
view.globals = globals

local lua_keywords = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%a+") do lua_keywords[w] = true end

-- A compile error at a line of the template.
local function fail(path, line, msg, ...)
  error(("%s:%d: " .. msg):format(path, line, ...), 0)
end

---- the expression tokenizer

local function tokenize(src, path, line)
  local toks, i, n = {}, 1, #src
  while i <= n do
    local c = src:sub(i, i)
    if c:find("%s") then
      if c == "\n" then line = line + 1 end
      i = i + 1
    elseif c:find("[%a_]") then
      local w = src:match("^[%w_]+", i)
      toks[#toks + 1] = { k = "name", v = w, line = line }
      i = i + #w
    elseif c:find("%d") then
      local num = src:match("^%d+%.%d+", i) or src:match("^%d+", i)
      toks[#toks + 1] = { k = "num", v = num, line = line }
      i = i + #num
    elseif c == '"' or c == "'" then
      local j, buf = i + 1, {}
      while true do
        local d = src:sub(j, j)
        if d == "" or d == "\n" then fail(path, line, "unfinished string") end
        if d == c then break end
        if d == "\\" then
          local e = src:sub(j + 1, j + 1)
          local map = { n = "\n", t = "\t", ["\\"] = "\\", ['"'] = '"', ["'"] = "'" }
          if not map[e] then fail(path, line, "unknown escape \\%s in a string", e) end
          buf[#buf + 1] = map[e]
          j = j + 2
        else
          buf[#buf + 1] = d
          j = j + 1
        end
      end
      toks[#toks + 1] = { k = "str", v = concat(buf), line = line }
      i = j + 1
    else
      local op = src:match("^[=!<>]=", i) or c
      if not op:find("^[=!<>]=$") and not ("()[]{}.,:|+-*/%~<>="):find(op, 1, true) then
        fail(path, line, "unexpected character '%s'", op)
      end
      toks[#toks + 1] = { k = "op", v = op, line = line }
      i = i + #op
    end
  end
  toks[#toks + 1] = { k = "eof", v = "<end>", line = line }
  return toks
end

---- the expression parser: tokens -> Lua source

local Parser = {}
Parser.__index = Parser

local function new_parser(src, path, line, scope)
  return setmetatable({ toks = tokenize(src, path, line), i = 1, path = path, scope = scope }, Parser)
end

function Parser:peek() return self.toks[self.i] end
function Parser:next() local t = self.toks[self.i]; self.i = self.i + 1; return t end
function Parser:is(v) local t = self.toks[self.i]; return (t.k == "op" or t.k == "name") and t.v == v end
function Parser:accept(v) if self:is(v) then self.i = self.i + 1; return true end return false end
function Parser:err(msg, ...) fail(self.path, self:peek().line, msg, ...) end
function Parser:expect(v)
  if not self:accept(v) then self:err("expected '%s' but found '%s'", v, self:peek().v) end
end
function Parser:done()
  if self:peek().k ~= "eof" then self:err("unexpected '%s'", self:peek().v) end
end

-- A name: a local of the template, a global helper or a field of the context.
function Parser:name_code(name)
  local scope = self.scope
  while scope do
    if scope.vars[name] then return scope.vars[name] end
    scope = scope.parent
  end
  if name == "loop" then self:err("'loop' is only defined inside {%% for %%}") end
  local field = lua_keywords[name] and ("ctx[%q]"):format(name) or ("ctx." .. name)
  -- The context wins over a helper of the same name (a page may pass its
  -- own `site` or `t`); helpers are functions, never false.
  if globals[name] ~= nil then return ("(%s == nil and G.%s or %s)"):format(field, name, field) end
  return field
end

function Parser:primary()
  local t = self:next()
  if t.k == "num" then return t.v end
  if t.k == "str" then return (("%q"):format(t.v):gsub("\\\n", "\\n")) end
  if t.k == "name" then
    if t.v == "true" or t.v == "True" then return "true" end
    if t.v == "false" or t.v == "False" then return "false" end
    if t.v == "none" or t.v == "None" or t.v == "null" or t.v == "nil" then return "nil" end
    return self:name_code(t.v), t.v
  end
  if t.k == "op" and t.v == "(" then
    local e = self:expr()
    self:expect(")")
    return "(" .. e .. ")"
  end
  if t.k == "op" and t.v == "[" then
    local items = {}
    if not self:accept("]") then
      repeat
        if self:is("]") then break end
        items[#items + 1] = self:expr()
      until not self:accept(",")
      self:expect("]")
    end
    return "{" .. concat(items, ", ") .. "}"
  end
  if t.k == "op" and t.v == "{" then
    local items = {}
    if not self:accept("}") then
      repeat
        if self:is("}") then break end
        local k = self:next()
        if k.k ~= "name" and k.k ~= "str" then
          fail(self.path, k.line, "a table key must be a name or a string, not '%s'", k.v)
        end
        if not (self:accept(":") or self:accept("=")) then self:err("expected ':' after the key %s", k.v) end
        items[#items + 1] = ("[%q] = %s"):format(k.v, self:expr())
      until not self:accept(",")
      self:expect("}")
    end
    return "{" .. concat(items, ", ") .. "}"
  end
  fail(self.path, t.line, "unexpected '%s'", t.v)
end

function Parser:args()
  local args = {}
  if not self:accept(")") then
    repeat args[#args + 1] = self:expr() until not self:accept(",")
    self:expect(")")
  end
  return args
end

function Parser:postfix()
  local code, label = self:primary()
  label = label or "value"
  while true do
    if self:accept(".") then
      local t = self:next()
      if t.k ~= "name" then fail(self.path, t.line, "expected a name after '.'") end
      code = ("I(%s, %q)"):format(code, t.v)
      label = label .. "." .. t.v
    elseif self:accept("[") then
      code = ("I(%s, %s)"):format(code, self:expr())
      self:expect("]")
      label = label .. "[...]"
    elseif self:accept("(") then
      local args = self:args()
      table.insert(args, 1, ("%q"):format(label))
      table.insert(args, 1, code)
      code = "CALL(" .. concat(args, ", ") .. ")"
    else
      return code
    end
  end
end

function Parser:filtered()
  local code = self:postfix()
  while self:accept("|") do
    local t = self:next()
    if t.k ~= "name" then fail(self.path, t.line, "expected a filter name after '|'") end
    if not F[t.v] then fail(self.path, t.line, "unknown filter '%s'", t.v) end
    local args = { code }
    if self:accept("(") then
      for _, a in ipairs(self:args()) do args[#args + 1] = a end
    end
    code = ("F.%s(%s)"):format(t.v, concat(args, ", "))
  end
  return code
end

function Parser:unary()
  if self:accept("-") then return "(-" .. self:unary() .. ")" end
  return self:filtered()
end

function Parser:mul()
  local code = self:unary()
  while self:is("*") or self:is("/") or self:is("%") do
    local op = self:next().v
    code = ("(%s %s %s)"):format(code, op, self:unary())
  end
  return code
end

function Parser:add()
  local code = self:mul()
  while self:is("+") or self:is("-") do
    local op = self:next().v
    if op == "+" then
      code = ("ADD(%s, %s)"):format(code, self:mul())
    else
      code = ("(%s - %s)"):format(code, self:mul())
    end
  end
  return code
end

function Parser:cat()
  local code = self:add()
  while self:accept("~") do code = ("CAT(%s, %s)"):format(code, self:add()) end
  return code
end

local compare = { ["=="] = "==", ["!="] = "~=", ["<"] = "<", [">"] = ">", ["<="] = "<=", [">="] = ">=" }

function Parser:cmp()
  local code = self:cat()
  while true do
    local t = self:peek()
    if t.k == "op" and compare[t.v] then
      self:next()
      if t.v == "==" or t.v == "!=" then
        code = ("(%s %s %s)"):format(code, compare[t.v], self:cat())
      else
        code = ("CMP(%s, %q, %s)"):format(code, t.v, self:cat())
      end
    elseif self:is("in") then
      self:next()
      code = ("IN(%s, %s)"):format(code, self:cat())
    elseif self:is("not") and self.toks[self.i + 1].v == "in" then
      self.i = self.i + 2
      code = ("(not IN(%s, %s))"):format(code, self:cat())
    else
      return code
    end
  end
end

-- `and`, `or`, `not` and `a if c else b` are kept as nodes until it is known
-- whether a value or a condition is wanted: a condition compiles to Lua's
-- own short-circuit operators over truthiness, a value to a small function
-- that evaluates only the side it returns (as Jinja does).
local Node = {}

local function node(kind, a, b, c)
  return setmetatable({ kind = kind, a = a, b = b, c = c }, Node)
end

local value_of, cond_of

-- The Lua code of n as a value.
function value_of(n)
  if getmetatable(n) ~= Node then return n end
  if n.kind == "not" then return "(not " .. cond_of(n.a) .. ")" end
  if n.kind == "and" then
    return ("(function() local v = %s if not T(v) then return v end return %s end)()"):format(value_of(n.a), value_of(n.b))
  end
  if n.kind == "or" then
    return ("(function() local v = %s if T(v) then return v end return %s end)()"):format(value_of(n.a), value_of(n.b))
  end
  return ("(function() if %s then return %s end return %s end)()"):format(cond_of(n.c), value_of(n.a), value_of(n.b))
end

-- The Lua code of n as a condition (true or false).
function cond_of(n)
  if getmetatable(n) ~= Node then return "T(" .. n .. ")" end
  if n.kind == "not" then return "(not " .. cond_of(n.a) .. ")" end
  if n.kind == "and" then return "(" .. cond_of(n.a) .. " and " .. cond_of(n.b) .. ")" end
  if n.kind == "or" then return "(" .. cond_of(n.a) .. " or " .. cond_of(n.b) .. ")" end
  return "T(" .. value_of(n) .. ")"
end

function Parser:notx()
  if self:accept("not") then return node("not", self:notx()) end
  return self:cmp()
end

function Parser:andx()
  local n = self:notx()
  while self:accept("and") do n = node("and", n, self:notx()) end
  return n
end

function Parser:orx()
  local n = self:andx()
  while self:accept("or") do n = node("or", n, self:andx()) end
  return n
end

-- An expression as a node (for conditions).
function Parser:node()
  local n = self:orx()
  if self:accept("if") then
    local cond = self:orx()
    local other = "nil"
    if self:accept("else") then other = self:node() end
    n = node("if", n, other, cond)
  end
  return n
end

-- Lua's own parser gives up on code nested about 200 levels deep, with a
-- message that names no line ("C stack overflow"); a template's expression
-- (its parentheses, calls, lists, `and`/`or`, chains of operators or
-- filters) is refused well before. Returns how deep code nests its
-- brackets, strings skipped.
local MAX_NESTING = 30
local function nesting(code)
  local depth, deepest, i = 0, 0, 1
  while true do
    i = find(code, '[%(%)%[%]{}"]', i)
    if not i then return deepest end
    local c = code:sub(i, i)
    if c == '"' then
      local escape
      repeat   -- to the closing quote, over \" and \\
        i = find(code, '[\\"]', i + 1)
        escape = code:sub(i, i) == "\\"
        if escape then i = i + 1 end
      until not escape
    elseif c == "(" or c == "[" or c == "{" then
      depth = depth + 1
      if depth > deepest then deepest = depth end
    else
      depth = depth - 1
    end
    i = i + 1
  end
end

-- Checks the Lua code of a whole expression (not a part of one).
function Parser:whole(code)
  self.level = self.level - 1
  if self.level == 0 and nesting(code) > MAX_NESTING then self:err("the expression is nested too deeply") end
  return code
end

-- An expression as Lua code for its value.
function Parser:expr()
  self.level = (self.level or 0) + 1
  return self:whole(value_of(self:node()))
end

--- Compiles a condition.
function Parser:cond()
  self.level = (self.level or 0) + 1
  return self:whole(cond_of(self:node()))
end

---- the HTML context tracker

-- Attributes whose value is a URL.
-- (srcset and ping hold lists: their first URL is the one checked.)
local url_attrs = {}
for a in ([[href src action formaction poster cite data srcset background icon longdesc
  manifest ping usemap codebase xlink:href]]):gmatch("%S+") do url_attrs[a] = true end
view.url_attrs = url_attrs

-- Elements whose content is not HTML text.
local raw_elements = { script = true, style = true }

-- Where the next byte of output lands: "text", "tag" (between attributes),
-- "attr" (inside a quoted value, with attr = its name and quote = '"' or
-- "'"), "raw" (script/style content), "comment".
local Ctx = {}
Ctx.__index = Ctx

local function new_ctx()
  return setmetatable({ state = "text", attr = nil, quote = nil, rawtag = nil }, Ctx)
end

function Ctx:key()
  return self.state .. "|" .. (self.attr or "") .. "|" .. (self.quote or "") .. "|" .. (self.rawtag or "")
end

function Ctx:copy()
  return setmetatable({ state = self.state, attr = self.attr, quote = self.quote,
                        rawtag = self.rawtag }, Ctx)
end

-- Advances over literal template text s. With a table `urls`, appends the
-- positions in s where the value of a URL attribute starts (just after its
-- opening quote: { at = i, open = true }) and ends (its closing quote).
function Ctx:feed(s, urls)
  -- Text that ended in an open "<" (state "open <") goes on from there; the
  -- positions given in `urls` stay positions in s.
  local shift = 0
  local pending = self.state:match("^open (.*)$")
  if pending then s, self.state, shift = pending .. s, "text", #pending end
  local i, n = 1, #s
  while i <= n do
    local st = self.state
    if st == "text" then
      local a = find(s, "<", i, true)
      if not a then return end
      if s:sub(a, a + 3) == "<!--" then
        self.state = "comment"
        i = a + 4
      else
        local name = s:match("^/?([%a][%w%-]*)", a + 1)
        if name then
          self.state = "tag"
          self.tagname = s:sub(a + 1, a + 1) ~= "/" and name:lower() or nil
          i = a + 1 + #name + (s:sub(a + 1, a + 1) == "/" and 1 or 0)
        elseif find(s, "^[/!%-?]*$", a + 1) then
          -- The text ends in "<" (or "</", "<!-"): output here would begin
          -- a tag (a value "img src=x onerror=..." after "<").
          self.state = "open " .. s:sub(a)
          return
        else
          i = a + 1
        end
      end
    elseif st == "comment" then
      local a = find(s, "-->", i, true)
      if not a then return end
      self.state = "text"
      i = a + 3
    elseif st == "raw" then
      local a = find(s:lower(), "</" .. self.rawtag, i, true)
      if not a then return end
      self.state, self.rawtag = "text", nil
      i = a
    elseif st == "tag" then
      local c = s:sub(i, i)
      if c == ">" then
        if self.tagname and raw_elements[self.tagname] then
          self.state, self.rawtag = "raw", self.tagname
        else
          self.state = "text"
        end
        i = i + 1
      elseif c:find("%s") or c == "/" then
        i = i + 1
      else
        local name = s:match("^[^%s/>=\"']+", i)
        if not name then
          i = i + 1
        else
          i = i + #name
          local eq = s:match("^%s*=%s*", i)
          if eq then
            i = i + #eq
            local q = s:sub(i, i)
            if q == '"' or q == "'" then
              self.state, self.attr, self.quote = "attr", name:lower(), q
              i = i + 1
              if urls and url_attrs[self.attr] then urls[#urls + 1] = { at = i - shift, open = true } end
            elseif i <= n then
              -- an unquoted value: skip it
              local v = s:match("^[^%s>]+", i) or ""
              i = i + #v
            else
              self.state, self.attr = "unquoted", name:lower()
            end
          end
        end
      end
    elseif st == "attr" then
      local a = find(s, self.quote, i, true)
      if not a then return end
      if urls and url_attrs[self.attr] then urls[#urls + 1] = { at = a - shift, open = false } end
      self.state, self.attr, self.quote = "tag", nil, nil
      i = a + 1
    elseif st == "unquoted" then
      local v = s:match("^[^%s>]*", i)
      i = i + #v
      self.state, self.attr = "tag", nil
    end
  end
end

-- The helper that escapes output here, or nil and why output is refused.
function Ctx:escaper()
  local st = self.state
  if st == "text" then return "esc" end
  if st == "attr" then
    local a = self.attr
    if a:sub(1, 2) == "on" then return nil, "in an event handler attribute (" .. a .. ")" end
    if a == "style" or a == "srcdoc" then return nil, "in a " .. a .. " attribute" end
    return "esc"
  end
  if st == "raw" then return nil, "inside <" .. self.rawtag .. ">" end
  if st == "comment" then return nil, "inside an HTML comment" end
  if st:sub(1, 5) == "open " then return nil, "right after '<' (a tag's name cannot come from a value)" end
  if st == "unquoted" then return nil, "in an unquoted attribute value (put the value in quotes)" end
  return nil, "between attributes of a tag (put it inside a quoted attribute value)"
end

---- the template lexer: text, {{ }}, {% %}, {# #}

local function lex(src, path)
  local items, i, line = {}, 1, 1
  local trim_next = false
  while true do
    local a, _, kind = find(src, "{([{%%#])", i)
    local text = src:sub(i, a and a - 1 or #src)
    local trim_before = a and src:sub(a + 2, a + 2) == "-"
    if trim_next then text = text:gsub("^%s+", "") end
    if trim_before then text = text:gsub("%s+$", "") end
    if text ~= "" then items[#items + 1] = { k = "text", v = text, line = line } end
    -- count lines over the original text, whitespace trimmed or not
    local _, nl = src:sub(i, a and a - 1 or #src):gsub("\n", "")
    line = line + nl
    if not a then break end
    local close = ({ ["{"] = "}}", ["%"] = "%}", ["#"] = "#}" })[kind]
    local b = find(src, close, a + 2, true)
    if not b then fail(path, line, "unclosed %s", src:sub(a, a + 1)) end
    local inner = src:sub(a + 2, b - 1)
    trim_next = false
    if inner:sub(1, 1) == "-" then inner = inner:sub(2) end
    if inner:sub(-1) == "-" then inner = inner:sub(1, -2); trim_next = true end
    if kind == "{" then
      items[#items + 1] = { k = "out", v = inner, line = line }
    elseif kind == "%" then
      items[#items + 1] = { k = "tag", v = inner, line = line }
    end
    local _, inl = inner:gsub("\n", "")
    line = line + inl
    i = b + 2
  end
  return items
end

---- code generation

-- Code is collected as lines, each with the template line it came from, so
-- that an error at run time can be reported at the template's line.

local function scope_new(parent)
  return { vars = {}, parent = parent }
end

local MAX_TAG_NESTING = 20

-- Compiles one template's source into Lua source. Returns the source and
-- the line map (Lua line -> template line).
local function compile(src, path)
  -- A view is UTF-8 text, as the page it makes is: one saved in another
  -- encoding is refused at the line of its first byte that is not.
  local utf8_ok, bad = utf8.len(src)
  if not utf8_ok then
    local _, breaks = src:sub(1, bad):gsub("\n", "")
    fail(path, breaks + 1, "the view is not UTF-8 text (save it as UTF-8)")
  end
  local items = lex(src, path)
  local gen = {}            -- what the whole template needs (its includes)
  local funcs = {}          -- { name =, code = {...}, lines = {...} } for blocks
  local cur = { code = {}, lines = {} }
  local stack = {}          -- open tags
  local scope = scope_new(nil)
  local ctx = new_ctx()
  local extends, nvars = nil, 0
  local blocks_seen = {}
  -- Inside a URL attribute's value that holds output: how it is checked
  -- ("decided": its literal start already makes it relative or an allowed
  -- scheme; "single": its one {{ }} is checked as it is escaped; "marked":
  -- checked whole at its end, from U), or nil.
  local url_mode = nil

  -- Output statements write out[n + 1], out[n + 2], ... and n catches up
  -- once, before the next statement of another kind (fewer instructions
  -- per piece; each piece keeps its own line for error messages).
  local function flush()
    if (cur.pending or 0) > 0 then
      local c = cur.code
      c[#c + 1] = "n = n + " .. cur.pending
      cur.lines[#c] = cur.lines[#c - 1]
      cur.pending = 0
    end
  end

  local function emit(line, code)
    flush()
    local c = cur.code
    c[#c + 1] = code
    cur.lines[#c] = line
  end

  local function emit_out(line, expr)
    cur.pending = (cur.pending or 0) + 1
    local c = cur.code
    c[#c + 1] = ("out[n + %d] = %s"):format(cur.pending, expr)
    cur.lines[#c] = line
  end

  local function literal(line, text)
    if text ~= "" then emit_out(line, (("%q"):format(text):gsub("\\\n", "\\n"))) end
  end

  local function new_var(name)
    nvars = nvars + 1
    local v = "v" .. nvars .. "_" .. name
    scope.vars[name] = v
    return v
  end

  local function parse(text, line)
    return new_parser(text, path, line, scope)
  end

  local function open(kind, line, extra)
    -- Each open tag nests the Lua made (see MAX_NESTING).
    if #stack >= MAX_TAG_NESTING then fail(path, line, "tags are nested too deeply (more than %d)", MAX_TAG_NESTING) end
    local frame = { kind = kind, line = line, ctx = ctx:key(), ctx_obj = ctx:copy() }
    for k, v in pairs(extra or {}) do frame[k] = v end
    stack[#stack + 1] = frame
    return frame
  end

  local function check_ctx(frame, line, tag)
    if ctx:key() ~= frame.ctx then
      fail(path, line, "{%% %s %%} leaves the HTML in a different state than {%% %s %%} on line %d "
           .. "(an unclosed tag or quote?)", tag, frame.kind, frame.line)
    end
  end

  local function close(kind, line)
    local frame = stack[#stack]
    if not frame then fail(path, line, "{%% end%s %%} without {%% %s %%}", kind, kind) end
    if frame.kind ~= kind then
      fail(path, line, "{%% end%s %%} closes {%% %s %%} from line %d", kind, frame.kind, frame.line)
    end
    stack[#stack] = nil
    return frame
  end

  local function outside_blocks()
    return extends and #stack == 0
  end

  for _, it in ipairs(items) do
    local line = it.line
    if it.k == "text" then
      if outside_blocks() then
        local first = it.v:find("%S")
        if first then
          local _, nl = it.v:sub(1, first):gsub("\n", "")
          fail(path, line + nl, "a view that extends another may hold only blocks outside {%% block %%}")
        end
      else
        -- A URL attribute's value that holds output ({{ }} or {% %}) is
        -- checked whole, unless its literal start decides (the usual
        -- "/cases/{{ id }}"). One that starts and ends in this text is the
        -- author's own: unchecked.
        local urls = {}
        ctx:feed(it.v, urls)
        local from = 1
        for k, u in ipairs(urls) do
          if u.open and not urls[k + 1] then
            local start, after, after2 = it.v:sub(u.at), items[_ + 1], items[_ + 2]
            if url_allowed(start, true, true) then
              url_mode = "decided"
            elseif start == "" and after and after.k == "out" and after2 and after2.k == "text"
                   and after2.v:sub(1, 1) == ctx.quote then
              url_mode = "single"
            else
              literal(line, it.v:sub(from, u.at - 1))
              from = u.at
              local c = cur.code     -- (pieces not yet counted in n come before U)
              c[#c + 1] = ("U = n + %d"):format(cur.pending or 0)
              cur.lines[#c] = line
              cur.uses_url, url_mode = true, "marked"
            end
          elseif not u.open and url_mode then
            if url_mode == "marked" then
              literal(line, it.v:sub(from, u.at - 1))
              from = u.at
              emit(line, "n = URL(out, U, n)")
            end
            url_mode = nil
          end
        end
        literal(line, it.v:sub(from))
      end
    elseif it.k == "out" then
      if outside_blocks() then fail(path, line, "output outside {%% block %%} in a view that extends another") end
      local esc, why = ctx:escaper()
      if not esc then fail(path, line, "{{ }} cannot be used %s", why) end
      if url_mode == "single" then esc = "url" end
      local p = parse(it.v, line)
      local e = p:expr()
      p:done()
      emit_out(line, ("%s(%s)"):format(esc, e))
    else -- a tag
      local word, rest = it.v:match("^%s*([%a_]+)%s*(.-)%s*$")
      if not word then fail(path, line, "empty or malformed {%% %%} tag") end
      if word == "if" or word == "elif" or word == "elseif" then
        local p = parse(rest, line)
        local cond = p:cond()
        p:done()
        if word == "if" then
          open("if", line)
          emit(line, ("if %s then"):format(cond))
          scope = scope_new(scope)
        else
          local frame = stack[#stack]
          if not frame or frame.kind ~= "if" or frame.has_else then
            fail(path, line, "{%% %s %%} without {%% if %%}", word)
          end
          check_ctx(frame, line, word)
          scope = scope_new(scope.parent)
          emit(line, ("elseif %s then"):format(cond))
        end
      elseif word == "else" then
        local frame = stack[#stack]
        if not frame or (frame.kind ~= "if" and frame.kind ~= "for") or frame.has_else then
          fail(path, line, "{%% else %%} without {%% if %%} or {%% for %%}")
        end
        if rest ~= "" then fail(path, line, "{%% else %%} takes nothing (did you mean elif?)") end
        check_ctx(frame, line, "else")
        frame.has_else = true
        if frame.kind == "if" then
          scope = scope_new(scope.parent)
          emit(line, "else")
        else
          scope = frame.outer_scope
          emit(line, ("end if %s == 0 then"):format(frame.count))
          scope = scope_new(scope)
        end
      elseif word == "endif" then
        local frame = close("if", line)
        check_ctx(frame, line, "endif")
        scope = scope.parent
        emit(line, "end")
      elseif word == "for" then
        local names, what = rest:match("^([%w_,%s]-)%s+in%s+(.+)$")
        if not names then fail(path, line, "expected {%% for item in list %%}") end
        local vars = {}
        for nm in names:gmatch("[^,%s]+") do
          if not nm:find("^[%a_][%w_]*$") then fail(path, line, "'%s' is not a name", nm) end
          vars[#vars + 1] = nm
        end
        if #vars < 1 or #vars > 2 then fail(path, line, "{%% for %%} takes one or two names") end
        local p = parse(what, line)
        local list = p:expr()
        p:done()
        nvars = nvars + 1
        local id = nvars
        local outer = scope
        scope = scope_new(scope)
        local count = "c" .. id
        local frame = open("for", line, { count = count, outer_scope = outer })
        local uses_loop = false
        -- does the body use loop.*? (a look ahead at the rest of the source)
        local depth = 0
        for j = _ + 1, #items do
          local o = items[j]
          if o.k == "tag" and o.v:match("^%s*for%s") then depth = depth + 1 end
          if o.k == "tag" and o.v:match("^%s*endfor") then
            if depth == 0 then break end
            depth = depth - 1
          end
          if (o.k == "out" or o.k == "tag") and o.v:find("loop%.") then uses_loop = true end
        end
        frame.uses_loop = uses_loop
        if #vars == 1 then
          local v = new_var(vars[1])
          emit(line, ("local %s, l%d = 0, LIST(%s) for i%d = 1, #l%d do local %s = l%d[i%d] %s = %s + 1")
               :format(count, id, list, id, id, v, id, id, count, count))
          if uses_loop then
            local lv = new_var("loop")
            emit(line, ("local %s = { index = i%d, index0 = i%d - 1, first = i%d == 1, last = i%d == #l%d, length = #l%d }")
                 :format(lv, id, id, id, id, id, id))
          end
        else
          local k, v = new_var(vars[1]), new_var(vars[2])
          emit(line, ("local %s = 0 for %s, %s in PAIRS(%s) do %s = %s + 1"):format(count, k, v, list, count, count))
          if uses_loop then
            local lv = new_var("loop")
            emit(line, ("local %s = { index = %s, index0 = %s - 1, first = %s == 1 }"):format(lv, count, count, count))
          end
        end
      elseif word == "endfor" then
        local frame = close("for", line)
        check_ctx(frame, line, "endfor")
        scope = frame.outer_scope
        emit(line, "end")
      elseif word == "set" then
        local name, what = rest:match("^([%a_][%w_]*)%s*=%s*(.+)$")
        if not name then fail(path, line, "expected {%% set name = value %%}") end
        local p = parse(what, line)
        local e = p:expr()
        p:done()
        if outside_blocks() then fail(path, line, "{%% set %%} outside {%% block %%} in a view that extends another") end
        local existing = scope.vars[name]
        if existing then
          emit(line, ("%s = %s"):format(existing, e))
        else
          emit(line, ("local %s = %s"):format(new_var(name), e))
        end
      elseif word == "include" then
        local p = parse(rest, line)
        local t = p:next()
        if t.k ~= "str" then fail(path, line, "{%% include %%} takes a view name in quotes") end
        p:done()
        if outside_blocks() then fail(path, line, "{%% include %%} outside {%% block %%} in a view that extends another") end
        if ctx.state ~= "text" then fail(path, line, "{%% include %%} must stand in HTML text") end
        -- The included view sees the context and the names defined here.
        local locals, sc = {}, scope
        while sc do
          for nm, v in pairs(sc.vars) do
            if locals[nm] == nil then locals[nm] = v end
          end
          sc = sc.parent
        end
        local fields = {}
        for nm, v in pairs(locals) do fields[#fields + 1] = ("[%q] = %s"):format(nm, v) end
        sort(fields)
        local child = #fields > 0 and ("CHILD(ctx, {%s})"):format(concat(fields, ", ")) or "ctx"
        emit(line, ("n = INCLUDE(%q, %s, out, n)"):format(t.v, child))
        gen.includes = gen.includes or {}
        gen.includes[#gen.includes + 1] = { name = t.v, line = line }
      elseif word == "extends" then
        local p = parse(rest, line)
        local t = p:next()
        if t.k ~= "str" then fail(path, line, "{%% extends %%} takes a view name in quotes") end
        p:done()
        if extends then fail(path, line, "a view extends only one other") end
        if #stack > 0 or #cur.code > 0 then fail(path, line, "{%% extends %%} must come first") end
        extends = { name = t.v, line = line }
      elseif word == "block" then
        local name = rest:match("^([%a_][%w_]*)$")
        if not name then fail(path, line, "expected {%% block name %%}") end
        if blocks_seen[name] then
          fail(path, line, "block '%s' is already defined on line %d", name, blocks_seen[name])
        end
        blocks_seen[name] = line
        if not (extends and #stack == 0) then
          if ctx.state ~= "text" then fail(path, line, "{%% block %%} must stand in HTML text") end
          emit(line, ("n = blocks[%q](ctx, out, n, blocks)"):format(name))
        end
        local frame = open("block", line, { name = name, saved = cur, saved_scope = scope })
        frame.fn = { name = name, code = {}, lines = {} }
        cur = frame.fn
        scope = scope_new(nil)
      elseif word == "endblock" then
        local frame = close("block", line)
        if rest ~= "" and rest ~= frame.name then
          fail(path, line, "{%% endblock %s %%} closes block '%s'", rest, frame.name)
        end
        check_ctx(frame, line, "endblock")
        flush()
        funcs[#funcs + 1] = frame.fn
        cur, scope = frame.saved, frame.saved_scope
      elseif word == "raw" or word == "endraw" then
        fail(path, line, "{%% raw %%} is not supported: write {{ \"{{\" }} for a literal {{")
      elseif word == "from" or word == "import" then
        -- `{% from "govuk/components/x/macro.njk" import govukX %}` lines
        -- pasted from the GOV.UK Design System: the components are already
        -- there, so nothing to do.
        if not rest:find("^[\"']govuk/") then
          fail(path, line, "{%% %s %%} only imports GOV.UK components (they are always available)", word)
        end
      elseif word == "macro" or word == "call" then
        fail(path, line, "{%% %s %%} is not supported: use a partial with {%% include %%}", word)
      else
        fail(path, line, "unknown tag {%% %s %%}", word)
      end
    end
  end
  if #stack > 0 then
    local frame = stack[#stack]
    fail(path, frame.line, "{%% %s %%} is never closed (expected {%% end%s %%})", frame.kind, frame.kind)
  end
  if not extends and ctx.state ~= "text" then
    fail(path, #items > 0 and items[#items].line or 1, "the view ends inside an HTML %s", ctx.state)
  end

  flush()

  -- Assemble: helpers, block functions, then main.
  local code, map = {}, {}
  local function add(c, l) code[#code + 1] = c; map[#code] = l end
  add("local H, G, F = ... local esc, url, URL, T, I, CAT, ADD, IN, CALL, PAIRS, LIST, INCLUDE, CHILD, CMP = "
      .. "H.esc, H.url, H.URL, H.T, H.I, H.CAT, H.ADD, H.IN, H.CALL, H.PAIRS, H.LIST, H.INCLUDE, H.CHILD, H.CMP", 1)
  add("local B = {}", 1)
  for _, fn in ipairs(funcs) do
    add(("B[%q] = function(ctx, out, n, blocks)"):format(fn.name), fn.lines[1] or 1)
    if fn.uses_url then add("local U", fn.lines[1] or 1) end
    for i, c in ipairs(fn.code) do add(c, fn.lines[i]) end
    add("return n end", fn.lines[#fn.code] or 1)
  end
  if extends then
    add("local main = nil", 1)
  else
    add("local function main(ctx, out, n, blocks)", 1)
    if cur.uses_url then add("local U", 1) end
    for i, c in ipairs(cur.code) do add(c, cur.lines[i]) end
    add("return n end", cur.lines[#cur.code] or 1)
  end
  add(("return { main = main, blocks = B, extends = %s }"):format(extends and ("%q"):format(extends.name) or "nil"), 1)
  return concat(code, "\n"), map, extends, gen.includes or {}
end

view._compile = compile

-------------------------------------------------------------------------------
-- Loading all views of an app, and rendering.
-------------------------------------------------------------------------------

local templates = {}     -- name -> { main, blocks (flattened), path, map }
local by_path = {}       -- path -> line map, for error messages
view._templates = templates

-- Rewrites "path:LUALINE:" in an error message into "path:TEMPLATELINE:".
local function map_error(msg)
  if type(msg) ~= "string" then return msg end
  return (msg:gsub("([^%s:]+%.html):(%d+):", function(path, l)
    local map = by_path[path]
    if not map then return nil end
    return path .. ":" .. (map[tonumber(l)] or l) .. ":"
  end))
end
view._map_error = map_error

local function render_into(name, ctx, out, n)
  local t = templates[name]
  if not t then error(("no view named '%s'"):format(name), 3) end
  return t.root.main(ctx, out, n, t.blocks)
end

H.INCLUDE = function(name, ctx, out, n) return render_into(name, ctx, out, n) end

local child_mt = {}
H.CHILD = function(ctx, locals)
  return setmetatable(locals, { __index = ctx })
end

-- Compiles one view; returns the record or raises "path:line: why". The
-- load that judges an app version leaves what the compiler made in the load
-- cache (core/loadcache.h), so every worker's load of that version skips
-- the compiler.
local function load_one(name, path, source)
  local code, map, extends, includes
  local cached = borough._load_cache_get("view:" .. path)
  if cached then
    local c = json.decode(cached)
    code, map, extends, includes = c.code, c.map, c.extends, c.includes
  else
    code, map, extends, includes = compile(source, path)
    borough._load_cache_put("view:" .. path,
      json.encode { code = code, map = map, extends = extends, includes = includes })
  end
  by_path[path] = map
  local chunk, err = load(code, "=" .. path, "t", {})
  if not chunk then error(map_error(err), 0) end
  local ok, t = pcall(chunk, H, globals, F)
  if not ok then error(map_error(t), 0) end
  return { name = name, path = path, own = t, extends = extends, includes = includes }
end

--- view.load_all(): compiles every view of the app and the platform's;
-- raises "path:line: message" at the first mistake. Called once the app's
-- app.lua has run.
function view.load_all()
  local loaded = {}
  for _, which in ipairs({ "platform", "app" }) do
    for _, v in ipairs(borough._view_sources(which)) do
      loaded[v.name] = load_one(v.name, v.path, v.source)   -- the app's own wins
    end
  end
  -- Resolve extends chains and check includes.
  for name, rec in pairs(loaded) do
    local blocks, seen, t = {}, {}, rec
    while true do
      if seen[t.name] then error(("%s:%d: views extend each other in a loop"):format(rec.path, rec.extends.line), 0) end
      seen[t.name] = true
      for bname, fn in pairs(t.own.blocks) do
        if blocks[bname] == nil then blocks[bname] = fn end
      end
      if not t.extends then break end
      local parent = loaded[t.extends.name]
      if not parent then
        error(("%s:%d: no view named '%s' to extend (looked for views/%s.html)")
              :format(t.path, t.extends.line, t.extends.name, t.extends.name), 0)
      end
      t = parent
    end
    for _, inc in ipairs(rec.includes) do
      if not loaded[inc.name] then
        error(("%s:%d: no view named '%s' to include (looked for views/%s.html)")
              :format(rec.path, inc.line, inc.name, inc.name), 0)
      end
    end
    templates[name] = { root = t.own, blocks = blocks, path = rec.path }
  end
end

--- view.exists(name): true if the app has the view.
function view.exists(name)
  return templates[name] ~= nil
end

--- view.render(name, ctx): the HTML of the view as a string.
function view.render(name, ctx)
  if type(name) ~= "string" then error("borough.view: the name must be a string such as \"cases/show\"", 2) end
  if ctx ~= nil and type(ctx) ~= "table" then error("borough.view: the context must be a table", 2) end
  local t = templates[name]
  if not t then error(("borough.view: no view named '%s' (looked for views/%s.html)"):format(name, name), 2) end
  local out = {}
  local ok, n = pcall(t.root.main, ctx or {}, out, 0, t.blocks)
  if not ok then error(map_error(n), 0) end
  return concat(out, "", 1, n)
end

--- borough.view(name, ctx [, status]): an HTML response rendered from
-- views/<name>.html, made as borough.status makes one: { status =,
-- headers =, body = }, whose status and headers (cookies: borough.cookie)
-- a handler may set before returning it.
function borough.view(name, ctx, status)
  if type(name) == "string" and not templates[name] then
    error(("borough.view: no view named '%s' (looked for views/%s.html)"):format(name, name), 2)
  end
  return borough.status(status or 200, view.render(name, ctx))
end

--- borough.urlencode(text) percent-encodes text for a URL (all but
-- letters, digits and - . _ ~); borough.urlencode{ q = "gr smi", page = 2 }
-- gives a query string, "page=2&q=gr%20smi" (names sorted; a list gives
-- its name once for each value; false or nil leaves a name out).
function view.urlencode(v)
  if type(v) ~= "table" then
    return (tostring(v):gsub("[^%w%-%._~]", function(c) return format("%%%02X", c:byte()) end))
  end
  local names, out = {}, {}
  for k in pairs(v) do names[#names + 1] = k end
  table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(names) do
    local x = v[k]
    for _, one in ipairs(type(x) == "table" and x or { x }) do
      if one ~= false and one ~= nil then
        out[#out + 1] = view.urlencode(k) .. "=" .. view.urlencode(one == true and "on" or one)
      end
    end
  end
  return concat(out, "&")
end

--- borough.html(s): marks s as HTML that templates output as it is.
borough.html = view.safe
borough.urlencode = view.urlencode

return view
