"""Property-based fuzzing of the guard: 10,000+ generated commands per run, bounded in time.

Commands are built from each program's own vocabulary (its options in every
spelling, abbreviations of them, combined short flags, values that look like
options, metacharacters, paths, subcommand words) so the generator reaches the
grammar's corners, not just unknown-program refusals. Properties:
- the guard never raises and is deterministic;
- an allowed command's every option is one the allow-list names, under a
  spelling the program itself accepts;
- an allowed command's subcommand does not change when a global option (with
  its value) is put in front of it: a global flag never moves what is judged;
- an allowed argv carries no shell metacharacter and is the catalogue's own
  rendering.
"""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.argv_grammar import CommandGrammar, GrammarError, parse_argv
from tools.catalogue import default_catalogue
from tools.command_rules import default_rules
from tools.guard import judge_command
from tools.param_types import SHELL_META

RULES = default_rules()
CATALOGUE = default_catalogue()
PROGRAMS = sorted(RULES.programs)
def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])


def _spellings(grammar: CommandGrammar) -> list[str]:
    out = []
    for spec in grammar.options.values():
        out += spec.spellings or [spec.name]
    return out


def _vocabulary(program: str) -> list[str]:
    grammar = RULES.programs[program]
    words = _spellings(grammar)
    for key, sub in (grammar.subcommands or {}).items():
        words += key.split() + _spellings(sub)
    return sorted(set(words))


_VALUES = st.one_of(
    st.sampled_from(["-", "--", "/etc/shadow", "/var/log/syslog", "/proc/1/root/etc/passwd", "@/etc/shadow", "http://localhost:8080/x",
                     "http://169.254.169.254/", "x;reboot", "$(id)", "`id`", "a|b", "shop", "api", "10", "0", "-1", "all", "yaml",
                     "'SELECT 1; DROP TABLE t'", "SHOW FULL PROCESSLIST", "delete", "get", "poweroff", "FLUSHALL", "--vacuum-size=1K",
                     "prod", "pods", "secret", "deployment/api", "sg-0123456789abcdef0", "file:///etc/passwd", "*", "..", "~/.ssh"]),
    st.text(alphabet=string.ascii_letters + string.digits + "-_./:=@%,", min_size=1, max_size=12),
)


@st.composite
def commands(draw) -> list[str]:
    program = draw(st.sampled_from(PROGRAMS))
    vocabulary = _vocabulary(program)
    word = st.one_of(
        st.sampled_from(vocabulary) if vocabulary else _VALUES,
        st.sampled_from(vocabulary).map(lambda w: w[:max(3, len(w) - 2)]) if vocabulary else _VALUES,  # abbreviations
        st.lists(st.sampled_from([w for w in vocabulary if len(w) == 2 and w.startswith("-")] or ["-x"]), min_size=2, max_size=4)
        .map(lambda ws: "-" + "".join(w[1] for w in ws)),  # combined short flags
        st.sampled_from(vocabulary).map(lambda w: f"{w}=x") if vocabulary else _VALUES,
        _VALUES,
    )
    return [program, *draw(st.lists(word, min_size=0, max_size=7))]


def _option_names(grammar: CommandGrammar) -> set[str]:
    return set(_spellings(grammar))


@fuzz(7000)
@given(argv=commands())
def test_the_guard_never_raises_is_deterministic_and_allows_only_catalogue_renderings(argv):
    first = judge_command(argv, "prod")
    assert judge_command(list(argv), "prod") == first
    if first.verdict != "allow":
        return
    assert first.tool is not None and first.rendered, (argv, first)  # nothing outside the catalogue is allowed
    assert not any(SHELL_META.search(w) for w in first.rendered[1:] if not w.startswith(("--execute=", "--command="))), first.rendered
    # every option the allowed command carries is one the grammar names, in a spelling the program accepts
    grammar = RULES.programs[argv[0]]
    parsed, sub = parse_argv(argv, grammar)
    names = _option_names(grammar) | (_option_names(sub) if sub is not grammar else set())
    for name, _ in parsed.options:
        assert name in names, (argv, name)
    # what runs reads back as the same entry, with the same parameters
    again = judge_command(first.rendered, "prod")
    assert again.tool == first.tool and again.rendered == first.rendered


@fuzz(3000)
@given(argv=commands(), data=st.data())
def test_a_global_option_in_front_never_changes_the_judged_subcommand(argv, data):
    grammar = RULES.programs[argv[0]]
    if not grammar.subcommands:
        return
    verdict = judge_command(argv, "prod")
    if verdict.verdict != "allow":
        return
    parsed, _ = parse_argv(argv, grammar)
    spec = data.draw(st.sampled_from(list(grammar.options.values())))
    spelling = data.draw(st.sampled_from(spec.spellings or [spec.name]))
    value = data.draw(_VALUES)
    inserted = [argv[0], spelling, *([value] if spec.arity == 1 else []), *argv[1:]]
    after = judge_command(inserted, "prod")
    if after.verdict == "forbid":
        return
    try:
        reparsed, _ = parse_argv(inserted, grammar)
    except GrammarError:
        raise AssertionError(f"{inserted} was not forbid although it does not parse")
    assert reparsed.subcommand == parsed.subcommand, (argv, inserted, after)


def test_the_fuzzers_reach_every_verdict():
    """A fuzzer that only ever sees refusals proves nothing: the vocabulary generator reaches allow and approve too."""
    from hypothesis import find

    for verdict in ("allow", "approve", "forbid"):
        found = find(commands(), lambda argv, v=verdict: judge_command(argv, "prod").verdict == v,
                     settings=settings(max_examples=20000, database=None, deadline=None))
        assert judge_command(found, "prod").verdict == verdict
