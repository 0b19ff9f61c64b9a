"""An agent works a ticket in the desk's pages, in headless Chromium, against the real servers.

Screenshots go to a temporary folder; with UPDATE_SCREENSHOTS=1 they replace
the ones committed under docs/screenshots/.
"""

import os
import re
import time
from pathlib import Path

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser import Browser, browser_available, wait
from tests.conftest import PROJECT_ROOT
from tests.socketio_user import SocketIOUser

pytestmark = pytest.mark.skipif(
    not browser_available() and os.environ.get("CI") != "true",
    reason="Debian chromium + chromium-driver not installed (CI installs them)",
)
TICKET_ID = re.compile(r"T-[2-9A-HJ-NP-Z]{6}")


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        folder = PROJECT_ROOT / "docs/screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def supervisor(stack):
    created = stack.desk_cli("create-agent", "sue", "--role", "supervisor", "--name", "Sue Chen", "--password-stdin",
                             stdin="sue-password-123\n")
    assert created.returncode == 0 or "exists" in created.stderr, created.stderr
    return "sue", "sue-password-123"


@pytest.fixture
def browser():
    session = Browser()
    yield session
    session.close()


def close_every_open_ticket(stack):
    """Other tests leave tickets; the agent here must see this test's ticket first."""
    for ticket in stack.desk("GET", "/api/tickets?status=open").json()["tickets"]:
        stack.desk("POST", f"/api/tickets/{ticket['id']}/close", json={"outcome": "duplicate"})


def login(driver, stack, username, password):
    driver.get(stack.desk_url + "/desk/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-button").click()
    # The login page is under /desk/ too: wait for the POST's answer (another page, or the error).
    wait(driver, 20).until(lambda d: "/desk/login" not in d.current_url or d.find_elements(By.ID, "login-error"))


def across_reloads(driver, read, timeout=20):
    """``read(driver)``, retried while a page reload detaches the nodes it holds (the queue reloads every
    10 s, a ticket page after its close).

    Chromium reports such a node as stale or, mid-navigation, with a plain WebDriverException
    ("Node with given id does not belong to the document"); both are read again from the new page.
    """
    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException, WebDriverException)).until(
        lambda d: read(d) or None)


def first_countdown(driver):
    return driver.find_element(By.CSS_SELECTOR, "tr.ticket-row [data-deadline]").text


def test_an_agent_claims_replies_and_closes_in_the_browser(stack, supervisor, browser, screenshots):
    close_every_open_ticket(stack)
    driver = browser.driver
    user = SocketIOUser(stack.rasa_url, "browser-user-" + str(int(time.time())))
    try:
        user.say("我的USDT被人转走了，不是我操作的")
        ticket_id = TICKET_ID.search(user.wait_for(lambda m: TICKET_ID.search(m.get("text") or ""))["text"]).group(0)
        stack.send("我要人工客服", sender="browser-other-user")  # a P3 behind it

        login(driver, stack, *supervisor)
        rows = across_reloads(driver, lambda d: [(row.get_attribute("data-ticket"), row.text)
                                                 for row in d.find_elements(By.CSS_SELECTOR, "tr.ticket-row")])
        assert rows[0][0] == ticket_id
        assert "P1" in rows[0][1] and "P3" in rows[-1][1]
        first = across_reloads(driver, first_countdown)
        time.sleep(1.2)
        second = across_reloads(driver, first_countdown)
        assert second != first and re.match(r"0:2\d:\d\d", second)  # a live countdown
        driver.save_screenshot(str(screenshots / "desk-queue.png"))

        across_reloads(driver, lambda d: d.find_element(By.CSS_SELECTOR, f'tr[data-ticket="{ticket_id}"] a').click()
                       or True)
        driver.find_element(By.ID, "claim").click()
        wait(driver, 20).until(EC.text_to_be_present_in_element((By.ID, "ticket-status"), "claimed"))
        transcript = driver.find_element(By.ID, "transcript").text
        assert "USDT被人转走了" in transcript and "助记词" in transcript  # whole conversation, bot answers included

        mark = len(user.received)
        driver.find_element(By.ID, "reply-text").send_keys("你好，我是客服 Sue。请提供被盗地址和交易哈希。")
        driver.find_element(By.ID, "send-reply").click()
        user.wait_for_text("人工客服：你好，我是客服 Sue。", since=mark)

        user.say("哈希是 0xabc123 开头的那笔")
        wait(driver, 30).until(EC.text_to_be_present_in_element((By.ID, "thread"), "0xabc123"))
        driver.save_screenshot(str(screenshots / "desk-ticket.png"))

        mark = len(user.received)
        Select(driver.find_element(By.ID, "outcome")).select_by_value("resolved")
        driver.find_element(By.ID, "close-ticket").click()
        # The page reloads the ticket after the close.
        across_reloads(driver, EC.text_to_be_present_in_element((By.ID, "ticket-status"), "closed"))
        user.wait_for(lambda m: "打分" in (m.get("text") or ""), since=mark)
        mark = len(user.received)
        user.say("4")
        user.wait_for_text("4 分", since=mark)
        driver.refresh()
        assert driver.find_element(By.ID, "csat").text == "4"

        driver.get(stack.desk_url + "/desk/dashboard")
        sla = wait(driver, 20).until(lambda d: d.find_element(By.ID, "sla"))
        assert "P1" in sla.text
        driver.find_element(By.ID, "language-toggle").click()
        wait(driver, 20).until(EC.text_to_be_present_in_element((By.TAG_NAME, "h2"), "Supervisor dashboard"))
        driver.save_screenshot(str(screenshots / "desk-dashboard.png"))
    finally:
        user.close()


def test_wrong_password_and_forms_without_csrf_are_refused(stack, supervisor, browser):
    driver = browser.driver
    login(driver, stack, "sue", "not-the-password")
    # The login page's URL already contains "/desk/": wait for the answer to the POST itself.
    error = wait(driver, 20).until(EC.presence_of_element_located((By.ID, "login-error")))
    assert error.is_displayed()
    # A cross-site form post carries the session cookie only if SameSite allowed it; without the
    # CSRF token it is refused either way.
    session = requests.Session()
    page = session.get(stack.desk_url + "/desk/login", timeout=10)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    logged_in = session.post(stack.desk_url + "/desk/login", data={"csrf": token, "username": "sue", "password": "sue-password-123"},
                             timeout=10, allow_redirects=False)
    assert logged_in.status_code == 302 and "desk_session" in session.cookies
    ticket = stack.desk("POST", "/api/escalations", json={"conversation_id": "csrf-check", "priority": "P3"}).json()["ticket"]["id"]
    forged = session.post(f"{stack.desk_url}/desk/tickets/{ticket}/claim", data={}, timeout=10, allow_redirects=False)
    assert forged.status_code == 403
    assert stack.desk("GET", f"/api/tickets/{ticket}").json()["status"] == "open"
    anonymous = requests.get(stack.desk_url + "/desk/", timeout=10, allow_redirects=False)
    assert anonymous.status_code == 302 and anonymous.headers["location"].endswith("/desk/login")
