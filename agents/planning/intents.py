"""From a reading of the words to the planner's answer: an intent and a SpecChange, a question, or an answer.

Which environment, when the words name none:
- the request's environment when it was chosen for these words (a door's
  explicit `--env`; see agents/planner.py for what counts as explicit);
- else the request's (default) environment, but only if the value being
  changed is the same in every environment; when it differs ("노드 늘려줘"
  with dev 3, staging 2, prod 4) the planner asks which;
- creating or destroying a whole environment never uses a default: without
  a named or explicit environment the planner asks.
Questions about the spec answer for the named environment, the explicit
one, or else every environment.

When anything is unclear (no component: "사양 올려줘"; no thing at all:
"늘려줘"; no amount: "노드 늘려줘"; an invalid value) the result carries one
question and no changes, never a guess.
"""

from __future__ import annotations

from typing import Any

from agents.planning import answer as answers
from agents.planning import clarify
from agents.planning.interpret import EnvOp, Op
from agents.planning.resolve import Resolver, RulesPlan, Unresolved, note
from agents.planning.rules import Reading
from graphs.state import AgentNote, ChangePart, SpecChange
from tools.spec import SpecError, get_path


def _environment_field(changes: dict[str, Any], spec_envs: list[str], fallback: str | None) -> str | None:
    envs = []
    for path in changes:
        parts = path.split(".")
        if len(parts) > 1 and parts[0] == "environments" and parts[1] not in envs:
            envs.append(parts[1])
    if len(envs) == 1:
        return envs[0]
    if envs and set(envs) == set(spec_envs) and len(spec_envs) > 1:
        return "all"
    return fallback if not envs else None


def _rationale(changes: dict[str, Any], spec: dict[str, Any]) -> str:
    parts = []
    for path, value in changes.items():
        try:
            before = get_path(spec, path)
        except SpecError:
            before = None
        parts.append(f"{path}: {clarify.show(before)} → {clarify.show(value)}")
    return "; ".join(parts)


def traced_parts(changes: dict[str, Any], sources: dict[str, str]) -> list[ChangePart]:
    """Which words asked for which paths, when more than one clause did (a path the bounds moved goes with the
    words that touched its block)."""
    words = list(dict.fromkeys(sources[p] for p in changes if p in sources))
    if len(words) < 2:
        return []
    parts = {w: ChangePart(words=w) for w in words}
    for path, value in changes.items():
        source = sources.get(path)
        if source is None:
            block = path.rsplit(".", 1)[0]
            source = next((sources[p] for p in sources if p.rsplit(".", 1)[0] == block), words[-1])
        parts[source].changes[path] = value
    return list(parts.values())


def plan_from_reading(reading: Reading, spec: dict[str, Any], request_env: str, env_explicit: bool) -> RulesPlan:
    """The rules' SpecChange for words already read (see the module docstring for the environment rule)."""
    resolver = Resolver(spec, reading, request_env, env_explicit)
    lang = reading.language
    notes: list[AgentNote] = []
    if reading.skip_approval:
        notes.append(note("asked to skip approval: approvals come from config/policy.yaml and cannot be waived by a request; "
                           "the change goes through the usual gate", "warning"))
    if reading.refusals:
        text = " ".join(reading.refusals)
        notes.append(note(f"refused: {text}", "warning"))
        answer = ("요청하신 작업은 하지 않습니다: " if lang == "ko" else "Not done: ") + text
        return RulesPlan(SpecChange(intent="query", environment=None, answer=answer, rationale="refused by rule"), notes, None, reading)

    env_ops = [op for op in reading.ops if isinstance(op, EnvOp)]
    ops = [op for op in reading.ops if isinstance(op, Op)]
    # A question needs question words ("몇 개야", "how much", "있어?"); cost words alone are often a reason
    # ("to cut costs", "비용 줄이게"), not a question. With question words, an order still needs a value:
    # an on/off word alone does not make "redis 켜져 있어?" an order, and "...하면 얼마야?" is hypothetical.
    valued = any(op.unclear is None and (op.attribute not in ("enabled", "multi_az") or op.kind != "set") for op in ops)
    clear = bool(env_ops) or any(op.unclear is None for op in ops)
    if reading.query:
        asking = reading.conditional or not reading.change_words or not (valued or (env_ops and not reading.cost))
    elif reading.cost:
        asking = reading.conditional or not (reading.change_words or clear)
    elif reading.question_mark:
        asking = not (valued or env_ops or (reading.change_words and ops))
    else:
        asking = False

    try:
        if asking:
            return _query(resolver, reading, ops, env_ops, notes)
        if env_ops:
            return _whole_environment(resolver, reading, env_ops, ops, notes)
        if ops:
            changes = resolver.changes_for(ops)
            notes += resolver.notes
            if not changes:
                raise Unresolved(clarify.ask_anything(lang), "nothing")
            noop = {p: v for p, v in changes.items() if get_path(spec, p, object()) == v and type(get_path(spec, p, None)) is type(v)}
            effective = {p: v for p, v in changes.items() if p not in noop}
            environment = _environment_field(changes, resolver.spec_envs, None)
            if not effective:
                said = ", ".join(f"{p} = {clarify.show(v)}" for p, v in noop.items())
                answer = (f"이미 그렇게 되어 있습니다: {said}. 바꿀 것이 없습니다." if lang == "ko"
                          else f"Already so: {said}. Nothing to change.")
                notes.append(note(f"no change needed: {said}"))
                return RulesPlan(SpecChange(intent="modify", environment=environment, answer=answer, rationale="already so"),
                                 notes, None, reading)
            if noop:
                notes.append(note("already so, left out: " + ", ".join(f"{p} = {clarify.show(v)}" for p, v in noop.items())))
            if reading.cost:
                envs = sorted({p.split(".")[1] for p in effective}, key=resolver.spec_envs.index)
                text, missing = answers.change_cost_answer(spec, effective, envs, lang)
                notes.append(note(f"cost of this change: {text}" if not missing else missing, "info" if not missing else "limitation"))
            return RulesPlan(SpecChange(intent="modify", environment=_environment_field(effective, resolver.spec_envs, None),
                                        changes=effective, rationale=_rationale(effective, spec),
                                        parts=traced_parts(effective, resolver.sources)), notes, None, reading)
        raise Unresolved(clarify.ask_anything(lang), "nothing")
    except Unresolved as unresolved:
        intent = "modify" if reading.change_words or ops else "query"
        if env_ops:
            intent = "destroy_all" if env_ops[0].kind == "destroy" else "create_all"
        envs = reading.envs
        environment = envs[0] if len(envs) == 1 else ("all" if reading.all_envs else None)
        return RulesPlan(SpecChange(intent=intent, environment=environment, question=unresolved.question,  # type: ignore[arg-type]
                                    rationale=f"needs input: {unresolved.ambiguity}"),
                         notes + resolver.notes, unresolved.ambiguity, reading)


def _whole_environment(resolver: Resolver, reading: Reading, env_ops: list[EnvOp], ops: list[Op],
                       notes: list[AgentNote]) -> RulesPlan:
    op = env_ops[0]
    envs = resolver.envs_for(op, ["enabled"])
    unknown = [e for e in envs if e not in resolver.spec_envs]
    if unknown:
        raise Unresolved(clarify.ask_environment_whole(op.kind, resolver.spec_envs, reading.language), "environment")
    intent = "destroy_all" if op.kind == "destroy" else "create_all"
    changes = {f"environments.{env}.enabled": op.kind == "create" for env in envs}
    if ops or len(env_ops) > 1:
        notes.append(note("this request also asked for other changes; they are left for a separate request "
                           "after the environment is " + ("destroyed" if op.kind == "destroy" else "created"), "warning"))
    environment = envs[0] if len(envs) == 1 else "all"
    if op.kind == "destroy":
        notes.append(note(f"destroying {', '.join(envs)} removes every resource of {'it' if len(envs) == 1 else 'them'}; "
                           "approval is always required", "warning"))
    else:
        already = [e for e in envs if resolver.current(e, "enabled")]
        if already:
            notes.append(note(f"{', '.join(already)}: already enabled in the spec; applying builds whatever is missing"))
    return RulesPlan(SpecChange(intent=intent, environment=environment, changes=changes,  # type: ignore[arg-type]
                                rationale=f"{op.kind} {', '.join(envs)}: " + _rationale(changes, resolver.spec)),
                     notes, None, reading)


def _query(resolver: Resolver, reading: Reading, ops: list[Op], env_ops: list[EnvOp], notes: list[AgentNote]) -> RulesPlan:
    lang = reading.language
    spec = resolver.spec
    if reading.all_envs:
        envs = list(resolver.spec_envs)
    elif reading.envs:
        envs = list(reading.envs)
    elif resolver.env_explicit:
        envs = [resolver.request_env]
    else:
        envs = list(resolver.spec_envs)
    environment = envs[0] if len(envs) == 1 else ("all" if set(envs) == set(resolver.spec_envs) else None)
    components = list(dict.fromkeys(op.component for op in ops if op.component))
    if reading.cost and reading.conditional and (env_ops or any(op.unclear is None for op in ops)):
        hypothetical = [op for op in ops if op.unclear is None]
        for op in [*hypothetical, *env_ops]:
            if not op.envs and not op.all_envs:
                op.envs = envs if len(envs) == 1 else [resolver.request_env]
        changes = resolver.changes_for(hypothetical) if hypothetical else {}
        for env_op in env_ops:
            for env in (resolver.spec_envs if env_op.all_envs else env_op.envs):
                changes[f"environments.{env}.enabled"] = env_op.kind == "create"

        touched = sorted({p.split(".")[1] for p in changes}, key=resolver.spec_envs.index)
        text, missing = answers.change_cost_answer(spec, changes, touched, lang)
        if missing:
            notes.append(note(missing, "limitation"))
        return RulesPlan(SpecChange(intent="query", environment=environment, answer=text,  # type: ignore[arg-type]
                                    rationale="cost of a hypothetical change: " + _rationale(changes, spec)), notes, None, reading)
    if reading.cost:
        text, missing = answers.cost_answer(spec, envs, components, lang)
        if missing:
            notes.append(note(missing, "limitation"))
        return RulesPlan(SpecChange(intent="query", environment=environment, answer=text, rationale="monthly cost from the spec"),  # type: ignore[arg-type]
                         notes, None, reading)
    suffixes: list[str] = []
    for op in ops:
        target = op.target
        if target and target.startswith("ec2.*."):
            names = sorted({n for e in envs for n in resolver.ec2_names(e)})
            suffixes += [f"ec2.{n}.{target.split('.', 2)[2]}" for n in names]
        elif target:
            suffixes.append(target)
    suffixes = list(dict.fromkeys(suffixes))
    if suffixes:
        text = answers.values_answer(spec, envs, suffixes, lang)
        summary = [c for c in components if c in ("eks", "rds", "redis", "vpc")]
        if summary:  # the block the value lives in, for context ("스펙이 어떻게 돼?" wants more than one value)
            text += " (" + " / ".join(f"{env}: " + "; ".join(answers.describe_component(spec, env, c, lang) for c in summary)
                                      for env in envs) + ")"
    elif components:
        text = " / ".join(f"{env}: " + "; ".join(answers.describe_component(spec, env, c, lang) for c in components) for env in envs)
    else:
        text = " / ".join(answers.describe_environment(spec, env, lang) for env in envs)
    return RulesPlan(SpecChange(intent="query", environment=environment, answer=text, rationale="read from the spec"),  # type: ignore[arg-type]
                     notes, None, reading)
