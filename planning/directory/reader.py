"""Reading an RPPS extraction in a second process while the importer writes what it read.

A national extraction is 2.3 million lines. Reading them (decode, split, 56 fields, a digest
per line) costs about half the CPU of an import; one process does it between its writes, on
one core. Here a reader process does it on the other core and sends the records in chunks
through a pipe: an import takes the time of the slower half instead of the sum. The reader
also derives the fingerprint and name words of each record; the summary is left to the
importer, which balances the two processes.

Records cross the pipe as ``marshal`` frames of builtin values: pickled dataclasses cost more
to send and receive than to read from the file.

Memory stays constant: the reader runs at most ``AHEAD`` chunks ahead of the importer. A
reader that fails or dies makes the import fail with an error: the importer never takes a
truncated read for the end of the file (which would deactivate every professional the file
did not reach).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import queue
import struct
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from planning.directory.importers import (
    ActivityRecord,
    Derived,
    PractitionerRecord,
    Rejected,
    read_rpps,
)

#: Records per message: large enough that framing is cheap per record, small enough that
#: the two processes overlap well (an import batch is 2,000 records).
CHUNK = 1000
#: Chunks the reader may have read ahead of the importer (a few MB).
AHEAD = 8
#: Files smaller than this are read in the importing process: starting the reader (a fresh
#: interpreter importing this package) costs more than it saves on them.
PARALLEL_THRESHOLD_BYTES = 32 * 1024 * 1024


class ReaderFailed(RuntimeError):
    """The reader process failed or died before the end of the file: the import stops."""


def _flat(item: PractitionerRecord | Rejected) -> tuple[Any, ...]:
    """``item`` as builtin values only (``marshal`` takes no class)."""
    if isinstance(item, Rejected):
        return (item.line, item.reason)
    return (
        item.line,
        item.national_id,
        item.id_type,
        item.rpps,
        item.civility,
        item.exercise_civility,
        item.last_name,
        item.first_name,
        item.lines,
        [tuple(activity) for activity in item.activities],
        None if item.computed is None else tuple(item.computed),
    )


_new_tuple = tuple.__new__


def _unflat(values: tuple[Any, ...]) -> PractitionerRecord | Rejected:
    if len(values) == 2:
        return Rejected(*values)
    line, national_id, id_type, rpps, civility, exercise, last, first, lines, acts, derived = values
    return PractitionerRecord(
        line,
        national_id,
        id_type,
        rpps,
        civility,
        exercise,
        last,
        first,
        [_new_tuple(ActivityRecord, activity) for activity in acts],
        lines,
        None if derived is None else Derived(*derived),
    )


_FRAME = struct.Struct("<I")


def _read(path: str, out: IO[bytes], chunk: int) -> None:
    """The reader process: the records of ``path`` (past its header), in chunks,
    as length-prefixed ``marshal`` frames on ``out``.

    A thread writes the frames while the main thread reads on: the reader may run up to
    ``AHEAD`` chunks ahead of the importer instead of waiting for it at every chunk.
    """
    pending: queue.Queue[bytes | None] = queue.Queue(maxsize=AHEAD)

    def send() -> None:
        try:
            while (message := pending.get()) is not None:
                out.write(_FRAME.pack(len(message)))
                out.write(message)
                out.flush()
        except BrokenPipeError:
            return  # the importer is gone: nothing more to send, nobody to tell

    thread = threading.Thread(target=send, name="rpps-reader-sender", daemon=True)
    thread.start()

    def put(data: bytes | None) -> None:
        while True:
            try:
                pending.put(data, timeout=0.2)
                return
            except queue.Full:
                if not thread.is_alive():
                    raise BrokenPipeError("the importer stopped reading") from None

    try:
        with open(path, "rb") as stream:
            _layout, items = read_rpps(stream)
            batch: list[tuple[Any, ...]] = []
            for item in items:
                if isinstance(item, PractitionerRecord):
                    item.derived(summary=False)  # the summary is left to the importer
                batch.append(_flat(item))
                if len(batch) >= chunk:
                    put(marshal.dumps(("records", stream.tell(), batch)))
                    batch = []
            put(marshal.dumps(("records", stream.tell(), batch)))
        put(marshal.dumps(("end",)))  # the end of the file, reached
    except BaseException as error:  # reported to the importer, which stops
        detail = "".join(traceback.format_exception_only(error)).strip()
        with contextlib.suppress(BrokenPipeError):  # unless the importer is gone
            put(marshal.dumps(("failed", detail)))
    finally:
        with contextlib.suppress(BrokenPipeError):
            put(None)  # the sender's last message
        thread.join()


class BackgroundRecords:
    """The records the reader process sends, in file order; ``position``: bytes read so far."""

    def __init__(self, stream: IO[bytes], process: subprocess.Popen[bytes] | None = None) -> None:
        self._stream = stream
        self.process = process
        self.position = 0

    def _message(self) -> tuple[Any, ...]:
        header = self._stream.read(_FRAME.size)
        (size,) = _FRAME.unpack(header) if len(header) == _FRAME.size else (-1,)
        data = self._stream.read(size) if size >= 0 else b""
        if size < 0 or len(data) != size:
            raise ReaderFailed(
                "the reader process stopped before the end of the file; nothing more was"
                " imported and nothing was deactivated"
            )
        # Our own child's bytes, through our own pipe.
        return tuple(marshal.loads(data))  # noqa: S302

    def __iter__(self) -> Iterator[PractitionerRecord | Rejected]:
        while True:
            message = self._message()
            if message[0] == "end":
                return
            if message[0] == "failed":
                raise ReaderFailed(f"reading the file failed: {message[1]}")
            _tag, self.position, items = message
            for values in items:
                yield _unflat(values)


@contextmanager
def rpps_records_in_background(path: Path, *, chunk: int = CHUNK) -> Iterator[BackgroundRecords]:
    """The records of the RPPS extraction ``path``, read by a second process.

    Check the header first (``importers.read_rpps``): the reader skips it without a word.
    The reader is a fresh interpreter running this module: it inherits no database
    connection and imports nothing but the readers. If the importer dies, the reader's next
    write fails (broken pipe) and it exits.
    """
    process = subprocess.Popen(  # noqa: S603 - this interpreter, this module, our arguments
        [sys.executable, "-m", __name__, str(path), str(chunk)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        yield BackgroundRecords(process.stdout, process)
    finally:
        process.stdout.close()  # a reader still writing gets a broken pipe and stops
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str]) -> int:
    """``python -m planning.directory.reader PATH CHUNK``: the reader process."""
    path, chunk = argv
    # The frames own the standard output: anything printed goes to the standard error.
    frames = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    try:
        with frames:
            _read(path, frames, int(chunk))
    except BrokenPipeError:
        pass  # the importer stopped reading: it reports why
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
