"""The raw input stream every reader reads: it hashes (sha256) and counts the bytes as they pass.

Hashing in the same pass as reading means an input is read once, even from a URL. Whatever a reader leaves
unread (after ``--limit``, or after a damaged tail) is drained at close so the digest always covers the whole
file.
"""

from __future__ import annotations

import hashlib
import io
from types import TracebackType

from scanner.readers.compression import READ_CHUNK, open_raw


class InputStream(io.RawIOBase):
    """A forward-only binary stream over one input file, with ``head`` (its first bytes) known up front."""

    HEAD_BYTES = 1 << 16

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source
        self._ctx = open_raw(source)
        self._raw = self._ctx.__enter__()
        self._sha = hashlib.sha256()
        self.bytes_read = 0
        self.head = self._raw.read(self.HEAD_BYTES)
        self._head_left = memoryview(self.head)
        self._sha.update(self.head)

    # io.RawIOBase protocol ------------------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = self.read(min(view.nbytes, READ_CHUNK))
        view[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if self._head_left.nbytes:
            n = min(size, self._head_left.nbytes)
            data = bytes(self._head_left[:n])
            self._head_left = self._head_left[n:]
            self.bytes_read += n
            return data
        data = self._raw.read(size)
        self._sha.update(data)
        self.bytes_read += len(data)
        return bytes(data)

    # digest --------------------------------------------------------------------------------------------
    def finish(self) -> str:
        """Drain what is left (into the digest only) and return the sha256 of the whole file."""
        while self.read(READ_CHUNK):
            pass
        return self._sha.hexdigest()

    def close(self) -> None:
        if not self.closed:
            self._ctx.__exit__(None, None, None)
        super().close()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
