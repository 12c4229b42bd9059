"""Progressive delivery: canary and blue-green rollouts with analysis and automatic rollback.

`rollout.py` runs a rollout through a traffic router (tools/traffic/),
`analysis.py` judges the metrics a provider reads (tools/rollout_metrics.py),
`rollback.py` restores what a deployment replaced and verifies it, and
`desk.py` is what every door calls to list deployments and ask for a rollback.
"""
