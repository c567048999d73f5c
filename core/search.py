"""Whoosh helpers shared by trials and guidelines: analyzers and the index lifecycle.

An index is derived data: it is rebuilt from the database by one command and updated only after
the database transaction committed. Rebuilds write a new directory and swap it in atomically;
updates take a cross-process lock, so several gunicorn workers and a CLI can share one index.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from whoosh import index
from whoosh.analysis import (
    Analyzer,
    CharsetFilter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
)
from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader
from whoosh.fields import Schema as WhooshSchema
from whoosh.searching import Searcher
from whoosh.support.charset import accent_map

from core.errors import Unavailable

log = logging.getLogger("dcc.search")

_MARKER = "BUILD_ID"
_META = "META-"

#: French stop words (Whoosh ships none for French); short, to keep medical words searchable.
FRENCH_STOP_WORDS = frozenset(
    [
        "a",
        "au",
        "aux",
        "avec",
        "ce",
        "ces",
        "dans",
        "de",
        "des",
        "du",
        "elle",
        "en",
        "et",
        "eux",
        "il",
        "je",
        "la",
        "le",
        "les",
        "leur",
        "lui",
        "ma",
        "mais",
        "me",
        "meme",
        "mes",
        "moi",
        "mon",
        "ne",
        "nos",
        "notre",
        "nous",
        "on",
        "ou",
        "par",
        "pas",
        "pour",
        "qu",
        "que",
        "qui",
        "sa",
        "se",
        "ses",
        "son",
        "sur",
        "ta",
        "te",
        "tes",
        "toi",
        "ton",
        "tu",
        "un",
        "une",
        "vos",
        "votre",
        "vous",
        "c",
        "d",
        "j",
        "l",
        "m",
        "n",
        "s",
        "t",
        "y",
        "ete",
        "etre",
        "est",
        "sont",
    ]
)


class _PerDocReader(W3PerDocReader):
    """Whoosh's reader, remembering that a field has no length column (ID and KEYWORD fields):
    the stock one looks for the file on disk again for every posting it writes or scores, which
    was a sixth of the time of an index build."""

    def _cached_reader(self, fieldname: str, column: Any) -> Any:
        if fieldname not in self._readers:
            self._readers[fieldname] = super()._cached_reader(fieldname, column)
        return self._readers[fieldname]


class Codec(W3Codec):
    """Whoosh's default codec with ``_PerDocReader``; segments keep their codec, so the indexes
    written with it are read with it too."""

    def per_document_reader(self, storage: Any, segment: Any) -> Any:
        return _PerDocReader(storage, segment)


class IndexUnavailable(Unavailable):
    slug, title = "index-unavailable", "Search index unavailable"


def folding_analyzer(language: str = "multi") -> Analyzer:
    """Tokens lower-cased and accent-folded ("Bénédicte" == "benedicte"), stop words dropped,
    then stemmed in English ("en"), French ("fr"), or not at all ("multi": mixed-language
    fields where a wrong stemmer would hurt more than no stemming)."""
    if language not in ("en", "fr", "multi"):
        raise ValueError(f"unknown analysis language {language!r}")
    chain = RegexTokenizer(r"\w+(?:[-'.]\w+)*") | LowercaseFilter() | CharsetFilter(accent_map)
    if language == "en":
        return chain | StopFilter(lang="en") | StemFilter(lang="en")
    if language == "fr":
        return chain | StopFilter(stoplist=FRENCH_STOP_WORDS) | StemFilter(lang="fr")
    return chain | StopFilter(stoplist=FRENCH_STOP_WORDS | {"the", "of", "and", "or", "with"})


class IndexStore:
    """One Whoosh index in a directory: open, search, update under lock, rebuild and swap."""

    def __init__(self, path: Path, schema: WhooshSchema, *, unique_field: str = "id") -> None:
        self.path = Path(path)
        self.schema = schema
        self.unique_field = unique_field
        self._local = threading.local()

    # --- reading ------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether an index is there, usable or not (``open`` tells a damaged one)."""
        if not self.path.is_dir():
            return False
        try:
            return bool(index.exists_in(str(self.path)))
        except Exception:  # Whoosh parses the table of contents: a damaged one raises
            return True

    def _build_id(self) -> str:
        try:
            return (self.path / _MARKER).read_text().strip()
        except (OSError, ValueError):  # missing, or damaged (not UTF-8): open() will tell
            return ""

    def open(self) -> index.Index:
        if not self.exists():
            raise IndexUnavailable(
                f"the search index at {self.path.name} does not exist; rebuild it (reindex command)"
            )
        try:
            return index.open_dir(str(self.path), schema=self.schema)
        except Exception as error:  # Whoosh raises many kinds on a damaged directory
            log.error("cannot open index %s: %s", self.path, type(error).__name__)
            raise IndexUnavailable(
                f"the search index at {self.path.name} is damaged; rebuild it (reindex command)"
            ) from error

    @contextlib.contextmanager
    def searcher(self) -> Iterator[Searcher]:
        """A searcher kept per thread and refreshed when the index changed or was swapped."""
        cached = getattr(self._local, "searcher", None)
        build_id = self._build_id()
        if cached is not None and getattr(self._local, "build_id", None) == build_id:
            try:
                # Not ``refresh()``: Whoosh's reader reuse keeps the segments a commit merged
                # away or emptied, so deleted and replaced documents would still be found.
                searcher = cached if cached.up_to_date() else None
            except Exception:
                searcher = None
        else:
            searcher = None
        if searcher is None:
            if cached is not None:
                with contextlib.suppress(Exception):
                    cached.close()
            try:
                searcher = self.open().searcher()
            except IndexUnavailable:
                raise
            except Exception as error:
                raise IndexUnavailable(
                    f"the search index at {self.path.name} is damaged; rebuild it (reindex command)"
                ) from error
        self._local.searcher, self._local.build_id = searcher, build_id
        try:
            yield searcher
        except (OSError, EOFError, ValueError) as error:
            # a damaged segment shows only when read
            self._local.searcher = None
            raise IndexUnavailable(
                f"the search index at {self.path.name} could not be read; "
                "rebuild it (reindex command)"
            ) from error

    def meta(self, name: str) -> str | None:
        """A small text the owner of the index stored with it (``rebuild``/``update``)."""
        try:
            return (self.path / f"{_META}{name}").read_text()
        except OSError:
            return None

    def doc_count(self) -> int:
        with self.searcher() as searcher:
            return int(searcher.doc_count())

    def check(self) -> tuple[bool, str]:
        """For /health/ready: the index exists and answers."""
        try:
            count = self.doc_count()
        except IndexUnavailable as error:
            return False, error.detail
        return True, f"{count} documents"

    # --- writing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.parent / f".{self.path.name}.lock"
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # one writer at a time, across processes
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def update(
        self,
        documents: Iterable[dict[str, Any]],
        *,
        delete_ids: Iterable[str] = (),
        meta: dict[str, str] | None = None,
    ) -> int:
        """Add or replace documents (by the unique field) and delete others; returns the count.
        ``meta`` texts are stored with the index once the documents are committed."""
        with self._lock():
            if not self.exists():
                raise IndexUnavailable(f"the search index at {self.path.name} does not exist")
            ix = self.open()
            writer = ix.writer(limitmb=128, codec=Codec())
            count = 0
            try:
                for doc_id in delete_ids:
                    writer.delete_by_term(self.unique_field, doc_id)
                for document in documents:
                    writer.update_document(**document)
                    count += 1
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
            for name, text in (meta or {}).items():
                (self.path / f"{_META}{name}").write_text(text)
            return count

    def rebuild(
        self,
        documents: Iterable[dict[str, Any]],
        *,
        progress: Callable[[int], None] | None = None,
        procs: int = 1,
        limitmb: int = 256,
        meta: dict[str, str] | None = None,
    ) -> int:
        """Build a fresh index beside the current one and swap it in; returns the count.
        ``meta`` texts are stored with the new index (see ``meta``)."""
        with self._lock():
            building = self.path.parent / f".{self.path.name}.building-{os.getpid()}"
            shutil.rmtree(building, ignore_errors=True)
            building.mkdir(parents=True)
            ix = index.create_in(str(building), self.schema)
            writer = ix.writer(
                procs=procs,
                limitmb=limitmb,
                codec=Codec(),
                **({"multisegment": True} if procs > 1 else {}),
            )
            count = 0
            try:
                for document in documents:
                    writer.add_document(**document)
                    count += 1
                    if progress is not None:
                        progress(1)
            except BaseException:
                writer.cancel()
                shutil.rmtree(building, ignore_errors=True)
                raise
            writer.commit()
            for name, text in (meta or {}).items():
                (building / f"{_META}{name}").write_text(text)
            (building / _MARKER).write_text(uuid.uuid4().hex)
            old = self.path.parent / f".{self.path.name}.old-{os.getpid()}"
            if self.path.exists():
                os.replace(self.path, old)
            os.replace(building, self.path)
            shutil.rmtree(old, ignore_errors=True)
            return count

    def create_empty(self) -> None:
        """Create an empty index when none exists (fresh installation)."""
        if not self.exists():
            self.rebuild([])
