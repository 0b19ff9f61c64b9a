"""A throw-away PostgreSQL server for tests: Debian's binaries, a temp cluster, a free port.

initdb refuses to run as root, so as root the cluster belongs to the
``postgres`` system user (runuser); otherwise to the current user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from tests.servers import free_ports

BIN = Path("/usr/lib/postgresql/15/bin")


def postgres_available() -> bool:
    return (BIN / "initdb").exists() and (os.getuid() != 0 or shutil.which("runuser") is not None)


def _as_owner(command: List[str]) -> List[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else command


@dataclass
class TempPostgres:
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run(_as_owner([str(BIN / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> Optional[TempPostgres]:
    root = Path(tempfile.mkdtemp(prefix="pg-test-"))
    if os.getuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_ports(1)[0]
    data = root / "data"
    subprocess.run(_as_owner([str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
                   check=True, capture_output=True, timeout=120)
    subprocess.run(_as_owner([str(BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60", "-o",
                              f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"]),
                   check=True, capture_output=True, timeout=120)
    return TempPostgres(root=root, port=port)
