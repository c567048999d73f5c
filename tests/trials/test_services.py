import datetime as dt
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.db import db
from core.errors import NotFound, Unavailable
from server.cli import main
from trials import eligibility, services
from trials import index as trial_index
from trials.cli import DEMO_DATA
from trials.eligibility import INELIGIBLE, MET, NOT_MET
from trials.models import Trial


def _egfr_targeted(hit):
    """The trial asks for an EGFR alteration (criteria, curated CTML, or its title)."""
    return any(
        c.kind in ("biomarker", "ctml") and c.result == MET and "EGFR" in c.label
        for c in hit.criteria
    )


def test_import_is_idempotent_and_reports(load_demo):
    first = load_demo()
    assert (first.loaded, first.updated, first.rejected) == (117, 0, [])
    second = load_demo()
    assert (second.loaded, second.updated, second.unchanged) == (0, 0, 117)
    assert second.changed == []


def test_import_derives_structured_criteria_with_origin(load_demo):
    load_demo()
    trial = services.get_trial(trial_id="nct05463224")
    kinds = {(c["kind"], c["origin"]) for c in trial.criteria}
    assert ("age", "registry") in kinds and ("diagnosis", "registry") in kinds
    egfr = next(c for c in trial.criteria if c["kind"] == "biomarker" and c.get("gene") == "EGFR")
    assert egfr["alterations"] == ["exon 19 deletion", "L858R"]
    assert egfr["evidence"].startswith("Confirmed EGFR mutations")
    assert trial.oncotree_codes == ["NSCLC"]
    assert trial.needs_review and trial.inclusion_text and trial.exclusion_text


def test_import_ctml_completes_the_registry_record(load_demo, demo_records):
    load_demo()
    trial = services.get_trial(trial_id="NCT02503722")
    assert trial.ctml_arms and "NSCLC" in trial.oncotree_codes


def test_french_sites_get_coordinates_from_their_postal_code():
    record = services.importers.SiteRecord(city="Brest", postal_code="29200", country="France")
    lat, lon = services._site_point(record)
    assert lat == pytest.approx(48.0, abs=0.5) and lon == pytest.approx(-4.1, abs=0.5)


def test_done_when_egfr_fiche_gets_egfr_targeted_nsclc_trials_first(load_demo, fiche, index_dir):
    load_demo()
    hits, total = services.search_trials(fiche=fiche(), index_dir=index_dir)
    assert total >= 5
    top = hits[:5]
    assert all(_egfr_targeted(h) for h in top), [h.trial.registry_id for h in top]
    assert all(h.verdict != INELIGIBLE for h in hits)
    for hit in top:
        assert "NSCLC" in hit.trial.oncotree_codes
        assert all(c.evidence for c in hit.criteria)
        egfr = next(c for c in hit.criteria if "EGFR" in c.label and c.result == MET)
        assert egfr.fiche_value == "EGFR exon 19 deletion positive"
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_a_sixteen_year_old_gets_not_met_on_adult_only_trials(load_demo, fiche, index_dir):
    load_demo()
    hits, _ = services.search_trials(fiche=fiche(age=16), index_dir=index_dir)
    assert all(
        c.result != NOT_MET for h in hits for c in h.criteria
    )  # the ineligible ones are left out...
    hits, _ = services.search_trials(
        fiche=fiche(age=16), index_dir=index_dir, include_ineligible=True, page_size=200
    )
    adult_only = [h for h in hits if h.trial.min_age_years == 18]
    assert adult_only
    for hit in adult_only:
        age = next(c for c in hit.criteria if c.kind == "age")
        assert (age.result, age.fiche_value) == (NOT_MET, "16 years")
        assert hit.verdict == INELIGIBLE and hit.reasons
    verdicts = [h.verdict == INELIGIBLE for h in hits]
    assert verdicts == sorted(verdicts)  # ineligible trials come last


def test_filters_status_phase_country(load_demo, fiche, index_dir):
    load_demo()
    hits, _ = services.search_trials(
        fiche=fiche(), index_dir=index_dir, statuses=["COMPLETED"], page_size=200
    )
    assert hits and {h.trial.overall_status for h in hits} == {"COMPLETED"}
    hits, _ = services.search_trials(
        fiche=fiche(), index_dir=index_dir, statuses=(), phases=["PHASE3"], page_size=200
    )
    assert all("PHASE3" in h.trial.phases for h in hits)
    hits, _ = services.search_trials(
        fiche=fiche(), index_dir=index_dir, statuses=(), country="France", page_size=200
    )
    assert hits and all(any(s.country == "France" for s in h.trial.sites) for h in hits)


def test_distance_keeps_near_sites_and_lists_them(load_demo, fiche, index_dir):
    load_demo()
    hits, _ = services.search_trials(
        fiche=fiche(), index_dir=index_dir, statuses=(), max_distance_km=600, page_size=200
    )
    assert hits
    for hit in hits:
        assert hit.sites and all(s["distance_km"] <= 600 for s in hit.sites)
        distances = [s["distance_km"] for s in hit.sites]
        assert distances == sorted(distances)
    atlantic = fiche(residence={"lat": 40.0, "lon": -40.0, "max_distance_km": 500})
    far, _ = services.search_trials(fiche=atlantic, index_dir=index_dir, statuses=())
    assert far == []


def test_paging(load_demo, fiche, index_dir):
    load_demo()
    everything, total = services.search_trials(
        fiche=fiche(), index_dir=index_dir, statuses=(), page_size=200
    )
    second, same_total = services.search_trials(
        fiche=fiche(), index_dir=index_dir, statuses=(), page=2, page_size=5
    )
    assert same_total == total and [h.trial.id for h in second] == [
        h.trial.id for h in everything[5:10]
    ]


def test_free_text_in_english_and_french_with_synonyms(load_demo, index_dir):
    load_demo()
    english, total = services.list_trials(index_dir=index_dir, text="osimertinib")
    assert total and english
    french, _ = services.list_trials(
        index_dir=index_dir, text="cancer bronchique non à petites cellules"
    )
    assert french
    her2, _ = services.list_trials(index_dir=index_dir, text="ERBB2")
    her2_bis, _ = services.list_trials(index_dir=index_dir, text="HER2")
    assert {t.id for t in her2} == {t.id for t in her2_bis}
    listing, count = services.list_trials(index_dir=index_dir, statuses=["RECRUITING"], page_size=5)
    assert (
        count > 5 and len(listing) == 5 and all(t.overall_status == "RECRUITING" for t in listing)
    )


def test_incremental_index_after_import(load_demo, index_dir, demo_records):
    load_demo(only=lambda r: r.source == "ctgov_xml")
    assert services.index_store(index_dir).doc_count() == 12
    report = services.ImportReport()
    services.import_records([r for r in demo_records if r.source == "ctml"], report=report)
    services.refresh_index(registry_ids=report.changed, index_dir=index_dir)
    assert services.index_store(index_dir).doc_count() == 17


def test_missing_index_is_unavailable(tmp_path: Path, fiche):
    with pytest.raises(Unavailable):
        services.search_trials(fiche=fiche(), index_dir=tmp_path / "none")
    ok, detail = services.index_readiness(index_dir=tmp_path / "none")
    assert not ok and "does not exist" in detail


# Whoosh leaves the damaged table-of-contents file open when it fails to parse it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_damaged_index_is_unavailable(tmp_path: Path, fiche):
    store = services.index_store(tmp_path)
    store.rebuild([])
    for segment in store.path.glob("*.toc"):
        segment.write_bytes(b"garbage")
    with pytest.raises(Unavailable):
        services.search_trials(fiche=fiche(), index_dir=tmp_path)


def test_readiness_flags_an_empty_index_over_a_filled_database(load_demo, tmp_path: Path):
    load_demo(only=lambda r: r.source == "ctml")
    services.index_store(tmp_path).rebuild([])
    ok, detail = services.index_readiness(index_dir=tmp_path)
    assert not ok and "reindex" in detail


def test_get_trial_not_found():
    with pytest.raises(NotFound):
        services.get_trial(trial_id="NCT00000000")


def test_cli_import_and_reindex(app, index_dir, tmp_path):
    runner = CliRunner()
    xml = DEMO_DATA / "ctgov_xml"
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    result = runner.invoke(main, ["trials", "import", str(xml), str(bad)], obj=_script_info(app))
    assert result.exit_code == 0, result.output
    assert "12 loaded" in result.output and "1 rejected" in result.output
    assert "bad.json: not a ClinicalTrials.gov study" in result.output
    result = runner.invoke(main, ["trials", "reindex"], obj=_script_info(app))
    assert result.exit_code == 0 and "trials indexed" in result.output
    assert db.session.scalars(select(Trial.registry_id)).first()


def _script_info(app):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)


def test_candidates_skip_trials_the_age_excludes_unless_ineligible_ones_are_asked(
    load_demo, fiche, index_dir
):
    load_demo()
    store, filters = services.index_store(index_dir), trial_index.Filters()
    sixteen = fiche(age=16)

    def age_not_met(candidates):
        return {
            c.pk
            for c in candidates
            for r in eligibility.assess(
                sixteen, eligibility.TrialCriteria(c.facts["criteria"], c.facts["arms"])
            ).criteria
            if r.kind == "age" and r.result == NOT_MET
        }

    every = services._candidates(store, sixteen, filters, 10_000, include_ineligible=True)
    blocked = age_not_met(every)
    assert blocked and len(blocked) < len(every)
    # Without include_ineligible they never take a candidate's place...
    few = services._candidates(store, sixteen, filters, 5, include_ineligible=False)
    assert len(few) == 5 and not age_not_met(few)
    kept = services._candidates(store, sixteen, filters, 10_000, include_ineligible=False)
    assert len(kept) == len(every) - len(blocked)
    # ...and the order of the others is the index's.
    assert [c.pk for c in kept] == [c.pk for c in every if c.pk not in blocked]


def _indexed_ids(index_dir):
    with services.index_store(index_dir).searcher() as searcher:
        reader = searcher.reader()
        return {reader.stored_fields(d)["id"] for d in reader.all_doc_ids()}


def test_catch_up_reindexes_what_other_nodes_changed(load_demo, index_dir, monkeypatch):
    load_demo()
    assert services.catch_up_index(index_dir=index_dir, force=True) == 0  # up to date
    # Another node's import: written to the database, not to this node's index.
    trial = db.session.scalars(select(Trial).order_by(Trial.id)).first()
    trial.brief_title = "Zorblatinib for everyone"
    trial.updated_at = trial.updated_at + dt.timedelta(seconds=1)
    gone = db.session.scalars(select(Trial).order_by(Trial.id.desc())).first()
    gone_id = gone.registry_id
    db.session.delete(gone)
    added = Trial(
        registry_id="NCT99999999",
        source="ctgov",
        brief_title="Quuxumab in melanoma",
        overall_status="RECRUITING",
    )
    db.session.add(added)
    db.session.flush()
    # A search looks at most every CATCH_UP_SECONDS: this node has just looked...
    path = services.index_store(index_dir).path
    monkeypatch.setattr(services, "_checked", {path: time.monotonic()})
    assert not services.list_trials(index_dir=index_dir, text="zorblatinib")[0]
    # ...and looks again once the delay is over.
    monkeypatch.setattr(services, "_checked", {path: time.monotonic() - 31})
    services.list_trials(index_dir=index_dir, text="quuxumab")
    assert services.catch_up_index(index_dir=index_dir) == 0  # too soon to look again

    found, _ = services.list_trials(index_dir=index_dir, text="zorblatinib")
    assert [t.registry_id for t in found] == [trial.registry_id]
    found, _ = services.list_trials(index_dir=index_dir, text="quuxumab")
    assert [t.registry_id for t in found] == ["NCT99999999"]
    ids = _indexed_ids(index_dir)
    assert gone_id not in ids and len(ids) == services.count_trials()
    assert services.catch_up_index(index_dir=index_dir, force=True) == 0


def test_catch_up_adopts_a_complete_index_without_watermark(load_demo, index_dir):
    load_demo()
    store = services.index_store(index_dir)
    (store.path / f"META-{services.WATERMARK}").unlink()
    assert services.catch_up_index(index_dir=index_dir, force=True) == 0
    assert store.meta(services.WATERMARK) is not None
    store.rebuild([])  # an empty index under a filled database: everything is caught up
    assert services.catch_up_index(index_dir=index_dir, force=True) == services.count_trials()


def test_catch_up_leaves_a_missing_index_to_the_search(tmp_path, fiche):
    assert services.catch_up_index(index_dir=tmp_path, force=True) == 0
    with pytest.raises(Unavailable):
        services.search_trials(fiche=fiche(), index_dir=tmp_path)
