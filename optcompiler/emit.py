"""Emit: splice verified variants into the module, add decorators and imports once, write atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import libcst as cst

from optcompiler import strictmath
from optcompiler.frontend import GENERATED_HEADER
from optcompiler.ir import ArgType
from optcompiler.passes import why
from optcompiler.strictmath import COMMENT as STRICT_MATH_COMMENT
from optcompiler.strictmath import FLAGGED_ERROR

if TYPE_CHECKING:
    from optcompiler.analysis import KernelFacts
    from optcompiler.pipeline import Emitted


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` to `path` so readers see the old file or the new one, never a partial one.

    The temporary file lives in the target's directory (same filesystem, so `os.replace` is atomic)
    and is removed if anything fails, e.g. a full disk.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".optc-tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# ---- splicing variants into the module -------------------------------------------------------------


def variant_name(kernel: str) -> str:
    return f"_{kernel}_v1"


def original_name(kernel: str) -> str:
    return f"_{kernel}_original"


def gpu_name(kernel: str) -> str:
    return f"_{kernel}_gpu"


def gpu_condition(emitted: Emitted, params: Sequence[str]) -> str:
    """When the dispatcher calls the CUDA lowering: under `--target auto`, the problem size (the
    largest array argument's elements, times a step count: `costmodel.gpu.problem_size`) is at least
    the threshold the GPU model chose (checked first: it is cheap) and a GPU is present."""
    # a float32 lowering computes in NumPy's kinds taking float and int parameters as Python numbers
    # (weak: `x * alpha` stays float32); a NumPy float64 or int64 there widens the result instead
    exact = [
        f"type({p}) is {emitted.facts.arg_types[p].kind}"
        for p in params
        if emitted.facts.arg_types[p].kind in ("float", "int", "bool")
    ]
    single = any(at.kind == "array" and at.dtype == "float32" for at in emitted.facts.arg_types.values())
    available = " and ".join([*(exact if single else []), "cuda.is_available()"])
    if emitted.gpu_threshold is None:
        return available
    from optcompiler.costmodel.gpu import scalar_sizes

    sizes = [f"{p}.size" for p in params if emitted.facts.arg_types[p].kind == "array"]
    size = sizes[0] if len(sizes) == 1 else f"max({', '.join(sizes)})"
    size = " * ".join([size, *scalar_sizes(emitted.facts)])  # a step count multiplies the work
    return f"{size} >= {emitted.gpu_threshold} and {available}"


def type_guard(params: Sequence[str], facts: KernelFacts, numpy: str = "numpy") -> list[str]:
    """Conditions that hold exactly for the argument types the variant was verified on."""
    conds: list[str] = []
    for name in params:
        at = facts.arg_types[name]
        if at.kind == "array":
            conds += [
                f"isinstance({name}, {numpy}.ndarray)",
                f"{name}.dtype == {numpy}.{at.dtype}",
                f"{name}.ndim == {at.ndim}",
            ]
        elif at.kind == "float":
            conds.append(f"isinstance({name}, float)")
        elif at.kind == "int":
            conds.append(f"isinstance({name}, (int, {numpy}.integer)) and not isinstance({name}, bool)")
        elif at.kind == "bool":
            conds.append(f"isinstance({name}, (bool, {numpy}.bool_))")
    return conds


def dispatcher_body(emitted: Emitted, params: Sequence[str], numpy: str = "numpy") -> str:
    """The public function's new body: run the variant for verified types, else the original."""
    conds = type_guard(params, emitted.facts, numpy)
    conds += [f"not {numpy}.may_share_memory({a}, {b})" for a, b in emitted.alias_pairs]
    conds += list(emitted.bounds)
    call_args = ", ".join(params)
    body = [f"return {variant_name(emitted.kernel)}({call_args})"]
    if emitted.retry_original:  # the original decides what such a call does (`pipeline.retry_errors`)
        errors = ", ".join(emitted.retry_original)
        errors = f"({errors})" if len(emitted.retry_original) > 1 else errors
        body = [
            "try:",
            f"    {body[0]}",
            f"except {errors}:  # {_retry_comment(emitted.retry_original)}",
            "    pass",
        ]
    if emitted.gpu_source:  # verified for the same types, on distinct arrays indexed in bounds
        gpu_call = f"    return {gpu_name(emitted.kernel)}({call_args})"
        body = [f"if {gpu_condition(emitted, params)}:", gpu_call, *body]
    lines = []
    if conds:
        joined = "\n        and ".join(conds)
        lines.append(f"    if (\n        {joined}\n    ):")
        lines += [f"        {line}" for line in body]
        lines.append(f"    return {original_name(emitted.kernel)}({call_args})")
    else:
        lines += [f"    {line}" for line in body]
        if emitted.retry_original:
            lines.append(f"    return {original_name(emitted.kernel)}({call_args})")
    return "\n".join(lines) + "\n"


def _retry_comment(errors: Sequence[str]) -> str:
    """Why the dispatcher runs the original after the variant raised `errors`."""
    if FLAGGED_ERROR in errors:  # `strictmath.parallel_calls`
        return "a math error in a parallel loop: run as written"
    return "Numba raises on any division by zero, CPython not for NumPy scalars"


def gpu_statements(emitted: Emitted, seen: set[str]) -> list[cst.BaseStatement]:
    """The CUDA lowering's helpers, kernels and wrapper, led by what they are and why they run;
    its imports go to the module's header, and a helper another kernel's lowering already
    emitted (the same text) is not repeated."""
    statements: list[cst.BaseStatement] = []
    for stmt in cst.parse_module(emitted.gpu_source).body:
        if isinstance(stmt, cst.SimpleStatementLine) and all(
            isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
        ):
            continue
        code = cst.Module([]).code_for_node(stmt.with_changes(leading_lines=[]))
        if code in seen:
            continue
        seen.add(code)
        statements.append(stmt)
    if not statements:
        return statements
    when = (
        "whenever a GPU is present (--target gpu)"
        if emitted.gpu_threshold is None
        else f"when a GPU is present and the problem size is >= {emitted.gpu_threshold}"
    )
    comments = [
        f"# optc: {emitted.kernel} on the GPU, called {when}; else the CPU path below.",
        f"#   {emitted.gpu_note}.",
    ]
    lead = [cst.EmptyLine(), cst.EmptyLine()]
    lead += [cst.EmptyLine(comment=cst.Comment(c)) for c in comments]
    statements[0] = statements[0].with_changes(leading_lines=lead)
    return statements


def variant_comment(emitted: Emitted) -> list[str]:
    """What was done, why it is legal, what it was verified on, and the prediction."""
    cand = emitted.candidate
    types = ", ".join(_describe_type(n, t) for n, t in emitted.facts.arg_types.items())
    steps = list(dict.fromkeys(cand.variant.derivation))
    lines = [f"# optc: {emitted.kernel}, target {cand.target.name}, {len(steps) or 'no'} rewrite(s):"]
    lines += [f"#   - {why(step)}" for step in steps] or ["#   - none: the original body, compiled"]
    if emitted.alias_pairs:
        lines.append("#   overlapping array arguments go to the original (rewrites assume distinct arrays).")
    if emitted.bounds:
        lines.append(
            "#   shapes that would make the original index out of bounds go to it (it raises IndexError)."
        )
    if emitted.boundscheck:
        lines.append(
            "#   compiled with boundscheck: not every subscript is provably in range, so a bad index raises."
        )
    lines.append(f"#   verified for {types}: {emitted.verified}.")
    if cand.target.name == "numpy":
        lines.append("#   plain NumPy, nothing to compile: no compile time to win back.")
    else:
        lines.append(f"#   {WARM_MARK} {numba_signature(emitted.facts)}")
    # Only the prediction: the emitted bytes follow from input and settings alone (measured times
    # vary from run to run; `-v` and `--report` show them).
    if emitted.predicted_speedup and cand.target.name != "numpy":  # NumPy wins on compile time, not per call
        lines.append(
            f"#   vs plain numba.njit of the original: predicted {emitted.predicted_speedup:.1f}x (analytic model)."
        )
    return lines


WARM_MARK = "numba signature (optc warm compiles it ahead):"


def numba_signature(facts: KernelFacts) -> str:
    """The verified argument types in Numba's signature syntax, arrays C-contiguous (the common
    layout; others compile at their first call)."""
    parts = []
    for at in facts.arg_types.values():
        if at.kind == "array":
            dtype = "boolean" if at.dtype == "bool" else at.dtype
            parts.append(f"{dtype}[{', '.join([':'] * (at.ndim - 1) + ['::1'])}]")
        elif at.kind == "bool":
            parts.append("boolean")
        else:
            parts.append(at.dtype or ("int64" if at.kind == "int" else "float64"))
    return f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"


def _describe_type(name: str, at: ArgType) -> str:
    if at.kind == "array":
        return f"{name}: {at.dtype} {at.ndim}-D array"
    return f"{name}: {at.kind}"


class _Splice(cst.CSTTransformer):
    """Replace each optimized top-level def by variant, dispatcher and the renamed original."""

    def __init__(self, by_name: Mapping[str, Emitted], numpy: str) -> None:
        self.by_name = by_name
        self.numpy = numpy
        self.depth = 0
        self.gpu_seen: set[str] = set()  # CUDA helpers already emitted (by text)
        self.helpers_seen: set[str] = set()  # checked-math helpers already emitted (by text)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.depth += 1
        return False  # never descend: only top-level defs are kernels

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef | cst.FlattenSentinel[cst.BaseStatement]:
        self.depth -= 1
        emitted = self.by_name.get(original_node.name.value)
        if emitted is None or self.depth != 0:
            return updated_node
        params = [p.name.value for p in original_node.params.params]
        *helpers, variant_def = cst.parse_module(emitted.source).body  # checked-math helpers lead it
        new_helpers = [h for h in helpers if self._first(h)]
        variant_code = (
            "\n".join(variant_comment(emitted)) + "\n" + cst.Module([variant_def]).code.lstrip("\n")
        )
        variant = cst.parse_module("pass\n" + variant_code).body[1]  # comments lead the def, not the module
        blank = cst.EmptyLine()
        if new_helpers:
            new_helpers[0] = new_helpers[0].with_changes(
                leading_lines=[
                    *original_node.leading_lines,
                    cst.EmptyLine(comment=cst.Comment(f"# optc: {STRICT_MATH_COMMENT}")),
                ]
            )
            new_helpers[1:] = [h.with_changes(leading_lines=[blank, blank]) for h in new_helpers[1:]]
            variant = variant.with_changes(leading_lines=[blank, blank, *variant.leading_lines])
        else:
            variant = variant.with_changes(
                leading_lines=[*original_node.leading_lines, *variant.leading_lines]
            )
        wrapper_body = (
            cst.parse_module(f"def _wrapper():\n{dispatcher_body(emitted, params, self.numpy)}").body[0].body
        )
        docstring = _docstring_stmt(original_node)
        if docstring is not None:
            wrapper_body = wrapper_body.with_changes(body=[docstring, *wrapper_body.body])
        public = original_node.with_changes(body=wrapper_body, leading_lines=[blank, blank])
        renamed = original_node.with_changes(
            name=cst.Name(original_name(emitted.kernel)),
            leading_lines=[
                blank,
                blank,
                cst.EmptyLine(
                    comment=cst.Comment(
                        "# optc: the original, unchanged; called for types and overlaps the variant was not verified for."
                    )
                ),
            ],
        )
        gpu = gpu_statements(emitted, self.gpu_seen) if emitted.gpu_source else []
        if gpu:
            public = public.with_changes(leading_lines=[blank, blank])
        return cst.FlattenSentinel([*new_helpers, variant, *gpu, public, renamed])

    def _first(self, helper: cst.BaseStatement) -> bool:
        """Whether this module-level helper is not in the module yet (kernels share them)."""
        code = cst.Module([helper]).code
        if code in self.helpers_seen:
            return False
        self.helpers_seen.add(code)
        return True


def _docstring_stmt(node: cst.FunctionDef) -> cst.BaseStatement | None:
    body = node.body
    if isinstance(body, cst.IndentedBlock) and body.body:
        first = body.body[0]
        if (
            isinstance(first, cst.SimpleStatementLine)
            and len(first.body) == 1
            and isinstance(first.body[0], cst.Expr)
            and isinstance(first.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
        ):
            return first
    return None


def _module_alias(module: cst.Module, name: str) -> str | None:
    """The name a top-level `import name` or `import name as alias` binds, if there is one."""
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Import):
                    for alias in small.names:
                        if cst.Module([]).code_for_node(alias.name) == name:
                            return alias.asname.name.value if alias.asname else name  # type: ignore[union-attr]
    return None


def _insert_imports(module: cst.Module, names: Sequence[str], gpu: bool = False) -> cst.Module:
    """Add `import x` lines once, after the module's leading docstring, __future__ and import block;
    with `gpu`, `from numba import cuda` too (only then: no CUDA import in CPU-only output)."""
    missing = [f"import {n}" for n in names if _module_alias(module, n) != n]
    cuda = "from numba import cuda"
    if gpu and not any(
        cst.Module([]).code_for_node(stmt).strip() == cuda
        for stmt in module.body
        if isinstance(stmt, cst.SimpleStatementLine)
    ):
        missing.append(cuda)
    if not missing:
        return module
    body = list(module.body)
    position = 0
    for i, stmt in enumerate(body):
        if isinstance(stmt, cst.SimpleStatementLine) and all(
            isinstance(s, (cst.Import, cst.ImportFrom)) or (i == 0 and isinstance(s, cst.Expr))
            for s in stmt.body
        ):
            position = i + 1
            continue
        break
    new = [cst.parse_statement(f"{n}\n") for n in missing]
    return module.with_changes(body=[*body[:position], *new, *body[position:]])


def emit_module(module: cst.Module, path: str, emitted: Sequence[Emitted], version: str) -> str:
    """The optimized module's source; everything optc did not rewrite stays byte-identical."""
    numpy = _module_alias(module, "numpy") or "numpy"
    spliced = module.visit(_Splice({e.kernel: e for e in emitted}, numpy))
    names = ["numba"] if numpy != "numpy" else ["numba", "numpy"]
    if any(e.gpu_source for e in emitted):  # the CUDA lowering spells numpy and math in full
        names = ["math", "numba", "numpy"]
    else:  # the math helpers spell math (and numpy) in full
        needed = {line.removeprefix("import ") for e in emitted for line in strictmath.imports(e.source)}
        names = sorted({*names, *needed})
    spliced = _insert_imports(spliced, names, gpu=any(e.gpu_source for e in emitted))
    header = f"{GENERATED_HEADER} {version} from {Path(path).name}; do not edit, re-run optc instead."
    lines = list(spliced.header)
    at = 1 if lines and lines[0].comment is not None and lines[0].comment.value.startswith("#!") else 0
    lines.insert(at, cst.EmptyLine(comment=cst.Comment(header)))
    code = spliced.with_changes(header=lines).code
    return "\ufeff" + code if module.encoding == "utf-8-sig" else code  # keep a BOM the input had
