--- borough.upload: file uploads.
--
-- A route that takes files declares what each file field may hold:
--
--   app:post("/evidence", {
--     max_body = 12 * 1024 * 1024,           -- the whole form
--     files = { evidence = { max = 10 * 1024 * 1024, types = { "pdf", "png", "jpeg" } } },
--   }, function(req)
--     local file = req.files.evidence        -- nil if no file was chosen
--     if file and file.error then ... show file.message ... end
--     local ref = borough.keep_file(file)    -- stored under data/<app>/files/
--     db.exec("UPDATE claims SET evidence = ? WHERE id = ?", ref, id)
--   end)
--
--   app:get("/claims/:id/evidence", function(req)
--     ... check the user may see it ...
--     return borough.file(claim.evidence, { name = "evidence.pdf" })
--   end)
--
-- Types: pdf, png, jpeg (or jpg), gif, docx, xlsx, csv, txt. They are judged
-- from the file's content, never its name. A field with no rule may hold any
-- of them up to the route's max_body. Each file in req.files has name (as
-- sent), size, type, content_type, and error ("too_large", "wrong_type",
-- "empty") with a message in the request's language. A file not kept with
-- borough.keep_file is deleted when the request ends. Stored files are only
-- reachable through the app's own routes, by their 256-bit random reference.

local i18n = require "borough.i18n"
local options = require "borough.options"

local upload = {}

local type_names = { "pdf", "png", "jpeg", "gif", "docx", "xlsx", "csv", "txt" }
local labels = { pdf = "PDF", png = "PNG", jpeg = "JPG", gif = "GIF", docx = "DOCX", xlsx = "XLSX",
                 csv = "CSV", txt = "TXT" }

-- "5 MB", "300 KB"
local function size_text(bytes)
  if bytes >= 1024 * 1024 then
    local mb = bytes / (1024 * 1024)
    return (mb == math.floor(mb) and ("%d MB"):format(mb) or ("%.1f MB"):format(mb))
  end
  return ("%d KB"):format(math.max(1, bytes // 1024))
end

--- upload.message(file): the GOV.UK-style error message for a refused file.
function upload.message(file)
  if file.error == "too_large" then
    return i18n.t("upload.too_large", { size = size_text(file.max) })
  elseif file.error == "wrong_type" or file.error == "empty" then
    local bits, names = borough._file_types(), {}
    for _, n in ipairs(type_names) do
      if file.allowed & bits[n] ~= 0 then names[#names + 1] = labels[n] end
    end
    local list = names[#names] or ""
    if #names > 1 then
      list = table.concat(names, ", ", 1, #names - 1) .. " " .. i18n.t("upload.or") .. " " .. names[#names]
    end
    return i18n.t("upload.wrong_type", { types = list })
  end
  return nil
end

borough._upload_message = upload.message

--- Checks a route's `files` option (what is the route, for messages,
-- which name the app's line) and turns it into the server's rules.
function upload.rules(files, what)
  local bits, rules = borough._file_types(), {}
  for field, rule in pairs(files) do
    if type(field) ~= "string" or type(rule) ~= "table" then
      options.fail(what, "files = { field = { max = bytes, types = { \"pdf\", ... } } }")
    end
    options.check(what .. " files." .. field, rule, { max = "number", types = "table" })
    local max = rule.max
    if math.type(max) ~= "integer" or max <= 0 then
      options.fail(what, ("files.%s.max must be a positive number of bytes"):format(field))
    end
    local mask = 0
    for _, name in ipairs(rule.types or type_names) do
      if not bits[name] then
        options.fail(what, ("files.%s: unknown type '%s' (pdf, png, jpeg, gif, docx, xlsx, csv, txt)")
                     :format(field, tostring(name)))
      end
      mask = mask | bits[name]
    end
    rules[#rules + 1] = { field = field, max = max, types = mask }
  end
  table.sort(rules, function(a, b) return a.field < b.field end)
  return rules
end

return upload
