-- The fixture of the field readers' differential test (tests/fields_test.lua):
-- only its entities.
require "models"
return borough.app { title = "Fields", mount = "/fields", public = true }
