"""LLM-suggested rewrites, and the rules learned from them, on the e-graph side.

*What*: a suggestion (a whole `def` from a model) is read and lifted into the IR here; once the
driver has verified it (`optcompiler.llm.suggest`), `merge_suggestions` unions the part that
differs with the original's statements, so the usual extraction and cost model choose among the
original, every rule's variants and the suggestion. `LearnedRules` is the pass of rules learned
from earlier verified suggestions (`optcompiler.llm.learn`), loaded from the rule library.

*Why faster*: a model can propose what no rule reaches: another algorithm (an O(n^2) prefix sum
done in O(n)), another data layout, a loop order the rules cannot derive.

*Legal when*: a suggestion joins the e-graph only after it matched the original on the
differential tester's inputs (sizes 0 and 1 included, mutated arguments compared). A learned
rule fires only where each pattern variable binds a distinct plain name of the kind (and, for
arguments, dtype) it had when learned; its two sides were checked alone, on random instances,
without the learning kernel's context. Neither is a proof: every variant they produce is verified
again before emission, and the report labels it "suggested (LLM) and verified".

*Refuses when*: the answer does not parse, defines no function or another signature, leaves the
kernel subset, equals the original, or fails verification (each counted by reason); a learned
rule's names alias, or their kinds or dtypes differ.

*Float safety*: a learned rule whose sides matched bit for bit is `exact`; one that matched only
within the float policy's tolerance is `reassoc`, so `--strict-fp` drops it. Suggestions are
verified under the run's float policy.

Off unless `--llm` (or `[tool.optc.llm] enabled = true`): `PREVIEW` keeps it out of the default
rule sets, and the driver adds it only when enabled.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import libcst as cst

from optcompiler.analysis import names_assigned
from optcompiler.errors import Unsupported
from optcompiler.ir import Kernel, Term, lift
from optcompiler.llm.learn import LearnedRule, kind_of, names_outside
from optcompiler.passes import PassContext
from optcompiler.passes.egraph import EGraph, Id, PNode, PVar, Rewrite, parse_pattern

NAME = "llm"
PREVIEW = True
SUGGESTION = "llm.suggestion"  # the origin of suggested nodes: derivations and labels show it
WHY = {SUGGESTION: "suggested by a language model, verified by differential testing"}


def explain(rule_name: str) -> str:
    """The one-line reason for emitted comments and reports (`passes.why`)."""
    if rule_name in WHY:
        return WHY[rule_name]
    return f"learned rule {rule_name} (from a verified LLM suggestion, checked on random instances)"


def rules(ctx: PassContext) -> list[Rewrite]:
    """No rules without a library: the driver builds `LearnedRules(library)` when enabled."""
    return []


# ---- reading a suggestion ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejected:
    reason: str  # the category the report counts: "syntax error", "different signature", ...
    detail: str  # one line


def read_suggestion(source: str, kernel: Kernel, prelude: str = "") -> Term | Rejected:
    """The suggestion's body in the IR, or why it is refused. Top-level imports are allowed when
    the kernel's module has them verbatim; any other code outside the function is refused."""
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        return Rejected("syntax error", f"line {error.raw_line}: {error.message}")
    defs = [s for s in module.body if isinstance(s, cst.FunctionDef)]
    if not defs:
        return Rejected("no function", "the answer defines no function")
    imports = {line.strip() for line in prelude.splitlines() if line.startswith(("import ", "from "))}
    for stmt in module.body:
        code = module.code_for_node(stmt).strip()
        if not isinstance(stmt, cst.FunctionDef) and code not in imports:
            return Rejected("outside the subset", f"code outside the function: {code.splitlines()[0][:60]}")
    if len(defs) > 1:
        return Rejected("outside the subset", "helper functions next to the kernel")
    node = defs[0]
    try:
        lifted = lift(node, "<llm suggestion>", module, 1)
    except Unsupported as error:
        return Rejected("outside the subset", error.construct)
    except Exception as error:  # a lifter failure on odd input must not take down the kernel
        return Rejected("outside the subset", f"{type(error).__name__}: {error}")
    want = [(p.name, p.default) for p in kernel.params]
    got = [(p.name, p.default) for p in lifted.params]
    if want != got:
        return Rejected(
            "different signature", f"({', '.join(n for n, _ in got)}) for ({', '.join(n for n, _ in want)})"
        )
    if lifted.body == kernel.body:
        return Rejected("unchanged", "the same code as the original")
    unknown = _unknown_name(lifted.body, kernel, prelude)
    if unknown is not None:
        return Rejected("outside the subset", unknown)
    return lifted.body


# The model's code runs in the verification worker (a subprocess with a timeout, not a sandbox).
# The subset already has no strings; on top, a suggestion may name only what the original names,
# its own locals, the module's imports and a few pure builtins, and no private or I/O attribute.
SAFE_BUILTINS = frozenset({"range", "len", "min", "max", "abs", "float", "int", "bool", "round"})
DENIED_ATTRIBUTES = frozenset(
    {"tofile", "tobytes", "tostring", "save", "savez", "savez_compressed", "savetxt", "load", "loadtxt"}
    | {"genfromtxt", "fromfile", "fromstring", "frombuffer", "memmap", "ctypes", "lib", "testing", "f2py"}
    | {"decode", "encode", "char", "rec", "system", "popen", "DataSource", "info", "source", "who"}
)


def _unknown_name(body: Term, kernel: Kernel, prelude: str) -> str | None:
    allowed = (
        {str(t.value) for t in kernel.body.walk() if t.op == "var"}
        | {p.name for p in kernel.params}
        | names_assigned(body)
        | SAFE_BUILTINS
        | _imported(prelude)
    )
    for t in body.walk():
        if t.op == "var" and t.value not in allowed:
            return f"name {t.value!r}, which the original does not use"
        if t.op in ("attr", "kw") and (str(t.value).startswith("_") or t.value in DENIED_ATTRIBUTES):
            return f"attribute {t.value!r}"
    return None


def _imported(prelude: str) -> set[str]:
    try:
        tree = ast.parse(prelude)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


# ---- merging verified suggestions -----------------------------------------------------------------------


def merge_suggestions(egraph: EGraph, root: Id, body: Term, suggestions: Sequence[Term]) -> Term:
    """Union each suggestion with the original in `egraph` and return the statement grouping the
    driver extracts by: the original's statements, with the span the suggestions change as one
    statement (a nested block when it is several). Leading and trailing statements all the
    suggestions share with the original stay separate, so the rules still rewrite them one by one."""
    n = len(body.args)
    usable = [s for s in suggestions if s.op == "seq" and s != body]
    if body.op != "seq" or not n or not usable:
        return body
    lo, hi = n, 0
    for s in usable:
        p = _common_prefix(body.args, s.args)
        q = _common_prefix(body.args[::-1], s.args[::-1])
        p = min(p, n - 1, len(s.args))
        q = min(q, n - p - 1, len(s.args) - p)
        lo, hi = min(lo, p), max(hi, n - q)
    middle = body.args[lo:hi]
    group = middle[0] if len(middle) == 1 else Term("seq", middle)
    if sum(t == group for t in body.walk()) > 1:  # also used elsewhere: the union would leak there
        group = Term("seq", middle)
        if sum(t == group for t in body.walk()) > 1:
            return body
    gid = egraph.add_term(group)
    for s in usable:
        tail = len(s.args) - (n - hi)
        alternative = s.args[lo:tail]
        alt = alternative[0] if len(alternative) == 1 else Term("seq", alternative)
        egraph.union(gid, egraph.add_term(alt, SUGGESTION), SUGGESTION)
    shape = Term("seq", (*body.args[:lo], group, *body.args[hi:]))
    if shape != body:
        egraph.union(root, egraph.add_term(shape))
    egraph.rebuild()
    return shape


def _common_prefix(a: Sequence[Term], b: Sequence[Term]) -> int:
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    return i


# ---- learned rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LearnedRules:
    """The pass of learned rules: satisfies the Pass protocol, built from a rule library."""

    library: tuple[LearnedRule, ...]
    body: Term | None = None  # the kernel's own body: where a rule's `dead` names are looked up
    NAME: ClassVar[str] = "llm"
    PREVIEW: ClassVar[bool] = False

    def rules(self, ctx: PassContext) -> list[Rewrite]:
        out = []
        for learned in self.library:
            try:
                out.append(to_rewrite(learned, ctx, self.body))
            except ValueError:  # a library entry this optc cannot read: skip it, never fail a kernel
                continue
        return out


def to_rewrite(learned: LearnedRule, ctx: PassContext, body: Term | None = None) -> Rewrite:
    lhs = parse_pattern(learned.lhs)
    lhs_root = lhs.root
    rhs = parse_pattern(learned.rhs).root
    kinds = dict(learned.kinds)
    dtypes = dict(learned.dtypes)
    fresh = frozenset(learned.fresh)
    missing = sorted(_pattern_vars(rhs) - set(lhs.vars))
    if missing or set(lhs.vars) != set(kinds):
        raise ValueError(f"{learned.name}: variables do not line up")

    def names(egraph: EGraph, subst: dict[str, Id]) -> dict[str, str] | None:
        bound: dict[str, str] = {}
        for v, cid in subst.items():
            name = next((str(n.value) for n in egraph.nodes(cid) if n.op == "var"), None)
            if name is None:
                return None
            bound[v] = name
        return bound if len(set(bound.values())) == len(bound) else None

    def when(egraph: EGraph, cid: Id, subst: dict[str, Id]) -> bool:
        bound = names(egraph, subst)
        if bound is None:
            return False
        for v, name in bound.items():
            if kind_of(ctx.facts, name) != kinds[v]:
                return False
            at = ctx.facts.arg_types.get(name)
            want = dtypes.get(v)
            if want is not None and at is not None:
                have = f"{at.dtype}/{at.ndim}" if at.kind == "array" else at.dtype
                if have != want:
                    return False
        if learned.dead:
            # the names the site leaves behind must be unused outside it (as where it was learned)
            outside = None if body is None else names_outside(body, _build(lhs_root, bound, {}))
            if outside is None or any(bound[v] in outside for v in learned.dead):
                return False
        return True

    def apply(egraph: EGraph, cid: Id, subst: dict[str, Id]) -> Term | None:
        bound = names(egraph, subst)
        if bound is None:
            return None
        renamed = {t: t if t not in ctx.names else ctx.fresh_name(Term("var", (), f"{t}_new")) for t in fresh}
        built = _build(rhs, bound, renamed)
        # a library file is input too: its right-hand sides may name only what the kernel names
        allowed = ctx.names | set(renamed.values()) | SAFE_BUILTINS
        for t in built.walk():
            if (t.op == "var" and t.value not in allowed) or (
                t.op in ("attr", "kw") and (str(t.value).startswith("_") or t.value in DENIED_ATTRIBUTES)
            ):
                return None
        return built

    return Rewrite(learned.name, lhs, apply, when, learned.safety)  # type: ignore[arg-type]


def _pattern_vars(p: PVar | PNode) -> set[str]:
    if isinstance(p, PVar):
        return {p.name}
    return set().union(*(_pattern_vars(c) for c in p.children)) if p.children else set()


def _build(p: PVar | PNode, bound: dict[str, str], renamed: dict[str, str]) -> Term:
    if isinstance(p, PVar):
        return Term("var", (), bound[p.name])
    if p.op == "var" and p.value in renamed:
        return Term("var", (), renamed[str(p.value)])
    return Term(p.op, tuple(_build(c, bound, renamed) for c in p.children), p.value)
