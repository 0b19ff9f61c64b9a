"""Load the model once, then fork the Rasa server and its workers from that process (issue #21).

    python -m rasa_server.fork_server SPEC.json

Each Rasa process (the front users connect to and every worker, ``rasa_server/workers.py``)
used to import Rasa and TensorFlow and load the model on its own: about 390 MB of private
memory each, of which the TensorFlow import alone is about 200 MB although no TensorFlow op
runs per message (the classifier is scikit-learn; results/profile.md). Here one parent
imports Rasa, loads the model, and then forks the processes, which start ``rasa run`` as
usual but find the model already loaded. The pages the parent filled stay shared
copy-on-write until a child writes to them, and a model's arrays, TensorFlow's libraries
and most of the imported modules are never written again.

Forking is safe here because the parent never starts an event loop thread, a database
connection or a TensorFlow session before it forks: it only imports and unpickles.
Everything a server opens (its tracker store, lock store, HTTP sessions, outboxes) is made
in the child by ``rasa run``'s own start-up.

The parent is a small supervisor for its children, like supervisord is for the programs
of ``make run``: a child that exits is forked again from the loaded state (in about a
second, since nothing is loaded again), so a crash of one Rasa process never stops the
others. A child dies with its parent (``PR_SET_PDEATHSIG``); supervisord restarts the
parent. SIGTERM or SIGINT to the parent stops every child, then the parent.

The spec (JSON) names the model and the processes::

    {"model": "models", "log_dir": "var/log", "pid_dir": "var/run", "preload": true,
     "processes": [{"name": "rasa-worker-1", "argv": ["run", "--port", "5006", ...],
                    "env": {"RASA_WORKER_URLS": ""}}, ...]}

``argv`` is ``rasa``'s command line; ``${NAME}`` in it is read from the environment, so
secrets never sit in the spec. Each child writes its output to ``<log_dir>/<name>.log``
and its process id to ``<pid_dir>/<name>.pid``. ``"preload": false`` (env
``RASA_SHARED_MODEL=off``, or all optimisations off: ``RASA_OPTIMISATIONS=off``) forks before anything is loaded: every child loads its own
model, as separate ``rasa run`` processes do.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

logger = logging.getLogger("rasa_server.fork_server")

PR_SET_PDEATHSIG = 1
# A child that exits sooner than this after its fork is forked again only after a pause
# that doubles each time (1, 2, 4 … MAX_PAUSE s); one that ran longer comes back at once.
QUICK_EXIT_SECONDS = 10.0
MAX_PAUSE_SECONDS = 30.0
STOP_WAIT_SECONDS = 15.0


@dataclass
class ChildSpec:
    name: str
    argv: List[str]
    env: Dict[str, str] = field(default_factory=dict)


@dataclass
class ForkSpec:
    model: str
    log_dir: Path
    pid_dir: Path
    processes: List[ChildSpec]
    preload: bool = True

    @classmethod
    def from_json(cls, text: str, environ: Optional[Dict[str, str]] = None) -> "ForkSpec":
        raw = json.loads(text)
        environ = dict(os.environ if environ is None else environ)
        switched_off = ("0", "off", "false", "no")
        preload = (bool(raw.get("preload", True)) and environ.get("RASA_SHARED_MODEL", "on").lower() not in switched_off
                   and environ.get("RASA_OPTIMISATIONS", "on").lower() not in switched_off)
        return cls(model=str(raw["model"]), log_dir=Path(raw["log_dir"]), pid_dir=Path(raw["pid_dir"]),
                   preload=preload,
                   processes=[ChildSpec(name=p["name"], argv=[str(a) for a in p["argv"]],
                                        env={k: str(v) for k, v in (p.get("env") or {}).items()})
                              for p in raw["processes"]])


# --- the parent: load once ------------------------------------------------------------

_preloaded: Dict[str, Tuple[Any, Any, Any]] = {}


def _model_file(model_path: str) -> Optional[str]:
    """The model archive Rasa would load for ``model_path`` (a file, or the newest in a directory)."""
    from rasa.model import get_latest_model

    if os.path.isfile(model_path):
        return os.path.realpath(model_path)
    latest = get_latest_model(model_path)
    return os.path.realpath(latest) if latest else None


def preload_model(model_path: str) -> Optional[str]:
    """Load the model the children will ask for and make Rasa's loader hand it out.

    ``MessageProcessor._load_model`` is wrapped: asked for the archive loaded here, it
    returns the loaded graph instead of unpacking it again; any other archive (a newer
    model after ``PUT /model``, a retrain) is loaded as usual, in the child that asks.
    """
    from rasa.core.processor import MessageProcessor

    archive = _model_file(model_path)
    if archive is None:
        logger.warning("no model at %s: every process will load its own", model_path)
        return None
    stock_load = MessageProcessor.__dict__["_load_model"].__func__
    _preloaded[archive] = stock_load(archive)

    def load_model(path: Any) -> Tuple[Any, Any, Any]:
        wanted = _model_file(str(path))
        if wanted in _preloaded:
            logger.info("Using the model loaded before this process was forked: %s", os.path.basename(wanted))
            return _preloaded[wanted]
        return stock_load(path)

    MessageProcessor._load_model = staticmethod(load_model)  # type: ignore[assignment]
    return archive


# Modules every child imports when ``rasa run`` starts (its server, the channels of
# credentials.yml and credentials.worker.yml, the stores of endpoints.yml). Imported once
# here, their code objects and tables are shared too; none opens a file, socket or thread
# at import.
SHARED_IMPORTS = (
    "rasa.__main__", "rasa.api", "rasa.core.run", "rasa.server", "sanic", "aiohttp", "socketio",
    "channels.rest", "channels.socketio", "channels.telegram", "channels.worker",
    "rasa_server.action_gateway", "rasa_server.nlg", "rasa_server.tracker_store", "rasa_server.lock_store",
)


def preload_shared() -> None:
    """The servers' modules and the input gate's dictionary, before the fork."""
    for name in SHARED_IMPORTS:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the child imports it again and reports the error there
            logger.warning("could not import %s before forking", name, exc_info=True)
    # The input gate's own jieba dictionary (tens of MB of Python objects), else loaded per child.
    from safety.redaction import load_dictionary

    load_dictionary()


# --- the children -----------------------------------------------------------------------

def _die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGTERM this process when the parent dies (Linux); exit if it already has."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: the parent's SIGTERM handler still stops its children
        pass
    if os.getppid() != parent:
        os._exit(0)


def _run_child(spec: ForkSpec, child: ChildSpec, parent: int) -> None:
    """In the forked process: output to its log, its environment, then ``rasa`` with its argv. Never returns."""
    status = 1
    try:
        _die_with_parent(parent)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        log = os.open(spec.log_dir / f"{child.name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
        sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
        os.environ.update(child.env)
        _forget_environment_caches()
        sys.argv = ["rasa", *[os.path.expandvars(arg) for arg in child.argv]]
        _freeze_inherited_objects(child.name)
        from rasa.__main__ import main

        main()
        status = 0
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:  # noqa: BLE001 - a child must never fall back into the parent's loop
        logging.getLogger(__name__).exception("%s failed", child.name)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _freeze_inherited_objects(name: str) -> None:
    """Leave the objects inherited from the fork server (the model, jieba's dictionaries) out of the cyclic GC.

    They live as long as the process. Left in, the first full collection walked all of
    them, about 560,000 objects, and blocked the event loop for 280-300 ms in each child
    during the first burst of traffic (logged with ``gc.callbacks`` under a flood of 128 new
    conversations); walking them also writes into their headers, copying shared pages.
    """
    gc.freeze()
    print(f"{name}: {gc.get_freeze_count()} objects inherited from the fork server left out of the cyclic GC",
          flush=True)


def _forget_environment_caches() -> None:
    """Settings read from the environment are cached per process; the child's environment differs from the parent's."""
    if "settings" in sys.modules:
        sys.modules["settings"].get_settings.cache_clear()


def pid_file(pid_dir: Path, name: str) -> Path:
    return pid_dir / f"{name}.pid"


def running_pid(pid_dir: Path, name: str) -> int:
    """The process id of the child ``name`` (``rasa``, ``rasa-worker-1``…) from its pid file, 0 if none."""
    try:
        return int(pid_file(pid_dir, name).read_text())
    except (OSError, ValueError):
        return 0


# --- the parent: supervise --------------------------------------------------------------

class _Stop(Exception):
    pass


def _stop(signum: int, _frame: Any) -> None:
    raise _Stop(signum)


class ForkServer:
    """Forks one process per spec entry and forks it again whenever it exits."""

    def __init__(self, spec: ForkSpec) -> None:
        self.spec = spec
        self.children: Dict[int, ChildSpec] = {}
        self.started: Dict[str, float] = {}
        self.pauses: Dict[str, float] = {}

    def fork(self, child: ChildSpec) -> int:
        parent = os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _run_child(self.spec, child, parent)
        self.children[pid] = child
        self.started[child.name] = time.monotonic()
        pid_file(self.spec.pid_dir, child.name).write_text(f"{pid}\n")
        logger.info("started %s (pid %d)", child.name, pid)
        return pid

    def serve(self) -> int:
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        try:
            for child in self.spec.processes:
                self.fork(child)
            while True:
                pid, status = os.wait()
                child = self.children.pop(pid, None)
                if child is None:
                    continue
                ran = time.monotonic() - self.started[child.name]
                logger.warning("%s (pid %d) exited with status %d after %.1f s", child.name, pid,
                               os.waitstatus_to_exitcode(status), ran)
                pause = 0.0
                if ran < QUICK_EXIT_SECONDS:
                    pause = min(MAX_PAUSE_SECONDS, max(1.0, 2 * self.pauses.get(child.name, 0.5)))
                self.pauses[child.name] = pause
                time.sleep(pause)
                self.fork(child)
        except _Stop:
            return self.stop_children()

    def stop_children(self) -> int:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for pid in list(self.children):
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while self.children and time.monotonic() < deadline:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid:
                self.children.pop(pid, None)
            else:
                time.sleep(0.1)
        for pid in list(self.children):
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        for child in self.spec.processes:
            pid_file(self.spec.pid_dir, child.name).unlink(missing_ok=True)
        return 0


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    spec = ForkSpec.from_json(Path(argv[0]).read_text(encoding="utf-8"))
    spec.log_dir.mkdir(parents=True, exist_ok=True)
    spec.pid_dir.mkdir(parents=True, exist_ok=True)
    if spec.preload:
        started = time.monotonic()
        archive = preload_model(spec.model)
        preload_shared()
        logger.info("loaded %s in %.1f s; forking %s", archive, time.monotonic() - started,
                    ", ".join(p.name for p in spec.processes))
    return ForkServer(spec).serve()


if __name__ == "__main__":
    sys.exit(main())
