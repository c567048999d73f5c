from guidelines.index import GuidelineIndex, document

from .conftest import demo_document


def _content(name, id_):
    return demo_document(name)["referential"] | {"id": id_}


def test_french_search_folds_accents_and_plurals(tmp_path):
    index = GuidelineIndex(tmp_path / "guidelines")
    index.rebuild(
        [
            document(_content("national-poumon-cbnpc", 1)),
            document(_content("national-sein", 2)),
            document(_content("national-colorectal", 3)),
        ]
    )
    assert 1 in index.search("thérapies ciblées")
    assert index.search("hormonotherapie") == [2]
    assert index.search("bévacizumab") == [3]
    assert index.search("bronchique") == [1]
    assert index.check() == (True, "3 documents")
    index.update([document(_content("national-sein", 2) | {"title": "Mélanome cutané"})])
    assert index.search("melanome") == [2]
