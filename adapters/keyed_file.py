"""An append-only JSON-lines file that keeps one line per key, across retries, threads and processes.

Appends take an exclusive lock on the file and first read any lines other processes added since the last
look, so two workers sharing a file still write each key once.
"""

import fcntl
import json
import threading
from pathlib import Path
from typing import Any


class KeyedJsonlFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch(exist_ok=True)
        self._keys: set[str] = set()
        self._read_up_to = 0
        self._thread_lock = threading.Lock()

    def _catch_up(self, handle: Any) -> None:
        handle.seek(self._read_up_to)
        while line := handle.readline():
            if not line.endswith("\n"):
                # A writer died mid-line (killed while flushing a batch). Writers hold the lock for the whole
                # write, so nobody is still writing it: cut it off. Its activity never finished, so Temporal
                # retries it and the notice is written again, whole.
                torn_at = handle.tell() - len(line.encode("utf-8"))
                handle.truncate(torn_at)
                handle.seek(torn_at)
                break
            if line.strip():
                self._keys.add(json.loads(line)["key"])
        self._read_up_to = handle.tell()

    def append_new(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append the rows whose "key" is not in the file yet; return those rows."""
        with self._thread_lock, self.path.open("a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._catch_up(handle)
                fresh = []
                for row in rows:
                    if row["key"] not in self._keys:
                        self._keys.add(row["key"])
                        fresh.append(row)
                handle.seek(0, 2)
                handle.writelines(json.dumps(row, default=str) + "\n" for row in fresh)
                handle.flush()
                self._read_up_to = handle.tell()
                return fresh
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read_all(self) -> list[dict[str, Any]]:
        """Every whole line; a last line without its newline is being written, or was torn by a crash."""
        with self.path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.endswith("\n") and line.strip()]
