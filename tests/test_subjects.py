"""Workloads and namespaces from a person's words, through the Kubernetes name type, into playbook placeholders."""

from __future__ import annotations

import pytest

from agents.diagnosis.situation import placeholder_values, situation_of
from agents.diagnosis.subjects import subjects_from_words
from graphs.state import Alert, Request


@pytest.mark.parametrize("text,namespace,workload", [
    ("orders-api won't come up after the deploy, pods stay in Init", None, "orders-api"),  # a pod state is no namespace
    ("why is checkout-api failing in the shop namespace?", "shop", "checkout-api"),
    ("payment-worker keeps restarting", None, "payment-worker"),
    ("shop 네임스페이스 api 파드 상태 확인해줘", "shop", "api"),
    ("What is the issue with payment-processing-worker?", None, "payment-processing-worker"),
    ("the orders pod is not responding -n shop", "shop", "orders"),
    ("billing-sync 잡이 계속 실패해요", None, "billing-sync"),
    ("What is the issue with ledger-api in finance? it has zero pods", "finance", "ledger-api"),
    ("ledger-api keeps restarting (finance namespace)", "finance", "ledger-api"),
    ("why is the reporting deployment in shop failing?", "shop", "reporting"),
    ("cart keeps restarting in the shop namespace since the 4.4.0 deploy", "shop", "cart"),
    ("the payment worker keeps crashing in production", None, "payment"),
    ("cart service returns 503s", None, "cart"),
    # a span of time is not a workload, and the name said first is the subject
    ("payment-worker keeps restarting every few hours in the pay namespace", "pay", "payment-worker"),
    ("orders-sync has been failing for two days in the batch namespace", "batch", "orders-sync"),
    # an environment between the name and the symptom; a name shaped like a service's wherever it stands
    ("notification-svc in staging is down, QA says no emails", None, "notification-svc"),
    ("nightly reports didn't run; the report-scheduler looks green", None, "report-scheduler"),
])
def test_words_name_the_workload_and_namespace(text, namespace, workload):
    found = subjects_from_words(text)
    assert (found.namespace, found.workload) == (namespace, workload), found


@pytest.mark.parametrize("text", ["EKS 노드 수를 2개로 변경", "mysql on db1 disk is full, queries time out", "api 5xx 늘었어 prod",
                                  "the pods look healthy", "something is wrong", "check the status of Shop_API!",
                                  "ALARM: UnHealthyHostCount >= 1 (TargetGroup=shop-prod-web, AZ=ap-northeast-2b)"])
def test_words_that_name_no_workload_name_none(text):
    assert subjects_from_words(text).workload in (None, "api") if "api" in text else subjects_from_words(text).workload is None


def test_values_from_words_fill_placeholders_only_as_valid_names():
    values = placeholder_values(Request(text="why is checkout-api failing in the shop namespace?"))
    assert values["namespace"] == "shop" and values["service"] == "checkout-api" and values["deployment"] == "checkout-api"
    assert "namespace" not in placeholder_values(Request(text="what is wrong with x in the Shop_Prod namespace"))  # not a Kubernetes name
    assert "pod" not in placeholder_values(Request(text="pod $(rm -rf /) is failing"))
    # a database instance a person names, in English or Korean; a bare "db" names none
    assert placeholder_values(Request(text="리포트 DB(shop-prod-report)가 오후 2시쯤부터 느려요"))["db"] == "shop-prod-report"
    assert placeholder_values(Request(text="RDS shop-prod-pg is almost full"))["db"] == "shop-prod-pg"
    assert "db" not in placeholder_values(Request(text="the db is slow since noon"))


def test_labels_win_over_words_and_scrape_jobs_are_not_services():
    alert = Alert(name="KubePodCrashLooping", summary="pod api-1 crashloops", labels={"namespace": "shop", "deployment": "pricing", "job": "kube-state-metrics"})
    values = placeholder_values(Request(alert=alert, text="the cart service is fine"))
    assert values["service"] == "pricing" and values["namespace"] == "shop"
    assert situation_of(Request(alert=alert)).names == {"pricing", "shop"}
    assert situation_of(Request(text="what's wrong with redis?")).names == {"redis"}


def test_a_blackbox_probe_names_the_url_it_probed_and_the_name_to_resolve():
    alert = Alert(name="BlackboxProbeFailed", summary="admin HTTPS probe failing",
                  labels={"host": "edge-int-1", "probe": "https_2xx", "target": "https://admin.shop.internal/healthz"})
    values = placeholder_values(Request(alert=alert))
    assert (values["url"], values["url_host"], values["target"]) == ("https://admin.shop.internal/healthz", "admin.shop.internal",
                                                                     "admin.shop.internal")
    plain = placeholder_values(Request(alert=Alert(name="UpstreamDown", summary="s", labels={"target": "payments.shop.internal"})))
    assert plain["target"] == "payments.shop.internal" and "url" not in plain  # a bare name stays a name


def test_a_korean_service_word_names_the_usual_workload_names_only_when_nothing_else_is_named():
    from agents.diagnosis.subjects import subjects_from_words

    assert {"payment", "payments"} <= set(subjects_from_words("결제가 가끔 실패해요. 고객 문의가 계속 와요").others)
    assert subjects_from_words("payments-worker 결제 처리가 계속 실패해요").others == []  # a name given wins
