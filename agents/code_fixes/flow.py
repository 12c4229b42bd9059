"""The control-flow check for release patches: acquired at most once, released exactly once, on every path.

A language reader (flow_python.py, flow_tree.py) turns one function into a
small tree of `Step`s; `check_flow` walks every path through it, normal,
early return, exception (any statement that calls something may raise),
break and continue, `finally` and Go's `defer`, and counts what each path
does to the resource. A patch that leaves any path with a leak or a second
release is refused, whatever the other checks say: the two regressions this
exists for are psycopg2's `putconn` called twice (`PoolError`) and a
node-postgres client released twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["acquire", "release", "undo_acquire", "plain", "return", "raise", "break", "continue",
               "branch", "loop", "try", "defer"]
Outcome = Literal["normal", "return", "raise", "break", "continue"]
# (times acquired, times released, deferred blocks registered, in order)
State = tuple[int, int, tuple[int, ...]]


@dataclass
class Step:
    """One statement, reduced to what matters for the resource."""

    kind: Kind
    line: int = 0
    may_raise: bool = False  # a plain statement, a condition or a returned value that calls something
    arms: list[list["Step"]] = field(default_factory=list)  # branch: each arm (an absent else is an empty arm)
    body: list["Step"] = field(default_factory=list)  # loop, try, defer
    handlers: list[list["Step"]] = field(default_factory=list)  # try: except/catch bodies
    catches_all: bool = False  # try: some handler catches every exception
    orelse: list["Step"] = field(default_factory=list)  # try: else
    final: list["Step"] = field(default_factory=list)  # try: finally


@dataclass(frozen=True)
class FlowVerdict:
    ok: bool
    details: str
    paths: int  # distinct end states examined


class _Walker:
    def __init__(self) -> None:
        self.deferred: list[list[Step]] = []

    def seq(self, steps: list[Step], states: set[State]) -> dict[Outcome, set[State]]:
        out: dict[Outcome, set[State]] = defaultdict(set)
        current = set(states)
        for step in steps:
            if not current:
                break
            result = self.step(step, current)
            for kind, got in result.items():
                if kind != "normal":
                    out[kind] |= got
            current = set(result.get("normal", set()))
        out["normal"] |= current
        return out

    def step(self, s: Step, states: set[State]) -> dict[Outcome, set[State]]:
        out: dict[Outcome, set[State]] = defaultdict(set)
        if s.kind == "acquire":
            out["raise"] |= states  # the acquiring call fails: nothing was taken
            out["normal"] |= {(a + 1, r, d) for a, r, d in states}
        elif s.kind == "undo_acquire":  # Go: `if err != nil` right after the acquire: nothing was taken
            out["normal"] |= {(max(a - 1, 0), r, d) for a, r, d in states}
        elif s.kind == "release":
            out["normal"] |= {(a, r + 1, d) for a, r, d in states}
        elif s.kind == "plain":
            out["normal"] |= states
            if s.may_raise:
                out["raise"] |= states
        elif s.kind in ("return", "raise", "break", "continue"):
            out[s.kind] |= states  # type: ignore[index]
            if s.may_raise and s.kind == "return":
                out["raise"] |= states
        elif s.kind == "branch":
            if s.may_raise:
                out["raise"] |= states
            for arm in s.arms:
                for kind, got in self.seq(arm, states).items():
                    out[kind] |= got
        elif s.kind == "loop":
            if s.may_raise:
                out["raise"] |= states
            out["normal"] |= states  # zero iterations
            current = states
            for _ in range(2):  # a second pass finds what a first one leaves behind
                result = self.seq(s.body, current)
                out["normal"] |= result.get("break", set())
                again = result.get("normal", set()) | result.get("continue", set())
                out["normal"] |= again
                out["return"] |= result.get("return", set())
                out["raise"] |= result.get("raise", set())
                current = again
        elif s.kind == "try":
            body = self.seq(s.body, states)
            before_finally: dict[Outcome, set[State]] = defaultdict(set)
            for kind in ("return", "break", "continue"):
                before_finally[kind] |= body.get(kind, set())  # type: ignore[index]
            for kind, got in self.seq(s.orelse, body.get("normal", set())).items():
                before_finally[kind] |= got
            raised = body.get("raise", set())
            if not s.catches_all:
                before_finally["raise"] |= raised
            for handler in s.handlers:
                for kind, got in self.seq(handler, raised).items():
                    before_finally[kind] |= got
            if not s.final:
                return before_finally
            for kind, got in before_finally.items():
                if not got:
                    continue
                for after_kind, after in self.seq(s.final, got).items():
                    out[kind if after_kind == "normal" else after_kind] |= after
        elif s.kind == "defer":
            self.deferred.append(s.body)
            index = len(self.deferred) - 1
            out["normal"] |= {(a, r, d + (index,)) for a, r, d in states}
        return out

    def finish(self, state: State) -> set[State]:
        """Run the deferred blocks a path registered, last first, as Go does at return."""
        a, r, deferred = state
        current: set[State] = {(a, r, ())}
        for index in reversed(deferred):
            result = self.seq(self.deferred[index], current)
            current = set().union(*result.values())
        return current


def check_flow(steps: list[Step], resource: str) -> FlowVerdict:
    """Every way out of the function (falling off the end, return, exception) checked for the resource."""
    walker = _Walker()
    result = walker.seq(steps, {(0, 0, ())})
    problems: list[str] = []
    ends = 0
    ways = {"normal": "that reaches the end", "return": "that returns", "raise": "that raises"}
    for kind, way in ways.items():
        for state in result.get(kind, set()):  # type: ignore[call-overload]
            for acquired, released, _ in walker.finish(state):
                ends += 1
                if acquired > 1:
                    problems.append(f"on a path {way}, `{resource}` is acquired {acquired} times")
                elif released > acquired:
                    problems.append(f"on a path {way}, `{resource}` is released {released} times" if acquired
                                    else f"on a path {way}, `{resource}` is released without being acquired")
                elif released < acquired:
                    problems.append(f"on a path {way}, `{resource}` is never released")
    for kind in ("break", "continue"):
        ends += len(result.get(kind, set()))  # type: ignore[call-overload]
    if problems:
        return FlowVerdict(False, "; ".join(sorted(set(problems))), ends)
    return FlowVerdict(True, f"`{resource}` is acquired at most once and released exactly once on each of "
                             f"{ends} path end(s)", ends)


def leaks(steps: list[Step]) -> bool:
    """Does some path take the resource and not give it back exactly once?"""
    return not check_flow(steps, "resource").ok
