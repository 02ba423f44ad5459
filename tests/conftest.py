"""Session-wide test settings.

The pipeline ranks with a learned cost model when one exists for the machine's hardware id
(`optcompiler.costmodel.model.find`), so results would differ between a machine that has a model
(shipped or calibrated) and one that has none, such as CI. The suite pins the analytic model, which
every machine has, so snapshots and printed figures are the same everywhere; tests of the learned
path (tests/costmodel/test_model.py) turn it back on explicitly. Set here, at import, so the
subprocesses tests start (CLI, README examples) inherit it.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPTC_COST_MODEL", "analytic")
