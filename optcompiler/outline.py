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
Refused: a region with a `return` (an early exit out of the function), or a `break`/`continue` of
a loop around it, functions with `global` or `nonlocal`, and inputs or outputs that fail the rules
above; each refusal is a reason in the report.

A region that lifts but that Numba rejects (it calls a plain Python function, say) is tried again
smaller (`smaller_regions`): its statements one by one, then the statements of a loop's body, up to
MAX_DEPTH loops deep. There the helper is called inside the loop: names bound by the loops around
it (their `for` targets, what their bodies bind before it) count as bound before it, and it runs
once per iteration (`enclosing_trips`, for the compile-time payback).

Helpers are built as nodes from the function's own statements (`helper_site`), so outlining never
re-parses the module: one parse per file, however many functions it partly compiles.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst.metadata import MetadataWrapper, PositionProvider, ScopeProvider

from optcompiler.analysis import names_assigned, upward_exposed
from optcompiler.errors import Unsupported
from optcompiler.frontend import KernelSite
from optcompiler.ir import lift


@dataclass(frozen=True)
class Region:
    """Statements `start..end` (indices into a block of the function) compiled as helper `name`.

    `block` is the path from the function's body to that block: () for the body itself, (k,) for
    the body of the loop that is the body's k-th statement, and so on (see `smaller_regions`)."""

    function: str
    name: str
    start: int
    end: int  # inclusive
    first_line: int
    last_line: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    block: tuple[int, ...] = ()


# Loops nested this deep inside a region Numba rejects are still tried on their own, no deeper.
MAX_DEPTH = 3


def plan_regions(
    site_node: cst.FunctionDef,
    module: cst.Module,
    path: str,
    first_line: int,
    taken: set[str],
    within: tuple[int, ...] = (),
    span: tuple[int, int] | None = None,
    single: bool = False,
) -> tuple[list[Region], list[str]]:
    """The regions of one function worth compiling on their own, and why others were refused.

    By default the runs of consecutive lifting statements of the function's body that hold a loop;
    `within` looks in a loop's body instead, `span` (first, last index) at part of the block only,
    and `single` takes each statement with a loop on its own (`smaller_regions`). `taken` holds
    module-level names already in use; new helper names are added to it."""
    if m.findall(site_node, m.Global() | m.Nonlocal()):
        return [], ["it declares global or nonlocal names, so its locals cannot be passed around safely"]
    if not isinstance(site_node.body, cst.IndentedBlock):
        return [], []  # a one-line body (`def f(c): return g(c)`) holds no loop to compile
    body = _block_at(site_node, within)
    lines = _statement_lines(site_node, first_line)
    first, last = span if span is not None else (0, len(body) - 1)
    docstring = not within and bool(body) and _is_docstring(body[0])
    liftable = [
        first <= i <= last
        and not (docstring and i == 0)
        and not _escapes(stmt)
        and _lifts(site_node, stmt, module, path, first_line)
        for i, stmt in enumerate(body)
    ]
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(body):
        if not liftable[i]:
            i += 1
            continue
        j = i
        while not single and j + 1 < len(body) and liftable[j + 1]:
            j += 1
        if any(_has_loop(s) for s in body[i : j + 1]):
            runs.append((i, j))
        i = j + 1
    locals_ = _function_locals(site_node)
    params = {p.name.value for p in site_node.params.params}
    bound_outside = params | _bound_on_the_way(site_node, within)
    regions: list[Region] = []
    reasons: list[str] = []
    for start, end in runs:
        stmts = body[start : end + 1]
        span_text = f"lines {lines[id(stmts[0])][0]}-{lines[id(stmts[-1])][1]}"
        kernel_body = _lift_body(site_node, stmts, module, path, first_line)
        reads = upward_exposed(kernel_body)
        writes = names_assigned(kernel_body)
        before = bound_outside | _definitely_bound(body[:start])
        inputs = sorted((reads & locals_) - {"__builtins__"})
        unbound = [n for n in inputs if n not in before]
        if unbound:
            reasons.append(f"the loop at {span_text} reads `{unbound[0]}`, which may be unbound before it")
            continue
        elsewhere = _names_loaded_outside(site_node, stmts)
        outputs = sorted(writes & elsewhere & locals_)
        at_end = _definitely_bound(stmts)
        unsure = [n for n in outputs if n not in at_end and n not in before]
        if unsure:
            reasons.append(
                f"the loop at {span_text} assigns `{unsure[0]}` only on some paths and it is read after the loop"
            )
            continue
        inputs = sorted(set(inputs) | {n for n in outputs if n not in at_end})
        name = _fresh_name(f"_{site_node.name.value}_region", taken)
        regions.append(
            Region(
                site_node.name.value,
                name,
                start,
                end,
                lines[id(stmts[0])][0],
                lines[id(stmts[-1])][1],
                tuple(inputs),
                tuple(outputs),
                within,
            )
        )
    return regions, reasons


def smaller_regions(
    site_node: cst.FunctionDef,
    module: cst.Module,
    path: str,
    first_line: int,
    region: Region,
    taken: set[str],
) -> tuple[list[Region], list[str]]:
    """Regions inside `region`, for when Numba rejects it as a whole (a statement lifts into the
    IR but calls, say, a plain Python function): its statements one by one when it has several,
    else the body of its loop, so the loops around the rejected statement still compile."""
    if region.end > region.start:
        return plan_regions(
            site_node, module, path, first_line, taken, region.block, (region.start, region.end), single=True
        )
    stmt = _block_at(site_node, region.block)[region.start]
    if (
        len(region.block) >= MAX_DEPTH
        or not isinstance(stmt, (cst.For, cst.While))
        or stmt.orelse is not None
    ):
        return [], []
    return plan_regions(site_node, module, path, first_line, taken, (*region.block, region.start))


def outline(module: cst.Module, function: cst.FunctionDef, regions: Sequence[Region]) -> cst.Module:
    """`module` with `regions` of `function` moved into helpers defined just above it."""
    return outline_functions(module, [(function, regions)])


def outline_functions(
    module: cst.Module, plans: Sequence[tuple[cst.FunctionDef, Sequence[Region]]]
) -> cst.Module:
    """`outline` for several functions in one pass over the module (a file may have thousands)."""
    by_id = {id(function): (function, regions) for function, regions in plans if regions}
    if not by_id:
        return module
    out: list[cst.BaseStatement] = []
    for stmt in module.body:
        plan = by_id.get(id(stmt))
        if plan is None:
            out.append(stmt)
            continue
        function, regions = plan
        helpers, new_function = _outlined(module, function, regions)
        first, *rest = helpers
        out.append(first.with_changes(leading_lines=function.leading_lines))
        out.extend(rest)
        out.append(new_function.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()]))
    return module.with_changes(body=out)


def helper_site(module: cst.Module, function: cst.FunctionDef, region: Region) -> KernelSite:
    """The helper `region` becomes, as a kernel site of its own (no module is parsed for it): its
    `def` counts as two lines above the region, so lines inside it are the file's."""
    stmts = _region_statements(function, region)
    node = _helper(module, stmts, region, _annotations(module, function))
    return KernelSite(region.name, node, region.first_line - 2, None)


def enclosing_trips(
    function: cst.FunctionDef, region: Region, sizes: Mapping[str, int], default_size: int
) -> int:
    """How often `region` runs per call of its function: the trip counts of the loops around it
    multiplied, estimated as the cost model does: `range` bounds that are integers or names of the
    size profile (`n`, bound by `n, m = A.shape`) take their value, anything else `default_size`."""

    def value(expr: cst.BaseExpression) -> int:
        if isinstance(expr, cst.Integer):
            return int(expr.evaluated_value)
        if isinstance(expr, cst.Name):
            return sizes.get(expr.value, default_size)
        return default_size

    total = 1
    block = _block_at(function, ())
    for depth, index in enumerate(region.block):
        loop = block[index]
        trips = default_size
        if isinstance(loop, cst.For) and m.matches(
            loop.iter, m.Call(func=m.Name("range") | m.Name("prange"))
        ):
            args = [value(a.value) for a in loop.iter.args]  # type: ignore[attr-defined]
            if len(args) == 1:
                trips = args[0]
            elif len(args) == 2:
                trips = args[1] - args[0]
            elif len(args) == 3 and args[2] != 0:
                trips = -(-(args[1] - args[0]) // args[2])
        total *= max(1, trips)
        block = _block_at(function, region.block[: depth + 1])
    return total


def range_counters(function: cst.FunctionDef, region: Region) -> list[str]:
    """Inputs of `region` that are counters of the `for ... in range(...)` loops around it: integers,
    which the helper's own analysis cannot tell from its body (`A[i, j]` reads as well with a float)."""
    counters: set[str] = set()
    block = _block_at(function, ())
    for depth, index in enumerate(region.block):
        loop = block[index]
        if (
            isinstance(loop, cst.For)
            and isinstance(loop.target, cst.Name)
            and m.matches(loop.iter, m.Call(func=m.Name("range") | m.Name("prange")))
        ):
            counters.add(loop.target.value)
        block = _block_at(function, region.block[: depth + 1])
    return [name for name in region.inputs if name in counters]


def _outlined(
    module: cst.Module, function: cst.FunctionDef, regions: Sequence[Region]
) -> tuple[list[cst.FunctionDef], cst.FunctionDef]:
    annotations = _annotations(module, function)
    helpers: list[cst.FunctionDef] = []

    def rebuild(stmts: Sequence[cst.BaseStatement], at: tuple[int, ...]) -> list[cst.BaseStatement]:
        here = {r.start: r for r in regions if r.block == at}
        deeper = {r.block[len(at)] for r in regions if len(r.block) > len(at) and r.block[: len(at)] == at}
        out: list[cst.BaseStatement] = []
        i = 0
        while i < len(stmts):
            region = here.get(i)
            if region is not None:
                helpers.append(_helper(module, stmts[region.start : region.end + 1], region, annotations))
                out.append(_call(region).with_changes(leading_lines=stmts[i].leading_lines))
                i = region.end + 1
                continue
            stmt = stmts[i]
            if i in deeper:
                assert isinstance(stmt, (cst.For, cst.While)) and isinstance(stmt.body, cst.IndentedBlock)
                stmt = stmt.with_changes(body=stmt.body.with_changes(body=rebuild(stmt.body.body, (*at, i))))
            out.append(stmt)
            i += 1
        return out

    block = function.body
    assert isinstance(block, cst.IndentedBlock)
    new_function = function.with_changes(body=block.with_changes(body=rebuild(block.body, ())))
    return helpers, new_function


def _annotations(module: cst.Module, function: cst.FunctionDef) -> dict[str, str]:
    return {
        p.name.value: module.code_for_node(p.annotation.annotation)
        for p in function.params.params
        if p.annotation is not None
    }


def _block_at(function: cst.FunctionDef, within: tuple[int, ...]) -> list[cst.BaseStatement]:
    """The statements of the block `within` leads to (see `Region.block`)."""
    suite = function.body
    for index in within:
        assert isinstance(suite, cst.IndentedBlock)
        suite = suite.body[index].body  # type: ignore[attr-defined]
    assert isinstance(suite, cst.IndentedBlock)
    return list(suite.body)


def _region_statements(function: cst.FunctionDef, region: Region) -> list[cst.BaseStatement]:
    return _block_at(function, region.block)[region.start : region.end + 1]


def _bound_on_the_way(function: cst.FunctionDef, within: tuple[int, ...]) -> set[str]:
    """Names bound on every path to the block `within` leads to: what every enclosing block binds
    before the loop that holds it, and the targets of those `for` loops."""
    bound: set[str] = set()
    block = _block_at(function, ())
    for depth, index in enumerate(within):
        bound |= _definitely_bound(block[:index])
        loop = block[index]
        if isinstance(loop, cst.For):
            bound |= _target_names(loop.target)
        block = _block_at(function, within[: depth + 1])
    return bound


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


def _statement_lines(function: cst.FunctionDef, first_line: int) -> dict[int, tuple[int, int]]:
    """(first, last) line in the file of every statement of `function`, nested ones too, by id."""
    wrapper = MetadataWrapper(cst.Module(body=[function]), unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    base = first_line - positions[function].start.line
    return {
        id(node): (where.start.line + base, where.end.line + base)
        for node, where in positions.items()
        if isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
    }


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


def _names_loaded_outside(function: cst.FunctionDef, stmts: Sequence[cst.CSTNode]) -> set[str]:
    """Every identifier of `function` outside `stmts` (attribute names too: over-approximating only
    adds outputs), nested functions and lambdas included: they may read a name at any time."""
    inside = {id(n) for s in stmts for n in m.findall(s, m.Name())}
    return {n.value for n in m.findall(function.body, m.Name()) if id(n) not in inside}  # type: ignore[union-attr]


def _escapes(stmt: cst.BaseStatement) -> bool:
    """Does a `break` or `continue` in `stmt` belong to a loop around it (it would leave the helper)?"""

    def walk(node: cst.CSTNode, in_loop: bool) -> bool:
        if isinstance(node, (cst.Break, cst.Continue)) and not in_loop:
            return True
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            return False
        if isinstance(node, (cst.For, cst.While)):
            return any(walk(c, c is not node.orelse or in_loop) for c in node.children)
        return any(walk(c, in_loop) for c in node.children)

    return walk(stmt, False)


def _fresh_name(prefix: str, taken: set[str]) -> str:
    k = 1
    while f"{prefix}{k}" in taken:
        k += 1
    taken.add(f"{prefix}{k}")
    return f"{prefix}{k}"
