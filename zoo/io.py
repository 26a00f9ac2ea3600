"""File primitives every layer shares: sha256 of a file, atomic JSON writes.

Kept free of torch, Lightning and every other zoo module so that the store,
the report and the data fetcher can use them without importing a model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CHUNK = 1 << 20  # 1 MiB reads


def sha256_file(path: str | Path, chunk: int = CHUNK) -> str:
    """Hex sha256 of a file, streamed in ``chunk``-byte reads (opens read-only)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def jsonable(obj: Any) -> Any:
    """``obj`` with dataclasses, tuples and tensors turned into JSON types (tensors via ``tolist``)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and callable(obj.tolist):  # torch.Tensor / numpy scalars, without importing torch
        return obj.tolist()
    return obj


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write JSON to ``path`` so that a reader sees the old file or the whole new one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(jsonable(obj), f, indent=2, sort_keys=False, allow_nan=True)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results on a shared filesystem are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
