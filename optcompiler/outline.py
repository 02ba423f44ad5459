"""Partial compilation: when a function as a whole cannot be compiled, compile its loop regions.

Plain `numba.njit` is all-or-nothing: one `print(f"...")`, `raise`, dict or unsupported NumPy call
and the whole function stays in the interpreter, loops included. Here a *region* is a run of
consecutive top-level statements of the function that lift into the kernel IR and hold a loop.
Each becomes a module-level helper `_<function>_region<k>(inputs) -> outputs`; the function keeps
its other statements in Python and calls the helper where the region was. The helper then goes
through the normal pipeline (rewrites, cost model, verification against the helper's Python
original, type guards), so a region whose arguments turn out not to be what it was verified for
runs as the Python it was.

Inputs and outputs, from the analyses:
- inputs: names the region reads before writing them that are locals of the function (parameters
  or names assigned in it). Each must be *definitely* bound before the region (a parameter, the
  target of an unconditional top-level assignment earlier, bound in both branches of an if/else,
  or in a try body whose handlers all raise or return): otherwise the call itself could raise
  where the original would not have read the name on that path.
- outputs: names the region assigns that the function reads anywhere outside it. Each must be
  definitely bound at the region's end: assigned by one of its top-level statements, or bound
  before it (then passed in too, so a loop that runs zero times hands back the old value).
- arrays are passed by reference, so in-place writes reach the caller exactly as before.
Refused: a region with a `return` (an early exit out of the function), functions with `global` or
`nonlocal`, and inputs or outputs that fail the rules above; each refusal is a reason in the report.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst.metadata import MetadataWrapper, PositionProvider, ScopeProvider

from optcompiler.analysis import names_assigned, upward_exposed
from optcompiler.errors import Unsupported
from optcompiler.ir import lift


@dataclass(frozen=True)
class Region:
    """Statements `start..end` (indices into the function body) compiled as helper `name`."""

    function: str
    name: str
    start: int
    end: int  # inclusive
    first_line: int
    last_line: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def plan_regions(
    site_node: cst.FunctionDef, module: cst.Module, path: str, first_line: int, taken: set[str]
) -> tuple[list[Region], list[str]]:
    """The regions of one function worth compiling on their own, and why others were refused.

    `taken` holds module-level names already in use; new helper names are added to it."""
    if m.findall(site_node, m.Global() | m.Nonlocal()):
        return [], ["it declares global or nonlocal names, so its locals cannot be passed around safely"]
    if not isinstance(site_node.body, cst.IndentedBlock):
        return [], []  # a one-line body (`def f(c): return g(c)`) holds no loop to compile
    body = list(site_node.body.body)
    if body and _is_docstring(body[0]):
        offset, body = 1, body[1:]
    else:
        offset = 0
    lines = _statement_lines(site_node, module, first_line)
    liftable = [_lifts(site_node, stmt, module, path, first_line) for stmt in body]
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(body):
        if not liftable[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(body) and liftable[j + 1]:
            j += 1
        if any(_has_loop(s) for s in body[i : j + 1]):
            runs.append((i, j))
        i = j + 1
    locals_ = _function_locals(site_node)
    params = {p.name.value for p in site_node.params.params}
    regions: list[Region] = []
    reasons: list[str] = []
    for start, end in runs:
        stmts = body[start : end + 1]
        span = f"lines {lines[offset + start][0]}-{lines[offset + end][1]}"
        kernel_body = _lift_body(site_node, stmts, module, path, first_line)
        reads = upward_exposed(kernel_body)
        writes = names_assigned(kernel_body)
        before = params | _definitely_bound(body[:start])
        inputs = sorted((reads & locals_) - {"__builtins__"})
        unbound = [n for n in inputs if n not in before]
        if unbound:
            reasons.append(f"the loop at {span} reads `{unbound[0]}`, which may be unbound before it")
            continue
        elsewhere = _names_loaded(body[:start] + body[end + 1 :]) | _names_in_nested_scopes(site_node)
        outputs = sorted(writes & elsewhere & locals_)
        at_end = _definitely_bound(stmts)
        unsure = [n for n in outputs if n not in at_end and n not in before]
        if unsure:
            reasons.append(
                f"the loop at {span} assigns `{unsure[0]}` only on some paths and it is read after the loop"
            )
            continue
        inputs = sorted(set(inputs) | {n for n in outputs if n not in at_end})
        name = _fresh_name(f"_{site_node.name.value}_region", taken)
        regions.append(
            Region(
                site_node.name.value,
                name,
                offset + start,
                offset + end,
                lines[offset + start][0],
                lines[offset + end][1],
                tuple(inputs),
                tuple(outputs),
            )
        )
    return regions, reasons


def outline(module: cst.Module, function: cst.FunctionDef, regions: Sequence[Region]) -> cst.Module:
    """`module` with `regions` of `function` moved into helpers defined just above it."""
    if not regions:
        return module
    block = function.body
    assert isinstance(block, cst.IndentedBlock)
    stmts = list(block.body)
    annotations = {
        p.name.value: module.code_for_node(p.annotation.annotation)
        for p in function.params.params
        if p.annotation is not None
    }
    helpers: list[cst.BaseStatement] = []
    new_body: list[cst.BaseStatement] = []
    by_start = {r.start: r for r in regions}
    i = 0
    while i < len(stmts):
        region = by_start.get(i)
        if region is None:
            new_body.append(stmts[i])
            i += 1
            continue
        helpers.append(_helper(module, stmts[region.start : region.end + 1], region, annotations))
        new_body.append(_call(region).with_changes(leading_lines=stmts[i].leading_lines))
        i = region.end + 1
    new_function = function.with_changes(body=block.with_changes(body=new_body))
    out: list[cst.BaseStatement] = []
    for stmt in module.body:
        if stmt is function:
            first, *rest = helpers
            out.append(first.with_changes(leading_lines=function.leading_lines))
            out.extend(rest)
            out.append(new_function.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()]))
        else:
            out.append(stmt)
    return module.with_changes(body=out)


# ---- building the helper and its call ---------------------------------------------------------------


def _helper(
    module: cst.Module, stmts: Sequence[cst.BaseStatement], region: Region, annotations: dict[str, str]
) -> cst.FunctionDef:
    params = ", ".join(f"{n}: {annotations[n]}" if n in annotations else n for n in region.inputs)
    code = "".join(
        module.code_for_node(s.with_changes(leading_lines=()) if k == 0 else s) for k, s in enumerate(stmts)
    )
    if region.outputs:
        code += f"return {', '.join(region.outputs)}\n"
    doc = f'"""Lines {region.first_line}-{region.last_line} of `{region.function}`, compiled on their own by optc."""\n'
    source = f"def {region.name}({params}):\n" + textwrap.indent(doc + code, "    ")
    node = cst.parse_statement(source)
    assert isinstance(node, cst.FunctionDef)
    return node.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()])


def _call(region: Region) -> cst.SimpleStatementLine:
    call = f"{region.name}({', '.join(region.inputs)})"
    text = f"{', '.join(region.outputs)} = {call}\n" if region.outputs else f"{call}\n"
    node = cst.parse_statement(text)
    assert isinstance(node, cst.SimpleStatementLine)
    return node


# ---- facts about statements ----------------------------------------------------------------------------


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return m.matches(
        stmt, m.SimpleStatementLine(body=[m.Expr(value=m.SimpleString() | m.ConcatenatedString())])
    )


def _has_loop(stmt: cst.CSTNode) -> bool:
    return bool(m.findall(stmt, m.For() | m.While()))


def _lifts(
    function: cst.FunctionDef, stmt: cst.BaseStatement, module: cst.Module, path: str, line: int
) -> bool:
    """Does `stmt` alone lift into the IR (and hold no return, which would leave the function)?"""
    if m.findall(stmt, m.Return() | m.Yield()):
        return False
    try:
        _lift_body(function, [stmt], module, path, line)
    except Unsupported:
        return False
    return True


def _lift_body(
    function: cst.FunctionDef, stmts: Sequence[cst.BaseStatement], module: cst.Module, path: str, line: int
):
    assert isinstance(function.body, cst.IndentedBlock)
    node = function.with_changes(body=function.body.with_changes(body=list(stmts)), decorators=())
    return lift(node, path, module, line).body


def _statement_lines(function: cst.FunctionDef, module: cst.Module, first_line: int) -> list[tuple[int, int]]:
    """(first, last) line in the file of each top-level statement of `function`."""
    wrapper = MetadataWrapper(cst.Module(body=[function]), unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    base = first_line - positions[function].start.line
    assert isinstance(function.body, cst.IndentedBlock)
    return [(positions[s].start.line + base, positions[s].end.line + base) for s in function.body.body]


def _function_locals(function: cst.FunctionDef) -> set[str]:
    """Names local to the function's own scope: parameters and every name it binds."""
    wrapper = MetadataWrapper(cst.Module(body=[function]), unsafe_skip_copy=True)
    scopes = wrapper.resolve(ScopeProvider)
    inner = function.body
    scope = scopes.get(inner.body[0] if isinstance(inner, cst.IndentedBlock) and inner.body else inner)
    if scope is None:
        return set()
    return {a.name for a in scope.assignments if a.scope is scope}


def _definitely_bound(stmts: Sequence[cst.BaseStatement]) -> set[str]:
    """Names every path through `stmts` binds: targets of unconditional top-level assignments."""
    out: set[str] = set()
    for stmt in stmts:
        if isinstance(stmt, cst.Try) and stmt.handlers and all(_leaves(h.body) for h in stmt.handlers):
            out |= _definitely_bound(_block(stmt.body))  # only a completed try body falls through
            continue
        if isinstance(stmt, cst.If) and isinstance(stmt.orelse, cst.Else):
            out |= _definitely_bound(_block(stmt.body)) & _definitely_bound(_block(stmt.orelse.body))
            continue
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, cst.Assign):
                for target in small.targets:
                    out.update(_target_names(target.target))
            elif isinstance(small, cst.AnnAssign) and small.value is not None:
                out.update(_target_names(small.target))
            elif isinstance(small, cst.AugAssign):
                out.update(_target_names(small.target))
    return out


def _block(suite: cst.BaseSuite) -> list[cst.BaseStatement]:
    return list(suite.body) if isinstance(suite, cst.IndentedBlock) else []


def _leaves(suite: cst.BaseSuite) -> bool:
    """Does the block end by raising or returning (never falling through to what follows)?"""
    stmts = _block(suite)
    if not stmts or not isinstance(stmts[-1], cst.SimpleStatementLine):
        return False
    return isinstance(stmts[-1].body[-1], (cst.Raise, cst.Return))


def _target_names(target: cst.BaseExpression) -> set[str]:
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        names: set[str] = set()
        for element in target.elements:
            names |= _target_names(element.value)
        return names
    return set()


def _names_loaded(stmts: Sequence[cst.CSTNode]) -> set[str]:
    """Every identifier in `stmts` (attribute names too: over-approximating only adds outputs)."""
    return {n.value for s in stmts for n in m.findall(s, m.Name())}  # type: ignore[union-attr]


def _names_in_nested_scopes(function: cst.FunctionDef) -> set[str]:
    """Names that nested functions and lambdas may read when called, at any time."""
    nested = m.findall(function.body, m.FunctionDef() | m.Lambda() | m.ClassDef())
    return _names_loaded(nested)


def _fresh_name(prefix: str, taken: set[str]) -> str:
    k = 1
    while f"{prefix}{k}" in taken:
        k += 1
    taken.add(f"{prefix}{k}")
    return f"{prefix}{k}"
