"""A real Prometheus scrapes a real gateway with the shipped config, rules and dashboard.

Known traffic at a known steady rate goes in; Prometheus's HTTP API must give back the
exact total, the rate and the usage/quota ratio (within what scraping allows), load every
alert rule, and accept every dashboard query.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.rawclient import signed_headers
from tests.e2e.server import GatewayProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "kms-gateway.json"

RATE = 20  # Encrypt requests per second
SECONDS = 6
TOTAL = RATE * SECONDS
SYMMETRIC_QUOTA = 100  # requests per second, so the usage ratio is RATE / 100
# Grafana's variables, as the dashboard's queries would see them.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$account": ".*",
    "$region": ".*",
}

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None,
    reason="needs the prometheus and promtool binaries (apt-get install -y prometheus)",
)


def _promtool(*args: str) -> None:
    done = subprocess.run(
        ["promtool", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


class Prometheus:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:  # 400/422 carry the error as JSON
            return json.loads(err.read())

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        answer = self.get("/api/v1/query", **params)
        assert answer["status"] == "success", (expr, answer)
        return answer["data"]["result"]

    def scalar(self, expr: str, at: float | None = None) -> float | None:
        result = self.query(expr, at)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    tmp = tmp_path_factory.mktemp("prom-gateway")
    config = tmp / "gateway.toml"
    config.write_text(
        f'[[quota]]\nname = "kms:CryptographicOperationsSymmetric"\nvalue = {SYMMETRIC_QUOTA}\n'
    )
    server = GatewayProcess(tmp / "data", workers=2, extra_args=["--config", str(config)])
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def prometheus_config(gateway: GatewayProcess,
                      tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/prometheus/prometheus.yml, pointed at the test gateway, scraping every second."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [str(RULES)]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "kms-gateway"]
    job["scrape_interval"] = "1s"
    job["static_configs"] = [{"targets": [f"127.0.0.1:{gateway.port}"]}]
    path = tmp_path_factory.mktemp("prometheus") / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def prometheus(prometheus_config: Path) -> Iterator[Prometheus]:
    port = free_port()
    data = prometheus_config.parent / "tsdb"
    log = open(prometheus_config.parent / "prometheus.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        ["prometheus", f"--config.file={prometheus_config}", f"--storage.tsdb.path={data}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    server = Prometheus(port)
    try:
        def ready() -> bool:
            if process.poll() is not None:
                log.flush()
                raise RuntimeError(
                    "prometheus exited:\n" + (prometheus_config.parent / "prometheus.log")
                    .read_text()
                )
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as response:
                    return response.status == 200
            except (urllib.error.URLError, OSError):
                return False

        wait_for(ready, 30, "prometheus to be ready")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def steady_traffic(gateway: GatewayProcess, prometheus: Prometheus) -> tuple[float, float]:
    """RATE Encrypt per second for SECONDS seconds, open loop; returns (start, end)."""
    wait_for(lambda: prometheus.scalar('up{job="kms-gateway"}') == 1, 20,
             "the first successful scrape")
    key_id = gateway.client().create_key()["KeyMetadata"]["KeyId"]
    body = json.dumps({"KeyId": key_id, "Plaintext": "aGVsbG8="}).encode()
    headers = signed_headers(gateway.url, "TrentService.Encrypt", body)
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    start = time.time() + 0.2
    try:
        for i in range(TOTAL):
            delay = start + i / RATE - time.time()
            if delay > 0:
                time.sleep(delay)  # pacing the load, not an assertion
            conn.request("POST", "/", body=body, headers=headers)
            response = conn.getresponse()
            assert response.status == 200, response.read()
            response.read()
    finally:
        conn.close()
    return start, time.time()


ENCRYPT = 'aws_usage_call_count_total{resource="Encrypt"}'
USAGE_LABELS = "service, type, resource, class, account, region"


def test_config_and_rules_pass_promtool(prometheus_config: Path):
    _promtool("check", "rules", str(RULES))
    _promtool("check", "config", str(prometheus_config))


def test_prometheus_gets_the_exact_total(steady_traffic, prometheus):
    wait_for(lambda: prometheus.scalar(ENCRYPT) == TOTAL, 30,
             f"a scrape showing all {TOTAL} Encrypt calls")
    assert prometheus.scalar(f'sum(increase({ENCRYPT}[1h]))') == pytest.approx(TOTAL, rel=0.3)


def test_usage_rate_and_quota_ratio_match_the_sent_rate(steady_traffic, prometheus):
    start, end = steady_traffic
    wait_for(lambda: prometheus.scalar(ENCRYPT) == TOTAL, 30, "the scrape after the traffic")
    # A window well inside the traffic, so the rate is the steady one.
    at, window = start + SECONDS - 1, "4s"
    assert at - 4 > start and at < end
    rate = prometheus.scalar(f"rate({ENCRYPT}[{window}])", at)
    assert rate is not None
    assert rate == pytest.approx(RATE, rel=0.3)
    assert prometheus.scalar('aws_usage_service_quota{resource="Encrypt"}') == SYMMETRIC_QUOTA
    ratio = prometheus.scalar(
        f"rate({ENCRYPT}[{window}]) / on ({USAGE_LABELS}) aws_usage_service_quota", at
    )
    assert ratio == pytest.approx(rate / SYMMETRIC_QUOTA, rel=1e-9)
    assert ratio == pytest.approx(RATE / SYMMETRIC_QUOTA, rel=0.3)


def test_every_alert_rule_loads_and_evaluates(prometheus):
    shipped = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
    }

    def evaluated() -> dict[str, dict] | None:
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        rules = {r["name"]: r for g in groups for r in g["rules"] if r["type"] == "alerting"}
        if set(rules) == shipped and all(r["health"] != "unknown" for r in rules.values()):
            return rules
        return None

    rules = wait_for(evaluated, 20, "every alert rule to be evaluated once")
    for name, rule in rules.items():
        assert rule["health"] == "ok", (name, rule.get("lastError"))
    # Nothing is wrong with the test gateway, so nothing may fire.
    assert {n: r["state"] for n, r in rules.items() if r["state"] == "firing"} == {}


def dashboard_queries() -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                found.append(node["expr"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    dashboard = json.loads(DASHBOARD.read_text())
    walk(dashboard["panels"])
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            # label_values(metric, label) is Grafana's; the metric part is PromQL.
            match = re.fullmatch(r"label_values\((.+),\s*\w+\)", variable["definition"])
            assert match, variable["definition"]
            found.append(match.group(1))
    return found


def substitute(expr: str) -> str:
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    assert "$" not in expr, f"unknown Grafana variable in {expr}"
    return expr


def test_the_dashboard_uses_its_datasource_input():
    dashboard = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(panels) >= 12
    for panel in panels:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], panel["title"]


def test_every_dashboard_query_is_valid_promql(steady_traffic, prometheus):
    queries = dashboard_queries()
    assert len(queries) >= 15
    for expr in queries:
        prometheus.query(substitute(expr))  # asserts status "success"
    # The usage-vs-quota panel shows the traffic just sent.
    wait_for(lambda: prometheus.scalar(ENCRYPT) == TOTAL, 30, "the scrape after the traffic")
    (usage,) = [q for q in queries if q.startswith("rate(aws_usage_call_count_total")]
    assert prometheus.query(substitute(usage)), "no usage/quota series for the traffic"
