"""Rule learning: a verified suggestion that differs from the original by a local rewrite becomes
a pattern rewrite that later runs apply without asking the model.

1. Site: anti-unify the original body with the suggestion. Their common structure is the context
   C with O = C[o] and S = C[s]; a block's common leading and trailing statements are context too.
   The site is the smallest (o, s) whose context holds one hole; when the holes are several, or a
   run of more than one original statement, the difference is not local and nothing is learned.
2. Generalise: every name the kernel owns (parameters, locals, loop variables) in o becomes a
   pattern variable `?name`; module names (`np`, `math`) stay literal. Names only s assigns are
   temporaries, renamed afresh where the rule fires. A site that reads a kernel name o does not
   mention depends on its context and is not learned.
3. Check on fresh instances: o and s, each wrapped alone in a function whose parameters are the
   names they read (arrays with random contents, random sizes including 0 and 1, any incoming
   value of a scalar), are compared by the differential tester. So the rule is checked without
   the learning kernel's context: `out[i] = s` for `out[i] += s` fails when `out` was zero only
   there. Bit-identical results tag the rule `exact`; results within the float policy's tolerance
   only, `reassoc` (conservative: it may have reordered float operations).
4. Library: JSON, in the user cache dir and optionally a project file; each rule says where it
   came from (model, kernel, file) and how it was checked.

Learned rules are checked by testing, not proven; every variant they produce is verified again
by the pipeline before it is emitted, like any other.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from optcompiler import verify
from optcompiler.analysis import KernelFacts, names_assigned, names_read
from optcompiler.ir import STMT_OPS, ArgType, Kernel, Param, Term, lower_function, value_key

LIBRARY_FORMAT = 1
CHECK_EXAMPLES = 4  # random instances on top of the tester's own generated cases


@dataclass(frozen=True)
class LearnedRule:
    """A rule as data, as it is stored: pattern texts in `passes.egraph.parse_pattern` syntax."""

    name: str  # "llm.learned.<hash of lhs and rhs>"
    lhs: str
    rhs: str  # `?x` bound by lhs; `var:t` for t in `fresh` is renamed where the rule fires
    fresh: tuple[str, ...]
    kinds: tuple[tuple[str, str], ...]  # pattern variable -> int | float | bool | array
    dtypes: tuple[tuple[str, str], ...]  # pattern variable -> dtype, where the learning kernel knew it
    safety: str  # exact | reassoc
    provenance: tuple[tuple[str, str], ...]  # model, kernel, path, checked
    dead: tuple[str, ...] = ()  # pattern variables the site writes that must be unused outside it

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        for key in ("kinds", "dtypes", "provenance"):
            data[key] = dict(data[key])
        data["fresh"] = list(self.fresh)
        data["dead"] = list(self.dead)
        return data

    @staticmethod
    def from_json(data: Mapping[str, object]) -> LearnedRule:
        def pairs(key: str) -> tuple[tuple[str, str], ...]:
            value = data.get(key, {})
            if not isinstance(value, Mapping):
                raise ValueError(f"{key} must be an object")
            return tuple(sorted((str(k), str(v)) for k, v in value.items()))

        safety = str(data["safety"])
        if safety not in ("exact", "reassoc"):
            raise ValueError(f"safety {safety!r}")
        fresh, dead = data.get("fresh", []), data.get("dead", [])
        if not isinstance(fresh, list) or not isinstance(dead, list):
            raise ValueError("fresh and dead must be lists")
        return LearnedRule(
            str(data["name"]),
            str(data["lhs"]),
            str(data["rhs"]),
            tuple(str(f) for f in fresh),
            pairs("kinds"),
            pairs("dtypes"),
            safety,
            pairs("provenance"),
            tuple(str(d) for d in dead),
        )


@dataclass(frozen=True)
class Site:
    """A local difference: the original's subterm and the suggestion's in its place."""

    original: Term
    suggested: Term


# ---- 1. the site: anti-unification with one hole ------------------------------------------------------


def find_site(original: Term, suggested: Term) -> Site | None:
    """The smallest pair (o, s) with original = C[o] and suggested = C[s], for a context C with one
    hole; None when the bodies are equal or differ in several places. The whole body is never a
    site (the e-graph extracts statement by statement below the body)."""
    sites = enclosing_sites(original, suggested)
    return sites[0] if sites else None


def enclosing_sites(original: Term, suggested: Term) -> list[Site]:
    """The sites along the one-hole path, smallest first: when the smallest does not hold without
    its context, the next one out may (it brings one more enclosing node along)."""
    path: list[Site] = []
    o, s = original, suggested
    while o != s:
        path.append(Site(o, s))
        if o.op == "seq" and s.op == "seq":
            p = 0
            while p < min(len(o.args), len(s.args)) and o.args[p] == s.args[p]:
                p += 1
            q = 0
            while q < min(len(o.args), len(s.args)) - p and o.args[-1 - q] == s.args[-1 - q]:
                q += 1
            mid_o, mid_s = o.args[p : len(o.args) - q], s.args[p : len(s.args) - q]
            if len(mid_o) != 1:
                break  # a run of statements is no term of its own
            if len(mid_s) != 1:
                path.append(Site(mid_o[0], Term("seq", mid_s)))
                break
            o, s = mid_o[0], mid_s[0]
            continue
        if o.op == s.op and value_key(o.value) == value_key(s.value) and len(o.args) == len(s.args):
            holes = [i for i, (a, b) in enumerate(zip(o.args, s.args, strict=True)) if a != b]
            if len(holes) == 1:
                o, s = o.args[holes[0]], s.args[holes[0]]
                continue
        break
    return [site for site in reversed(path) if site.original is not original]


# ---- 2. generalisation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    rule: LearnedRule
    site: Site
    params: tuple[tuple[str, ArgType], ...]  # the names the site reads, for the check
    results: tuple[str, ...]  # scalar names the site writes that the kernel reads elsewhere


def generalize(
    kernel: Kernel, facts: KernelFacts, site: Site, provenance: Mapping[str, str]
) -> Candidate | str:
    """The rule for `site`, or why there is none (one line)."""
    owned = {p.name for p in kernel.params} | names_assigned(kernel.body)
    in_o = {str(t.value) for t in site.original.walk() if t.op == "var"}
    in_s = {str(t.value) for t in site.suggested.walk() if t.op == "var"}
    generalized = sorted(in_o & owned)
    fresh = sorted((in_s - in_o) & names_assigned(site.suggested))
    outside = sorted(((in_s - in_o) & owned) - set(fresh))
    if outside:
        return f"the rewrite reads {', '.join(outside)} from outside the code it replaces"
    kinds: dict[str, str] = {}
    dtypes: dict[str, str] = {}
    for name in generalized:
        kind = kind_of(facts, name)
        if kind not in ("int", "float", "bool", "array"):
            return f"the type of {name} is not known"
        kinds[name] = kind
        if name in facts.arg_types:
            at = facts.arg_types[name]
            dtypes[name] = f"{at.dtype}/{at.ndim}" if at.kind == "array" else at.dtype
    lhs = pattern_text(site.original, set(generalized))
    rhs = pattern_text(site.suggested, set(generalized))
    digest = hashlib.sha256(f"{lhs}\n{rhs}".encode()).hexdigest()[:10]
    loop_vars = {str(t.args[0].value) for t in site.original.walk() if t.op == "for"}
    reads = sorted((names_read(site.original) | names_read(site.suggested)) & set(generalized))
    params: list[tuple[str, ArgType]] = []
    for name in reads:
        if name in loop_vars and name not in names_read(_outside_loops_of(site.original, name)):
            continue
        at = _arg_type(kernel, facts, name)
        if at is None:
            return f"cannot build test inputs for {name}"
        params.append((name, at))
    # A scalar the site writes is either read elsewhere in the kernel (then both sides must leave
    # the same value: the check compares it) or nowhere else (then the rule requires that of
    # every kernel it fires in: `dead`).
    outside = names_outside(kernel.body, site.original)
    written = sorted(
        n for n in names_assigned(site.original) | names_assigned(site.suggested) if n in generalized
    )
    written = [n for n in written if kinds[n] != "array"]
    results = tuple(n for n in written if outside is None or n in outside)
    dead = tuple(n for n in written if n not in results)
    rule = LearnedRule(
        name=f"llm.learned.{digest}",
        lhs=lhs,
        rhs=rhs,
        fresh=tuple(fresh),
        kinds=tuple(sorted(kinds.items())),
        dtypes=tuple(sorted(dtypes.items())),
        safety="exact",
        provenance=tuple(sorted(provenance.items())),
        dead=dead,
    )
    return Candidate(rule, site, tuple(params), results)


def names_outside(body: Term, site: Term) -> set[str] | None:
    """Every name `body` uses outside the occurrences of `site`; None when `site` is not in it."""
    found = False

    def cut(t: Term) -> Term:
        nonlocal found
        if t == site:
            found = True
            return Term("pass")
        return Term(t.op, tuple(cut(a) for a in t.args), t.value) if t.args else t

    rest = cut(body)
    return {str(t.value) for t in rest.walk() if t.op == "var"} if found else None


def kind_of(facts: KernelFacts, name: str) -> str:
    """The kind of a name; a local bound once to a fresh allocation is an array."""
    kind = facts.kind(name)
    return "array" if kind == "unknown" and name in facts.fresh_arrays else kind


def _outside_loops_of(term: Term, name: str) -> Term:
    """`term` without the bodies of the loops that bind `name` (their bounds stay): is a loop
    variable also read where no loop binds it? Then it is an input of the site."""
    if term.op == "for" and term.args[0].value == name:
        return Term("tuple", term.args[1:4])
    if not term.args:
        return term
    return Term(term.op, tuple(_outside_loops_of(a, name) for a in term.args), term.value)


def _arg_type(kernel: Kernel, facts: KernelFacts, name: str) -> ArgType | None:
    if name in facts.arg_types:
        return facts.arg_types[name]
    kind = kind_of(facts, name)
    if kind == "int":
        return ArgType("int", "int64")
    if kind == "float":
        return ArgType("float", "float64")
    if kind == "bool":
        return ArgType("bool", "bool")
    if kind == "array" and name in facts.array_dims and _default_float_allocation(kernel.body, name):
        dims = facts.array_dims[name]
        return ArgType("array", "float64", len(dims), dims)
    return None


def _default_float_allocation(body: Term, name: str) -> bool:
    """Is `name` bound only by `np.zeros/empty/ones(shape)` without a dtype (so float64)?"""
    found = False
    for t in body.walk():
        if t.op in ("assign", "augassign") and t.args[0].op == "var" and t.args[0].value == name:
            value = t.args[1]
            if t.op != "assign" or value.op != "call" or any(a.op == "kw" for a in value.args[1:]):
                return False
            func = value.args[0]
            if not (func.op == "attr" and func.value in ("zeros", "empty", "ones")):
                return False
            found = True
    return found


def pattern_text(term: Term, generalized: set[str]) -> str:
    """`term` as a pattern: names in `generalized` become `?name`, others `var:name`."""
    if term.op == "var":
        return f"?{term.value}" if term.value in generalized else f"var:{term.value}"
    if term.op == "const":
        value = term.value
        return repr(value) if isinstance(value, float) else str(value)
    head = term.op if term.value is None else f"{term.op}:{term.value}"
    if not term.args:
        return f"({head})" if term.op in STMT_OPS else head
    return "(" + " ".join([head, *(pattern_text(a, generalized) for a in term.args)]) + ")"


# ---- 3. the check on fresh instances ------------------------------------------------------------------


def check(candidate: Candidate, prelude: str, timeout: float, seed: int = 0) -> tuple[str | None, str]:
    """Test the rule's two sides alone on random instances: (safety or None, one-line reason)."""
    site, names = candidate.site, [n for n, _ in candidate.params]
    params = tuple(Param(n) for n in names)
    original = lower_function("_optc_rule_lhs", params, _harness(site.original, candidate.results))
    suggested = lower_function("_optc_rule_rhs", params, _harness(site.suggested, candidate.results))
    examples = _random_examples(candidate.params, seed)
    for policy, safety in ((verify.FloatPolicy(strict=True), "exact"), (verify.FloatPolicy(), "reassoc")):
        (result,) = verify.verify_candidates(
            prelude=prelude,
            original_source=original,
            original_name="_optc_rule_lhs",
            candidates=[verify.CandidateSource("rule", suggested, "_optc_rule_rhs")],
            args=list(candidate.params),
            policy=policy,
            timeout=timeout,
            examples=examples,
        )
        if result.ok:
            return safety, result.reason
        if "differs" not in result.reason:
            return None, result.reason  # crashes, rejects or times out: strictness will not help
    return None, result.reason


def _harness(site: Term, results: Sequence[str]) -> Term:
    """The site as a function body: statements, then the scalars it writes (arrays are compared
    as mutated arguments); an expression site returns its value."""
    if site.op not in STMT_OPS:
        return Term("seq", (Term("return", (site,)),))
    ret = Term("return", (Term("tuple", tuple(Term("var", (), n) for n in results)),))
    body = site.args if site.op == "seq" else (site,)
    return Term("seq", (*body, ret))


def _random_examples(params: Sequence[tuple[str, ArgType]], seed: int) -> list[dict[str, object]]:
    """Random sizes (0 and 1 among them), random array contents and scalar values."""
    rng = np.random.default_rng([seed, 7])
    symbols = sorted({d for _, at in params for d in at.dims} | {n for n, at in params if at.kind == "int"})
    examples = []
    for i in range(CHECK_EXAMPLES):
        sizes = {
            s: int(v)
            for s, v in zip(symbols, rng.integers(0 if i == 0 else 1, 10, len(symbols)), strict=True)
        }
        if i == 1:
            sizes = dict.fromkeys(symbols, 1)
        example: dict[str, object] = {}
        for name, at in params:
            if at.kind == "array":
                shape = tuple(sizes.get(d, 4) for d in at.dims) if at.dims else (4,) * at.ndim
                example[name] = _random_array(rng, shape, at.dtype)
            elif at.kind == "int":
                example[name] = sizes[name] if name in sizes else int(rng.integers(0, 4))
            elif at.kind == "float":
                example[name] = float(rng.uniform(-2, 2))
            else:
                example[name] = bool(rng.integers(0, 2))
        examples.append(example)
    return examples


def _random_array(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    kind = np.dtype(dtype).kind
    if kind == "f":
        return rng.uniform(-1, 1, shape).astype(dtype)
    if kind in "iu":
        return rng.integers(0, max(1, min(shape, default=1)), shape).astype(dtype)
    if kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    return (rng.uniform(-1, 1, shape) + 1j * rng.uniform(-1, 1, shape)).astype(dtype)


# ---- 4. the library -----------------------------------------------------------------------------------


def user_library() -> Path:
    from optcompiler.llm.cache import default_dir

    return default_dir() / "rules.json"


def load_library(path: Path) -> tuple[LearnedRule, ...]:
    """The rules in `path`; a missing file is empty, a malformed entry is skipped."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    if not isinstance(data, dict) or data.get("format") != LIBRARY_FORMAT:
        return ()
    rules = []
    for entry in data.get("rules", []):
        with contextlib.suppress(KeyError, ValueError, TypeError):
            rules.append(LearnedRule.from_json(entry))
    return tuple(rules)


def save_rule(path: Path, rule: LearnedRule) -> bool:
    """Add `rule` to the library at `path` (atomically); False if it was there or cannot be written."""
    rules = {r.name: r for r in load_library(path)}
    if rule.name in rules:
        return False
    rules[rule.name] = rule
    data = {"format": LIBRARY_FORMAT, "rules": [r.to_json() for _, r in sorted(rules.items())]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except OSError:
        return False
    return True
