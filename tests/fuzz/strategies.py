"""Hypothesis strategies for the differential fuzzer: random kernels, as Python source, in optc's subset.

`kernels()` draws a whole function top-down: its arguments (1-3 data arrays of one rank, float64,
float32 or int64, an optional int64 index array, optional float and int scalars), how it binds
its sizes (`n, m = a.shape`, `a.shape[0]`, `len(a)`), fresh arrays (`np.zeros`, `np.zeros_like`,
`a.copy()`), views that alias a parameter (`a[::-1]`), scalar accumulators, then one or two loop
nests 1-3 deep (and sometimes a `while`), and what it returns.

Every loop walks a size symbol with one of a dozen range shapes (`range(n)`, `range(1, n - 1)`,
`range(n // 2)`, `range(0, n, 2)`, `range(n - 1, -1, -1)`, triangular `range(i)` and
`range(i + 1, n)`, constants, an int argument), and each range shape lists the subscripts that
stay inside the dimension it walks (`a[i + 1]` under `range(n - 1)`, `a[2 * i + 1]` under
`range(n // 2)`, `a[idx[i]]`, `a[n - 1 - i]`, `a[i * i % n]`), so most kernels run on most inputs.
A few subscripts are drawn from any loop on purpose: the property skips the inputs on which the
original raises. Statements mix stores and in-place updates (`=`, `+=`, `-=`, `*=`), stencils
that read the array they write at other offsets, reductions (`acc += ...`, `acc *= ...`, `max`),
private and loop-carried temporaries, `if`/`else`, `break`/`continue`/`return` inside loops,
loop variables read after their loop, math calls, powers and divisions by constants.

Choices are drawn so that shrinking removes features (a flag shrinks to off, a menu to its first,
plainest entry): a failing case shrinks to a small kernel worth keeping as a fixture.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from hypothesis import strategies as st

T = TypeVar("T")

KERNEL_NAME = "kernel"
SYMBOLS = ("n", "m", "p")  # size symbols, bound from the first array's shape
DTYPES = ("float64", "float64", "float32", "int64")
FLOAT_CONSTANTS = ("0.5", "2.0", "1.5", "3.0", "-1.0", "0.0", "0.25")
INT_CONSTANTS = ("1", "2", "3")

# Range shapes: headers (`{S}` the size walked, `{O}` the enclosing loop's variable) and the
# subscripts that stay inside [0, S) for every value the loop variable takes. "IDX" is
# `idx[v]` when the index array has this loop's size.
_IN_RANGE = ("{v}", "{v}", "{v} - 1", "{S} - 1 - {v}", "{v} // 2", "{v} * {v} % {S}", "IDX")
RANGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "full": (("range({S})", "range(0, {S})", "range(0, {S}, 1)"), _IN_RANGE),
    "hi1": (("range({S} - 1)",), ("{v}", "{v} + 1", "{v} - 1", "IDX")),
    "lo1": (("range(1, {S})",), ("{v}", "{v} - 1", "IDX")),
    "interior": (("range(1, {S} - 1)",), ("{v}", "{v} - 1", "{v} + 1", "IDX")),
    "half": (("range({S} // 2)",), ("{v}", "2 * {v}", "2 * {v} + 1", "IDX")),
    "step2": (("range(0, {S}, 2)", "range(1, {S}, 2)"), ("{v}", "{v} - 1", "{v} // 2", "IDX")),
    "rev": (("range({S} - 1, -1, -1)",), ("{v}", "{v} - 1", "IDX")),
    "rev1": (("range({S} - 1, 0, -1)",), ("{v}", "{v} - 1", "IDX")),
    "const": (("range(2)", "range(1, 3)"), ("{v}",)),
    "param": (("range(w)",), ("{v}",)),
    "tri": (("range({O})",), ("{v}", "{v} + 1", "IDX")),
    "tri_incl": (("range({O} + 1)",), ("{v}", "IDX")),
    "tri_upper": (("range({O} + 1, {S})", "range({O}, {S})"), ("{v}", "{v} - 1", "IDX")),
}
COMMON_RANGES = ("full", "full", "hi1", "lo1", "interior", "half", "step2", "rev", "rev1", "const")


@dataclass(frozen=True)
class Array:
    name: str
    dims: tuple[str, ...]  # the size symbol the generator means for each dimension
    dtype: str
    writable: bool = True


@dataclass(frozen=True)
class Loop:
    var: str
    symbol: str  # the size its range walks (a triangular loop walks its enclosing loop's)
    subscripts: tuple[str, ...]  # templates that stay in range for every value of `var`
    is_while: bool = False


@dataclass
class _Scope:
    """Names a statement may read: temporaries bound earlier in the enclosing blocks."""

    temps: list[tuple[str, str]] = field(default_factory=list)  # (name, kind "f" | "i")


class KernelBuilder:
    """One kernel's source, drawn choice by choice through hypothesis' `draw`."""

    def __init__(self, draw: Callable[[st.SearchStrategy[T]], T]) -> None:
        self._draw = draw
        self.lines: list[str] = []
        self.loops: list[Loop] = []
        self.scopes: list[_Scope] = [_Scope()]
        self.arrays: list[Array] = []
        self.imports_math = False
        self.imports_npt = False
        self.idx_symbol: str | None = None
        self.has_alpha = False
        self.has_w = False
        self.accumulators: list[tuple[str, str]] = []  # (name, kind) reductions may update
        self.carry: str | None = None  # a scalar carried from iteration to iteration
        self.results: list[str] = []  # names a return statement may give back
        self.temp_count = 0

    # ---- drawing -------------------------------------------------------------------------------------

    def pick(self, options: Sequence[T]) -> T:
        """One of `options`; shrinks towards the first."""
        return self._draw(st.sampled_from(list(options)))

    def chance(self, percent: int) -> bool:
        """True `percent`% of the time; shrinks to False, so features shrink away."""
        return self._draw(st.integers(0, 99)) >= 100 - percent

    def emit(self, text: str) -> None:
        self.lines.append("    " * (len(self.loops) + self._extra_indent) + text)

    _extra_indent = 1  # the function body; if/else blocks add one while they are open

    # ---- the whole function --------------------------------------------------------------------------

    def kernel(self) -> str:
        rank = self.pick((1, 2, 1, 2, 3))
        symbols = SYMBOLS[:rank]
        params = self._arguments(rank, symbols)
        self._bind_sizes(symbols)
        self._locals(rank, symbols)
        self._loop_nest(("i", "j", "k"), symbols)
        if self.chance(35):
            self._between_nests()
            self._loop_nest(self.pick((("i", "j", "k"), ("u", "v", "z"))), symbols)
        if self.chance(8):
            self._while_loop(symbols)
        self._return()
        header = ["import math"] if self.imports_math else []
        header.append("import numpy as np")
        if self.imports_npt:
            header.append("import numpy.typing as npt")
        signature = f"def {KERNEL_NAME}({', '.join(params)}):"
        return "\n".join([*header, "", "", signature, *self.lines]) + "\n"

    def _arguments(self, rank: int, symbols: tuple[str, ...]) -> list[str]:
        params: list[str] = []
        first_dtype = self.pick(DTYPES)
        for position, name in enumerate(("a", "b", "c")[: self.pick((1, 2, 3))]):
            if position == 0:
                dims, dtype = symbols, first_dtype
            else:
                shapes: list[tuple[str, ...]] = [symbols, symbols, symbols, *((s,) for s in symbols)]
                if rank >= 2:
                    shapes.append(tuple(reversed(symbols)))
                dims = self.pick(shapes)
                dtype = self.pick((first_dtype, first_dtype, *DTYPES))  # equal dtypes: aliasing cases
            self.arrays.append(Array(name, dims, dtype))
            params.append(f"{name}: {self._annotation(dtype)}")
        if self.chance(25):
            self.idx_symbol = self.pick(symbols)
            self.imports_npt = True
            params.append("idx: npt.NDArray[np.int64]")
        if self.chance(30):
            self.has_alpha = True
            params.append("alpha: float")
        if self.chance(15):
            self.has_w = True
            params.append("w: int")
        return params

    def _annotation(self, dtype: str) -> str:
        if dtype == "float64" and not self.chance(40):
            return "np.ndarray"  # dtype left to inference (float64 unless used as an index)
        self.imports_npt = True
        return f"npt.NDArray[np.{dtype}]"

    def _bind_sizes(self, symbols: tuple[str, ...]) -> None:
        a = self.arrays[0].name
        if len(symbols) == 1:
            form = self.pick(("{S} = {a}.shape[0]", "{S} = len({a})", "({S},) = {a}.shape"))
            self.emit(form.format(S=symbols[0], a=a))
        elif self.chance(30):
            for d, s in enumerate(symbols):
                self.emit(f"{s} = {a}.shape[{d}]")
        else:
            self.emit(f"{', '.join(symbols)} = {a}.shape")

    def _locals(self, rank: int, symbols: tuple[str, ...]) -> None:
        a = self.arrays[0]
        for name in ("out", "tmp")[: self.pick((0, 1, 1, 2))]:
            shape = symbols[0] if rank == 1 else f"({', '.join(symbols)})"
            choice = self.pick(("zeros", "zeros_like", "copy", "ones_vector", "int_zeros"))
            if choice == "zeros":
                self.emit(f"{name} = np.zeros({shape})")
                self.arrays.append(Array(name, symbols, "float64"))
            elif choice == "zeros_like":
                self.emit(f"{name} = np.zeros_like({a.name})")
                self.arrays.append(Array(name, a.dims, a.dtype))
            elif choice == "copy":
                self.emit(f"{name} = {a.name}.copy()")
                self.arrays.append(Array(name, a.dims, a.dtype))
            elif choice == "ones_vector":
                s = self.pick(symbols)
                self.emit(f"{name} = np.ones({s})")
                self.arrays.append(Array(name, (s,), "float64"))
            else:
                self.emit(f"{name} = np.zeros({shape}, dtype=np.int64)")
                self.arrays.append(Array(name, symbols, "int64"))
            self.results.append(name)
        if self.chance(10):  # a local that is the parameter, or a view of it: it aliases `a`
            self.emit(self.pick(("view = {a}", "view = {a}[::-1]")).format(a=a.name))
            self.arrays.append(Array("view", a.dims, a.dtype))
        if self.chance(55):
            kind = "i" if a.dtype == "int64" and not self.chance(30) else "f"
            init = self.pick(("0", "1") if kind == "i" else ("0.0", "1.0"))
            self.emit(f"acc = {init}")
            self.accumulators.append(("acc", kind))
            self.results.append("acc")
        if self.chance(15):
            self.emit("carry = 0.0")
            self.carry = "carry"
            self.results.append("carry")

    def _between_nests(self) -> None:
        if self.accumulators and self.chance(30):
            self.emit("acc = acc * 2")

    def _return(self) -> None:
        choice = self.pick(("value", "none", "tuple", "param"))
        if choice == "none" or (not self.results and choice != "param"):
            if self.chance(50):
                self.emit("return")
            return
        if choice == "param":
            self.emit(f"return {self.arrays[0].name}")
        elif choice == "tuple" and len(set(self.results)) >= 2:
            first = self.pick(self.results)
            second = self.pick([r for r in dict.fromkeys(self.results) if r != first])
            self.emit(f"return {first}, {second}")
        else:
            self.emit(f"return {self.pick(self.results)}")

    # ---- loops ---------------------------------------------------------------------------------------

    def _loop_nest(self, names: tuple[str, ...], symbols: tuple[str, ...]) -> None:
        depth = self.pick(tuple(range(1, min(3, len(symbols) + 1) + 1)))
        self._loop(0, depth, names, symbols)
        if self.chance(20):  # a loop variable read after its loop (unbound if the loop ran zero times)
            name = self.pick(names[:depth])
            self.emit(f"last = {name}")
            self.results.append("last")

    def _loop(self, level: int, depth: int, names: tuple[str, ...], symbols: tuple[str, ...]) -> None:
        natural = symbols[level % len(symbols)]
        symbol = self.pick((natural, *(s for s in symbols if s != natural)))
        shapes = list(COMMON_RANGES)
        if self.has_w:
            shapes.append("param")
        enclosing = [lp for lp in self.loops if not lp.is_while]
        if enclosing:
            shapes += ["tri", "tri", "tri_incl", "tri_upper", "tri_upper"]
        shape = self.pick(shapes)
        headers, subscripts = RANGES[shape]
        outer = self.pick(enclosing) if shape.startswith("tri") else None
        if outer is not None:
            symbol = outer.symbol
        header = self.pick(headers).format(S=symbol, O=outer.var if outer else "")
        if shape == "full" and symbol == SYMBOLS[0] and self.chance(15):
            header = self.pick(("range(len({a}))", "range({a}.shape[0])")).format(a=self.arrays[0].name)
        var = names[level]
        self.emit(f"for {var} in {header}:")
        self.loops.append(Loop(var, symbol, subscripts))
        self.scopes.append(_Scope())
        if level + 1 < depth:
            inner_acc = None
            if self.chance(20):  # a row accumulator: reset here, summed into below, stored after
                inner_acc = f"r{level}"
                self.emit(f"{inner_acc} = 0.0")
                self.accumulators.append((inner_acc, "f"))
            elif self.chance(25):
                self._statements(self.pick((1, 2)))
            self._loop(level + 1, depth, names, symbols)
            if inner_acc is not None:
                self.accumulators.remove((inner_acc, "f"))
                self._store(value=inner_acc)
            elif self.chance(15):
                self._statements(1)
        else:
            self._statements(self.pick((1, 2, 3)))
        self.scopes.pop()
        self.loops.pop()

    def _while_loop(self, symbols: tuple[str, ...]) -> None:
        symbol = self.pick(symbols)
        self.emit("q = 0")
        self.emit(f"while q < {symbol}:")
        self.loops.append(Loop("q", symbol, ("{v}",), is_while=True))
        self.scopes.append(_Scope())
        self._statements(self.pick((1, 2)), in_while=True)
        self.emit("q += 1")
        self.scopes.pop()
        self.loops.pop()

    # ---- statements ----------------------------------------------------------------------------------

    def _statements(self, count: int, in_while: bool = False) -> None:
        for _ in range(count):
            self._statement(in_while)

    def _statement(self, in_while: bool) -> None:
        kinds = ["store", "store", "stencil", "temp"]
        if self.accumulators:
            kinds += ["reduce", "reduce"]
        if self.carry:
            kinds.append("carry")
        kinds += ["if", "exit"]
        kind = self.pick(kinds)
        if kind == "store":
            self._store()
        elif kind == "stencil":
            self._stencil()
        elif kind == "temp":
            name = f"t{self.temp_count}" if self.temp_count else "t"
            self.temp_count += 1
            text, expr_kind = self.expr(2)
            self.emit(f"{name} = {text}")
            self.scopes[-1].temps.append((name, expr_kind))
            self._store(value=name)
        elif kind == "reduce":
            self._reduce()
        elif kind == "carry":
            self.emit(f"{self.carry} = {self.carry} * 0.5 + {self.expr(1)[0]}")
        elif kind == "if":
            self._if(in_while)
        else:
            self._exit(in_while)

    def _writable(self) -> list[Array]:
        return [arr for arr in self.arrays if arr.writable]

    def _store(self, value: str | None = None) -> None:
        target = self.pick(self._writable())
        op = self.pick(("=", "+=", "-=", "*=", "=", "+="))
        text = value if value is not None else self.expr(self.pick((1, 2, 0)))[0]
        self.emit(f"{self.load(target)} {op} {text}")

    def _stencil(self) -> None:
        target = self.pick(self._writable())
        reads = [self.load(target) for _ in range(self.pick((1, 2)))]
        extra = f" + {self.expr(1)[0]}" if self.chance(40) else ""
        scale = self.pick(("0.5", "2.0", "1"))
        self.emit(f"{self.load(target)} = ({' + '.join(reads)}{extra}) * {scale}")

    def _reduce(self) -> None:
        name, kind = self.pick(self.accumulators)
        value = self.expr(self.pick((1, 2, 0)), integer=kind == "i")[0]
        form = self.pick(("+=", "*=", "-=", "plain", "max", "if-max", "count"))
        if form == "plain":
            self.emit(f"{name} = {name} + {value}")
        elif form == "max":
            self.emit(f"{name} = max({name}, {value})")
        elif form == "if-max":
            self.emit(f"if {value} > {name}:")
            self._nested(lambda: self.emit(f"{name} = {value}"))
        elif form == "count":
            self.emit(f"if {value} > 0.5:")
            self._nested(lambda: self.emit(f"{name} += 1"))
        else:
            self.emit(f"{name} {form} {value}")

    def _if(self, in_while: bool) -> None:
        self.emit(f"if {self.condition()}:")
        self._nested(lambda: self._statements(self.pick((1, 2)), in_while))
        if self.chance(50):
            self.emit("else:")
            self._nested(lambda: self._statements(1, in_while))

    def _exit(self, in_while: bool) -> None:
        exits = ["break", "return"] + ([] if in_while else ["continue"])
        what = self.pick(exits)
        self.emit(f"if {self.condition()}:")
        if what == "return":
            value = f" {self.pick(self.results)}" if self.results and self.chance(70) else ""
            self._nested(lambda: self.emit(f"return{value}"))
        else:
            self._nested(lambda: self.emit(what))

    def _nested(self, body: Callable[[], None]) -> None:
        self._extra_indent += 1
        self.scopes.append(_Scope())
        try:
            body()
        finally:
            self.scopes.pop()
            self._extra_indent -= 1

    # ---- expressions ---------------------------------------------------------------------------------

    def condition(self) -> str:
        form = self.pick(("gt", "lt", "parity", "ge0", "not"))
        if form == "gt":
            return f"{self.expr(1)[0]} > 0.5"
        if form == "lt":
            return f"{self.expr(0)[0]} < {self.expr(1)[0]}"
        if form == "parity" and self.loops:
            return f"{self.pick(self.loops).var} % 2 == 0"
        if form == "not":
            return f"not {self.expr(0)[0]} > 0.0"
        return f"{self.expr(1)[0]} >= 0.0"

    def expr(self, depth: int, integer: bool = False) -> tuple[str, str]:
        """Source text of a scalar expression and its kind, "f" (float) or "i" (int); `integer`:
        int operands and operators only (an int accumulator stays a Python int)."""
        if integer:
            return self._int_expr(depth)
        if depth <= 0 or not self.chance(60):
            return self._leaf()
        form = self.pick(
            ("add", "mul", "sub", "div", "pow", "sqrt", "abs", "neg", "minmax", "algebra", "ifexp", "intop")
        )
        a, ka = self.expr(depth - 1)
        if form in ("add", "mul", "sub"):
            b, kb = self.expr(depth - 1)
            symbol = {"add": "+", "mul": "*", "sub": "-"}[form]
            return f"({a} {symbol} {b})", "f" if "f" in (ka, kb) else "i"
        if form == "div":
            return f"({a} / {self.pick(('2.0', '4.0', '3.0', '2', '0.5', '8'))})", "f"
        if form == "pow":
            exponent = self.pick(("2", "2", "2.0", "3"))
            return f"({a} ** {exponent})", "f" if "." in exponent else ka
        if form == "sqrt":
            self.imports_math = True
            return f"math.sqrt(abs({a}))", "f"
        if form == "abs":
            return f"abs({a})", ka
        if form == "neg":
            return f"(-{a})", ka
        if form == "minmax":
            b, kb = self.expr(depth - 1)
            return f"{self.pick(('min', 'max'))}({a}, {b})", "f" if "f" in (ka, kb) else "i"
        if form == "algebra":  # shapes the algebra rules rewrite (or must refuse to)
            text = self.pick(("({a} * 1.0)", "(1.0 * {a})", "({a} - 0.0)", "(-(-{a}))", "({a} + 0.0)"))
            return text.format(a=a), "f" if "." in text else ka
        if form == "ifexp":
            b, kb = self.expr(depth - 1)
            return f"({a} if {self.condition()} else {b})", "f" if "f" in (ka, kb) else "i"
        op = self.pick(("//", "%"))
        return f"({a} {op} {self.pick(('2', '3'))})", ka

    def _int_expr(self, depth: int) -> tuple[str, str]:
        if depth <= 0 or not self.chance(60):
            options = [self.pick(INT_CONSTANTS)]
            options += [self.load(a) for a in self.arrays if a.dtype == "int64"]
            options += [lp.var for lp in self.loops]
            options += ["w"] if self.has_w else []
            options += [name for name, kind in self.accumulators if kind == "i"]
            options += [t for scope in self.scopes for t, kind in scope.temps if kind == "i"]
            return self.pick(options), "i"
        form = self.pick(("add", "mul", "sub", "abs", "neg", "minmax", "intop", "square"))
        a = self._int_expr(depth - 1)[0]
        if form in ("add", "mul", "sub", "minmax"):
            b = self._int_expr(depth - 1)[0]
            if form == "minmax":
                return f"{self.pick(('min', 'max'))}({a}, {b})", "i"
            return f"({a} {dict(add='+', mul='*', sub='-')[form]} {b})", "i"
        if form == "abs":
            return f"abs({a})", "i"
        if form == "neg":
            return f"(-{a})", "i"
        if form == "square":
            return f"({a} ** 2)", "i"
        return f"({a} {self.pick(('//', '%'))} {self.pick(('2', '3'))})", "i"

    def _leaf(self) -> tuple[str, str]:
        options = ["load", "load", "load", "float", "int"]
        if self.has_alpha:
            options.append("alpha")
        if self.has_w:
            options.append("w")
        temps = [t for scope in self.scopes for t in scope.temps]
        if temps:
            options += ["temp", "temp"]
        if self.loops:
            options.append("loopvar")
        if self.idx_symbol and any(lp.symbol == self.idx_symbol for lp in self.loops):
            options.append("idx")
        if self.accumulators:
            options.append("acc")
        choice = self.pick(options)
        if choice == "load":
            array = self.pick(self.arrays)
            return self.load(array), "i" if array.dtype == "int64" else "f"
        if choice == "float":
            return self.pick(FLOAT_CONSTANTS), "f"
        if choice == "int":
            return self.pick(INT_CONSTANTS), "i"
        if choice == "alpha":
            return "alpha", "f"
        if choice == "w":
            return "w", "i"
        if choice == "temp":
            return self.pick(temps)
        if choice == "loopvar":
            return self.pick(self.loops).var, "i"
        if choice == "idx":
            loop = self.pick([lp for lp in self.loops if lp.symbol == self.idx_symbol])
            return f"idx[{loop.var}]", "i"
        name, kind = self.pick(self.accumulators)
        return name, kind

    def load(self, array: Array) -> str:
        """`array[...]`, each subscript in range for the loop it uses (mostly)."""
        parts = [self._subscript(symbol) for symbol in array.dims]
        return f"{array.name}[{', '.join(parts)}]"

    def _subscript(self, symbol: str) -> str:
        matching = [lp for lp in self.loops if lp.symbol == symbol]
        if matching and not self.chance(6):
            loop = self.pick(matching[::-1])  # the innermost first
            template = self.pick(loop.subscripts)
            if template == "IDX":
                if self.idx_symbol != symbol:
                    template = "{v}"
                else:
                    template = "idx[{v}]"
            return template.format(v=loop.var, S=symbol)
        fallbacks = ["0", f"{symbol} - 1"] + [lp.var for lp in self.loops]
        return self.pick(fallbacks)


@st.composite
def kernels(draw: st.DrawFn) -> str:
    """The source of a module defining one random kernel named `kernel`."""
    return KernelBuilder(draw).kernel()


# ---- nests shaped like BLAS calls ------------------------------------------------------------------

# Loop headers for a loop over `{S}` (the extent the pattern needs), most of them whole extents
# (what the idiom rules rewrite), the rest near misses they must refuse: a part of the extent,
# triangular bounds, an int argument that need not equal the extent.
BLAS_RANGES = (
    "range({S})",
    "range({S})",
    "range({D})",
    "range(0, {S})",
    "range(0, {S}, 1)",
    "range(1, {S})",
    "range({S} - 1)",
    "range(0, {S}, 2)",
    "range({S} - 1, -1, -1)",
    "range({O})",
    "range(w)",
)
# One statement per form: (target subscripts, first operand, second operand), each loop variable
# named by its role. Operands are (array, subscripts).
BLAS_FORMS: dict[str, tuple[tuple[str, ...], tuple[str, tuple[str, ...]], tuple[str, tuple[str, ...]]]] = {
    "matmul": (("i", "j"), ("A", ("i", "k")), ("B", ("k", "j"))),
    "matmul_nt": (("i", "j"), ("A", ("i", "k")), ("B", ("j", "k"))),
    "matmul_tn": (("i", "j"), ("A", ("k", "i")), ("B", ("k", "j"))),
    "matvec": (("i",), ("A", ("i", "k")), ("B", ("k",))),
    "matvec_t": (("k",), ("A", ("i", "k")), ("B", ("i",))),
    "dot": ((), ("A", ("k",)), ("B", ("k",))),
}


@st.composite
def blas_kernels(draw: st.DrawFn) -> str:
    """A nest of one multiply-accumulate shaped like gemm, gemv or dot, in any loop order, over
    whole extents or near misses of them; int, float32 and mixed dtypes; a target that is fresh,
    an argument (aliasing an operand when their dtypes and ranks agree), a view, or an operand."""

    def pick(options: Sequence[T]) -> T:
        return draw(st.sampled_from(list(options)))

    def chance(percent: int) -> bool:
        return draw(st.integers(0, 99)) >= 100 - percent

    form = pick(("matmul", "matvec", "dot", "matmul", "matvec", *BLAS_FORMS))
    target_subs, (_, a_subs), (_, b_subs) = BLAS_FORMS[form]
    roles = [v for v in ("i", "j", "k") if v in (*target_subs, *a_subs, *b_subs)]
    # Extents: A is (n, m) for "i k", (m, n) for "k i"; B's dims follow; p is B's other dimension.
    extent = {"i": "n", "k": "m", "j": "p"}
    if form in ("matvec", "matvec_t", "dot") or len(a_subs) == 1:
        extent = {"i": "n", "k": "m"} if form != "dot" else {"k": "n"}
    dtype = pick(("float64", "float64", "float32", "int64"))
    b_dtype = dtype if not chance(15) else pick(("float64", "float32", "int64"))
    sym_of = {v: extent[v] for v in roles}
    a_shape = tuple(sym_of[v] for v in a_subs)
    b_shape = tuple(sym_of[v] for v in b_subs)
    t_shape = tuple(sym_of[v] for v in target_subs)

    def annotation(dt: str) -> str:
        return "np.ndarray" if dt == "float64" and chance(30) else f"npt.NDArray[np.{dt}]"

    params = [f"A: {annotation(dtype)}", f"B: {annotation(b_dtype)}"]
    target = pick(("fresh", "fresh", "param", "view", "operand")) if target_subs else "scalar"
    if target == "param":
        params.append(f"C: {annotation(pick((dtype, dtype, 'float64')))}")
    has_w = chance(10)
    if has_w:
        params.append("w: int")

    body: list[str] = []
    # Size bindings: from A, then B's dimensions A lacks (or the target's, when it is an argument).
    bound: dict[str, str] = {}
    if len(a_shape) == 2 and not chance(20):
        body.append(f"{a_shape[0]}, {a_shape[1]} = A.shape")
    else:
        for d, s in enumerate(a_shape):
            body.append(pick((f"{s} = A.shape[{d}]", f"{s} = len(A)" if d == 0 else f"{s} = A.shape[{d}]")))
    bound.update({s: f"A.shape[{d}]" for d, s in enumerate(a_shape)})
    for d, s in enumerate(b_shape):
        if s not in bound:
            source = "C" if target == "param" and s in t_shape and chance(30) else "B"
            dim = t_shape.index(s) if source == "C" else d
            body.append(f"{s} = {source}.shape[{dim}]")
            bound[s] = f"{source}.shape[{dim}]"
    shape_text = f"({', '.join(t_shape)})" if len(t_shape) > 1 else (t_shape[0] if t_shape else "")
    if target == "fresh":
        alloc = pick(("np.zeros({s})", "np.zeros({s})", "np.zeros({s}, dtype=np.float32)", "np.ones({s})"))
        if len(t_shape) == len(a_shape) and chance(15):
            alloc = "np.zeros_like(A)"
        body.append(f"C = {alloc.format(s=shape_text)}")
    elif target == "view":
        body.append(f"C = np.zeros({shape_text})")
        body.append(pick(("D = C", "D = C[::-1]", "D = C[:]")))
    elif target == "operand":
        body.append(f"C = {pick(('A', 'B'))}")
    elif target == "scalar":
        body.append(pick(("C = 0.0", "C = 0.0", "C = 0", "C = 1.0")))
    name = "D" if target == "view" else "C"

    order = list(roles)
    if len(order) > 1:
        order = pick([list(p) for p in _permutations(order)])
    lines = []
    outer: list[str] = []
    for v in order:
        header = pick(BLAS_RANGES[5:]) if chance(15) else pick(BLAS_RANGES[:5])
        if "{O}" in header and not outer:
            header = "range({S})"
        if "w" in header and not has_w:
            header = "range({S})"
        sym = sym_of[v]
        text = header.format(S=sym, D=bound.get(sym, sym), O=pick(outer) if outer else "")
        lines.append(f"for {v} in {text}:")
        outer.append(v)

    def ref(array: str, subs: tuple[str, ...]) -> str:
        return f"{array}[{', '.join(subs)}]" if subs else array

    first, second = ref("A", a_subs), ref("B", b_subs)
    if form == "matmul" and chance(8):
        first = ref(name, ("i", "k"))  # the target read as an operand: the nest sees its own updates
    product = f"{first} * {second}" if not chance(25) else f"{second} * {first}"
    lhs = ref(name, target_subs)
    statement = pick(
        (f"{lhs} += {product}", f"{lhs} += {product}", f"{lhs} = {lhs} + {product}", f"{lhs} -= {product}")
    )
    if chance(8):
        statement = f"{lhs} += {product} * 2.0"
    depth = len(lines)
    for level, line in enumerate(lines):
        body.append("    " * level + line)
    body.append("    " * depth + statement)
    if chance(8):
        body.append("    " * depth + f"{ref('A', a_subs)} = {ref('A', a_subs)} * 1.0")
    if chance(10):
        body.append(f"last = {order[-1]}")
    if target in ("scalar", "fresh", "view") or chance(50):
        body.append(f"return {'C'}")
    header = ["import numpy as np", "import numpy.typing as npt"]
    signature = f"def {KERNEL_NAME}({', '.join(params)}):"
    return "\n".join([*header, "", "", signature, *("    " + line for line in body)]) + "\n"


def _permutations(items: Sequence[str]) -> list[tuple[str, ...]]:
    """Every order of `items`, the given order first (what shrinking goes back to)."""
    if len(items) <= 1:
        return [tuple(items)]
    out = []
    for i, first in enumerate(items):
        out += [(first, *rest) for rest in _permutations([*items[:i], *items[i + 1 :]])]
    return out


# ---- adjacent loops and 3-deep nests ------------------------------------------------------------------

# `kernels()` rarely draws two loops over one range side by side (fusion) or a 3-deep nest whose
# middle loop may be unrolled and jammed. These draw exactly those shapes, with the dependences
# that forbid the rewrites (a later iteration's element read, a different range, a scalar carried
# from one loop to the next, a recurrence across the unrolled loop) as often as those that allow them.

ADJACENT_HEADERS = ("range({S})", "range(1, {S} - 1)", "range({S} - 1)", "range({S} - 2, 0, -1)")
_ADJACENT_OFFSETS = ("{v}", "{v}", "{v} + 1", "{v} - 1")


@st.composite
def adjacent_loop_kernels(draw: st.DrawFn) -> str:
    """Two or three top-level loops (1-D, or rows of 2-D arrays with an inner loop), mostly over
    one range, reading and writing float64 arrays at offsets -1, 0, +1 of the loop variable."""

    def pick(options: Sequence[T]) -> T:
        return draw(st.sampled_from(list(options)))

    def chance(percent: int) -> bool:
        return draw(st.integers(0, 99)) >= 100 - percent

    rank = pick((1, 1, 2))
    header = pick(ADJACENT_HEADERS)
    body = ["n = a.shape[0]"] + (["m = a.shape[1]"] if rank == 2 else [])
    body.append("t = np.zeros_like(a)" if chance(50) else "t = a.copy()")
    carried = chance(15)
    if carried:
        body.append("s = 0.0")
    arrays = ("a", "b", "t")

    def element(v: str) -> str:
        index = pick(_ADJACENT_OFFSETS).format(v=v)
        return f"[{index}, j]" if rank == 2 else f"[{index}]"

    for count in range(pick((2, 2, 3))):
        loop_header = header if count == 0 or not chance(15) else pick(ADJACENT_HEADERS)
        body.append(f"for i in {loop_header.format(S='n')}:")
        indent = "    "
        if rank == 2:
            body.append(f"    for j in {pick(('range(m)', 'range(m)', 'range(1, m)'))}:")
            indent = "        "
        for _ in range(pick((1, 2))):
            target = pick(arrays)
            loads = " + ".join(f"{pick(arrays)}{element('i')}" for _ in range(pick((1, 2))))
            op = pick(("=", "=", "+=", "*="))
            body.append(f"{indent}{target}{element('i')} {op} {loads} * {pick(FLOAT_CONSTANTS[:4])}")
        if carried and count == 0:
            body.append(f"{indent}s = s + t{element('i')}")
        elif carried and count == 1:
            body.append(f"{indent}b{element('i')} += s")
    if chance(10):
        body.append("last = i")
    body.append(pick(("return t", "return b", "return t, s" if carried else "return a")))
    header_lines = ["import numpy as np", "", ""]
    signature = f"def {KERNEL_NAME}(a: np.ndarray, b: np.ndarray):"
    return "\n".join([*header_lines, signature, *("    " + line for line in body)]) + "\n"


_NEST3_STATEMENTS = (
    "C[i, j] += A[i, k] * B[k, j]",
    "C[i, j] += A[i, k] * B[j, k]",
    "C[i, j] = C[i, j] + A[k, i] * B[k, j] * 0.5",
    "C[i, j] += A[i, k] * B[k, j] * 2.0",
    "C[i, k] += A[i, j] * B[j, k]",
    "C[i, j] = C[i - 1, j] + A[i, k]",
    "C[i, j] = C[i, j - 1] * 0.5 + A[k, j]",
    "C[i, j] += C[i - 1, j + 1] * B[k, j]",
    "C[j, i] += A[i, k] * B[k, j]",
    "s = s + A[i, k] * B[k, j]",
)


@st.composite
def nest3_kernels(draw: st.DrawFn) -> str:
    """A 3-deep nest over square float64 matrices in any loop order, one or two statements of the
    gemm family or a recurrence; ranges whole or shortened by one at either end."""

    def pick(options: Sequence[T]) -> T:
        return draw(st.sampled_from(list(options)))

    order = pick(_permutations(["i", "j", "k"]))
    stmts = [pick(_NEST3_STATEMENTS) for _ in range(pick((1, 1, 2)))]
    body = ["n = A.shape[0]", "s = 0.0"]
    for depth, v in enumerate(order):
        header = pick(("range(n)", "range(n)", "range(1, n - 1)", "range(n - 1)"))
        body.append("    " * depth + f"for {v} in {header}:")
    body += ["    " * 3 + s for s in stmts]
    body.append(pick(("return C", "return s", "return C, s")))
    signature = f"def {KERNEL_NAME}(A: np.ndarray, B: np.ndarray, C: np.ndarray):"
    return "\n".join(["import numpy as np", "", "", signature, *("    " + line for line in body)]) + "\n"


# ---- whole contractions inside other nests (idioms.gram) -------------------------------------------

# Ranges of the two outer loops ({S} their size, {O} the outer loop's variable) and of the inner
# contraction ({K} its size): mostly what the rule takes, the rest near misses of it.
GRAM_OUTER = (
    "range({S})",
    "range({S})",
    "range({O} + 1)",
    "range({O}, {S})",
    "range({O} + 1, {S})",
    "range({O})",
)
GRAM_OUTER_MISSES = ("range({S} - 1)", "range(1, {S})", "range(w)")
GRAM_INNER = ("range({K})", "range({K})", "range(0, {K})", "range(0, {K}, 1)")
GRAM_INNER_MISSES = ("range(1, {K})", "range({K} - 1)", "range(0, {K}, 2)", "range({O})", "range(w)")


@st.composite
def gram_kernels(draw: st.DrawFn) -> str:
    """An i-j nest around `s = init; for p in range(k): s += X[i, p] * Y[j, p]` and stores of s,
    shaped like syrk, a covariance or a correlation: one operand array or two, each contracted over
    its rows or its columns; full and triangular outer ranges; statements before and after the
    inner loop; and near misses: partial inner ranges, a term that is not a product, a diagonal,
    the nest writing an operand, the inner variable read after its loop, int arrays,
    a dot under an `if`."""

    def pick(options: Sequence[T]) -> T:
        return draw(st.sampled_from(list(options)))

    def chance(percent: int) -> bool:
        return draw(st.integers(0, 99)) >= 100 - percent

    # no float32: a float32 sum stored into a float64 G errs at float32's precision in any other
    # order (parallel.prange-reduction's too), beyond the float64 tolerance; tests/passes covers
    # that idioms.gram refuses float32
    dtype = "float64" if not chance(10) else "int64"
    annotation = "np.ndarray" if dtype == "float64" and chance(50) else f"npt.NDArray[np.{dtype}]"
    two = chance(40)
    x_rows = chance(50)  # X[p, i] (a covariance's columns) or X[i, p] (syrk's rows)
    y_rows = x_rows if not two or chance(60) else not x_rows
    params = [f"X: {annotation}"] + ([f"Y: {annotation}"] if two else [])
    has_w = chance(8)
    if has_w:
        params.append("w: int")
    body = ["k, n = X.shape" if x_rows else "n, k = X.shape"]
    m = "n"
    if two:
        body.append(f"m = Y.shape[{1 if y_rows else 0}]")
        m = "m"  # Y's summed extent is never declared: it is read through a guarded slice
    y = "Y" if two else "X"
    body.append(f"G = np.zeros((n, {m}))")

    def header(v: str, size: str, outer: str) -> str:
        misses = GRAM_OUTER_MISSES if v != "p" else GRAM_INNER_MISSES
        text = pick(misses) if chance(10) else pick(GRAM_OUTER if v != "p" else GRAM_INNER)
        if ("{O}" in text and not outer) or ("w" in text and not has_w):
            text = "range({S})" if v != "p" else "range({K})"
        return text.format(S=size, K=size, O=outer)

    def element(array: str, rows: bool, free: str) -> str:
        return f"{array}[p, {free}]" if rows else f"{array}[{free}, p]"

    a, b = ("i", "j") if not chance(15) else ("j", "i")
    if chance(6):
        b = a  # a diagonal
    left, right = element("X", x_rows, a), element(y, y_rows, b)
    product = f"{left} * {right}" if not chance(25) else f"{right} * {left}"
    statement = pick(
        (
            f"s += {product}",
            f"s += {product}",
            f"s = s + {product}",
            f"s -= {product}",
            f"s += 2.0 * {product}",
        )
    )
    if chance(6):
        statement = f"s += {product} + 1.0"
    init = pick(("s = 0.0", "s = 0.0", "s = 1.5", "s = G[i, j]", "s = 0"))
    # `G[i, 0] += s`: no other read of the original bounds j, only the dot's own, none when k = 0
    store = pick(("G[i, j] = s", "G[i, j] = s", "G[i, j] = s / 2.0", "G[i, j] = max(s, 0.0)", "G[i, 0] += s"))
    body.append(f"for i in {header('i', 'n', '')}:")
    if chance(25):
        body.append(
            f"    G[i, {pick(('i', '0'))}] = 1.0"
        )  # before the inner nest, as a correlation's diagonal
    body.append(f"    for j in {header('j', m, 'i')}:")
    pad = "        "
    if chance(15):  # a conditional dot: its reads are not covered by the dispatcher's guard
        body.append(f"{pad}if {pick(('i != j', 'G[i, 0] >= 0.0'))}:")
        pad += "    "
    body.append(f"{pad}{init}")
    body.append(f"{pad}for p in {header('p', 'k', 'j')}:")
    body.append(f"{pad}    {statement}")
    body.append(f"{pad}{store}")
    if not two and chance(20):
        body.append("        G[j, i] = G[i, j]")
    if chance(6):
        body.append("        X[i, 0] = X[i, 0] * 0.5" if not x_rows else "        X[0, i] = X[0, i] * 0.5")
    if chance(6):
        body.append("        G[i, j] += p")
    body.append("return G")
    header_lines = ["import numpy as np", "import numpy.typing as npt"]
    signature = f"def {KERNEL_NAME}({', '.join(params)}):"
    return "\n".join([*header_lines, "", "", signature, *("    " + line for line in body)]) + "\n"
