import pytest

from core.terminology import cim10, genes, tnm


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("p.V600E", "V600E"),
        ("p.Val600Glu", "V600E"),
        ("V600", "V600"),
        ("del19", "exon 19 deletion"),
        ("Exon 19 del", "exon 19 deletion"),
        ("exon19 deletions", "exon 19 deletion"),
        ("ex20ins", "exon 20 insertion"),
        ("exon 14 skipping", "exon 14 skipping"),
        ("amp", "amplification"),
        ("rearrangement", "fusion"),
        ("G12C", "G12C"),
        ("", None),
        (None, None),
    ],
)
def test_alterations(raw, expected):
    assert genes.normalize_alteration(raw) == expected


def test_gene_synonyms():
    assert genes.canonical_gene("her2") == "ERBB2"
    assert genes.canonical_gene("HER-2") == "ERBB2"
    assert genes.canonical_gene("pdl1") == "PD-L1"
    assert genes.canonical_gene("Egfr") == "EGFR"
    assert genes.canonical_gene("FOO1") == "FOO1"
    assert {"ERBB2", "HER2"} <= genes.gene_synonyms("her2")


def test_cim10():
    assert cim10.normalize("c341") == "C34.1"
    assert cim10.normalize("C34") == "C34"
    assert cim10.normalize("34.1") is None
    assert cim10.in_range("C34.1", "C30-C39")
    assert cim10.in_range("C34", "C34")
    assert not cim10.in_range("C34", "C34.1")
    assert cim10.in_range("C20", "C18-C20")
    assert not cim10.in_range("C21.0", "C18-C20")
    assert not cim10.in_range("bad", "C18-C20")
    assert not cim10.is_valid_range("C20-C18")
    assert cim10.is_valid_range("C50")


def test_stages_and_categories():
    assert tnm.stage_rank("IIIB") == (3, 2, 0)
    assert tnm.stage_rank("stade IV") == (4, 0, 0)
    assert tnm.stage_rank("V") is None
    assert tnm.stage_is_a("IVB", "IV")
    assert not tnm.stage_is_a("IV", "IVB")
    assert tnm.compare_stage("IIIC", "IVA") == -1
    assert tnm.compare_stage("IA2", "IA1") == 1
    assert tnm.t_rank("Tis") < tnm.t_rank("T1") < tnm.t_rank("T1a") < tnm.t_rank("T2")
    assert tnm.t_rank("cT2a") == tnm.t_rank("T2a")
    assert tnm.t_rank("TX") is None
    assert tnm.category_is_a("M1c", "M1", "M")
    assert not tnm.category_is_a("N1", "N2", "N")
