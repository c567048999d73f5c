import pytest
from whoosh.fields import ID, TEXT, Schema
from whoosh.qparser import QueryParser

from core.search import IndexStore, IndexUnavailable, folding_analyzer


@pytest.fixture
def store(tmp_path):
    schema = Schema(id=ID(stored=True, unique=True), body=TEXT(analyzer=folding_analyzer("fr")))
    return IndexStore(tmp_path / "ix", schema)


def _ids(store, text):
    with store.searcher() as searcher:
        query = QueryParser("body", store.schema).parse(text)
        return sorted(hit["id"] for hit in searcher.search(query))


def test_accents_case_and_french_stemming(store):
    store.rebuild(
        [
            {"id": "1", "body": "Cancer bronchique non à petites cellules"},
            {"id": "2", "body": "Cancer du sein, récepteurs hormonaux"},
        ]
    )
    assert _ids(store, "BRONCHIQUES") == ["1"]
    assert _ids(store, "recepteur") == ["2"]
    assert _ids(store, "cancer") == ["1", "2"]


def test_update_replaces_and_deletes(store):
    store.rebuild([{"id": "1", "body": "mélanome"}, {"id": "2", "body": "sein"}])
    store.update([{"id": "1", "body": "poumon"}], delete_ids=["2"])
    assert _ids(store, "melanome") == []
    assert _ids(store, "poumon") == ["1"]
    assert store.doc_count() == 1


def test_rebuild_swaps_while_a_searcher_is_cached(store):
    store.rebuild([{"id": "1", "body": "colon"}])
    assert _ids(store, "colon") == ["1"]
    store.rebuild([{"id": "9", "body": "rectum"}])
    assert _ids(store, "colon") == []
    assert _ids(store, "rectum") == ["9"]


# Whoosh leaves the damaged table-of-contents file open when it fails to parse it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_missing_and_damaged_index_are_reported(store):
    assert store.check()[0] is False
    with pytest.raises(IndexUnavailable):
        _ids(store, "x")
    store.rebuild([{"id": "1", "body": "x"}])
    for path in store.path.iterdir():
        if path.suffix in (".toc", ".seg"):
            path.write_bytes(b"garbage")
    store._local.searcher = None
    ok, detail = store.check()
    assert ok is False
    assert "damaged" in detail or "could not be read" in detail


def test_unknown_language():
    with pytest.raises(ValueError, match="unknown analysis language"):
        folding_analyzer("de")


def _stored_ids(store):
    with store.searcher() as searcher:
        reader = searcher.reader()
        return sorted(reader.stored_fields(d)["id"] for d in reader.all_doc_ids())


def test_a_cached_searcher_sees_later_deletions_and_replacements(tmp_path):
    store = IndexStore(tmp_path / "x", Schema(id=ID(stored=True, unique=True)))
    store.rebuild([{"id": "a"}, {"id": "b"}])
    assert _stored_ids(store) == ["a", "b"]  # the searcher is now cached for this thread
    # Every document of the first segment deleted or replaced: Whoosh drops the segment.
    store.update([{"id": "b"}, {"id": "c"}], delete_ids=["a"])
    assert _stored_ids(store) == ["b", "c"]
    store.update([{"id": "c"}])
    assert _stored_ids(store) == ["b", "c"]


# Found by the index drill (tests/drills): a damaged build marker gave a 500.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_every_file_damaged_under_a_cached_searcher_is_reported(store):
    store.rebuild([{"id": "1", "body": "colon"}])
    assert _ids(store, "colon") == ["1"]  # a searcher is now cached for this thread
    for path in store.path.iterdir():
        if path.is_file():
            path.write_bytes(b"\x9c\xff garbage " * (path.stat().st_size // 11 + 1))
    with pytest.raises(IndexUnavailable):
        _ids(store, "colon")
    assert store.check()[0] is False
    # startup code that creates a missing index must neither crash nor hide the damage
    assert store.exists()
    store.create_empty()
    assert store.check()[0] is False
    store.rebuild([{"id": "2", "body": "rectum"}])
    assert _ids(store, "rectum") == ["2"]
