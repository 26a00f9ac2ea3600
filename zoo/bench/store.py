"""The store: ``runs/<study>/`` holds one folder per finished cell, safe under crashes and many writers.

Layout (the format ``zoo.report`` reads; extend only by adding keys or files)::

    runs/<study>/study.json          the resolved study, written once (a different study
                                     under the same name is refused)
    runs/<study>/cells.json          every cell of the study (so `zoo bench status` needs no model code);
                                     complete before study.json appears (:meth:`Store.init`)
    runs/<study>/<cell_id>/          a finished cell: the files of zoo/record.py, result.json last
    runs/<study>/.leases/<cell_id>   who is running that cell (host, pid, time, token)
    runs/<study>/.staging/<cell_id>-<token>/   the cell being written
    runs/<study>/sweep.log           one line per finished cell

Only this module knows the layout of the folder around the cells (leases, staging,
trash); what is inside a cell folder is zoo/record.py's. :class:`Store` writes and
answers status questions; :meth:`Store.snapshot` reads everything for a report
(:class:`Snapshot`), old stores included.

How writers never corrupt each other, on one machine or many sharing a filesystem:

* **Claim.** A writer claims a cell by creating its lease with ``os.link`` of a
  fully written temporary file: atomic and exclusive, also over NFS, and never
  an empty lease. A lease is stale when its process is dead (same machine:
  pid and process start time; machines are told apart by hostname and boot id)
  or, from another machine, when its heartbeat (mtime, refreshed every
  :data:`HEARTBEAT` seconds) is older than ``lease_timeout``. A stale lease is
  taken over by renaming it away (only one taker wins the rename).
* **Write.** The cell is written into its own staging folder, every file by
  temporary file + ``os.replace``; ``result.json`` last.
* **Publish.** The staging folder is renamed to ``<cell_id>/``: atomic; it fails
  if the folder exists, so a done cell is never rewritten. A cell folder is
  therefore complete or absent; ``result.json`` inside it means done.
* **Retry.** ``--retry-failed`` moves the failed folder aside only at the moment
  of publishing the new attempt.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo import record
from zoo.bench.cells import differences
from zoo.errors import DataError, ZooError
from zoo.record import FAILED, PENDING, STATUSES, CellRecord
from zoo.errors import writing
from zoo.procenv import boot_id, pid_alive, start_time

__all__ = ["FAILED", "STATUSES", "Lease", "Snapshot", "Store", "StudyMismatchError"]

STUDY = "study.json"
CELLS = "cells.json"
HEARTBEAT = 20.0
"""Seconds between refreshes of a held lease's mtime."""
LEASE_TIMEOUT = float(os.environ.get("ZOO_LEASE_TIMEOUT", "180"))
"""Seconds without heartbeat after which another machine's lease is stale."""


class StudyMismatchError(ZooError):
    """runs/<study>/ holds a different study of the same name."""


_json_read = record.read_json


def _tmp_json(path: Path, obj: Any) -> Path:
    """A fully written temporary file next to ``path`` (to be linked into place)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    record.write_json(tmp, obj)
    return tmp


def _link(tmp: Path, path: Path) -> bool:
    """Link ``tmp`` to ``path`` unless it exists: atomic and exclusive; True if we created it."""
    with writing(path):
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False


def _write_json_exclusive(path: Path, obj: Any) -> bool:
    """Create ``path`` with ``obj`` atomically, only if it does not exist; True if we created it."""
    tmp = _tmp_json(path, obj)
    try:
        return _link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


MACHINE = f"{socket.gethostname()}/{boot_id()}"


# ----------------------------------------------------------------------------- leases


@dataclass
class Lease:
    """A claim on one cell: the lease file, its token, and the staging folder to write into."""

    cell_id: str
    path: Path
    token: str
    staging: Path
    replace: bool = False
    """The cell has a failed result that this attempt may replace."""


class Store:
    """``runs/<study>/``: init, claim, publish, status."""

    def __init__(self, root: str | Path, name: str, *, lease_timeout: float = LEASE_TIMEOUT):
        self.root = Path(root)
        self.name = name
        self.dir = self.root / name
        self.lease_dir = self.dir / ".leases"
        self.staging_dir = self.dir / ".staging"
        self.trash_dir = self.dir / ".trash"
        self.lease_timeout = lease_timeout
        self._held: dict[str, Lease] = {}
        self._lock = threading.Lock()
        self._beat: threading.Thread | None = None
        self._stop = threading.Event()

    # ------------------------------------------------------------------ study
    def init(self, study: Mapping[str, Any], identity: str, cells: list[dict[str, Any]]) -> bool:
        """Create the study folder, or check that it holds this same study; True if new.

        ``identity`` is the canonical text that must match (``Study.identity``). study.json
        and cells.json appear together or not at all: both are written in full to temporary
        files first (a full disk fails here, leaving neither), then study.json is linked
        into place (the commit: exclusive, so of two different studies one wins) and
        cells.json right after it; should that link fail, study.json is taken back. A
        store left with study.json alone (by a version before this one) gets its
        cells.json on the next init of the same study.
        """
        with writing(self.dir):
            for d in (self.dir, self.lease_dir, self.staging_dir):
                d.mkdir(parents=True, exist_ok=True)
        study_path, cells_path = self.dir / STUDY, self.dir / CELLS
        if study_path.exists():
            self._check_same(identity)
            if not cells_path.exists():
                _write_json_exclusive(cells_path, cells)
            return False
        tmp_cells = _tmp_json(cells_path, cells)
        tmp_study = None
        try:
            tmp_study = _tmp_json(study_path, {**study, "identity": identity})
            if not _link(tmp_study, study_path):
                self._check_same(identity)  # another writer initialised it meanwhile
                _link(tmp_cells, cells_path)
                return False
            try:
                if not _link(tmp_cells, cells_path):  # a leftover of an interrupted init: ours is this study's
                    with writing(cells_path):
                        os.replace(tmp_cells, cells_path)
            except BaseException:
                study_path.unlink(missing_ok=True)
                raise
            return True
        finally:
            tmp_cells.unlink(missing_ok=True)
            if tmp_study is not None:
                tmp_study.unlink(missing_ok=True)

    def _check_same(self, identity: str) -> None:
        if changed := self.differences(identity):
            raise StudyMismatchError(
                f"{self.dir} holds another version of study {self.name!r}: {'; '.join(changed[:4])}"
                f"{f' (and {len(changed) - 4} more)' if len(changed) > 4 else ''}. Results of two versions are never "
                "mixed: run with --new-version (a store of its own), choose another --out, or move that folder away. "
                "Nothing was changed."
            )

    def differences(self, identity: str) -> list[str]:
        """How the study stored here differs from the study of ``identity`` (``Study.identity``), as
        ``path: stored -> new`` lines; empty when they are the same or nothing is stored yet."""
        if not (self.dir / STUDY).exists():
            return []
        stored = self.read_study().get("identity")  # an unreadable study.json: one line (DataError)
        try:
            return [] if stored == identity else differences(json.loads(stored), json.loads(identity)) or ["its settings differ"]
        except (TypeError, ValueError):
            return ["its settings differ from this file's"]

    def read_study(self) -> dict[str, Any]:
        path = self.dir / STUDY
        if not path.exists():
            raise ZooError(f"no study at {self.dir} (no study.json); run `zoo bench STUDY` first.")
        try:
            doc = _json_read(path)
        except (OSError, ValueError) as e:
            raise DataError(f"{path} is unreadable ({e}); move that folder away or choose another --out.") from None
        if not isinstance(doc, dict):
            raise DataError(f"{path} is not a study (not a JSON object); move that folder away or choose another --out.")
        return doc

    def read_cells(self) -> list[dict[str, Any]]:
        """The cells the study listed (cells.json), ``[]`` when there is none or it is unreadable."""
        try:
            cells = _json_read(self.dir / CELLS)
        except (OSError, ValueError):
            return []
        return [c for c in cells if isinstance(c, dict) and c.get("cell_id")] if isinstance(cells, list) else []

    def add_cells(self, cells: list[dict[str, Any]]) -> None:
        """Add cells to cells.json (an Optuna search plans its trials as it goes): rewritten whole, atomically."""
        known = self.read_cells()
        ids = {c["cell_id"] for c in known}
        record.write_json(self.dir / CELLS, known + [c for c in cells if c["cell_id"] not in ids])

    # ------------------------------------------------------------------ results
    def cell_dir(self, cell_id: str) -> Path:
        return self.dir / cell_id

    def result(self, cell_id: str) -> dict[str, Any] | None:
        """The cell's result.json (zoo.record's current schema), or None while it is not done."""
        try:
            return record.read_result(self.dir / cell_id)
        except record.RecordError as e:
            return {"status": "error", "reason": f"unreadable result.json ({e})"}

    def checkpoint(self, cell_id: str) -> dict[str, Any]:
        """The checkpoint kept by a finished cell (a source stage, zoo/bench/stages.py), for a cell that starts
        from it: ``{"checkpoint": folder, "sha256": of its weights as the cell recorded it, "cell_id"}``; a
        :class:`~zoo.errors.ZooError` line saying why there is none (the cell failed, or kept nothing)."""
        res = self.result(cell_id)
        kept = (res or {}).get("checkpoint")
        folder = self.cell_dir(cell_id) / record.CHECKPOINT
        if res is None or res.get("status") != record.OK or not isinstance(kept, dict) or not folder.is_dir():
            why = "has not finished" if res is None else (
                f"is {res.get('status')}" + (f" ({res['reason']})" if res.get("reason") else "")
                if res.get("status") != record.OK else "kept no checkpoint")
            raise ZooError(f"its source cell {cell_id} {why}: there is no checkpoint to start from.")
        return {"checkpoint": str(folder), "sha256": kept.get("sha256"), "cell_id": cell_id}

    def drop_checkpoint(self, cell_id: str) -> None:
        """Delete a finished cell's kept checkpoint (``keep: best`` keeps each problem's best only)."""
        shutil.rmtree(self.cell_dir(cell_id) / record.CHECKPOINT, ignore_errors=True)

    def statuses(self) -> dict[str, str]:
        """{cell_id: status} of every done cell."""
        out: dict[str, str] = {}
        if not self.dir.is_dir():
            return out
        for entry in os.scandir(self.dir):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            res = self.result(entry.name)
            if res is not None:
                out[entry.name] = res["status"]
        return out

    def running(self) -> dict[str, dict[str, Any]]:
        """{cell_id: lease info} of live leases."""
        out = {}
        if not self.lease_dir.is_dir():
            return out
        for entry in os.scandir(self.lease_dir):
            if "." in entry.name:
                continue
            info = self._read_lease(Path(entry.path))
            if info is not None and not self._stale(info, Path(entry.path)):
                out[entry.name] = info
        return out

    def summary(self, cell_ids: Iterable[str]) -> dict[str, int]:
        """Counts per status, plus ``running`` (live lease) and ``pending``, over ``cell_ids``."""
        statuses = self.statuses()
        running = self.running()
        counts = {s: 0 for s in (*STATUSES, "running", PENDING)}
        for cid in cell_ids:
            if cid in statuses:
                counts[statuses[cid]] += 1
            elif cid in running:
                counts["running"] += 1
            else:
                counts[PENDING] += 1
        return counts

    # ------------------------------------------------------------------ reading (the report's side)
    @classmethod
    def open(cls, path: str | Path) -> Store:
        """The store of the study folder ``path`` (e.g. ``runs/optimizers``), to read."""
        p = Path(path)
        if not p.is_dir():
            raise DataError(f"results store {str(p)!r} does not exist; pass a study folder such as runs/<study>.")
        return cls(p.parent, p.name)

    def records(self) -> list[CellRecord]:
        """Every cell: each cell folder (zoo.record.read_cell, never an exception), then the
        cells of cells.json that have no folder yet, as ``pending`` with what is known of them."""
        cells = [record.read_cell(d) for d in sorted(self.dir.iterdir())
                 if d.is_dir() and not d.name.startswith((".", "_")) and record.is_record(d)]
        seen = {c.cell_id for c in cells}
        for entry in self.read_cells():
            cid = str(entry["cell_id"])
            if cid in seen:
                continue
            seen.add(cid)
            if self._lease_path(cid).exists():
                reason = "not finished: a worker holds its lease (running, or killed before it finished)"
            elif self.staging_dir.is_dir() and any(self.staging_dir.glob(f"{cid}-*")):
                reason = "interrupted while its record was being written (staging folder left behind)"
            else:
                reason = "not run yet"
            cells.append(CellRecord(cid, self.dir / cid, dict(entry), None, PENDING, reason))
        return cells

    def snapshot(self) -> Snapshot:
        """The study and every cell as they are now (:class:`Snapshot`); a DataError if there is no cell."""
        cells = self.records()
        if not cells:
            inner = sorted(p.name for p in self.dir.iterdir() if p.is_dir() and (p / STUDY).exists())
            hint = f" It holds the studies {', '.join(inner)}; pass one of them." if inner else ""
            raise DataError(f"no cell folders (with cell.json) under {str(self.dir)!r}.{hint}")
        return Snapshot(self.dir, record.read_optional_json(self.dir / STUDY) or {}, cells)

    # ------------------------------------------------------------------ leases
    def _lease_path(self, cell_id: str) -> Path:
        return self.lease_dir / cell_id

    def _read_lease(self, path: Path) -> dict[str, Any] | None:
        try:
            info = _json_read(path)
            return info if isinstance(info, dict) else {}
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # unreadable: judged by its age alone

    def _stale(self, info: Mapping[str, Any], path: Path) -> bool:
        if info.get("machine") == MACHINE and isinstance(info.get("pid"), int):
            return not pid_alive(info["pid"], info.get("start"))
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return False
        return age > self.lease_timeout

    def claim(self, cell_id: str, *, retry: Iterable[str] = ()) -> Lease | None:
        """Claim ``cell_id`` for this process; None if it is done (and not to retry) or held by a live writer."""
        retry = set(retry)
        res = self.result(cell_id)
        if res is not None and res.get("status") not in retry:
            return None
        token = secrets.token_hex(8)
        info = {
            "machine": MACHINE, "host": socket.gethostname(), "pid": os.getpid(), "start": start_time(os.getpid()),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "token": token,
        }
        path = self._lease_path(cell_id)
        self.lease_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            if _write_json_exclusive(path, info):
                break
            old = self._read_lease(path)
            if old is None:
                continue  # released meanwhile: try again
            if not self._stale(old, path) or not self._take_over(cell_id, path, old):
                return None
        else:
            return None
        # Someone may have published between our check and our claim.
        res = self.result(cell_id)
        if res is not None and res.get("status") not in retry:
            self._unlink_lease(path, token)
            return None
        staging = self.staging_dir / f"{cell_id}-{token}"
        staging.mkdir(parents=True, exist_ok=True)
        lease = Lease(cell_id, path, token, staging, replace=res is not None)
        with self._lock:
            self._held[cell_id] = lease
        return lease

    def _take_over(self, cell_id: str, path: Path, old: Mapping[str, Any]) -> bool:
        """Move a stale lease away (one taker wins the rename); clean its staging folder."""
        aside = path.with_name(f"{cell_id}.stale-{secrets.token_hex(6)}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return True  # someone else moved it: the claim is open again
        moved = self._read_lease(aside) or {}
        if moved.get("token") != old.get("token"):
            # We moved a fresh lease that replaced the stale one meanwhile: put it back.
            with contextlib.suppress(OSError):
                os.link(aside, path)
            aside.unlink(missing_ok=True)
            return False
        aside.unlink(missing_ok=True)
        if old.get("token"):
            shutil.rmtree(self.staging_dir / f"{cell_id}-{old['token']}", ignore_errors=True)
        return True

    def _unlink_lease(self, path: Path, token: str) -> None:
        info = self._read_lease(path)
        if info is not None and info.get("token") == token:
            path.unlink(missing_ok=True)

    def release(self, lease: Lease) -> None:
        """Give up a claim: remove its staging folder and lease."""
        shutil.rmtree(lease.staging, ignore_errors=True)
        self._unlink_lease(lease.path, lease.token)
        with self._lock:
            self._held.pop(lease.cell_id, None)

    def publish(self, lease: Lease) -> bool:
        """Move the staging folder (with its result.json) into place; False if the cell was done meanwhile."""
        if not (lease.staging / record.RESULT).exists():
            raise RuntimeError(f"cell {lease.cell_id} has no result.json in {lease.staging}")
        dest = self.cell_dir(lease.cell_id)
        trash = None
        if dest.exists() and lease.replace:
            trash = self.trash_dir / f"{lease.cell_id}-{lease.token}"
            self.trash_dir.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.rename(dest, trash)
        try:
            os.rename(lease.staging, dest)
            ok = True
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            ok = False  # done by another writer: keep theirs
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        self.release(lease)
        return ok

    # ------------------------------------------------------------------ heartbeat and cleanup
    def start_heartbeat(self, every: float = HEARTBEAT) -> None:
        """Refresh the mtime of held leases every ``every`` seconds (another machine's staleness test)."""
        if self._beat is not None:
            return
        self._stop.clear()

        def beat() -> None:
            while not self._stop.wait(every):
                with self._lock:
                    paths = [lease.path for lease in self._held.values()]
                for p in paths:
                    with contextlib.suppress(OSError):
                        os.utime(p)

        self._beat = threading.Thread(target=beat, name="zoo-lease-heartbeat", daemon=True)
        self._beat.start()

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=2)
        self._beat = None

    def release_all(self) -> None:
        with self._lock:
            leases = list(self._held.values())
        for lease in leases:
            self.release(lease)

    def cleanup(self, grace: float = 60.0) -> None:
        """Remove leases, staging folders and trash of dead writers (never a live writer's).

        A writer creates its lease before its staging folder and removes it after, so a
        staging (or trash) folder whose lease is gone, stale or another token's is an orphan
        (its writer was killed while taking over or releasing). Temporary lease files are
        removed only once older than ``grace`` seconds: another writer may be linking one.
        """
        now = time.time()

        def old(path: Path) -> bool:
            try:
                return now - path.stat().st_mtime > grace
            except OSError:
                return False

        if self.lease_dir.is_dir():
            for entry in os.scandir(self.lease_dir):
                path = Path(entry.path)
                if entry.name.startswith("."):  # a temporary file: another writer may be linking it
                    if old(path):
                        path.unlink(missing_ok=True)
                    continue
                if ".stale-" in entry.name:  # a stale lease moved aside by a taker that was killed
                    path.unlink(missing_ok=True)
                    continue
                info = self._read_lease(path)
                if info is not None and self._stale(info, path):
                    self._take_over(entry.name, path, info)
        if self.dir.is_dir():  # temporaries of an init killed before it linked them
            for entry in os.scandir(self.dir):
                if entry.name.startswith((f".{STUDY}.", f".{CELLS}.")) and entry.name.endswith(".tmp") and old(Path(entry.path)):
                    Path(entry.path).unlink(missing_ok=True)
        for d in (self.staging_dir, self.trash_dir):
            if not d.is_dir():
                continue
            for entry in os.scandir(d):
                cid, _, token = entry.name.rpartition("-")
                info = self._read_lease(self._lease_path(cid))
                if info is not None and info.get("token") == token and not self._stale(info, self._lease_path(cid)):
                    continue
                shutil.rmtree(entry.path, ignore_errors=True)

    def log(self, line: str) -> None:
        """Append one line to sweep.log (O_APPEND: concurrent writers interleave whole lines)."""
        with contextlib.suppress(OSError):
            fd = os.open(self.dir / "sweep.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, (line.rstrip("\n") + "\n").encode())
            finally:
                os.close(fd)


@dataclass
class Snapshot:
    """A study's store as read at one moment: the resolved study (study.json) and every cell's record.

    Axes are read from study.json's ``axes`` (``{name: {"role": ..., "values": [...]}}``) and
    ``fixed`` (``{name: value}``), and from each cell's ``scientific``/``nuisance``/``fixed``
    (a store whose study.json is lost still reads).
    """

    root: Path
    study: dict[str, Any]
    cells: list[CellRecord]

    @property
    def name(self) -> str:
        return str(self.study.get("name") or self.root.name)

    def _axes(self, role: str) -> list[str]:
        axes = self.study.get("axes")
        names = [a for a, spec in axes.items() if isinstance(spec, dict) and spec.get("role") == role] \
            if isinstance(axes, dict) else []
        for c in self.cells:
            names += [a for a in (c.cell.get(role) or {}) if a not in names]
        return names

    @property
    def scientific_axes(self) -> list[str]:
        return self._axes("scientific")

    @property
    def nuisance_axes(self) -> list[str]:
        return self._axes("nuisance")

    @property
    def fixed(self) -> dict[str, Any]:
        """Settings held constant: the study's, and any cell's ``fixed``."""
        top = self.study.get("fixed")
        out: dict[str, Any] = dict(top) if isinstance(top, dict) else {}
        for c in self.cells:
            for k, v in (c.cell.get("fixed") or {}).items():
                out.setdefault(k, v)
        return out

    @property
    def problems(self) -> list[str]:
        """Problem ids in the study's order (then the cells'), those with cells."""
        seen: list[str] = []
        listed = self.study.get("problems")
        for p in [*(listed if isinstance(listed, list) else []), *(c.problem for c in self.cells)]:
            p = str(p.get("id")) if isinstance(p, dict) else str(p)
            if p not in seen:
                seen.append(p)
        return [p for p in seen if any(c.problem == p for c in self.cells)] or seen

    def by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.cells:
            counts[c.status] = counts.get(c.status, 0) + 1
        return counts

