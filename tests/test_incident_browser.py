"""Incident mode in real browsers: a supervisor announces it in the desk, a phone user sees the banner and subscribes.

Screenshots go to a temporary folder; with UPDATE_SCREENSHOTS=1 they replace
docs/screenshots/desk-incident.png and widget-incident.png.
"""

import os
import time

import pytest
from selenium.webdriver.common.by import By

from tests.browser import Browser, browser_available, wait
from tests.test_desk_browser import login, screenshots, supervisor  # noqa: F401 - fixtures
from tests.test_widget_browser import bot_texts, say, wait_bot

pytestmark = [
    pytest.mark.skipif(not browser_available() and os.environ.get("CI") != "true",
                       reason="Debian chromium + chromium-driver not installed (CI installs them)"),
    pytest.mark.timeout(300),
]
TITLE = "App 无法连接"
NOTICE_ZH = "部分地区节点故障，App 暂时无法连接，工程师正在切换备用节点。"


@pytest.fixture
def desk_and_phone():
    desk, phone = Browser(), Browser(width=390, height=844)
    yield desk.driver, phone.driver
    desk.close()
    phone.close()


def fill(driver, form_id, **fields):
    form = driver.find_element(By.ID, form_id)
    for name, value in fields.items():
        form.find_element(By.NAME, name).send_keys(value)
    return form


def test_announce_subscribe_update_and_resolve_across_desk_and_widget(stack, supervisor, desk_and_phone, screenshots):  # noqa: F811
    desk, phone = desk_and_phone
    login(desk, stack, *supervisor)
    desk.get(stack.desk_url + "/desk/incidents")
    intents = desk.find_element(By.CSS_SELECTOR, "#new-incident [name=intents]")
    assert intents.get_attribute("value") == "app_connectivity"
    fill(desk, "new-incident", title=TITLE, message_zh=NOTICE_ZH,
         message_en="A node failure stops the app from connecting in some regions; we are switching to backup nodes.").submit()
    wait(desk, 20).until(lambda d: "/desk/incidents/INC-" in d.current_url)
    incident_id = desk.current_url.rsplit("/", 1)[-1]
    try:
        assert desk.find_element(By.ID, "count-asked").text == "0"
        time.sleep(2.5)  # the bot's cached list of active incidents expires

        phone.get(stack.desk_url + "/widget/")
        banner = wait(phone, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, "#incident-banner.shown"))
        assert TITLE in banner.text and NOTICE_ZH in banner.text
        say(phone, "app一直转圈打不开")
        notice = wait_bot(phone, lambda t: TITLE in t)
        assert NOTICE_ZH in notice and "调查中" in notice
        button = wait(phone, 20).until(
            lambda d: next((b for b in d.find_elements(By.CSS_SELECTOR, ".rw-reply") if "恢复后通知我" in b.text), None))
        button.click()
        wait_bot(phone, lambda t: "恢复后我会第一时间在这里通知你" in t)
        phone.save_screenshot(str(screenshots / "widget-incident.png"))

        desk.refresh()
        wait(desk, 10).until(lambda d: d.find_element(By.ID, "count-subscribed").text == "1")
        assert desk.find_element(By.ID, "count-asked").text == "1"
        form = fill(desk, "incident-update", message_zh="已定位到故障节点，正在切换。", message_en="Faulty node found; switching.")
        form.find_element(By.NAME, "status").send_keys("已定位")
        form.find_element(By.NAME, "notify").click()
        form.submit()
        wait_bot(phone, lambda t: "最新进展" in t and "已定位到故障节点" in t, timeout=60)
        wait(desk, 10).until(lambda d: "已定位" in d.find_element(By.ID, "incident-status").text)

        fill(desk, "incident-resolve", message_zh="节点已全部恢复，请重新打开 App。", message_en="All nodes are back.").submit()
        wait(desk, 10).until(lambda d: "已恢复" in d.find_element(By.ID, "incident-status").text)
        wait_bot(phone, lambda t: "已恢复" in t and "节点已全部恢复" in t, timeout=60)
        assert sum("节点已全部恢复" in t for t in bot_texts(phone)) == 1
        phone.refresh()
        wait(phone, 20).until(lambda d: "已恢复" in " ".join(bot_texts(d)))
        assert not phone.find_elements(By.CSS_SELECTOR, "#incident-banner.shown")
        desk.refresh()
        history = desk.find_element(By.ID, "incident-history").text
        assert "调查中" in history and "已定位" in history and "已恢复" in history
        wait(desk, 20).until(lambda d: (d.refresh() or True) and "已送达 2" in d.find_element(By.ID, "count-deliveries").text)
        desk.save_screenshot(str(screenshots / "desk-incident.png"))
    finally:
        if stack.desk("GET", f"/api/incidents/{incident_id}").json()["status"] != "resolved":
            stack.desk("POST", f"/api/incidents/{incident_id}/resolve", json={"message_zh": "测试结束", "message_en": "end"})
        time.sleep(2.5)
