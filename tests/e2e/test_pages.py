"""Scenarios in a real browser: planning and deciding, registering, subscribing; accessibility."""

from __future__ import annotations

import datetime as dt
import re
import urllib.error

import icalendar
import pytest
from selenium.webdriver.support.ui import Select

from web import demo

pytestmark = pytest.mark.e2e


def _next_open_session_id(pages) -> str:
    """The next session of the web demo's RCP still taking dossiers (the calendar's list)."""
    pages.open(f"/web/calendrier?places=oui&etablissement={demo.BREST}&type=MED-251")
    links = [a for a in pages.find_all("ul.sessions a") if a.text == "RCP digestive CHU de Brest"]
    assert links, "no open session of the demo RCP"
    return re.search(r"/seances/(\d+)", links[0].get_attribute("href")).group(1)


def test_3c_plans_a_period_with_directory_lookups(pages):
    pages.sign_in("3c")
    pages.screenshot("3c-rcps")
    pages.go("a[href='/web/rcp/nouvelle']")
    pages.fill("#title", "RCP sein CHRU Brest")
    Select(pages.find("#kind_code")).select_by_value("MED-251")
    pages.fill("#coordinator_rpps", "kerb")
    # search-as-you-type fills the datalist from the directory
    pages.driver.implicitly_wait(0)
    deadline = dt.datetime.now() + dt.timedelta(seconds=5)
    while not pages.find_all("#dl-professionnels option") and dt.datetime.now() < deadline:
        pages.driver.execute_script("return 1")
    options = pages.find_all("#dl-professionnels option")
    assert options, "no directory suggestion"
    assert "KERBRAT" in options[0].get_attribute("label")
    pages.fill("#coordinator_rpps", options[0].get_attribute("value"))
    pages.driver.implicitly_wait(2)
    pages.fill("#member-0", demo.PATHOLOGIST)
    pages.fill("#member-1", demo.RADIOLOGIST)
    pages.fill("#room", "Salle 3")
    pages.fill("#rrule", "FREQ=WEEKLY;BYDAY=WE")
    pages.driver.execute_script(
        "document.getElementById('recurrence_start').value = arguments[0]",
        dt.date.today().isoformat(),
    )
    pages.screenshot("3c-rcp-form")
    pages.go("#rcp-submit")
    assert "RCP créée" in pages.text
    pages.go("#plan-submit")
    assert "séance(s) créée(s)" in pages.text
    assert len(pages.find_all("#rcp-sessions tbody tr")) >= 10
    pages.screenshot("3c-rcp-planned")


def test_physician_registers_3c_defers_physician_sees_the_decision(pages, live_server):
    pages.sign_in("medecin")
    session_id = _next_open_session_id(pages)
    pages.open(f"/web/seances/{session_id}")
    pages.fill("#patient_ref", "E2E-DOSSIER-42")
    pages.fill("#tumour_code", "C18.7")
    pages.fill("#question", "Place d'une chimiothérapie adjuvante ?")
    pages.screenshot("physician-session")
    pages.go("#register-submit")
    assert "Dossier inscrit" in pages.text
    assert "E2E-DOSSIER-42" in pages.text

    pages.sign_in("3c")
    pages.open("/web/rcp")
    assert "E2E-DOSSIER-42" in pages.text
    pages.go(pages.driver.find_element("partial link text", "E2E-DOSSIER-42"))
    article = pages.driver.current_url.split("#", 1)[1]
    registration = article.removeprefix("reg-")
    pages.find(f"label[for='d-{registration}-d']").click()
    target = Select(pages.find(f"#t-{registration}"))
    target.select_by_index(1)
    pages.fill(f"#m-{registration}", "Bilan d'extension à compléter")
    pages.screenshot("3c-decision")
    pages.go(f"form[action$='/inscriptions/{registration}/decision'] button")
    assert "E2E-DOSSIER-42 reporté" in pages.text

    pages.sign_in("medecin")
    pages.open("/web/mes-dossiers")
    text = pages.text
    assert "reporté" in text
    assert "Dossier E2E-DOSSIER-42 reporté par le 3C" in text
    pages.screenshot("physician-registrations")


def test_subscribe_button_yields_a_feed_that_parses(pages, live_server):
    pages.sign_in("region")
    pages.open("/web/calendrier?region=53")
    pages.go("#subscribe")
    webcal = pages.find("#webcal-link").get_attribute("href")
    assert webcal.startswith("webcal://127.0.0.1:")
    assert "Thunderbird" in pages.text and "Google Agenda" in pages.text
    pages.screenshot("subscribe")
    status, body, headers = live_server.get("http://" + webcal.removeprefix("webcal://"))
    assert status == 200
    assert headers["Content-Type"].startswith("text/calendar")
    events = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert events
    assert any("RCP digestive CHU de Brest" in str(e["SUMMARY"]) for e in events)
    assert not pages.axe()

    # the subscriptions page lists it (never its URL again) and revokes it once confirmed
    pages.open("/web/abonnements")
    assert "Mes abonnements actifs" in pages.text and "webcal://" not in pages.text
    assert not pages.axe()
    pages.screenshot("abonnements")
    box = pages.find("#feeds input[name=confirmation]")
    assert box.get_attribute("required") is not None
    pages.find(f"label[for='{box.get_attribute('id')}']").click()
    pages.go("#feeds button[type=submit]")
    assert "révoqué" in pages.text and "Aucun abonnement actif." in pages.text
    with pytest.raises(urllib.error.HTTPError) as gone:
        live_server.get("http://" + webcal.removeprefix("webcal://"))
    gone.value.close()
    assert gone.value.code == 404


def test_physician_withdraws_a_dossier_once_confirmed(pages):
    pages.sign_in("medecin")
    session_id = _next_open_session_id(pages)
    pages.open(f"/web/seances/{session_id}")
    pages.fill("#patient_ref", "E2E-RETRAIT-07")
    pages.fill("#tumour_code", "C20")
    pages.fill("#question", "Radiochimiothérapie néoadjuvante ?")
    pages.go("#register-submit")
    assert "Dossier inscrit" in pages.text
    label = pages.driver.find_element(
        "xpath", "//label[contains(., 'retrait du dossier E2E-RETRAIT-07')]"
    )
    box = pages.find(f"#{label.get_attribute('for')}")
    form = box.find_element("xpath", "./ancestor::form")
    # without the box ticked the browser does not send the form (no script needed)
    assert not pages.driver.execute_script("return arguments[0].checkValidity()", form)
    assert not pages.axe()
    label.click()
    pages.go(form.find_element("css selector", "button[type=submit]"))
    assert "Dossier E2E-RETRAIT-07 retiré de la séance." in pages.text
    assert "E2E-RETRAIT-07 · C20 · retiré" in pages.text


def test_physician_searches_trials_and_opens_the_explanation(pages):
    pages.sign_in("medecin")
    pages.go("a[href='/web/essais']")
    pages.fill("#age", "64")
    Select(pages.find("#sex")).select_by_value("female")
    pages.fill("#performance_status", "1")
    pages.fill("#diagnosis_text", "non-small cell lung cancer")
    pages.fill("#biomarker_0_name", "EGFR")
    pages.fill("#biomarker_0_alteration", "exon 19 deletion")
    pages.fill("#postal_code", "29200")
    pages.screenshot("essais-fiche")
    pages.go("#trial-search")
    assert "essai(s) trouvé(s)" in pages.text
    first = pages.find("article.trial")
    explanation = first.find_element("css selector", "details.explanation")
    assert not explanation.is_displayed() or explanation.get_attribute("open") is None
    explanation.find_element("css selector", "summary").click()
    assert explanation.get_attribute("open") is not None
    table = explanation.find_element("css selector", "table").text
    assert "EGFR" in table and "rempli" in table
    assert "EGFR exon 19 deletion positive" in table
    assert " km" in pages.find("#results").text  # nearest sites with their distance
    pages.screenshot("essais-resultats")
    assert not pages.axe()


MAIN_PAGES = [
    ("connexion", None, "/web/connexion"),
    ("calendrier-liste", "region", "/web/calendrier"),
    ("calendrier-semaine", "region", "/web/calendrier?vue=semaine"),
    ("calendrier-mois", "region", "/web/calendrier?vue=mois&region=53"),
    ("rcp", "3c", "/web/rcp"),
    ("rcp-nouvelle", "3c", "/web/rcp/nouvelle"),
    ("mes-dossiers", "medecin", "/web/mes-dossiers"),
    ("essais", "medecin", "/web/essais"),
    ("referentiels", "national", "/web/referentiels"),
    ("referentiel", "national", "/web/referentiels/1"),
    (
        "referentiels-evaluation",
        "medecin",
        "/web/referentiels/evaluer?evaluer=1&diagnosis_oncotree_code=LUAD&stage_group=IV"
        "&biomarker_0_name=EGFR&biomarker_0_alteration=exon+19+deletion&region=53",
    ),
]


@pytest.mark.parametrize(("name", "user", "path"), MAIN_PAGES, ids=[p[0] for p in MAIN_PAGES])
def test_main_pages_have_no_serious_accessibility_violation(pages, name, user, path):
    if user:
        pages.sign_in(user)
    pages.open(path)
    assert pages.find("html").get_attribute("lang") == "fr"
    pages.screenshot(name)
    violations = pages.axe()
    assert not violations, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        f"{[n.get('target') for n in v.get('nodes', [])][:3]}"
        for v in violations
    )


def test_session_page_accessibility_for_the_3c(pages):
    pages.sign_in("3c")
    pages.open("/web/calendrier")
    pages.go("ul.sessions a")
    assert "Participants" in pages.text
    pages.screenshot("seance-3c")
    assert not pages.axe()
    # a session of the 3C's own RCP: decisions, move and cancel forms too
    pages.open(f"/web/seances/{_next_open_session_id(pages)}")
    assert "Déplacer ou modifier la séance" in pages.text and "Annuler la séance" in pages.text
    pages.screenshot("seance-3c-gestion")
    assert not pages.axe()


def test_keyboard_reaches_the_content_through_the_skip_link(pages):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    pages.sign_in("medecin")
    pages.open("/web/calendrier")
    # start from the top of the document, as a keyboard user arriving on the page
    pages.driver.execute_script("document.activeElement && document.activeElement.blur()")
    ActionChains(pages.driver).send_keys(Keys.TAB).perform()
    WebDriverWait(pages.driver, 5).until(
        lambda d: d.switch_to.active_element.get_attribute("class") == "skip-link"
    )
    pages.driver.switch_to.active_element.send_keys(Keys.ENTER)
    WebDriverWait(pages.driver, 5).until(lambda d: d.current_url.endswith("#contenu"))


def test_the_accessibility_check_does_catch_violations(pages):
    """The checker itself: an unlabeled field and grey-on-white text must be reported."""
    pages.open("/web/connexion")
    pages.driver.execute_script(
        "const main = document.getElementById('contenu');"
        'main.insertAdjacentHTML(\'beforeend\', \'<input id="bad" type="text">'
        '<p id="pale">illisible</p>\');'
        # the CSP refuses inline style attributes: style through the CSSOM instead
        "document.getElementById('pale').style.color = '#eeeeee';"
    )
    found = {v["id"] for v in pages.axe()}
    assert {"label", "color-contrast"} <= found
