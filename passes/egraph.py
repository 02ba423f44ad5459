"""The e-graph core: union-find, hashcons, rebuild, analyses, patterns, rewrites, runner, extractor.

Modelled on egg (Willsey et al., "egg: Fast and Extensible Equality Saturation", POPL 2021): a
hashconsed set of e-nodes over a union-find of e-class ids, with deferred congruence closure
("rebuilding") so a whole batch of rewrites is applied before invariants are restored. The
sections below follow egg's seams (unionfind, egraph, pattern, rewrite, run, extract, explain) so
the module can be split along them when it grows.

Determinism: every result depends only on the sequence of calls, never on PYTHONHASHSEED. Nothing
iterates a set or a hash order; classes are visited by sorted id, nodes of a class by age (the
node that was added first comes first), ties in extraction are broken by age or by text.
"""

from __future__ import annotations

import heapq
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from optcompiler.ir import ALL_OPS, Term, to_sexpr, value_key

logger = logging.getLogger(__name__)

Id = int


# ---- e-nodes -------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, slots=True)
class ENode:
    """An operator over e-class ids. Equal when op, `value_key(value)` and children are equal,
    so the consts 2, 2.0, True, 0.0, -0.0 stay apart and nan hashconses with itself."""

    op: str
    value: object = None
    children: tuple[Id, ...] = ()
    _key: tuple[str, object, tuple[Id, ...]] = field(init=False, repr=False)
    _hash: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        key = (self.op, value_key(self.value), self.children)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_hash", hash(key))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, ENode) or self._hash != other._hash:
            return False
        return self._key == other._key

    def with_children(self, children: tuple[Id, ...]) -> ENode:
        """The same operator over other classes (reuses the value key: canonicalization is hot)."""
        node = object.__new__(ENode)
        key = (self.op, self._key[1], children)
        object.__setattr__(node, "op", self.op)
        object.__setattr__(node, "value", self.value)
        object.__setattr__(node, "children", children)
        object.__setattr__(node, "_key", key)
        object.__setattr__(node, "_hash", hash(key))
        return node


class Analysis(Protocol):
    """Facts per e-class (egg's `Analysis`): `make` for a new node, `merge` when classes join,
    `modify` to act on the facts (e.g. add the folded constant and union it in)."""

    def make(self, egraph: EGraph, node: ENode) -> object: ...

    def merge(self, a: object, b: object) -> object: ...

    def modify(self, egraph: EGraph, id: Id) -> None: ...


def _same_data(a: object, b: object) -> bool:
    """Did `merge` change anything? Compared by value key so nan, 2 vs 2.0 and -0.0 behave."""
    if a is b:
        return True
    try:
        return bool(value_key(a) == value_key(b))
    except (TypeError, ValueError):  # e.g. arrays: treat as changed, `merge` should return its input
        return False


# ---- union-find ----------------------------------------------------------------------------------
#
# Kept inline in EGraph (`_uf`, `find`): `find` is the hottest function of the core and a method
# call per level would double its cost. Every added node gets its own id; a class id is the id of
# the node that created its root class, so ids also order nodes by age.


class _EClass:
    """The mutable state of one e-class; only EGraph touches it."""

    __slots__ = ("data", "nodes", "parents")

    def __init__(self, nodes: list[ENode], data: object) -> None:
        self.nodes = nodes  # canonical after rebuild, ordered by age
        self.parents: list[Id] = []  # ids of nodes that have this class as a child
        self.data = data


# ---- e-graph ---------------------------------------------------------------------------------------


class EGraph:
    """A hashconsed e-graph with egg's deferred rebuilding.

    `add` and `union` leave congruence to `rebuild`; the queries that need a congruent graph
    (`nodes`, `class_ids`, search, extraction) rebuild first if anything is pending.
    """

    def __init__(self, analysis: Analysis | None = None) -> None:
        self.analysis = analysis
        self.version = 0  # bumps on every change: new node, union, changed analysis data
        self._uf: list[Id] = []
        self._enodes: list[ENode] = []  # node as first added, by node id
        self._origin: list[str | None] = []  # rule that added the node, by node id
        self._memo: dict[ENode, Id] = {}  # canonical node -> oldest node id with that form
        self._classes: dict[Id, _EClass] = {}
        self._pending: list[Id] = []  # node ids whose children changed class
        self._analysis_pending: list[Id] = []
        self._analysis_queued: set[Id] = set()
        self._dirty: set[Id] = set()  # classes whose node lists need canonicalizing
        self._node_count = 0
        self._rebuilding = False
        self._active_origin: str | None = None  # credited to nodes an Applier adds itself
        self._analysis_origin = f"analysis:{type(analysis).__name__}" if analysis is not None else None
        self._unions: list[tuple[Id, Id, str | None]] = []
        self._index: tuple[int, dict[str, list[Id]], dict[Id, dict[str, list[ENode]]]] | None = None
        self._extracted: tuple[int, dict[Id, ENode], dict[Id, Term]] | None = None

    def __repr__(self) -> str:
        return f"EGraph(classes={self.class_count}, nodes={self.node_count}, version={self.version})"

    # -- union-find

    def find(self, id: Id) -> Id:
        uf = self._uf
        while uf[id] != id:
            uf[id] = uf[uf[id]]  # path halving
            id = uf[id]
        return id

    def _canonicalize(self, node: ENode) -> ENode:
        children = node.children
        if not children:
            return node
        uf = self._uf
        canon = []
        for c in children:
            while uf[c] != c:
                uf[c] = uf[uf[c]]
                c = uf[c]
            canon.append(c)
        canon_t = tuple(canon)
        return node if canon_t == children else node.with_children(canon_t)

    # -- adding and merging

    def add(self, node: ENode, rule: str | None = None) -> Id:
        """The class of `node`, adding it if new; `rule` is recorded as the node's origin."""
        canon = self._canonicalize(node)
        existing = self._memo.get(canon)
        if existing is not None:
            return self.find(existing)
        data = self.analysis.make(self, canon) if self.analysis is not None else None
        nid = len(self._uf)
        self._uf.append(nid)
        self._enodes.append(canon)
        self._origin.append(rule if rule is not None else self._active_origin)
        self._memo[canon] = nid
        self._classes[nid] = _EClass([canon], data)
        for child in dict.fromkeys(canon.children):
            self._classes[child].parents.append(nid)
        self._node_count += 1
        self.version += 1
        if self.analysis is not None:
            self._modify(nid)
        return self.find(nid)

    def add_term(self, term: Term, rule: str | None = None) -> Id:
        """Add a term bottom-up (shared subterms once); returns the class of its root."""
        ids: dict[Term, Id] = {}
        stack: list[tuple[Term, bool]] = [(term, False)]
        while stack:
            t, ready = stack.pop()
            if t in ids:
                continue
            if ready:
                ids[t] = self.add(ENode(t.op, t.value, tuple(self.find(ids[a]) for a in t.args)), rule)
            else:
                stack.append((t, True))
                stack.extend((a, False) for a in reversed(t.args) if a not in ids)
        return self.find(ids[term])

    def union(self, a: Id, b: Id, rule: str | None = None) -> bool:
        """Merge two classes (congruence is restored by `rebuild`); True if they were distinct."""
        a, b = self.find(a), self.find(b)
        if a == b:
            return False
        ca, cb = self._classes[a], self._classes[b]
        # egg: the class with more parents stays root, so fewer parents go back on the worklist
        if (len(ca.parents), -a) < (len(cb.parents), -b):
            a, b, ca, cb = b, a, cb, ca
        self._uf[b] = a
        del self._classes[b]
        self._pending.extend(cb.parents)
        if self.analysis is not None:
            merged = self.analysis.merge(ca.data, cb.data)
            if not _same_data(merged, ca.data):
                self._queue_analysis(ca.parents)
            if not _same_data(merged, cb.data):
                self._queue_analysis(cb.parents)
            ca.data = merged
        ca.nodes.extend(cb.nodes)
        ca.parents.extend(cb.parents)
        self._dirty.add(a)
        self._unions.append((a, b, rule))
        self.version += 1
        if self.analysis is not None:
            self._modify(a)
        return True

    def _queue_analysis(self, ids: list[Id]) -> None:
        queued = self._analysis_queued
        for nid in ids:
            if nid not in queued:
                queued.add(nid)
                self._analysis_pending.append(nid)

    def _modify(self, id: Id) -> None:
        assert self.analysis is not None
        previous, self._active_origin = self._active_origin, self._analysis_origin
        try:
            self.analysis.modify(self, self.find(id))
        finally:
            self._active_origin = previous

    # -- rebuilding

    def rebuild(self) -> int:
        """Restore congruence and analysis invariants (egg's deferred rebuild); returns the number
        of congruence unions. Re-entrant calls (from `modify`) return at once: the outer loop
        finishes their work."""
        if self._rebuilding:
            return 0
        self._rebuilding = True
        unions = 0
        try:
            while self._pending or self._analysis_pending:
                while self._pending:
                    nid = self._pending.pop()
                    canon = self._canonicalize(self._enodes[nid])
                    existing = self._memo.get(canon)
                    if existing is None:
                        self._memo[canon] = nid
                    else:
                        if nid < existing:
                            self._memo[canon] = nid
                        unions += self.union(existing, nid)
                    self._dirty.add(self.find(nid))
                while self._analysis_pending:
                    assert self.analysis is not None
                    nid = self._analysis_pending.pop()
                    self._analysis_queued.discard(nid)
                    cid = self.find(nid)
                    eclass = self._classes[cid]
                    made = self.analysis.make(self, self._canonicalize(self._enodes[nid]))
                    merged = self.analysis.merge(eclass.data, made)
                    if not _same_data(merged, eclass.data):
                        eclass.data = merged
                        self.version += 1
                        self._queue_analysis(eclass.parents)
                        self._modify(cid)
            self._rebuild_classes()
        finally:
            self._rebuilding = False
        return unions

    def _rebuild_classes(self) -> None:
        """Canonicalize, dedupe and age-order the node lists of touched classes; drop parent
        entries that are duplicates of an older congruent node."""
        memo, enodes = self._memo, self._enodes
        for cid in sorted({self.find(c) for c in self._dirty}):
            eclass = self._classes[cid]
            unique = dict.fromkeys(self._canonicalize(n) for n in eclass.nodes)
            nodes = sorted(unique, key=lambda n: memo.get(n, len(enodes)))
            self._node_count += len(nodes) - len(eclass.nodes)
            eclass.nodes = nodes
            parents = []
            for nid in dict.fromkeys(eclass.parents):
                if memo.get(self._canonicalize(enodes[nid])) == nid:
                    parents.append(nid)
            eclass.parents = parents
        self._dirty.clear()

    def _ensure_clean(self) -> bool:
        """Rebuild if needed; False only when asked from inside rebuild (results must not be cached)."""
        if self._pending or self._analysis_pending or self._dirty:
            if self._rebuilding:
                return False
            self.rebuild()
        return True

    # -- queries

    def lookup(self, node: ENode) -> Id | None:
        """The class holding `node` (children canonicalized first), or None."""
        nid = self._memo.get(self._canonicalize(node))
        return None if nid is None else self.find(nid)

    def nodes(self, id: Id) -> tuple[ENode, ...]:
        """The canonical nodes of a class, oldest first."""
        self._ensure_clean()
        eclass = self._classes[self.find(id)]
        if self._dirty:  # asked from inside rebuild (an analysis' modify): canonicalize on the fly
            unique = dict.fromkeys(self._canonicalize(n) for n in eclass.nodes)
            return tuple(sorted(unique, key=lambda n: self._memo.get(n, len(self._enodes))))
        return tuple(eclass.nodes)

    def data(self, id: Id) -> object:
        """The analysis data of a class (None without an analysis)."""
        return self._classes[self.find(id)].data

    def class_ids(self) -> list[Id]:
        self._ensure_clean()
        return sorted(self._classes)

    @property
    def node_count(self) -> int:
        return self._node_count

    @property
    def class_count(self) -> int:
        return len(self._classes)

    def origin(self, node: ENode) -> str | None:
        """The rule that first added `node` (its congruent oldest form); None for input nodes."""
        nid = self._memo.get(self._canonicalize(node))
        return None if nid is None else self._origin[nid]

    def unions(self) -> tuple[tuple[Id, Id, str | None], ...]:
        """Every union performed, as (root kept, root merged, justifying rule or None for
        congruence and callers that gave none): the raw material of explanations."""
        return tuple(self._unions)

    def extract_term(self, id: Id) -> Term:
        """The smallest term (AstSize, ties to the oldest node) of a class; cached per version,
        since rule conditions ask it for many classes of one unchanged graph."""
        clean = self._ensure_clean()
        extracted = self._extracted
        if extracted is None or extracted[0] != self.version or not clean:
            table = _best_table(self, _postorder(self, self.class_ids()), ast_size)
            extracted = (self.version, {c: entry[2] for c, entry in table.items()}, {})
            self._extracted = extracted if clean else None
        _, best, terms = extracted
        return _build_term(self, self.find(id), best, terms)

    def _search_index(self) -> tuple[dict[str, list[Id]], dict[Id, dict[str, list[ENode]]]]:
        """Classes by op and nodes by (class, op), built once per version for all rules' searches."""
        clean = self._ensure_clean()
        index = self._index
        if index is None or index[0] != self.version or not clean:
            by_op: dict[str, list[Id]] = {}
            by_class: dict[Id, dict[str, list[ENode]]] = {}
            for cid in sorted(self._classes):
                ops: dict[str, list[ENode]] = {}
                for node in self.nodes(cid):
                    ops.setdefault(node.op, []).append(node)
                by_class[cid] = ops
                for op in ops:
                    by_op.setdefault(op, []).append(cid)
            index = (self.version, by_op, by_class)
            self._index = index if clean else None
        return index[1], index[2]


# ---- patterns ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PVar:
    """A pattern variable `?name`."""

    name: str


@dataclass(frozen=True)
class PNode:
    """An operator in a pattern; equal patterns compare values by `value_key` (2 is not 2.0)."""

    op: str
    value: object = field(compare=False)
    children: tuple[PVar | PNode, ...]
    rest: bool = False  # `(seq ?a ...)`: any further children, of a node of any larger arity
    key: object = field(init=False, repr=False)
    ground: bool = field(init=False, repr=False)  # no variables below: resolved by lookup

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", value_key(self.value))
        ground = not self.rest and all(isinstance(c, PNode) and c.ground for c in self.children)
        object.__setattr__(self, "ground", ground)


_TOKEN = re.compile(r"\s*(?:(\()|(\))|([^\s()]+))")
_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+(?=[eE]))(?:[eE][-+]?\d+)?|[-+]?(?:inf|nan)")
_LITERALS: dict[str, object] = {"None": None, "True": True, "False": False}


def parse_pattern(text: str) -> Pattern:
    """Parse an s-expression pattern, e.g. `(mul ?x 2.0)`, `(for:range ?v ?lo ?hi ?st ?body)`.

    `?x` is a variable; `op:value` gives a node its (string) value; `var:x` is a variable leaf;
    numbers keep their Python type (`2` int, `2.0` float), as do None/True/False. A trailing `...`
    matches any further children: `(seq ...)` is every `seq` node, whatever its length (a
    left-hand side only: the Applier reads the node's children from the class).
    """
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip():
                raise ValueError(f"pattern {text!r}: cannot read at offset {pos}")
            break
        tokens.append(m.group(1) or m.group(2) or m.group(3))
        pos = m.end()
    if not tokens:
        raise ValueError("empty pattern")
    root, end = _parse_tokens(text, tokens, 0)
    if end != len(tokens):
        raise ValueError(f"pattern {text!r}: unexpected {tokens[end]!r} after the pattern")
    names: dict[str, None] = {}
    stack: list[PVar | PNode] = [root]
    while stack:  # pre-order, first occurrence
        p = stack.pop()
        if isinstance(p, PVar):
            names.setdefault(p.name)
        else:
            stack.extend(reversed(p.children))
    return Pattern(text, root, tuple(names))


def _parse_tokens(text: str, tokens: list[str], i: int) -> tuple[PVar | PNode, int]:
    if i >= len(tokens):
        raise ValueError(f"pattern {text!r}: unbalanced parentheses")
    tok = tokens[i]
    if tok == ")":
        raise ValueError(f"pattern {text!r}: unexpected ')'")
    if tok != "(":
        return _parse_atom(text, tok), i + 1
    if i + 1 >= len(tokens) or tokens[i + 1] in "()":
        raise ValueError(f"pattern {text!r}: a list must start with an operator")
    op, value = _parse_head(text, tokens[i + 1])
    children: list[PVar | PNode] = []
    rest = False
    i += 2
    while i < len(tokens) and tokens[i] != ")":
        if tokens[i] == "...":
            if i + 1 >= len(tokens) or tokens[i + 1] != ")":
                raise ValueError(f"pattern {text!r}: `...` must end its list")
            rest, i = True, i + 1
            break
        child, i = _parse_tokens(text, tokens, i)
        children.append(child)
    if i >= len(tokens):
        raise ValueError(f"pattern {text!r}: missing ')'")
    return PNode(op, value, tuple(children), rest), i + 1


def _parse_atom(text: str, tok: str) -> PVar | PNode:
    if tok == "...":
        raise ValueError(f"pattern {text!r}: `...` stands only at the end of an operator's list")
    if tok.startswith("?"):
        if len(tok) == 1:
            raise ValueError(f"pattern {text!r}: `?` needs a name")
        return PVar(tok[1:])
    if tok in _LITERALS:
        return PNode("const", _LITERALS[tok], ())
    if _INT.fullmatch(tok):
        return PNode("const", int(tok), ())
    if _FLOAT.fullmatch(tok):
        return PNode("const", float(tok), ())
    op, value = _parse_head(text, tok)
    return PNode(op, value, ())


def _parse_head(text: str, tok: str) -> tuple[str, object]:
    op, sep, value = tok.partition(":")
    if op not in ALL_OPS:
        raise ValueError(
            f"pattern {text!r}: unknown IR op {op!r} (write ?{op} for a pattern variable, var:{op} for a name)"
        )
    return op, (value if sep else None)


@dataclass(frozen=True)
class Pattern:
    """A parsed pattern: searchable (lhs) and instantiable (rhs).

    Searching runs a small compiled program like egg's `machine.rs`: `bind` walks the nodes of a
    register's class with the right op and writes their children into fresh registers, `compare`
    checks a repeated variable, `ground` checks a variable-free subpattern against the class it
    was looked up to once per search. No substitution dicts are built until a match completes.
    """

    text: str
    root: PVar | PNode = field(repr=False)
    vars: tuple[str, ...] = field(repr=False)
    _program: tuple[tuple, ...] = field(init=False, repr=False, compare=False)
    _var_regs: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _grounds: tuple[PNode, ...] = field(init=False, repr=False, compare=False)
    _n_regs: int = field(init=False, repr=False, compare=False)
    _rest: bool = field(init=False, repr=False, compare=False)  # some list ends in `...`

    def __post_init__(self) -> None:
        program: list[tuple] = []
        grounds: list[PNode] = []
        var_reg: dict[str, int] = {}
        n_regs = 1

        def emit(p: PNode, reg: int) -> None:
            nonlocal n_regs
            base, n_regs = n_regs, n_regs + len(p.children)
            program.append((_BIND, reg, p.op, p.key, len(p.children), base, p.rest))
            deeper = []
            for r, c in enumerate(p.children, base):
                if isinstance(c, PVar):
                    if c.name in var_reg:
                        program.append((_COMPARE, r, var_reg[c.name]))
                    else:
                        var_reg[c.name] = r
                elif c.ground:
                    program.append((_GROUND, r, len(grounds)))
                    grounds.append(c)
                else:
                    deeper.append((c, r))
            for c, r in deeper:
                emit(c, r)

        if isinstance(self.root, PNode) and not self.root.ground:
            emit(self.root, 0)
        object.__setattr__(self, "_program", tuple(program))
        object.__setattr__(self, "_var_regs", tuple(var_reg.get(v, 0) for v in self.vars))
        object.__setattr__(self, "_grounds", tuple(grounds))
        object.__setattr__(self, "_n_regs", n_regs)
        object.__setattr__(self, "_rest", any(ins[0] == _BIND and ins[6] for ins in program))

    def __str__(self) -> str:
        return self.text

    def search(self, egraph: EGraph, limit: int | None = None) -> list[tuple[Id, dict[str, Id]]]:
        """All (class, substitution) matches, by class id then node age; at most `limit`."""
        return [
            (cid, dict(zip(self.vars, values, strict=True))) for cid, values in self._search(egraph, limit)
        ]

    def _search(self, egraph: EGraph, limit: int | None = None) -> list[tuple[Id, tuple[Id, ...]]]:
        """`search` with each substitution as the variables' classes in `vars` order: the runner
        builds dicts only for the matches it keeps."""
        if isinstance(self.root, PVar):
            matches = [(c, (c,)) for c in egraph.class_ids()]
            return matches if limit is None else matches[:limit]
        by_op, by_class = egraph._search_index()
        if self.root.ground:
            cid = _resolve_ground(egraph, self.root, {})
            return [] if cid is None else [(cid, ())]
        grounds = self._resolve_grounds(egraph)
        if grounds is None:
            return []
        results: list[tuple[Id, tuple[Id, ...]]] = []
        for cid in by_op.get(self.root.op, ()):
            results.extend([(cid, values) for values in self._run(by_class, cid, grounds)])
            if limit is not None and len(results) >= limit:
                return results[:limit]
        return results

    def search_class(self, egraph: EGraph, id: Id) -> list[dict[str, Id]]:
        """The substitutions under which this pattern matches class `id`."""
        if isinstance(self.root, PVar):
            return [{self.root.name: egraph.find(id)}]
        _, by_class = egraph._search_index()  # may rebuild, so find afterwards
        cid = egraph.find(id)
        if self.root.ground:
            return [{}] if _resolve_ground(egraph, self.root, {}) == cid else []
        grounds = self._resolve_grounds(egraph)
        if grounds is None:
            return []
        return [dict(zip(self.vars, values, strict=True)) for values in self._run(by_class, cid, grounds)]

    def _resolve_grounds(self, egraph: EGraph) -> list[Id] | None:
        memo: dict[int, Id | None] = {}
        ids = [_resolve_ground(egraph, g, memo) for g in self._grounds]
        return None if None in ids else ids  # type: ignore[return-value]

    def _run(
        self, by_class: dict[Id, dict[str, list[ENode]]], cid: Id, grounds: list[Id]
    ) -> list[tuple[Id, ...]]:
        """Execute the program on class `cid`; the variables' classes for each match.

        In a congruent graph every match is distinct: two matches differing in a node choice
        differ in some variable, or two classes would hold the same canonical node. Not so under
        `...`, whose children bind nothing: those matches are kept once each, first found first."""
        program, var_regs = self._program, self._var_regs
        end = len(program)
        regs = [0] * self._n_regs
        regs[0] = cid
        out: list[tuple[Id, ...]] = []

        def step(pc: int) -> None:
            while pc < end:
                ins = program[pc]
                if ins[0] == _BIND:
                    _, reg, op, key, arity, base, rest = ins
                    for node in by_class[regs[reg]].get(op, ()):
                        children = node.children
                        if node._key[1] == key and (
                            len(children) == arity or (rest and len(children) > arity)
                        ):
                            regs[base : base + arity] = children[:arity]
                            step(pc + 1)
                    return
                if regs[ins[1]] != (regs[ins[2]] if ins[0] == _COMPARE else grounds[ins[2]]):
                    return
                pc += 1
            out.append(tuple([regs[r] for r in var_regs]))

        step(0)
        if self._rest:
            return list(dict.fromkeys(out))
        return out

    def instantiate(self, egraph: EGraph, subst: dict[str, Id], rule: str | None = None) -> Id:
        """Add this pattern with `subst` for its variables; returns the root's class."""

        def build(p: PVar | PNode) -> Id:
            if isinstance(p, PVar):
                return subst[p.name]
            return egraph.add(ENode(p.op, p.value, tuple(build(c) for c in p.children)), rule)

        return build(self.root)


_BIND, _COMPARE, _GROUND = 0, 1, 2


def _resolve_ground(egraph: EGraph, p: PNode, memo: dict[int, Id | None]) -> Id | None:
    """The class of a variable-free subpattern, looked up once per search."""
    key = id(p)
    if key not in memo:
        children = []
        for c in p.children:
            assert isinstance(c, PNode)
            cid = _resolve_ground(egraph, c, memo)
            if cid is None:
                memo[key] = None
                return None
            children.append(cid)
        memo[key] = egraph.lookup(ENode(p.op, p.value, tuple(children)))
    return memo[key]


# ---- rewrites ------------------------------------------------------------------------------------

# an Applier may return several terms (each is unioned with the matched class), e.g. one a choice
# among the nodes of a class that a `...` pattern matched
Applier = Callable[[EGraph, Id, dict[str, Id]], "Term | Sequence[Term] | Id | None"]
Condition = Callable[[EGraph, Id, dict[str, Id]], bool]
Safety = Literal["exact", "reassoc", "fastmath"]
_SAFETIES = ("exact", "reassoc", "fastmath")


@dataclass(frozen=True)
class Rewrite:
    """A rule as data: lhs pattern, rhs pattern or Applier, optional condition, float safety."""

    name: str
    lhs: Pattern
    rhs: Pattern | Applier
    when: Condition | None = None
    safety: Safety = "exact"

    def __post_init__(self) -> None:
        if not isinstance(self.rhs, Pattern) and not callable(self.rhs):
            raise TypeError(f"rule {self.name}: rhs must be a pattern or an Applier, not {self.rhs!r}")
        if self.safety not in _SAFETIES:
            raise ValueError(f"rule {self.name}: safety must be one of {_SAFETIES}, not {self.safety!r}")
        if isinstance(self.rhs, Pattern):
            missing = [v for v in self.rhs.vars if v not in self.lhs.vars]
            if missing:
                raise ValueError(f"rule {self.name}: rhs variables {missing} are not bound by the lhs")
            if self.rhs._rest:
                raise ValueError(f"rule {self.name}: `...` matches, it cannot be instantiated")


def rule(
    name: str,
    lhs: str | Pattern,
    rhs: str | Pattern | Applier,
    *,
    when: Condition | None = None,
    safety: Safety = "exact",
) -> Rewrite:
    """Declare a rule in one line: `rule("square", "(pow ?x 2)", "(mul ?x ?x)")`."""
    lhs_p = parse_pattern(lhs) if isinstance(lhs, str) else lhs
    rhs_p = parse_pattern(rhs) if isinstance(rhs, str) else rhs
    return Rewrite(name, lhs_p, rhs_p, when, safety)


# ---- runner --------------------------------------------------------------------------------------


def reaches(egraph: EGraph, start: Id, target: Id) -> bool:
    """Does class `target` occur under class `start` (itself included), in any alternative of any
    class below it? Rules ask it of the terms a class could extract to, not just the best one."""
    target = egraph.find(target)
    seen: set[Id] = set()
    stack = [egraph.find(start)]
    while stack:
        cls = stack.pop()
        if cls == target:
            return True
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(egraph.find(c) for node in egraph.nodes(cls) for c in node.children)
    return False


@dataclass(frozen=True)
class Limits:
    node_limit: int = 5000
    iter_limit: int = 12
    time_limit: float = 1.0  # seconds
    match_limit: int = 1000  # backoff: matches per iteration before a rule is banned
    ban_length: int = 5  # backoff: iterations of the first ban (doubles with each ban)
    backoff: bool = True


StopReason = Literal["saturated", "node_limit", "iter_limit", "time_limit"]


@dataclass(frozen=True)
class RunReport:
    iterations: int
    nodes: int
    classes: int
    seconds: float
    stop_reason: StopReason
    fired: tuple[tuple[str, int], ...]  # rule name -> applications that changed the graph, by name
    errors: tuple[tuple[str, int], ...] = ()  # "<rule>:error" -> Applier/Condition exceptions
    banned: tuple[tuple[str, int], ...] = ()  # rule name -> times the backoff scheduler banned it


class _Backoff:
    """egg's BackoffScheduler: a rule matching more than match_limit << times_banned times in one
    iteration is banned for ban_length << times_banned iterations and its matches dropped."""

    def __init__(self, n_rules: int, limits: Limits) -> None:
        self.limits = limits
        self.times_banned = [0] * n_rules
        self.banned_until = [0] * n_rules

    def banned(self, rule: int, iteration: int) -> bool:
        return self.limits.backoff and iteration < self.banned_until[rule]

    def threshold(self, rule: int) -> int | None:
        return self.limits.match_limit << self.times_banned[rule] if self.limits.backoff else None

    def ban(self, rule: int, iteration: int) -> None:
        self.banned_until[rule] = iteration + (self.limits.ban_length << self.times_banned[rule])
        self.times_banned[rule] += 1

    def bans(self, rules: Sequence[Rewrite]) -> Counter[str]:
        counts: Counter[str] = Counter()
        for rw, n in zip(rules, self.times_banned, strict=True):
            if n:
                counts[rw.name] += n
        return counts

    def can_stop(self, next_iteration: int) -> bool:
        """Saturated only if no rule is banned; otherwise fast-forward to the earliest unban."""
        banned = [i for i, until in enumerate(self.banned_until) if until > next_iteration]
        if not banned:
            return True
        delta = min(self.banned_until[i] for i in banned) - next_iteration
        for i in banned:
            self.banned_until[i] -= delta
        return False


def run(egraph: EGraph, rules: Sequence[Rewrite], limits: Limits = Limits()) -> RunReport:
    """Equality saturation with egg's phases: search every rule on the rebuilt graph, evaluate
    conditions and Appliers on that same consistent graph, apply, rebuild; until saturated or a
    limit is hit. Applier/Condition exceptions count as declined matches, never crash the run."""
    start = time.perf_counter()
    deadline = start + limits.time_limit
    scheduler = _Backoff(len(rules), limits)
    fired: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    egraph.rebuild()
    iteration = 0
    stop: StopReason | None = None
    while stop is None:
        if iteration >= limits.iter_limit:
            stop = "iter_limit"
            break
        if egraph.node_count > limits.node_limit:
            stop = "node_limit"
            break
        if time.perf_counter() > deadline:
            stop = "time_limit"
            break
        version = egraph.version

        # read: search every rule that is not banned, on one unchanged graph
        matches: list[list[tuple[Id, tuple[Id, ...]]]] = []
        for i, rw in enumerate(rules):
            if scheduler.banned(i, iteration):
                matches.append([])
                continue
            threshold = scheduler.threshold(i)
            found = rw.lhs._search(egraph, None if threshold is None else threshold + 1)
            if threshold is not None and len(found) > threshold:
                scheduler.ban(i, iteration)
                found = []
            matches.append(found)
            if time.perf_counter() > deadline:
                stop = "time_limit"
                break

        # still reading: conditions and Appliers see the searched graph (extract_term stays cached)
        actions: list[tuple[Rewrite, Id, dict[str, Id], Term | Id | None]] = []
        if stop is None:
            for rw, found in zip(rules, matches, strict=False):
                for cid, values in found:
                    if time.perf_counter() > deadline:
                        stop = "time_limit"
                        break
                    subst = dict(zip(rw.lhs.vars, values, strict=True))
                    actions.extend(_evaluate(egraph, rw, cid, subst, errors))
                if stop is not None:
                    break

        # write: add right-hand sides and union them with the matched classes (what was evaluated
        # before a deadline is still applied: writes are cheap next to conditions)
        for rw, cid, subst, result in actions:
            if egraph.node_count > limits.node_limit:
                stop = "node_limit"
                break
            if stop is None and time.perf_counter() > deadline:
                stop = "time_limit"
                break
            before = egraph.version
            if result is None:
                assert isinstance(rw.rhs, Pattern)
                new = rw.rhs.instantiate(egraph, subst, rw.name)
            elif isinstance(result, Term):
                new = egraph.add_term(result, rw.name)
            else:
                new = result
            egraph.union(cid, new, rw.name)
            if egraph.version != before:
                fired[rw.name] += 1

        egraph.rebuild()
        iteration += 1
        if stop is None and egraph.version == version and scheduler.can_stop(iteration):
            stop = "saturated"

    return RunReport(
        iterations=iteration,
        nodes=egraph.node_count,
        classes=egraph.class_count,
        seconds=time.perf_counter() - start,
        stop_reason=stop,
        fired=tuple(sorted(fired.items())),
        errors=tuple(sorted(errors.items())),
        banned=tuple(sorted(scheduler.bans(rules).items())),
    )


def _evaluate(
    egraph: EGraph, rw: Rewrite, cid: Id, subst: dict[str, Id], errors: Counter[str]
) -> list[tuple[Rewrite, Id, dict[str, Id], Term | Id | None]]:
    """Check the condition and call the Applier: the writes to make, none when the match is declined."""
    previous, egraph._active_origin = egraph._active_origin, rw.name
    try:
        if rw.when is not None and not rw.when(egraph, cid, subst):
            return []
        if isinstance(rw.rhs, Pattern):
            return [(rw, cid, subst, None)]
        result = rw.rhs(egraph, cid, subst)
        if result is None:
            return []
        if isinstance(result, Term):
            return [(rw, cid, subst, result)]
        if isinstance(result, int) and not isinstance(result, bool) and 0 <= result < len(egraph._uf):
            return [(rw, cid, subst, result)]
        if isinstance(result, (list, tuple)) and all(isinstance(t, Term) for t in result):
            return [(rw, cid, subst, t) for t in result]
        raise TypeError(
            f"Applier returned {result!r}; expected a Term, a sequence of Terms, an e-class id or None"
        )
    except Exception:
        logger.debug("rule %s raised on class %d; treated as declined", rw.name, cid, exc_info=True)
        errors[f"{rw.name}:error"] += 1
        return []
    finally:
        egraph._active_origin = previous


# ---- extraction ----------------------------------------------------------------------------------

CostFunction = Callable[[ENode, tuple[float, ...]], float]


def ast_size(node: ENode, child_costs: tuple[float, ...]) -> float:
    """egg's AstSize: every node costs 1."""
    return 1.0 + sum(child_costs)


def _postorder(egraph: EGraph, roots: Sequence[Id]) -> list[Id]:
    """Classes reachable from `roots`, children before parents (except along cycles)."""
    seen: set[Id] = set()
    order: list[Id] = []
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack: list[tuple[Id, Iterator[Id]]] = [(root, _children(egraph.nodes(root)))]
        while stack:
            cid, it = stack[-1]
            for child in it:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, _children(egraph.nodes(child))))
                    break
            else:
                stack.pop()
                order.append(cid)
    return order


def _children(nodes: tuple[ENode, ...]) -> Iterator[Id]:
    for node in nodes:
        yield from node.children


def _best_table(egraph: EGraph, order: list[Id], cost: CostFunction) -> dict[Id, tuple[float, Id, ENode]]:
    """egg's extraction fixpoint, driven by a worklist: best (cost, age, node) per class.

    Classes come children first, so an acyclic graph settles in one pass; cycles re-queue the
    users of a class whose cost dropped. Only a strictly lower cost replaces a choice, or an equal
    cost from an older node that costs more than each of its children: that rule can never pick
    a node whose own class is needed to build it, so the chosen nodes form no cycle.
    """
    memo = egraph._memo
    edges: list[tuple[Id, ENode, Id]] = []
    users: dict[Id, list[int]] = {c: [] for c in order}
    for cid in order:
        for node in egraph.nodes(cid):
            ei = len(edges)
            edges.append((cid, node, memo.get(node, ei)))
            for child in dict.fromkeys(node.children):
                users[child].append(ei)
    best: dict[Id, tuple[float, Id, ENode]] = {}
    queue = list(range(len(edges)))
    queue.reverse()  # a stack popped from the end: first edges first
    queued = [True] * len(edges)
    budget = 64 * len(edges) + 1024  # a cost that keeps dropping along a cycle must not spin forever
    while queue and budget > 0:
        budget -= 1
        ei = queue.pop()
        queued[ei] = False
        cid, node, age = edges[ei]
        child_costs = []
        for child in node.children:
            entry = best.get(child)
            if entry is None:
                break
            child_costs.append(entry[0])
        else:
            costs = tuple(child_costs)
            value = cost(node, costs)
            current = best.get(cid)
            if current is None or value < current[0]:
                best[cid] = (value, age, node)
                for ej in users[cid]:
                    if not queued[ej]:
                        queued[ej] = True
                        queue.append(ej)
            elif value == current[0] and age < current[1] and all(value > c for c in costs):
                best[cid] = (value, age, node)
    return best


def _build_term(egraph: EGraph, root: Id, best: dict[Id, ENode], terms: dict[Id, Term]) -> Term:
    """Assemble the chosen nodes into a Term, iteratively (deep kernels must not hit recursion)."""
    stack: list[Id] = [root]
    on_path: set[Id] = set()
    while stack:
        cid = stack[-1]
        if cid in terms:
            stack.pop()
            continue
        node = best.get(cid)
        if node is None:
            raise ValueError(f"e-class {cid} has no finite-cost term")
        missing = [c for c in node.children if c not in terms]
        if not missing:
            terms[cid] = Term(node.op, tuple(terms[c] for c in node.children), node.value)
            on_path.discard(cid)
            stack.pop()
            continue
        if cid in on_path:
            raise ValueError(
                f"extraction cycle at e-class {cid}: the cost function made a node cheaper than a child"
            )
        on_path.add(cid)
        stack.extend(reversed(missing))
    return terms[root]


def extract_best(egraph: EGraph, root: Id, cost: CostFunction = ast_size) -> tuple[float, Term]:
    """The cheapest term of `root` under `cost` and its cost; cycles are fine.

    `cost` should not make a node cheaper than its children (egg's assumption too).
    """
    egraph.rebuild()
    root = egraph.find(root)
    table = _best_table(egraph, _postorder(egraph, [root]), cost)
    if root not in table:
        raise ValueError(f"e-class {root} has no finite-cost term")
    best = {c: entry[2] for c, entry in table.items()}
    return table[root][0], _build_term(egraph, root, best, {})


def extract_top_k(
    egraph: EGraph, root: Id, k: int, cost: CostFunction = ast_size
) -> list[tuple[float, Term]]:
    """The k cheapest distinct terms of `root`, ascending by (cost, s-expression).

    Knuth-style k-best derivation: one global heap of candidates (node, child-choice indices)
    pops in cost order, so every class's list fills cheapest first and cycles need no fixpoint
    rounds. A node's combinations are enumerated lazily (successors of a popped choice differ in
    one child index), and a successor waiting on a child's next-best is parked until that child
    produces it. Entries stay (cost, node, indices) until the end; only the root's k become
    Terms. Exact for costs that never make a node cheaper than a child. Distinct by construction:
    in a congruent graph a term lives in one class, so different choices are different terms.
    """
    if k <= 0:
        return []
    egraph.rebuild()
    root = egraph.find(root)
    order = _postorder(egraph, [root])
    found: dict[Id, list[tuple[float, int, tuple[int, ...]]]] = {c: [] for c in order}
    users: dict[Id, list[int]] = {c: [] for c in order}
    edges: list[tuple[Id, ENode, tuple[list[tuple[float, int, tuple[int, ...]]], ...]]] = []
    for cid in order:
        for node in egraph.nodes(cid):
            for child in dict.fromkeys(node.children):
                users[child].append(len(edges))
            edges.append((cid, node, tuple(found[c] for c in node.children)))
    tried: dict[int, set[tuple[int, ...]]] = {}
    parked: dict[tuple[Id, int], list[tuple[int, tuple[int, ...]]]] = {}
    heap: list[tuple[float, int, tuple[int, ...]]] = []

    def push(ei: int, idx: tuple[int, ...]) -> None:
        _, node, inputs = edges[ei]
        costs = tuple([entries[i][0] for entries, i in zip(inputs, idx, strict=True)])
        heapq.heappush(heap, (cost(node, costs), ei, idx))

    for ei, (_, node, _) in enumerate(edges):
        if not node.children:
            push(ei, ())
    while heap:
        value, ei, idx = heapq.heappop(heap)
        cid, node, inputs = edges[ei]
        entries = found[cid]
        if len(entries) >= k:
            continue  # every later candidate of this class costs at least as much
        entries.append((value, ei, idx))
        position = len(entries) - 1
        if position == 0:
            for ej in users[cid]:
                zero = (0,) * len(edges[ej][2])
                if all(edges[ej][2]) and zero not in tried.setdefault(ej, set()):
                    tried[ej].add(zero)
                    push(ej, zero)
        else:
            for ej, waiting in parked.pop((cid, position), ()):
                push(ej, waiting)
        if len(entries) >= k:
            continue
        seen = tried.setdefault(ei, set())
        for j, child in enumerate(node.children):
            nxt = (*idx[:j], idx[j] + 1, *idx[j + 1 :])
            if nxt in seen:
                continue
            seen.add(nxt)
            if nxt[j] < len(inputs[j]):
                push(ei, nxt)
            elif len(inputs[j]) < k:  # the child may still produce its next-best: wait for it
                parked.setdefault((child, nxt[j]), []).append((ei, nxt))
    terms: dict[tuple[Id, int], Term] = {}
    results = [
        (value, _entry_term(edges, found, terms, root, i)) for i, (value, _, _) in enumerate(found[root])
    ]
    return sorted(results, key=lambda r: (r[0], to_sexpr(r[1])))


def _entry_term(
    edges: list[tuple[Id, ENode, tuple[list[tuple[float, int, tuple[int, ...]]], ...]]],
    found: dict[Id, list[tuple[float, int, tuple[int, ...]]]],
    terms: dict[tuple[Id, int], Term],
    cid: Id,
    position: int,
) -> Term:
    """The Term of entry `position` of class `cid`, built iteratively and shared across entries."""
    stack = [(cid, position)]
    while stack:
        key = stack[-1]
        if key in terms:
            stack.pop()
            continue
        _, ei, idx = found[key[0]][key[1]]
        _, node, _ = edges[ei]
        children = list(zip(node.children, idx, strict=True))
        missing = [c for c in children if c not in terms]
        if missing:
            stack.extend(reversed(missing))
            continue
        terms[key] = Term(node.op, tuple(terms[c] for c in children), node.value)
        stack.pop()
    return terms[(cid, position)]


# ---- explanations (lite) -------------------------------------------------------------------------


@dataclass
class DerivationCache:
    """What `derivation` learned about subterms, reusable across calls on one unchanged e-graph:
    the variants extracted from one saturation share most of their statements."""

    classes: dict[Term, Id | None] = field(default_factory=dict)
    rules: dict[Term, tuple[str, ...]] = field(default_factory=dict)


def derivation(egraph: EGraph, term: Term, cache: DerivationCache | None = None) -> tuple[str, ...]:
    """The rules that added the nodes of `term`, in pre-order of first use: what a report shows
    as "how this variant was made". Rules whose only effect was a union are not seen."""
    memo = cache if cache is not None else DerivationCache()
    classes, rules = memo.classes, memo.rules

    def node_of(t: Term) -> ENode | None:
        children = [class_of(a) for a in t.args]
        return None if None in children else ENode(t.op, t.value, tuple(c for c in children if c is not None))

    def class_of(t: Term) -> Id | None:
        if t not in classes:
            node = node_of(t)
            classes[t] = None if node is None else egraph.lookup(node)
        return classes[t]

    def rules_of(t: Term) -> tuple[str, ...]:
        """Pre-order, first use: the node's own origin, then its children's in order."""
        if t not in rules:
            names: dict[str, None] = {}
            node = node_of(t) if class_of(t) is not None else None
            origin = None if node is None else egraph.origin(node)
            if origin is not None:
                names[origin] = None
            for child in t.args:
                for name in rules_of(child):
                    names.setdefault(name)
            rules[t] = tuple(names)
        return rules[t]

    return rules_of(term)
