"""Learning from conversations, end to end in headless Chromium against a fresh stack of real servers.

Scripted traffic with known counts (deflected, escalated, fallback, 👎 conversations) is checked
against the report (page, JSON and CSV); a supervisor relabels the fallback message in the NLU
inbox, `python -m desk export-nlu` writes it, a model is trained on the data plus the export,
Rasa restarts on it, and the same message is now answered as labelled.

Screenshots go to a temporary folder; with UPDATE_SCREENSHOTS=1 they replace the ones under
docs/screenshots/.
"""

import csv
import io
import os
import subprocess
import sys
import time

import pytest
import yaml
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.browser import Browser, browser_available, wait
from tests.conftest import PROJECT_ROOT
from tests.servers import start_stack
from tests.test_desk_browser import login, screenshots  # noqa: F401 - fixture

pytestmark = [pytest.mark.timeout(900), pytest.mark.skipif(
    not browser_available() and os.environ.get("CI") != "true",
    reason="Debian chromium + chromium-driver not installed (CI installs them)")]
CREATE_WALLET_ANSWER = "创建钱包只需一分钟"


@pytest.fixture(scope="module")
def fresh_stack(tmp_path_factory):
    """Its own servers and databases: the report must count only this test's traffic."""
    running = start_stack(tmp_path_factory.mktemp("learning"))
    yield running
    running.stop()


def scripted_traffic(stack, UNCLEAR):  # noqa: N803 - the test's one unclear message
    """5 conversations: 4 deflected (1 with a fallback, 1 rated 👎, 1 rated 👍), 1 escalated."""
    stack.send("怎么创建钱包", "learn-helpful")
    stack.send("/answer_helpful", "learn-helpful")
    stack.send("how much is the gas fee", "learn-plain")
    clarified = stack.send(UNCLEAR, "learn-fallback")
    assert any("不太确定" in (r.get("text") or "") for r in clarified), clarified
    answered = stack.send("怎么创建钱包", "learn-unhelpful")
    assert any(r.get("text") == "有帮助吗？" and [b["payload"] for b in r.get("buttons", [])]
               == ["/answer_helpful", "/answer_not_helpful"] for r in answered), answered
    sorry = stack.send("/answer_not_helpful", "learn-unhelpful")
    assert any("/request_human" in [b["payload"] for b in r.get("buttons", [])] for r in sorry), sorry
    stack.send("我要人工客服", "learn-escalated")
    assert stack.open_ticket("learn-escalated")


def retrain_with(stack, reviewed, out):
    trained = subprocess.run(
        [sys.executable, "-m", "rasa", "train", "--domain", "domain", "--config", "config.yml",
         "--data", "data", str(reviewed), "--out", str(out), "--fixed-model-name", "reviewed"],
        cwd=PROJECT_ROOT, env=stack.env, capture_output=True, text=True, timeout=600)
    assert trained.returncode == 0, trained.stderr[-3000:]
    model = out / "reviewed.tar.gz"
    for name, command in stack.commands.items():
        if name.startswith("rasa"):
            command[command.index("--model") + 1] = str(model)
    for name in [n for n in stack.commands if n.startswith("rasa")]:
        stack.crash_and_restart(name)


def test_relabel_export_retrain_and_report(fresh_stack, screenshots, tmp_path):
    stack = fresh_stack
    created = stack.desk_cli("create-agent", "lena", "--role", "supervisor", "--name", "Lena Wu", "--password-stdin",
                             stdin="lena-password-123\n")
    assert created.returncode == 0, created.stderr
    UNCLEAR = stack.unclear_message()  # noqa: N806 - a question this model falls back on
    scripted_traffic(stack, UNCLEAR)

    report = stack.desk("GET", "/api/report?period=day").json()
    assert (report["conversations"], report["deflected"], report["escalated"], report["fallback"],
            report["not_helpful"]) == (5, 4, 1, 1, 1), report
    assert report["deflection_rate"] == 0.8 and report["handoff_rate"] == 0.2 and report["fallback_rate"] == 0.2
    assert report["volume_per_channel"] == {"rest": 5}
    assert {"intent": "create_wallet", "helpful": 1, "not_helpful": 1, "helpful_rate": 0.5} in report["helpfulness"]
    assert sorted(e for t in report["topics"] for e in t["examples"]) == sorted([UNCLEAR, "怎么创建钱包"])
    rows = list(csv.reader(io.StringIO(stack.desk("GET", "/api/report.csv?period=week").text)))
    assert ["summary", "escalated", "1", ""] in rows and ["summary", "conversations", "5", ""] in rows

    browser = Browser()
    driver = browser.driver
    try:
        login(driver, stack, "lena", "lena-password-123")
        wait(driver, 20).until(lambda d: d.find_elements(By.ID, "nav-report"))  # logged in, not just posted
        driver.get(stack.desk_url + "/desk/report")
        shown = {key: driver.find_element(By.ID, f"r-{key}").text
                 for key in ("conversations", "deflected", "escalated", "fallback", "not-helpful", "deflection_rate")}
        assert shown == {"conversations": "5", "deflected": "4", "escalated": "1", "fallback": "1",
                         "not-helpful": "1", "deflection_rate": "80%"}, shown
        assert driver.find_elements(By.CSS_SELECTOR, "svg.chart") and driver.find_elements(By.CSS_SELECTOR, "tr.topic")
        driver.save_screenshot(str(screenshots / "desk-bot-report.png"))

        driver.find_element(By.ID, "nav-nlu").click()
        wait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "tr.nlu-item"))
        row = next(r for r in driver.find_elements(By.CSS_SELECTOR, "tr.nlu-item") if r.get_attribute("data-text") == UNCLEAR)
        assert "未理解" in row.text  # reason: fallback
        driver.save_screenshot(str(screenshots / "desk-nlu-inbox.png"))
        Select(row.find_element(By.CSS_SELECTOR, "select.nlu-intent")).select_by_visible_text("create_wallet")
        row.find_element(By.CSS_SELECTOR, "button.nlu-relabel").click()
        # The page reloads after the POST: rows read mid-reload are stale, so read them again.
        wait(driver, 20).until(
            lambda d: not [r for r in d.find_elements(By.CSS_SELECTOR, "tr.nlu-item")
                           if r.get_attribute("data-text") == UNCLEAR])
        driver.get(stack.desk_url + "/desk/nlu?status=labelled")
        labelled = [r for r in driver.find_elements(By.CSS_SELECTOR, "tr.nlu-item") if r.get_attribute("data-text") == UNCLEAR]
        assert labelled and "create_wallet" in labelled[0].find_element(By.CSS_SELECTOR, ".nlu-label").text
        driver.save_screenshot(str(screenshots / "desk-nlu-labelled.png"))
    finally:
        browser.close()

    reviewed = tmp_path / "reviewed"
    exported = stack.desk_cli("export-nlu", "--out", str(reviewed))
    assert exported.returncode == 0, exported.stderr
    examples = yaml.safe_load((reviewed / "create_wallet.yml").read_text(encoding="utf-8"))["nlu"][0]["examples"]
    assert [e["text"] for e in examples] == [UNCLEAR] and examples[0]["metadata"]["reviewed_by"] == "lena"

    retrain_with(stack, reviewed, tmp_path / "models")
    replies = stack.send(UNCLEAR, f"learn-after-{time.time_ns()}")
    assert replies and CREATE_WALLET_ANSWER in replies[0]["text"], replies
