"""Rewrite passes: one module a rule set, one protocol, one registry.

A pass is a module with `NAME`, `PREVIEW` (off by default when True) and
`rules(ctx) -> list[Rewrite]`. Its docstring has the sections *What*, *Why faster*,
*Legal when*, *Refuses when* and *Float safety*; a contract test checks them. Adding a
pass touches its own module, its fixtures, and one line of `REGISTRY`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol

from optcompiler.analysis import KernelFacts, expr_kind
from optcompiler.ir import Term
from optcompiler.passes.egraph import EGraph, Id, Rewrite


@dataclass(frozen=True)
class PassContext:
    """What rules may consult: the kernel's facts, the float policy, and where the body's root is."""

    facts: KernelFacts
    root: Id
    names: frozenset[str]  # every name the kernel already uses; temporaries must not collide
    allow_reassoc: bool = True  # default float policy; False under --strict-fp
    fastmath: bool = False
    # the kernel's body as written: rules whose legality depends on what the original evaluates
    # (vectorize: which element accesses the bounds guard covers) refuse when it is not given
    body: Term | None = None

    def kind(self, egraph: EGraph, id: Id) -> str:
        """int / float / bool / array / unknown for the value an e-class computes."""
        term = egraph.extract_term(id)
        return expr_kind(term, self.facts.arg_types, self.facts.local_kinds)

    def top_level(self, egraph: EGraph, id: Id) -> bool:
        """Is `id` a statement directly in the kernel body (not nested in a loop or branch)?"""
        cls = egraph.find(id)
        root = egraph.find(self.root)
        if cls == root:
            return True
        return any(
            node.op == "seq" and cls in {egraph.find(c) for c in node.children} for node in egraph.nodes(root)
        )

    def fresh_name(self, term: Term) -> str:
        """A deterministic temporary name for `term` that the kernel does not use (e.g. `A_i_k`)."""
        base = _readable_name(term)
        if base is None or base in self.names:
            digest = hashlib.sha1(repr(term).encode()).hexdigest()[:6]
            base = f"{base or 't'}_{digest}"
        return base


def _readable_name(term: Term) -> str | None:
    text = repr(term)
    if term.op == "index":
        text = text.replace("(index ", "").replace("(tuple ", "")
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\d+", text)
    if not words or len(words) > 5:
        return None
    name = "_".join(words)
    return name if name.isidentifier() else None


class Pass(Protocol):
    NAME: str
    PREVIEW: bool

    def rules(self, ctx: PassContext) -> list[Rewrite]: ...


def _registry() -> tuple[ModuleType, ...]:
    from optcompiler.passes import algebra, fresh, idioms, loops, parallel, vectorize

    return (algebra, idioms, fresh, loops, parallel, vectorize)


REGISTRY: tuple[ModuleType, ...] = _registry()


def why(rule_name: str, passes: Sequence[ModuleType] = REGISTRY) -> str:
    """The one-line legality reason a pass gives for a rule, for comments and reports."""
    for module in passes:
        reason = getattr(module, "WHY", {}).get(rule_name)
        if reason is not None:
            return reason
    if rule_name.startswith("llm."):  # suggestions and learned rules say how they are known
        from optcompiler.passes.llm import explain

        return explain(rule_name)
    return rule_name.split(".", 1)[-1]


def all_rules(
    ctx: PassContext, passes: Sequence[ModuleType] = REGISTRY, preview: bool = False
) -> list[Rewrite]:
    """The rules of every enabled pass, in registry order, filtered by the float policy."""
    rules: list[Rewrite] = []
    for module in passes:
        if getattr(module, "PREVIEW", False) and not preview:
            continue
        for rewrite in module.rules(ctx):
            if rewrite.safety == "fastmath" and not ctx.fastmath:
                continue
            if rewrite.safety == "reassoc" and not ctx.allow_reassoc:
                continue
            rules.append(rewrite)
    return rules
