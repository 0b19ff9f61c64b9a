"""`rasa test` on the end-to-end test stories in tests/stories/: NLU and dialogue together."""

import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT
from tests.servers import latest_model

pytestmark = pytest.mark.timeout(900)


def test_every_test_story_is_predicted_exactly(tmp_path):
    result = subprocess.run(
        [
            sys.executable, "-m", "rasa", "test", "core",
            "--model", str(latest_model()),
            "--stories", str(PROJECT_ROOT / "tests/stories"),
            "--out", str(tmp_path),
            "--fail-on-prediction-errors",
        ],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=850,
    )
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text(encoding="utf-8") if failed.exists() else ""
    assert result.returncode == 0, f"{details}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
