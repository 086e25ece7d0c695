"""A small writer of stored (uncompressed) zip archives, for .pkpass files.

`zipfile` spends more time on a pass's fourteen small entries than the signature takes; the
entries that are the same for every pass of a programme (images, strings) are laid out once
(`archive_head`) and start every archive; a pass adds its own three. Entries are stored with
a fixed time (1980-01-01), so equal input gives equal bytes; `zipfile` reads the result (the
tests check it).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache

_DOS_TIME, _DOS_DATE = 0, (0 << 9) | (1 << 5) | 1  # 1980-01-01 00:00
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_UNIX_FILE = 0o100644 << 16


@lru_cache(maxsize=256)
def _entry(name: str, data: bytes) -> tuple[bytes, bytes, bytes]:
    """One entry: its local header with the data, and its central directory record in two
    parts, before and after the local header's offset (which depends on its position)."""
    encoded = name.encode()
    crc, size = zlib.crc32(data), len(data)
    local = _LOCAL.pack(
        0x04034B50, 20, 0, 0, _DOS_TIME, _DOS_DATE, crc, size, size, len(encoded), 0
    )
    record = _CENTRAL.pack(
        0x02014B50, 0x031E, 20, 0, 0, _DOS_TIME, _DOS_DATE, crc, size, size,
        len(encoded), 0, 0, 0, 0, _UNIX_FILE, 0,
    )  # fmt: skip
    return local + encoded + data, record[:-4], encoded


@dataclass(frozen=True)
class ArchiveHead:
    """Entries laid out once, to start many archives with (the files every pass of a
    programme shares)."""

    body: bytes
    directory: bytes
    count: int


def _layout(
    files: dict[str, bytes], offset: int, *, cache: bool = True
) -> tuple[list[bytes], list[bytes], int]:
    body: list[bytes] = []
    directory: list[bytes] = []
    for name in sorted(files):
        local, record, encoded = (_entry if cache else _entry.__wrapped__)(name, files[name])
        directory.append(record + struct.pack("<I", offset) + encoded)
        body.append(local)
        offset += len(local)
    return body, directory, offset


def archive_head(files: dict[str, bytes]) -> ArchiveHead:
    body, directory, _ = _layout(files, 0)
    return ArchiveHead(b"".join(body), b"".join(directory), len(files))


def stored_zip(files: dict[str, bytes], head: ArchiveHead | None = None) -> bytes:
    """The archive of `head`'s entries, then those of `files` in name order."""
    head = head or ArchiveHead(b"", b"", 0)
    body, directory, end = _layout(files, len(head.body), cache=False)
    central = head.directory + b"".join(directory)
    count = head.count + len(files)
    tail = _END.pack(0x06054B50, 0, 0, count, count, len(central), end, 0)
    return head.body + b"".join(body) + central + tail
