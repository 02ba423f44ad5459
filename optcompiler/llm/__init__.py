"""LLM suggestions for optc: an untrusted suggester behind a provider protocol.

Nothing a model says is emitted unproven: `optcompiler.passes.llm` parses, lifts and verifies
each suggestion before it joins the e-graph. This package holds the parts that talk to the model
(`provider`), remember its answers (`cache`), phrase the question and read the answer (`prompt`),
and generalise verified answers into reusable rules (`learn`). Importing it stays cheap (standard
library only), like `import optcompiler`.
"""

from __future__ import annotations

from optcompiler.llm.settings import LlmConfig

__all__ = ["LlmConfig"]
