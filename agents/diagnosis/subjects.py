"""What a person's words name: the workload and namespace a question about health is about.

"why is checkout-api failing in the shop namespace?", "payment-worker keeps
restarting", "shop 네임스페이스 api 파드 상태 확인해줘": the name next to a kind
word (pod, deployment, job, 파드 ...), after "what's wrong with", before
"keeps restarting", and a namespace after "namespace"/"-n". Every value goes
through the catalogue's own parameter type (a Kubernetes name) before it may
fill a playbook placeholder; words that are not names ("the", "prod") are
never taken. Labels an alert carries always win over words.
"""

from __future__ import annotations

import re
from functools import lru_cache

import yaml
from pydantic import BaseModel

_NAME = r"[`'\"]?([a-z0-9][a-z0-9.-]{0,62}[a-z0-9]|[a-z0-9])[`'\"]?"
KIND_WORDS = {"pod": "pod", "pods": "pod", "deployment": "deployment", "deploy": "deployment", "deployments": "deployment",
              "statefulset": "workload", "daemonset": "workload", "replicaset": "workload", "job": "job", "jobs": "job", "cronjob": "job",
              "service": "service", "svc": "service", "app": "service", "application": "service", "workload": "service", "container": "service",
              "worker": "service", "ingress": "service", "cronjob": "job", "파드": "pod", "포드": "pod", "디플로이먼트": "deployment", "배포": "deployment", "서비스": "service",
              "잡": "job", "크론잡": "job", "앱": "service", "컨테이너": "service", "워커": "service"}
_KIND = "|".join(sorted((k for k in KIND_WORDS if k.isascii()), key=len, reverse=True))
_KIND_KO = "|".join(sorted((k for k in KIND_WORDS if not k.isascii()), key=len, reverse=True))
_SYMPTOM = (r"(?:keeps?\s+(?:restarting|crashing|failing|dying)|(?:has|have)\s+(?:been\s+)?fail(?:ed|ing)|(?:is|are)\s+(?:still\s+)?(?:failing|down|crashing|restarting|unhealthy|broken|slow|"
            r"pending|not\s+(?:responding|working|ready|starting|running))|(?:isn't|aren't|doesn't|don't|won't|can't)\s+(?:respond|work|start|run|come up)|"
            r"(?:fails|crashes|restarts)\b|(?:is|are)\s+in\s+crashloop)")
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((key, re.compile(p, re.I)) for key, p in (
    ("namespace", r"\b(?:in|on|from|of)\s+(?:the\s+)?" + _NAME + r"\s+namespace\b"),
    ("namespace", _NAME + r"\s+namespace\b"),
    ("namespace", r"\b(?:namespace|ns)\s*[:=]?\s*" + _NAME),
    ("namespace", r"(?<![\w-])(?:" + _KIND + r")s?\s+in\s+(?:the\s+)?" + _NAME + r"(?!\s+(?:cluster|environment|env|region|account)\b)"),
    ("namespace", r"(?:^|\s)(?:-n|--namespace)[ =]" + _NAME),
    ("namespace", _NAME + r"\s*네임스페이스"),
    ("namespace", r"네임스페이스\s*" + _NAME),
    ("pod", r"\bPodName\s*=\s*" + _NAME),
    ("namespace_weak", r"\b(?:in|from)\s+" + _NAME + r"(?=[\s?.,!)]|$)"),
    ("kind_name", r"(?<![\w-])(" + _KIND + r")s?\s*[/:]?\s+(?:named\s+|called\s+)?" + _NAME),
    ("kind_name", r"(?<![\w-])(" + _KIND + r")/" + _NAME),
    ("name_kind", _NAME + r"\s+(" + _KIND + r")s?\b"),
    ("name_kind", _NAME + r"\s*(" + _KIND_KO + r")"),
    ("asked", r"(?:wrong with|issues? with|problems? with|going on with|happening (?:to|with)|status of|health of|check(?:ing)?(?: on)?|"
              r"investigate|debug|diagnose|look at|troubleshoot)\s+(?:the\s+|my\s+|our\s+)?" + _NAME),
    ("asked", r"\bwhy\s+(?:is|are|does|do|did)\s+(?:the\s+|my\s+|our\s+)?" + _NAME),
    ("asked", _NAME + r"\s+in\s+(?:the\s+)?[a-z0-9][a-z0-9-]*\s+namespace\b"),
    ("asked", _NAME + r"\s+(?:pods?\s+|service\s+|deployment\s+|job\s+)?" + _SYMPTOM),
    ("asked", _NAME + r"\s+(?:in|on)\s+(?:the\s+)?(?:staging|stage|prod|production|dev|qa|test)\s+" + _SYMPTOM),
    # a name shaped like a service's ("notification-svc", "orders-api", "report-scheduler"), wherever it stands
    ("asked", r"(?<![\w./=:-])([a-z][a-z0-9]*(?:-[a-z0-9]+)*-(?:svc|api|service|worker|web|app|server|gateway|scheduler|consumer|"
              r"processor|backend|frontend|proxy|exporter|sync|relay))(?![\w./-])"),
    ("asked", _NAME + r"\s*(?:이|가|은|는|의|에서)?\s*(?:상태|왜|계속|응답|자꾸|재시작|죽|에러|오류|안\s?돼|실패|느려)"),
))
STOPWORDS = {"the", "a", "an", "my", "our", "this", "that", "it", "its", "what", "why", "is", "are", "there", "something", "everything",
             "all", "any", "some", "which", "pods", "pod", "service", "services", "deployment", "deployments", "namespace", "cluster", "node",
             "nodes", "prod", "production", "staging", "stage", "dev", "k8s", "kubernetes", "eks", "wrong", "going", "on", "in", "of", "with",
             "for", "to", "me", "you", "we", "they", "and", "or", "not", "app", "apps", "application", "job", "jobs", "container", "workload",
             "here", "now", "today", "again", "still", "also", "just", "please", "system", "server", "servers", "site", "website", "page",
             "request", "requests", "error", "errors", "api's", "one", "two", "each", "every", "default-ns", "kubectl", "current", "new", "old",
             "please", "check", "status", "logs", "log", "database", "instance", "host",
             # verbs that follow a kind word ("the payment worker keeps crashing", "cart service returns 503s")
             "keeps", "keep", "returns", "return", "was", "were", "has", "have", "had", "fails", "failed", "failing", "crashes", "crashed",
             "crashing", "restarts", "restarted", "restarting", "throws", "gives", "shows", "says", "seems", "went", "goes", "stopped",
             "started", "cannot", "can", "will", "does", "did", "do", "isn't", "doesn't", "won't", "can't", "responding", "pending", "being",
             "been", "be", "that's", "there's", "got", "gets", "get", "stuck", "times", "timed", "hangs", "hung", "down", "up", "slow",
             "after", "before", "since", "when", "while", "because", "but", "so", "then", "yesterday", "tonight", "look", "looks", "seem",
             "seems", "as", "at", "by", "from", "into", "than", "too", "very", "was", "if", "has", "zero", "three", "four", "five",
             "none", "no", "many", "few", "more", "several", "other", "those", "these", "healthy", "running", "ready",
             # the states a pod is in ("pods stay in Init", "stuck in ContainerCreating")
             "init", "terminating", "crashloopbackoff", "containercreating", "imagepullbackoff", "errimagepull", "completed",
             "evicted", "unknown", "waiting", "loop", "crashloop", "backoff", "progress",
             # spans of time ("restarting every few hours in the pay namespace")
             "seconds", "second", "minutes", "minute", "hours", "hour", "days", "day", "weeks", "week", "months", "month", "mins", "hrs"}


class Subjects(BaseModel):
    """Names the words give, each already a valid Kubernetes name."""

    namespace: str | None = None
    workload: str | None = None  # the deployment, service or app
    pod: str | None = None
    job: str | None = None
    deployment: str | None = None
    others: list[str] = []  # every other object the words name next to a kind word ("the api pods", "the shop ingress")

    def names(self) -> set[str]:
        return {v for v in (self.workload, self.pod, self.job, self.deployment, *self.others) if v}


def _valid(value: str | None) -> str | None:
    from tools.param_types import ParamTypeError, validate

    if not value:
        return None
    value = value.strip("`'\".,:;!?").lower()
    if value in STOPWORDS or value.isdigit() or len(value) < 2 or re.fullmatch(r"v?\d+(?:\.\d+)+(?:-[a-z0-9.]+)?", value):
        return None  # "the 4.4.0 deploy" names a version, not a workload
    try:
        return str(validate("k8s_name", value, {}))
    except ParamTypeError:
        return None


def subjects_from_words(text: str) -> Subjects:
    """The workload and namespace the words name; nothing when they name none.

    A name next to a kind word ("the cart service", "job nightly-report") wins over one only a
    phrase points at ("what's wrong with X", "X keeps restarting")."""
    found = Subjects()
    if not text:
        return found
    named: list[tuple[str, str]] = []  # (kind, name) next to a kind word
    asked: list[tuple[int, str]] = []  # (where in the words, name): the earliest a phrase points at is the subject
    weak: str | None = None  # "ledger-api in finance": a namespace only when nothing better names one
    for key, pattern in PATTERNS:
        for m in pattern.finditer(text):
            if key == "namespace":
                found.namespace = found.namespace or _valid(m.group(1))
            elif key == "namespace_weak":
                weak = weak or _valid(m.group(1))
            elif key == "pod":
                value = _valid(m.group(1))
                if value:
                    named.append(("pod" if _POD.match(value) else "service", value))
            elif key == "kind_name":
                # "pod api-7c9d8f6b54-t4bwm", "job nightly-report", "deploy/checkout": a kind word before a name only when the name
                # looks like an object's (a hyphen, a digit, or kind/name); "the pods look healthy" names nothing
                if "/" in m.group(0) or re.search(r"[-0-9]", m.group(2)):
                    named.append((KIND_WORDS.get(m.group(1).lower(), KIND_WORDS.get(m.group(1).lower().rstrip("s"), "service")), m.group(2)))
            elif key == "name_kind":
                named.append((KIND_WORDS.get(m.group(2).lower(), KIND_WORDS.get(m.group(2).lower().rstrip("s"), "service")), m.group(1)))
            else:
                asked.append((m.start(1), m.group(1)))
    for kind, raw in named:
        value = _valid(raw)
        if not value:
            continue
        if kind == "pod" and not _POD.match(value):
            kind = "service"  # "the orders pod": the app's pods, not one pod's name
        if kind == "pod":
            found.pod = found.pod or value
        elif kind == "job":
            found.job = found.job or value
        elif kind == "deployment":
            found.deployment = found.deployment or value
        if kind != "pod" and found.workload and value != found.workload and value not in found.others:
            found.others.append(value)
        found.workload = found.workload or (value if kind != "pod" else None)
    if found.workload is None:
        found.workload = _workload_of_pod(found.pod) or next((v for v in (_valid(name) for _, name in sorted(asked)) if v and v != found.namespace), None)
    if found.namespace is None and weak and weak not in found.names() and weak not in WEAK_NAMESPACE_STOPWORDS and found.names():
        found.namespace = weak
    if not found.names():  # "결제가 가끔 실패해요": the names services of that kind are usually given, matched loosely
        found.others = [name for word, names in _service_words().items() if word in text for name in names]
    return found


@lru_cache(maxsize=1)
def _service_words() -> dict[str, list[str]]:
    from config.settings import CONFIG_DIR

    path = CONFIG_DIR / "glossary.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {str(k): [str(n) for n in v] for k, v in ((data or {}).get("service_words") or {}).items()}


# Words that follow "in" without being a namespace ("in production", "in the morning").
WEAK_NAMESPACE_STOPWORDS = {"production", "prod", "staging", "stage", "dev", "development", "morning", "afternoon", "evening", "night", "time",
                            "general", "total", "fact", "case", "place", "advance", "progress", "order", "line", "seoul", "korea", "us", "eu",
                            "kubernetes", "k8s", "eks", "aws", "cluster", "region", "zone", "logs", "grafana", "slack", "jira", "parallel"}


_POD = re.compile(r"^(.+?)-(?:[a-z0-9]{8,10}-[a-z0-9]{5}|[a-z0-9]{5}|\d+)$")


def _workload_of_pod(pod: str | None) -> str | None:
    m = _POD.match(pod or "")
    return m.group(1) if m else None


def playbooks_for_subjects(every: list, chosen: list, subjects: dict[str, str], values: dict[str, str], runs_cluster: bool = False) -> list:
    """A question naming a workload, or an alert naming a Kubernetes namespace (and no host), is about the cluster too:
    the kubernetes playbook, if not chosen. So is a complaint that names neither a host nor a workload in an environment
    whose spec runs a cluster ("thumbnails are late"): where the service runs is unknown, and the cluster's own sweep
    (unhealthy pods and warnings everywhere) is how an engineer starts."""
    named = any(subjects.get(k) for k in ("workload", "pod", "job", "deployment")) or bool(values.get("namespace"))
    if values.get("host") or not (named or runs_cluster):
        return []
    return [p for p in every if p.name == "kubernetes" and p not in chosen]


def environment_runs_cluster(spec: dict | None, environment: str) -> bool:
    """Whether the infrastructure spec gives the environment a Kubernetes cluster (EKS enabled)."""
    env = ((spec or {}).get("environments") or {}).get(environment) or {}
    return bool(env.get("enabled", True) and (env.get("eks") or {}).get("enabled"))
