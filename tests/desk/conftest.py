import pytest

from desk.db import Database, migrate
from desk.service import DeskService
from desk.settings import DeskSettings, ShiftSetting

ALWAYS = (ShiftSetting(weekdays=tuple(range(7)), start="00:00", end="24:00", agents=2),)


@pytest.fixture
def desk_settings(tmp_path):
    return DeskSettings(database_url=f"sqlite:///{tmp_path / 'desk.db'}", default_shifts=ALWAYS, api_token="automation-token")


@pytest.fixture
def service(desk_settings):
    migrate(desk_settings.database_url)
    svc = DeskService(Database(desk_settings.database_url), desk_settings)
    svc.seed_shifts()
    return svc


@pytest.fixture
def agent(service):
    return service.create_agent("alice", "correct horse battery", "agent", "Alice")
