"""The diagnostician's parts, each with one job.

playbooks.py   which read-only commands to run for which alert (config/playbooks/*.yaml)
commands.py    hosts, command plans, guarded runs, command evidence
collect.py     all evidence: commands, logs, Terraform output, code, metrics, past incidents
learn.py       values learned from the first evidence (a Secret's name, an RDS instance, its security group) for follow-up steps
config_refs.py the Secret / ConfigMap keys and settings that events, pods and logs say are missing
parsers/       command output -> typed facts (one module per tool family, kubectl and aws control planes included); garbage -> ParseFailure
timeline.py    log lines -> rule hits, change markers, errors before/after, gauges
signals.py     the text rules (phrases software really prints) per taxonomy category
analyzers/     evidence -> weighted signals -> ranked candidates or `unknown` (scoring.py)
conclude.py    the winner -> Diagnosis: citations, fix kind, target, next checks, judged remedies
llm.py         the optional triage-model layer, accepted only with valid citations
"""
