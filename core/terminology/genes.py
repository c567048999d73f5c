"""Gene symbols (HGNC) with their common synonyms, and normalised alteration names."""

from __future__ import annotations

import functools
import re

#: Canonical symbol -> synonyms used in trials, referentials and reports (case-insensitive).
GENE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "ERBB2": ("HER2", "HER-2", "NEU", "HER2/NEU", "CD340"),
    "EGFR": ("ERBB1", "HER1", "HER-1"),
    "ERBB3": ("HER3", "HER-3"),
    "ALK": ("CD246",),
    "ROS1": ("ROS",),
    "MET": ("C-MET", "HGFR"),
    "RET": ("C-RET",),
    "NTRK1": ("TRKA",),
    "NTRK2": ("TRKB",),
    "NTRK3": ("TRKC",),
    "BRAF": ("B-RAF",),
    "KRAS": ("K-RAS", "KI-RAS"),
    "NRAS": ("N-RAS",),
    "HRAS": ("H-RAS",),
    "PIK3CA": ("PI3K", "P110ALPHA"),
    "CD274": ("PD-L1", "PDL1", "B7-H1"),
    "PDCD1": ("PD-1", "PD1"),
    "ESR1": ("ER", "ESTROGEN RECEPTOR", "ERALPHA"),
    "PGR": ("PR", "PROGESTERONE RECEPTOR"),
    "BRCA1": ("BRCA-1",),
    "BRCA2": ("BRCA-2",),
    "TP53": ("P53",),
    "CDKN2A": ("P16", "P16INK4A"),
    "FGFR2": ("FGFR-2",),
    "FGFR3": ("FGFR-3",),
    "IDH1": ("IDH-1",),
    "IDH2": ("IDH-2",),
    "KIT": ("C-KIT", "CD117"),
    "PDGFRA": ("PDGFR-ALPHA",),
    "MLH1": (),
    "MSH2": (),
    "MSH6": (),
    "PMS2": (),
    "STK11": ("LKB1",),
    "NRG1": ("NEUREGULIN 1",),
}

#: Markers that are not genes but travel with biomarkers in a fiche (kept as written).
MARKERS = {"PD-L1", "ER", "PR", "MSI", "TMB", "HRD", "KI67", "MMR", "PSA", "CA-125", "HER2-IHC"}

#: A fiche says "PD-L1", "ER", "PR": those stay markers (protein expression), not genes.
_MARKER_SYNONYMS = {
    "PDL1": "PD-L1",
    "PD-L1": "PD-L1",
    "CD274": "PD-L1",
    "B7-H1": "PD-L1",
    "ER": "ER",
    "ESR": "ER",
    "ESTROGEN RECEPTOR": "ER",
    "RE": "ER",
    "RO": "ER",
    "PR": "PR",
    "PGR": "PR",
    "PROGESTERONE RECEPTOR": "PR",
    "RP": "PR",
    "MSI": "MSI",
    "MSI-H": "MSI",
    "MSS": "MSI",
    "DMMR": "MMR",
    "MMR": "MMR",
    "TMB": "TMB",
    "HRD": "HRD",
    "KI-67": "KI67",
    "KI67": "KI67",
}

_LOOKUP: dict[str, str] = {}
for _canonical, _names in GENE_SYNONYMS.items():
    _LOOKUP[_canonical] = _canonical
    for _name in _names:
        _LOOKUP.setdefault(_name, _canonical)


@functools.lru_cache(maxsize=4096)  # pure, and called for every criterion of every candidate
def canonical_gene(name: str) -> str:
    """HER2 -> ERBB2; PD-L1, ER and PR stay markers; unknown names are upper-cased."""
    key = re.sub(r"\s+", " ", name.strip().upper())
    if key in _MARKER_SYNONYMS:
        return _MARKER_SYNONYMS[key]
    return _LOOKUP.get(key, key)


def gene_synonyms(gene: str) -> set[str]:
    """Every name of a gene (canonical first in no particular order), upper-case."""
    canonical = canonical_gene(gene)
    names = {canonical, *GENE_SYNONYMS.get(canonical, ())}
    if canonical == "PD-L1":
        names |= {"PDL1", "CD274", "B7-H1"}
    return names


_AMINO = {
    "ALA": "A",
    "ARG": "R",
    "ASN": "N",
    "ASP": "D",
    "CYS": "C",
    "GLN": "Q",
    "GLU": "E",
    "GLY": "G",
    "HIS": "H",
    "ILE": "I",
    "LEU": "L",
    "LYS": "K",
    "MET": "M",
    "PHE": "F",
    "PRO": "P",
    "SER": "S",
    "THR": "T",
    "TRP": "W",
    "TYR": "Y",
    "VAL": "V",
    "TER": "*",
}
_THREE_LETTER = re.compile(r"^([A-Z][a-z]{2})(\d+)([A-Z][a-z]{2}|\*|=)?$")
_PROTEIN = re.compile(r"^(?:P\.)?([A-Z*])(\d+)([A-Z*=]|FS|DEL|INS|DUP|_?[A-Z]\d+DEL)?$", re.I)


@functools.lru_cache(maxsize=4096)  # pure, and called for every criterion of every candidate
def normalize_alteration(text: str | None) -> str | None:
    """Normalise how an alteration is written, so that trials and fiches compare equal.

    ``p.V600E`` -> ``V600E``; ``p.Val600Glu`` -> ``V600E``; ``del19``, ``exon 19 del``,
    ``exon19 deletion`` -> ``exon 19 deletion``; ``ex20ins`` -> ``exon 20 insertion``;
    ``amp``/``amplified`` -> ``amplification``; ``rearrangement``/``translocation`` -> ``fusion``.
    """
    if text is None:
        return None
    raw = text.strip()
    if not raw:
        return None
    bare = raw[2:] if raw.lower().startswith("p.") else raw
    three = _THREE_LETTER.match(bare)
    if three and three[1].upper() in _AMINO:
        end = three[3] or ""
        end_code = _AMINO.get(end.upper(), end) if end not in ("", "*", "=") else end
        return f"{_AMINO[three[1].upper()]}{three[2]}{end_code}"
    protein = _PROTEIN.match(raw.replace(" ", ""))
    if protein:
        return f"{protein[1].upper()}{protein[2]}{(protein[3] or '').upper()}"
    low = re.sub(r"[\s_-]+", " ", raw.lower()).strip()
    exon = re.search(
        r"(?:exon|ex)\s*(\d+)\s*(del(?:etion)?s?|ins(?:ertion)?s?|skipping|mutations?)?", low
    ) or re.search(r"(del|ins)\s*(?:exon\s*)?(\d+)", low)
    if exon:
        if exon.re.pattern.startswith("(del"):
            kind, number = exon[1], exon[2]
        else:
            number, kind = exon[1], exon[2] or ""
        if kind.startswith("del"):
            return f"exon {number} deletion"
        if kind.startswith("ins"):
            return f"exon {number} insertion"
        if kind.startswith("skip"):
            return f"exon {number} skipping"
        return f"exon {number} mutation"
    aliases = {
        "amp": "amplification",
        "amplified": "amplification",
        "amplification": "amplification",
        "fusion": "fusion",
        "rearrangement": "fusion",
        "rearranged": "fusion",
        "translocation": "fusion",
        "fusion positive": "fusion",
        "overexpression": "overexpression",
        "overexpressed": "overexpression",
        "mutation": "mutation",
        "mutated": "mutation",
        "mutant": "mutation",
        "activating mutation": "mutation",
        "loss": "loss",
        "deletion": "loss",
        "homozygous deletion": "loss",
    }
    return aliases.get(low, low)
