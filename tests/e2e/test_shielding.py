#!/usr/bin/env python3
"""The shielding app (apps/shielding): its own tests under `borough test`,
and the government list made by tools/gen_shielding.py with dirty rows,
imported by `borough import` with exactly the dirty rows rejected."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import test, run, borough  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@test
def app_tests_pass():
    status, out, err = borough("test", "apps/shielding", cwd=ROOT)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    m = re.match(r"^(\d+) passed, (\d+) failed$", last)
    assert status == 0 and m and m.group(2) == "0" and int(m.group(1)) >= 13, (status, out, err)


@test
def a_dirty_list_imports_with_exactly_the_bad_rows_rejected():
    with tempfile.TemporaryDirectory(prefix="borough-shielding-") as tmp:
        gen = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_shielding.py"), "400",
                              "--dirty", "0.2", "--seed", "11", "--report"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
        counts = dict(kv.split("=") for kv in gen.stderr.decode().split())
        counts = {k: int(v) for k, v in counts.items()}
        assert all(counts[k] > 0 for k in counts), counts
        path = os.path.join(tmp, "list.csv")
        with open(path, "wb") as f:
            f.write(gen.stdout)
        rejects = os.path.join(tmp, "rejects.csv")
        status, out, err = borough("import", "shielding", "residents", path, "--skip-bad-rows",
                                   "--rejects", rejects, "--data", os.path.join(tmp, "data"), cwd=ROOT)
        bad = counts["bad_nhs"] + counts["no_postcode"] + counts["duplicate"] + counts["latin1"]
        assert status == 0, (status, out, err)
        assert "imported %d residents" % (400 - bad) in out + err, (out, err, counts)
        text = open(rejects, encoding="utf-8").read()
        assert text.count("Enter a real NHS number") == counts["bad_nhs"], text
        assert text.count("Enter postcode") == counts["no_postcode"], text
        assert text.count("already exists") == counts["duplicate"], text
        assert text.count("not UTF-8") == counts["latin1"], text


if __name__ == "__main__":
    run()
