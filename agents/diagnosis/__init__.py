"""The diagnostician's parts, each with one job.

playbooks.py   which read-only commands to run for which alert (config/playbooks/*.yaml)
commands.py    hosts, command plans, guarded runs, command evidence
collect.py     all evidence: commands, logs, Terraform output, code, metrics, past incidents
parsers/       command output -> typed facts (one module per tool family); garbage -> ParseFailure
timeline.py    log lines -> rule hits, change markers, errors before/after, gauges
signals.py     the text rules (phrases software really prints) per taxonomy category
analyzers/     evidence -> weighted signals -> ranked candidates or `unknown` (scoring.py)
conclude.py    the winner -> Diagnosis: citations, fix kind, target, next checks, judged remedies
llm.py         the optional triage-model layer, accepted only with valid citations
"""
