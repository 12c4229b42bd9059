"""Kubernetes objects read as structured state: `kubectl get … -o json|yaml`, kubectl's tables and descriptions.

The inputs are kubectl's real layouts (taken from the recorded scenarios in
evals/scenarios/incidents and from kubectl's own printers): a pod's JSON with
container states, probes and limits; YAML lists; tables whose cells hold
spaces; `kubectl get all`; descriptions of a NetworkPolicy, a Service, a Job.
A recorded table must answer a `-o json` ask (the format is a volume
parameter) and parse as the same pods.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import yaml

from agents.diagnosis.parsers import parse_output, parser_for_command
from agents.diagnosis.parsers.kube_json import load_document, looks_structured, objects_of
from agents.diagnosis.parsers.kube_model import cpu_millicores, memory_mb
from agents.diagnosis.parsers.kube_objects import asked_kind
from tools.world import RecordedWorld, WorldRecord

INCIDENTS = Path(__file__).resolve().parents[1] / "evals" / "scenarios" / "incidents"


def recorded(scenario: str, prefix: str) -> tuple[str, str]:
    """(command, output) of the first recording in a scenario whose command starts with `prefix`."""
    doc = yaml.safe_load((INCIDENTS / f"{scenario}.yaml").read_text(encoding="utf-8"))
    for commands in doc["world"]["hosts"].values():
        for command, out in commands.items():
            if command.startswith(prefix):
                return command, out if isinstance(out, str) else out["stdout"]
    raise AssertionError(f"{scenario}: nothing recorded as {prefix!r}")


def test_quantities_as_the_api_writes_them():
    assert cpu_millicores("500m") == 500 and cpu_millicores("2") == 2000 and cpu_millicores("0.25") == 250 and cpu_millicores("x") is None
    assert memory_mb("512Mi") == 512 and memory_mb("1Gi") == 1024 and round(memory_mb("1G"), 1) == 953.7 and memory_mb("536870912") == 512


def test_a_pod_listing_as_json_keeps_states_exit_codes_probes_limits_and_owners():
    command, out = recorded("memory-pressure-search-indexer-jvm-over-limit", "kubectl get pods")
    facts = parse_output(parser_for_command(command), out, command=command)
    assert facts.parser == "kube_pods" and facts.format == "json" and facts.total == 3
    pod = next(p for p in facts.pods if p.name.startswith("search-indexer"))
    c = pod.containers[0]
    assert pod.owner.kind == "ReplicaSet" and pod.labels["app"] == "search-indexer"
    assert c.last_reason == "OOMKilled" and c.last_exit_code == 137 and c.memory_limit_mb == 768 and c.restarts == 9
    assert c.last_run_s is not None and 60 <= c.last_run_s <= 600
    assert c.probe("readiness").path == "/ready" and c.probe("readiness").port == "8080"
    # the legacy fields other analyzers read are still there
    assert facts.max_restarts == 9 and facts.by_status


def test_a_waiting_container_gives_kubectls_status_and_its_message():
    command, out = recorded("config-error-report-api-entrypoint-missing", "kubectl get pods")
    pods = parse_output("kube_pods", out, command=command).pods
    assert {p.status for p in pods} == {"CrashLoopBackOff"}
    assert pods[0].containers[0].last_reason == "StartError" and "no such file" in pods[0].containers[0].last_message


def test_yaml_lists_read_like_json():
    command, out = recorded("memory-pressure-ledger-api-256mi-limit-yaml", "kubectl get pods")
    assert looks_structured(out) and not out.lstrip().startswith("{")
    facts = parse_output("kube_pods", out, command=command)
    assert facts.format == "yaml" and facts.total == 2
    assert all(p.containers[0].last_reason == "OOMKilled" and p.containers[0].memory_limit_mb == 256 for p in facts.pods)


def test_a_recorded_table_answers_a_json_ask_and_parses_as_the_same_pods():
    command, out = recorded("image-pull-failure-checkout-tag-typo", "kubectl get pods")
    world = RecordedWorld(WorldRecord.model_validate({"hosts": {"bastion": {command: out}}}))
    result = asyncio.run(world.run_command("bastion", ["kubectl", "get", "pods", "--namespace", "shop", "--output", "json"], 10))
    assert result.ok and result.stdout == out
    facts = parse_output("kube_pods", result.stdout, command=result.command)
    assert facts.format == "table" and {p.status for p in facts.pods} >= {"ImagePullBackOff", "CrashLoopBackOff", "Running"}
    noisy = next(p for p in facts.pods if p.status == "CrashLoopBackOff")
    assert noisy.restarts == 212  # "212 (4m ago)" is one cell


def test_tables_of_every_kind_with_cells_that_hold_spaces():
    hpa = parse_output("kube_objects", "NAME      REFERENCE            TARGETS          MINPODS   MAXPODS   REPLICAS   AGE\n"
                                       "catalog   Deployment/catalog   cpu: 142%/70%    3         10        10         210d\n", command="kubectl get hpa -n shop")
    assert hpa.autoscalers[0].metrics == ["cpu: 142%/70%"] and hpa.autoscalers[0].current == 10
    pvc = parse_output("kube_objects", "NAME                 STATUS    VOLUME   CAPACITY   ACCESS MODES   STORAGECLASS    VOLUMEATTRIBUTESCLASS   AGE\n"
                                       "data-warehouse-pg-0  Pending                                      gp3-encrypted   <unset>                 34m\n", command="kubectl get pvc")
    assert pvc.claims[0].phase == "Pending" and pvc.claims[0].storage_class == "gp3-encrypted"
    ep = parse_output("kube_objects", "NAME       ENDPOINTS                                            AGE\n"
                                      "payments   <none>                                               402d\n"
                                      "checkout   10.20.11.5:8080,10.20.12.7:8080 + 1 more...          402d\n", command="kubectl get endpoints -n shop")
    assert ep.endpoints[0].ready == [] and len(ep.endpoints[1].ready) == 3
    pdb = parse_output("kube_objects", "NAME   MIN AVAILABLE   MAX UNAVAILABLE   ALLOWED DISRUPTIONS   AGE\napi    2               N/A               0                     30d\n",
                       command="kubectl get pdb")
    assert pdb.budgets[0].allowed == 0 and pdb.budgets[0].min_available == "2"
    cj = parse_output("kube_objects", "NAME            SCHEDULE    TIMEZONE   SUSPEND   ACTIVE   LAST SCHEDULE   AGE\nnightly-report  0 3 * * *   <none>     False     0        21h             90d\n",
                      command="kubectl get cronjobs")
    assert cj.cronjobs[0].schedule == "0 3 * * *" and cj.cronjobs[0].last_schedule == "21h"
    svc = parse_output("kube_objects", "NAME   TYPE        CLUSTER-IP    EXTERNAL-IP   PORT(S)         AGE    SELECTOR\napi    ClusterIP   172.20.9.31   <none>        80/TCP,443/TCP  300d   app=api,tier=web\n",
                       command="kubectl get svc -o wide")
    assert svc.services[0].selector == {"app": "api", "tier": "web"} and svc.services[0].selector_known and svc.services[0].ports == ["80/TCP", "443/TCP"]
    sa = parse_output("kube_objects", "NAME      SECRETS   AGE\ndefault   0         211d\nledger    0         211d\n", command="kubectl get sa -n finance")
    assert sa.others == ["ServiceAccount/finance/default", "ServiceAccount/finance/ledger"] or sa.others == ["ServiceAccount/default", "ServiceAccount/ledger"]


def test_kubectl_get_all_is_read_table_by_table():
    text = ("NAME                            READY   STATUS             RESTARTS   AGE\n"
            "pod/api-6c9f7d8b5d-2xkqj        1/1     Running            0          2d\n"
            "pod/api-6c9f7d8b5d-9zt4m        0/1     CrashLoopBackOff   12         2d\n\n"
            "NAME          TYPE        CLUSTER-IP     EXTERNAL-IP   PORT(S)   AGE\n"
            "service/api   ClusterIP   172.20.9.31    <none>        80/TCP    300d\n\n"
            "NAME                  READY   UP-TO-DATE   AVAILABLE   AGE\n"
            "deployment.apps/api   1/2     2            1           300d\n")
    facts = parse_output("kube_objects", text, command="kubectl get all -n shop")
    assert [p.status for p in facts.pods] == ["Running", "CrashLoopBackOff"] and facts.services[0].name == "api"
    assert facts.workloads[0].kind == "Deployment" and (facts.workloads[0].ready, facts.workloads[0].desired) == (1, 2)


def test_events_nodes_and_replicasets_as_json():
    command, out = recorded("image-pull-failure-coupon-expire-ghcr-private", "kubectl get events")
    events = parse_output(parser_for_command(command), out, command=command)
    assert events.parser == "kube_events" and events.events[0].kind == "pod" and "401 Unauthorized" in events.events[0].message
    command, out = recorded("config-error-gpu-inference-node-selector", "kubectl get nodes -o json")
    nodes = parse_output("kube_nodes", out, command=command)
    assert nodes.total == 3 and nodes.nodes[0].labels["node.kubernetes.io/instance-type"] == "m5.large" and nodes.nodes[0].ready
    rs_doc = {"kind": "List", "items": [{"kind": "ReplicaSet", "metadata": {"name": "api-7c9d8f6b54", "namespace": "shop", "creationTimestamp": "2026-03-02T01:00:00Z",
                                                                             "ownerReferences": [{"kind": "Deployment", "name": "api", "controller": True}]},
                                         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}},
                                                  "template": {"spec": {"containers": [{"name": "api", "image": "shop/api:4.30.1"}]}}},
                                         "status": {"readyReplicas": 1}}]}
    rs = parse_output("kube_replicasets", json.dumps(rs_doc), command="kubectl get rs -n shop -o json")
    assert rs.replicasets[0].deployment == "api" and rs.replicasets[0].images == ["shop/api:4.30.1"] and rs.replicasets[0].created is not None


def test_a_network_policy_description_is_a_policy_not_a_pod():
    command, out = recorded("network-unreachable-storefront-catalog-policy-admits-checkout-only", "kubectl describe networkpolicy")
    facts = parse_output(parser_for_command(command), out, command=command)
    assert facts.kind == "networkpolicy" and not facts.containers
    policy = facts.objects.policies[0]
    assert policy.pod_selector == {"app": "catalog-api"} and policy.policy_types == ["Ingress"]
    assert policy.ingress[0].ports == ["8080/TCP"] and policy.ingress[0].peers[0].pods == {"app": "checkout"} and not policy.egress
    # the same text without the command that printed it is still recognised by its shape
    assert parse_output("kube_describe", out).kind == "networkpolicy"


def test_descriptions_of_a_job_and_a_service():
    command, out = recorded("config-error-partner-report-job-stale-db-password", "kubectl describe job")
    job = parse_output("kube_describe", out, command=command).objects.jobs[0]
    assert (job.failed, job.succeeded, job.backoff_limit) == (3, 0, 2) and job.failed_for.reason == "BackoffLimitExceeded"
    svc = ("Name:              payments\nNamespace:         shop\nLabels:            app=payments\nSelector:          app=payments\nType:              ClusterIP\n"
           "IP:                172.20.81.4\nPort:              http  80/TCP\nTargetPort:        8080/TCP\nEndpoints:         <none>\nSession Affinity:  None\nEvents:            <none>\n")
    facts = parse_output("kube_describe", svc, command="kubectl describe svc payments -n shop")
    assert facts.kind == "service" and facts.objects.services[0].selector == {"app": "payments"} and facts.objects.endpoints[0].ready == []


def test_a_pod_description_keeps_probes_limits_and_the_last_run():
    command, out = recorded("memory-leak-session-api-cache-no-eviction", "kubectl describe pod")
    facts = parse_output("kube_describe", out, command=command)
    pod = facts.objects.pods[0]
    c = pod.containers[0]
    assert facts.kind == "pod" and c.last_reason == "OOMKilled" and c.last_exit_code == 137 and c.memory_limit_mb == 2048
    assert c.last_run_s is not None and c.last_run_s > 3600 and pod.owner.kind == "ReplicaSet"
    # the fields the older analyzers read did not move
    assert facts.containers[0].last_reason == "OOMKilled" and facts.containers[0].exit_code == 137 and facts.containers[0].memory_limit == "2Gi"


def test_the_kind_a_command_names():
    assert asked_kind("kubectl get deploy -n shop -o json") == "deployments"
    assert asked_kind("kubectl -n shop get netpol") == "networkpolicies"
    assert asked_kind("kubectl describe pvc/data-0") == "persistentvolumeclaims"
    assert parser_for_command("kubectl get jobs -n batch") == "kube_objects" and parser_for_command("kubectl top pods -n shop") == "kube_top"
    assert parser_for_command("kubectl get secrets -n shop") is None  # names only: the description is read instead


def test_garbage_is_a_parse_failure_never_an_exception():
    for parser in ("kube_pods", "kube_objects", "kube_events", "kube_nodes", "kube_describe", "kube_replicasets"):
        for text in ("{not json", "apiVersion: v1\nkind: [", "random words\nmore words", "{\"items\": 3}"):
            facts = parse_output(parser, text, command="kubectl get pods -o json")
            assert facts.ok is False or facts.parser == parser


def test_objects_of_any_kind_in_one_list():
    items = load_document(json.dumps({"kind": "List", "items": [
        {"kind": "Service", "metadata": {"name": "a", "namespace": "x"}, "spec": {"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"kind": "NetworkPolicy", "metadata": {"name": "deny", "namespace": "x"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
        {"kind": "PodDisruptionBudget", "metadata": {"name": "b", "namespace": "x"}, "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "a"}}},
         "status": {"disruptionsAllowed": 0}},
        {"kind": "Lease", "metadata": {"name": "l", "namespace": "x"}}]}))
    objs = objects_of(items)
    assert objs.services[0].ports == ["80:8080/TCP"] and objs.policies[0].pod_selector == {} and not objs.policies[0].ingress
    assert objs.budgets[0].allowed == 0 and objs.others == ["Lease/x/l"]
