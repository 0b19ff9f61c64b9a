"""Emptying SQLite's write-ahead log after stored text was hidden: shared by the tracker store and the desk.

A row rewritten to hide the first part of a seed phrase leaves its old version in the log's frames,
readable in the ``-wal`` file though no query returns it (``secure_delete`` on each connection zeroes
the bytes a change frees in the database file itself).
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

logger = logging.getLogger(__name__)

# A reader in the middle of a transaction is not waited for longer (a turn's answer would wait).
BUSY_WAIT_MS = 50


def empty_write_ahead_log(engine: Any) -> bool:
    """Copy the log into the database and cut it to nothing; whether it was (always, off SQLite).

    False when a reader kept the checkpoint from finishing or it failed: the caller tries again later.
    """
    if engine.dialect.name != "sqlite":
        return True
    try:
        with engine.connect() as connection:
            waits = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
            connection.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_WAIT_MS}")
            try:
                busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()[0]
            finally:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={int(waits or 0)}")
    except sa.exc.SQLAlchemyError as error:
        logger.warning(f"write-ahead log of {engine.url!r} not emptied ({error}); tried again later")
        return False
    return not busy
