"""Asking for suggestions and accepting only what verifies: the driver's side of the LLM pass.

    prompt → session (cache, budget, provider) → fenced code → parse → lift → verify → accepted
                                                                     └→ learn rules from them

Every refusal is counted by reason; a failed call (timeout, HTTP 429/500, malformed answer,
spent budget) leaves the kernel to the rules, with the reason in the report. Sessions live for
the process: one `optc` run is one budget.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from optcompiler import verify
from optcompiler.analysis import KernelFacts
from optcompiler.ir import Kernel, Term, lower_function
from optcompiler.llm import learn
from optcompiler.llm.cache import Session, default_dir, open_session
from optcompiler.llm.prompt import build_messages, extract_candidates
from optcompiler.llm.provider import ProviderError
from optcompiler.llm.settings import LlmConfig

MAX_SITES = 3  # enclosing sites tried per suggestion when learning (each costs a tester run)
# Suggestions are checked as plain Python on the tester's small inputs: seconds at most. A model's
# loop that never ends must not hold the kernel for the full per-candidate compile budget.
SUGGESTION_TIMEOUT = 30.0


@dataclass(frozen=True)
class SuggestionReport:
    """What the model contributed to one kernel, for `-v` and the report."""

    model: str
    cached: bool = False
    received: int = 0  # code blocks read from the answer
    accepted: int = 0
    rejected: tuple[tuple[str, int], ...] = ()  # reason -> count
    error: str | None = None  # the call failed: why (one line)
    learned: tuple[str, ...] = ()  # rules learned from this kernel's accepted suggestions
    not_learned: tuple[str, ...] = ()  # why an accepted suggestion gave no rule
    details: tuple[str, ...] = ()  # one line per rejected suggestion
    error_kind: str | None = None  # ProviderError.kind

    @property
    def failed_call(self) -> bool:
        """A call was made and failed; not a budget of 0 or no endpoint, which are choices."""
        return self.error_kind in ("timeout", "connection", "http", "malformed")

    def describe(self) -> str:
        if self.error is not None:
            return f"llm ({self.model}): no suggestions: {self.error}"
        source = "cached answer" if self.cached else "answer"
        text = f"llm ({self.model}, {source}): {self.received} suggested, {self.accepted} verified"
        if self.rejected:
            text += "; rejected: " + ", ".join(f"{reason} ×{n}" for reason, n in self.rejected)
        if self.learned:
            text += f"; learned {', '.join(self.learned)}"
        elif self.not_learned:
            text += f"; no rule learned: {self.not_learned[0]}"
        return text


_SESSIONS: dict[LlmConfig, Session] = {}


def session_for(config: LlmConfig) -> Session:
    """The run's session for these settings (one budget per process)."""
    if config not in _SESSIONS:
        _SESSIONS[config] = open_session(config)
    return _SESSIONS[config]


def reset_sessions() -> None:
    _SESSIONS.clear()


# ---- libraries ----------------------------------------------------------------------------------------


def library_paths(config: LlmConfig) -> list[Path]:
    """The user library (beside the answer cache) and the project's, when configured."""
    base = Path(config.cache_dir).expanduser() if config.cache_dir else default_dir()
    paths = [base / "rules.json"]
    if config.rules:
        paths.append(Path(config.rules).expanduser())
    return paths


def load_rules(config: LlmConfig) -> tuple[learn.LearnedRule, ...]:
    rules: dict[str, learn.LearnedRule] = {}
    for path in library_paths(config):
        for rule in learn.load_library(path):
            rules.setdefault(rule.name, rule)
    return tuple(rules[name] for name in sorted(rules))


# ---- one kernel -----------------------------------------------------------------------------------------


def suggest(
    kernel: Kernel,
    facts: KernelFacts,
    llm: LlmConfig,
    prelude: str,
    *,
    sizes: dict[str, int],
    best: Term | None = None,
    best_label: str = "",
    predicted_seconds: float | None = None,
    strict_fp: bool = False,
    timeout: float = 120.0,
    examples: Sequence[dict[str, object]] = (),
    session: Session | None = None,
) -> tuple[tuple[Term, ...], SuggestionReport]:
    """Ask for rewrites of `kernel`; the bodies that verified, and the account."""
    timeout = min(timeout, SUGGESTION_TIMEOUT)
    from optcompiler.passes.llm import Rejected, read_suggestion

    untyped = [p.name for p in kernel.params if p.name not in facts.arg_types]
    if untyped:  # nothing could be verified: do not spend a call
        return (), SuggestionReport(
            llm.model, error=f"types of {', '.join(untyped)} unknown: nothing to verify on"
        )
    session = session if session is not None else session_for(llm)
    shown = lower_function(kernel.name, kernel.params, kernel.body)  # no comments, no docstring
    best_source = lower_function(kernel.name, kernel.params, best) if best is not None else None
    messages = build_messages(
        kernel.name,
        shown,
        {name: _type_text(at) for name, at in facts.arg_types.items()},
        sizes,
        best_source,
        best_label,
        predicted_seconds,
        llm.candidates,
    )
    try:
        completion = session.ask(messages)
    except ProviderError as error:
        return (), SuggestionReport(llm.model, error=f"{error.kind}: {error}", error_kind=error.kind)
    blocks = [b for text in completion.texts for b in extract_candidates(text)][: 2 * llm.candidates]
    rejected: Counter[str] = Counter()
    details: list[str] = []
    bodies: list[Term] = []
    for i, block in enumerate(blocks):
        read = read_suggestion(block, kernel, prelude)
        if isinstance(read, Rejected):
            rejected[read.reason] += 1
            details.append(f"suggestion {i + 1}: {read.reason}: {read.detail}")
        elif read in bodies:
            rejected["duplicate"] += 1
            details.append(f"suggestion {i + 1}: duplicate")
        else:
            bodies.append(read)
    accepted: list[Term] = []
    if bodies:
        sources = [
            verify.CandidateSource(
                f"s{i}", lower_function(f"_optc_suggestion_{i}", kernel.params, b), f"_optc_suggestion_{i}"
            )
            for i, b in enumerate(bodies)
        ]
        results = verify.verify_candidates(
            prelude=prelude,
            original_source=kernel.source,
            original_name=kernel.name,
            candidates=sources,
            args=[(p.name, facts.arg_types[p.name]) for p in kernel.params],
            policy=verify.FloatPolicy(strict=strict_fp),
            timeout=timeout,
            stop_at_first=False,
            examples=examples,
        )
        for i, (body, result) in enumerate(zip(bodies, results, strict=False)):
            if result.ok:
                accepted.append(body)
            else:
                rejected["failed verification"] += 1
                details.append(f"suggestion {i + 1}: failed verification: {result.reason}")
        rejected["failed verification"] += max(0, len(bodies) - len(results))
    report = SuggestionReport(
        completion.model,
        cached=completion.cached,
        received=len(blocks),
        accepted=len(accepted),
        rejected=tuple(sorted((r, n) for r, n in rejected.items() if n)),
        details=tuple(details),
    )
    if llm.learn and accepted:
        try:
            learned, not_learned = learn_rules(
                kernel, facts, llm, prelude, accepted, completion.model, timeout
            )
        except Exception as error:  # learning is a bonus: a bug in it must not cost the kernel its speed-up
            learned, not_learned = (), (f"internal error while learning: {type(error).__name__}: {error}",)
        report = replace(report, learned=learned, not_learned=not_learned)
    return tuple(accepted), report


def learn_rules(
    kernel: Kernel,
    facts: KernelFacts,
    llm: LlmConfig,
    prelude: str,
    accepted: Sequence[Term],
    model: str,
    timeout: float = 120.0,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Generalise each accepted body into a rule, check it, store it; (learned names, reasons not)."""
    learned: list[str] = []
    reasons: list[str] = []
    known = {r.name for r in load_rules(llm)}
    for body in accepted:
        sites = learn.enclosing_sites(kernel.body, body)[:MAX_SITES]
        if not sites:
            reasons.append("the suggestion is no local rewrite of the original")
            continue
        why = "no site held alone"
        for site in sites:
            provenance = {"model": model, "kernel": kernel.name, "path": kernel.path}
            candidate = learn.generalize(kernel, facts, site, provenance)
            if isinstance(candidate, str):
                why = candidate
                continue
            if candidate.rule.name in known:
                learned.append(candidate.rule.name)
                break
            safety, reason = learn.check(candidate, prelude, timeout)
            if safety is None:
                why = f"failed on fresh instances: {reason}"
                continue
            rule = replace(
                candidate.rule,
                safety=safety,
                provenance=(*candidate.rule.provenance, ("checked", reason)),
            )
            for path in library_paths(llm):
                learn.save_rule(path, rule)
            known.add(rule.name)
            learned.append(rule.name)
            break
        else:
            reasons.append(why)
    return tuple(dict.fromkeys(learned)), tuple(reasons)


def _type_text(at: object) -> str:
    kind = getattr(at, "kind", "?")
    dtype = getattr(at, "dtype", "?")
    if kind == "array":
        return f"{dtype}[{', '.join([':'] * int(getattr(at, 'ndim', 1)))}]"
    return str(dtype)
