"""The users' web widget (rasa-webchat from npm) in headless Chromium at phone width, against the real servers."""

import os
import re
import time

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser import Browser, browser_available, wait
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.skipif(
    not browser_available() and os.environ.get("CI") != "true",
    reason="Debian chromium + chromium-driver not installed (CI installs them)",
)
TICKET_ID = re.compile(r"T-[2-9A-HJ-NP-Z]{6}")


@pytest.fixture
def phone():
    session = Browser(width=390, height=844)
    yield session
    session.close()


def bot_texts(driver):
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".rw-response")]


def say(driver, text):
    box = wait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, ".rw-new-message"))
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def wait_bot(driver, predicate, timeout=30):
    return wait(driver, timeout).until(lambda d: next((t for t in bot_texts(d) if predicate(t)), None))


def session_id(driver):
    return driver.execute_script("return (JSON.parse(localStorage.getItem('chat_session')) || {}).session_id || null")


def test_a_user_chats_reloads_escalates_and_gets_the_agents_reply(stack, phone):
    driver = phone.driver
    driver.get(stack.desk_url + "/widget/")
    assert "助记词" in driver.find_element(By.ID, "bar").text  # the safety line, Chinese by default
    say(driver, "怎么创建钱包")
    wait_bot(driver, lambda t: "创建" in t)
    session = wait(driver, 10).until(lambda d: session_id(d))
    assert "." in session  # issued and signed by the server

    say(driver, "那个怎么搞")
    buttons = wait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".rw-reply"))
    assert len(buttons) >= 2

    driver.refresh()
    wait(driver, 30).until(lambda d: any("创建" in t for t in bot_texts(d)))  # history is back
    assert session_id(driver) == session
    tracker = requests.get(f"{stack.rasa_url}/conversations/{session}/tracker", params={"token": stack.api_token}, timeout=30).json()
    assert any(e.get("text") == "怎么创建钱包" for e in tracker["events"] if e.get("event") == "user")

    say(driver, "我的币被人转走了，不是我操作的")
    opened = wait_bot(driver, lambda t: TICKET_ID.search(t) is not None)
    ticket_id = TICKET_ID.search(opened).group(0)
    banner = wait(driver, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, "#ticket-banner.shown"))
    assert ticket_id in banner.text

    sent = stack.desk("POST", f"/api/tickets/{ticket_id}/reply", json={"text": "您好，我是客服，请提供被盗地址。"})
    assert sent.status_code == 201
    wait_bot(driver, lambda t: "人工客服：您好，我是客服" in t)
    wait(driver, 20).until(lambda d: "客服已接手" in d.find_element(By.ID, "ticket-banner").text)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        (PROJECT_ROOT / "docs/screenshots").mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(PROJECT_ROOT / "docs/screenshots/widget-mobile.png"))

    driver.find_element(By.ID, "language-toggle").click()
    wait(driver, 20).until(lambda d: "seed phrase" in d.find_element(By.ID, "bar").text)
    box = wait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, ".rw-new-message"))
    assert box.get_attribute("placeholder") == "Type your question…"


def test_a_page_from_another_origin_gets_no_socket(stack, phone):
    driver = phone.driver
    port = stack.desk_url.rsplit(":", 1)[1]
    driver.get(f"http://localhost:{port}/widget/")  # same page, an origin not on the allowlist
    time.sleep(8)
    assert driver.find_elements(By.CSS_SELECTOR, ".rw-new-message") == []  # the widget never got connected
    assert bot_texts(driver) == [] and session_id(driver) is None


def test_a_forged_session_id_in_the_browser_does_not_open_another_conversation(stack, phone):
    from tests.socketio_user import SocketIOUser

    victim = SocketIOUser(stack.rasa_url)
    try:
        victim.say("我的助记词备份在哪里看")
        victim.wait_for(lambda m: bool(m.get("text")))
    finally:
        victim.close()
    nonce = victim.session_id.split(".")[0]
    driver = phone.driver
    driver.get(stack.desk_url + "/widget/")
    driver.execute_script("localStorage.setItem('chat_session', JSON.stringify({session_id: arguments[0]}))", f"{nonce}.{'f' * 32}")
    driver.refresh()
    say(driver, "你好")
    wait_bot(driver, lambda t: bool(t))
    assert session_id(driver) not in (victim.session_id, f"{nonce}.{'f' * 32}")
    assert not any("助记词备份" in t for t in bot_texts(driver))
    tracker = requests.get(f"{stack.rasa_url}/conversations/{victim.session_id}/tracker", params={"token": stack.api_token}, timeout=30).json()
    assert [e["text"] for e in tracker["events"] if e.get("event") == "user"] == ["我的助记词备份在哪里看"]


def test_the_widget_bundle_comes_from_our_server_not_a_cdn(stack):
    page = requests.get(stack.desk_url + "/widget/", timeout=30)
    assert page.status_code == 200
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert scripts == ["/widget/webchat.js"]
    bundle = requests.get(stack.desk_url + "/widget/webchat.js", timeout=30)
    assert bundle.status_code == 200 and "WebChat" in bundle.text[:2000]


def test_ticket_status_needs_a_session_id_we_signed(stack):
    assert requests.get(stack.desk_url + "/widget/status", params={"session": "someone-else"}, timeout=30).status_code == 400
    assert requests.get(stack.desk_url + "/widget/status", timeout=30).status_code == 400


def test_answer_feedback_is_a_quick_reply_and_a_thumbs_down_offers_a_person(stack, phone):
    driver = phone.driver
    driver.get(stack.desk_url + "/widget/")
    say(driver, "怎么导入钱包")
    wait_bot(driver, lambda t: "有帮助吗" in t)
    replies = wait(driver, 30).until(
        lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, ".rw-reply") if "👎" in b.text] and
        d.find_elements(By.CSS_SELECTOR, ".rw-reply"))
    assert [b.text for b in replies] == ["👍 有帮助", "👎 没帮助"]
    replies[1].click()
    wait_bot(driver, lambda t: "抱歉没帮上忙" in t)
    offered = wait(driver, 30).until(
        lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, ".rw-reply") if b.text == "转人工"])
    assert offered
    session = driver.execute_script("return (JSON.parse(localStorage.getItem('chat_session')) || {}).session_id || null")
    items = stack.desk("GET", "/api/nlu/inbox?status=pending&reason=not_helpful").json()["items"]
    assert [i["text"] for i in items if i["conversation_id"] == session] == ["怎么导入钱包"]
