-- The grants benchmark app: only its entity, for `borough import`
-- (tools/bench/records/bench.py).
require "models"
return borough.app { title = "Community grants", mount = "/grants", public = true }
