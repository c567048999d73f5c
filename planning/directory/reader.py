"""Reading an RPPS extraction in a second process while the importer writes what it read.

A national extraction is 2.3 million lines. Reading one line (decode, split, 56 fields, a
digest) and deriving what the loader stores (fingerprint, name words, summary) costs about as
much CPU as writing it; one process does one after the other on one core. Here a reader
process does the first half on the other core and sends the records in chunks through a pipe:
an import takes the time of the slower half instead of the sum.

Memory stays constant: the pipe holds about one chunk (the reader waits until the importer
takes it). A reader that fails or dies makes the import fail with an error: the importer
never takes a truncated read for the end of the file (which would deactivate every
professional the file did not reach).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from planning.directory.importers import PractitionerRecord, Rejected, read_rpps

#: Records per message: large enough that pickling is cheap per record, small enough that
#: the two processes overlap well (an import batch is 2,000 records).
CHUNK = 1000
#: Files smaller than this are read in the importing process: starting the reader (a fresh
#: interpreter importing this package) costs more than it saves on them.
PARALLEL_THRESHOLD_BYTES = 32 * 1024 * 1024


class ReaderFailed(RuntimeError):
    """The reader process failed or died before the end of the file: the import stops."""


def _read(path: str, sender: Connection, chunk: int) -> None:
    """The reader process: the records of ``path`` (past its header), derived, in chunks."""
    try:
        with open(path, "rb") as stream:
            _layout, items = read_rpps(stream)
            batch: list[PractitionerRecord | Rejected] = []
            for item in items:
                if isinstance(item, PractitionerRecord):
                    item.derived()
                batch.append(item)
                if len(batch) >= chunk:
                    sender.send((stream.tell(), batch))
                    batch = []
            sender.send((stream.tell(), batch))
        sender.send(None)  # the end of the file, reached
    except BaseException as error:  # reported to the importer, which stops
        detail = "".join(traceback.format_exception_only(error)).strip()
        with contextlib.suppress(OSError):  # unless the importer is gone
            sender.send(("failed", detail))
    finally:
        sender.close()


class BackgroundRecords:
    """The records the reader process sends, in file order; ``position``: bytes read so far."""

    def __init__(self, receiver: Connection, process: BaseProcess | None = None) -> None:
        self._receiver = receiver
        self.process = process
        self.position = 0

    def __iter__(self) -> Iterator[PractitionerRecord | Rejected]:
        while True:
            try:
                message = self._receiver.recv()
            except EOFError as error:
                raise ReaderFailed(
                    "the reader process stopped before the end of the file; nothing more was"
                    " imported and nothing was deactivated"
                ) from error
            if message is None:
                return
            if message[0] == "failed":
                raise ReaderFailed(f"reading the file failed: {message[1]}")
            self.position, items = message
            yield from items


@contextmanager
def rpps_records_in_background(path: Path, *, chunk: int = CHUNK) -> Iterator[BackgroundRecords]:
    """The records of the RPPS extraction ``path``, read by a second process.

    Check the header first (``importers.read_rpps``): the reader skips it without a word.
    The reader is a fresh interpreter (``spawn``): it inherits no database connection.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_read, args=(str(path), sender, chunk), name="rpps-reader", daemon=True
    )
    process.start()
    sender.close()  # the reader holds the only write end: its death is an EOF here
    try:
        yield BackgroundRecords(receiver, process)
    finally:
        receiver.close()
        process.join(timeout=5)
        if process.is_alive():  # the import stopped early: the reader waits on a full pipe
            process.terminate()
            process.join()
