"""Items A and B of the desk's security review: passwords, login, cookies, deactivation, token scopes."""

import io
from datetime import datetime

import bcrypt
import pytest
import sqlalchemy

from desk import __main__ as cli
from desk.models import Agent
from desk.service import DeskError
from desk.settings import DeskSettings
from desk.sessions import WebSessions
from tests.desk.webapp import RunningDesk

LONG_PASSWORD = "我的钱包密码一定要足够长才安全" * 2  # 30 characters, 90 bytes in UTF-8
NOW = datetime(2026, 11, 22, 4, 0)


def run_cli(monkeypatch, desk_settings, *argv, stdin=""):
    monkeypatch.setattr(cli, "get_settings", lambda: desk_settings)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    cli.main(list(argv))


# ----- A: passwords over bcrypt's 72 bytes -------------------------------------------
def test_a_password_over_72_bytes_is_accepted_and_checked_in_full(service):
    assert len(LONG_PASSWORD.encode()) > 72
    service.create_agent("bob", LONG_PASSWORD)
    assert service.authenticate("bob", LONG_PASSWORD).username == "bob"
    # Same first 72 bytes, different end: must not match (no silent truncation).
    assert service.authenticate("bob", LONG_PASSWORD[:-1] + "X") is None


def test_create_agent_cli_takes_a_long_password(service, desk_settings, monkeypatch, capsys):
    run_cli(monkeypatch, desk_settings, "create-agent", "carol", "--password-stdin", stdin=LONG_PASSWORD + "\n")
    assert "created agent 'carol'" in capsys.readouterr().out
    assert service.authenticate("carol", LONG_PASSWORD) is not None


def test_existing_plain_bcrypt_hashes_keep_working(service):
    legacy = bcrypt.hashpw(b"correct horse battery", bcrypt.gensalt(4)).decode()
    with service.db.session() as s:
        s.add(Agent(username="old", display_name="Old", password_hash=legacy, role="agent", active=True))
    assert service.authenticate("old", "correct horse battery").username == "old"
    assert service.authenticate("old", "wrong horse battery") is None
    assert service.authenticate("old", LONG_PASSWORD) is None  # never an exception


def test_a_long_password_at_login_is_never_a_500_nor_tells_who_exists(service, agent):
    with RunningDesk(service) as desk:
        known = desk.login("alice", LONG_PASSWORD)
        unknown = desk.login("nobody", LONG_PASSWORD)
    assert known.status_code == unknown.status_code == 302
    assert known.headers["location"] == unknown.headers["location"] == "/desk/login?failed=1"


# ----- B: login timing, throttling, cookies --------------------------------------------
def test_an_unknown_username_costs_as_much_as_a_known_one(service, agent, monkeypatch):
    costs = []
    real = bcrypt.checkpw

    def spy(password, hashed):
        costs.append(hashed.split(b"$")[2])
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    service.authenticate("alice", "wrong password!!")
    service.authenticate("nobody", "wrong password!!")
    service.authenticate("api", "wrong password!!")  # the automation identity has no password at all
    assert len(costs) == 3 and len(set(costs)) == 1


def test_the_throttle_counts_failures_per_username_and_per_address():
    from desk.throttle import LoginThrottle

    clock = [0.0]
    throttle = LoginThrottle(max_failures=5, window_seconds=300, clock=lambda: clock[0])
    for i in range(5):
        assert throttle.refusal("alice", f"10.0.0.{i}") is None
        throttle.failed("alice", f"10.0.0.{i}")
    assert "alice" in throttle.refusal("alice", "10.0.0.99")  # the username, from any address
    assert throttle.refusal("bob", "10.0.0.99") is None
    for name in ("u1", "u2", "u3", "u4", "u5"):
        throttle.failed(name, "192.0.2.1")
    assert throttle.refusal("zed", "192.0.2.1") is not None  # the address, whatever username
    clock[0] = 301
    assert throttle.refusal("alice", "10.0.0.99") is None and throttle.refusal("zed", "192.0.2.1") is None


def test_the_sixth_failed_login_in_five_minutes_is_refused_with_429(service, agent):
    with RunningDesk(service) as desk:
        for _ in range(5):
            assert desk.login("alice", "wrong password!!").headers["location"] == "/desk/login?failed=1"
        refused = desk.login("alice", "correct horse battery")
    assert refused.status_code == 429
    assert "try again" in refused.text.lower()


def test_secure_cookies_setting_marks_every_cookie_secure(desk_settings, monkeypatch):
    monkeypatch.setenv("DESK_SECURE_COOKIES", "true")
    assert DeskSettings(database_url=desk_settings.database_url).secure_cookies is True
    monkeypatch.delenv("DESK_SECURE_COOKIES")
    assert DeskSettings(database_url=desk_settings.database_url).secure_cookies is False


def test_with_secure_cookies_the_desk_sets_secure_on_every_cookie(desk_settings, tmp_path):
    from desk.db import Database, migrate
    from desk.service import DeskService

    settings = desk_settings.copy(update={"secure_cookies": True})
    migrate(settings.database_url)
    service = DeskService(Database(settings.database_url), settings)
    service.create_agent("alice", "correct horse battery")
    with RunningDesk(service) as desk:
        form = __import__("requests").get(desk.url + "/desk/login", timeout=30)
        logged_in = desk.login("alice", "correct horse battery")
    set_cookies = [form.headers["set-cookie"], logged_in.headers["set-cookie"]]
    assert all("secure" in header.lower() for header in set_cookies), set_cookies
    assert "desk_session" in logged_in.headers["set-cookie"]


# ----- B: deactivation and revocation --------------------------------------------------
def test_a_deactivated_agent_loses_sessions_tokens_and_login(service, agent):
    sessions = WebSessions(service.db)
    cookie = sessions.open(agent, "zh")
    token = service.create_api_token("alice-laptop", "alice")
    assert sessions.find(cookie) is not None and service.api_identity(token).username == "alice"
    service.deactivate_agent("alice")
    assert sessions.find(cookie) is None
    assert service.api_identity(token) is None
    assert service.authenticate("alice", "correct horse battery") is None
    with pytest.raises(DeskError) as refused:
        service.deactivate_agent("api")
    assert refused.value.status == 400


def test_an_agent_bound_token_stops_working_when_its_agent_is_inactive(service, agent):
    token = service.create_api_token("alice-laptop", "alice")
    with service.db.engine.begin() as connection:
        connection.execute(sqlalchemy.text("update agents set active = 0 where username = 'alice'"))
    assert service.api_identity(token) is None


def test_tokens_are_revoked_by_name_or_id(service):
    first, second = service.create_api_token("ci"), service.create_api_token("ops")
    assert service.revoke_token("ci") == 1
    assert service.api_identity(first) is None and service.api_identity(second) is not None
    ops_id = [t["id"] for t in service.api_tokens() if t["name"] == "ops"][0]
    assert service.revoke_token(str(ops_id)) == 1
    assert service.api_identity(second) is None
    with pytest.raises(DeskError):
        service.revoke_token("nope")


def test_cli_deactivates_agents_and_revokes_tokens(service, agent, desk_settings, monkeypatch, capsys):
    token = service.create_api_token("ci")
    run_cli(monkeypatch, desk_settings, "revoke-token", "ci")
    run_cli(monkeypatch, desk_settings, "deactivate-agent", "alice")
    out = capsys.readouterr().out
    assert "revoked 1 token" in out and "deactivated 'alice'" in out
    assert service.api_identity(token) is None and service.authenticate("alice", "correct horse battery") is None


def test_supervisors_deactivate_and_revoke_over_the_api(service, agent):
    service.create_agent("sue", "correct horse battery", "supervisor")
    sue, alice = service.create_api_token("sue", "sue"), service.create_api_token("alice", "alice")
    ci = service.create_api_token("ci")
    with RunningDesk(service) as desk:
        assert desk.api("POST", "/api/agents/sue/deactivate", alice).status_code == 403
        assert desk.api("GET", "/api/tokens", alice).status_code == 403
        listed = desk.api("GET", "/api/tokens", sue).json()["tokens"]
        assert {t["name"] for t in listed} >= {"sue", "alice", "ci"} and all("hash" not in str(t) for t in listed)
        assert desk.api("POST", "/api/tokens/ci/revoke", sue).json() == {"revoked": 1}
        assert desk.api("GET", "/api/tickets", ci).status_code == 401
        assert desk.api("POST", "/api/agents/alice/deactivate", sue).status_code == 200
        assert desk.api("GET", "/api/tickets", alice).status_code == 401
        assert desk.api("POST", "/api/agents/nobody/deactivate", sue).status_code == 404


# ----- B: who may close, and what the bot's token may do ---------------------------------
def test_only_the_holder_or_a_supervisor_closes_a_claimed_ticket(service, agent):
    bob = service.create_agent("bob", "correct horse battery")
    sue = service.create_agent("sue", "correct horse battery", "supervisor")
    mine = service.escalate("c1", "P2", now=NOW).ticket.public_id
    other = service.escalate("c2", "P2", now=NOW).ticket.public_id
    service.claim(mine, bob)
    service.claim(other, bob)
    with pytest.raises(DeskError) as refused:
        service.close(mine, agent, "resolved")
    assert refused.value.status == 403
    assert service.close(mine, bob, "resolved").status == "closed"
    assert service.close(other, sue, "spam").status == "closed"
    unclaimed = service.escalate("c3", "P3", now=NOW).ticket.public_id
    assert service.close(unclaimed, agent, "duplicate").status == "closed"


def test_the_bots_token_reaches_only_the_bots_endpoints(service, agent):
    bot = service.settings.api_token
    ops = service.create_api_token("ops")
    with RunningDesk(service) as desk:
        created = desk.api("POST", "/api/escalations", bot, json={"conversation_id": "c1", "priority": "P3", "client": "h1"})
        assert created.status_code == 201
        ticket = created.json()["ticket"]["id"]
        for method, path, body in [
            ("GET", "/api/conversations/c1/ticket", None),
            ("POST", "/api/conversations/c1/messages", {"text": "还在吗"}),
            ("GET", "/api/conversations/c1/replies", None),
            ("POST", "/api/conversations/c1/replies/deliver", None),
            ("GET", "/api/conversations/c1/incident-notices", None),
            ("POST", "/api/conversations/c1/incident-notices/ack", {"ids": []}),
            ("GET", "/api/incidents?status=active&counts=false", None),
            ("POST", "/api/conversations/c1/cancel", None),
        ]:
            answer = desk.api(method, path, bot, json=body)
            assert answer.status_code < 400, (path, answer.text)
        for method, path, body in [
            ("GET", "/api/tickets", None), ("GET", f"/api/tickets/{ticket}", None), ("GET", "/api/metrics", None),
            ("POST", f"/api/tickets/{ticket}/close", {"outcome": "spam"}), ("PUT", "/api/shifts", {"shifts": []}),
            ("POST", "/api/incidents", {"title": "x"}), ("POST", "/api/incidents/INC-X/resolve", {}),
            ("GET", "/api/tokens", None), ("POST", "/api/agents/alice/deactivate", None),
        ]:
            answer = desk.api(method, path, bot, json=body)
            assert answer.status_code == 403, (path, answer.status_code)
            assert "bot" in answer.json()["error"]
        # Tokens from the CLI (ops scripts) keep the automation identity's reach.
        assert desk.api("GET", "/api/tickets", ops).status_code == 200
        assert desk.api("GET", "/api/metrics", ops).status_code == 200
