"""``core.api.Url``: the server takes exactly the URLs the OpenAPI document's pattern states."""

from __future__ import annotations

import json
import re
from pathlib import Path

import marshmallow as ma
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.api import Url

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


class _Form(ma.Schema):
    site = Url()
    hook = Url(local=True)
    visio = Url(https_only=True)


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("site", "https://rcp.example.org/hook"),
        ("site", "https://Visio.CHU-Brest.fr:8443/salle?id=12&x=(2)*"),
        ("site", "https://0.fohq:4510/Oq*"),  # the release fuzzing pass's find: valid
        ("hook", "http://127.0.0.1:8080/hooks/dcc"),
        ("hook", "http://localhost:5000/h"),
        ("visio", "https://visio.example.org/rcp-digestif"),
    ],
)
def test_documented_urls_are_taken(field, url):
    assert _Form().load({field: url}) == {field: url}
    assert re.match(_Form().fields[field].pattern, url)


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("site", "http://localhost:5000/h"),  # no TLD outside webhook receivers
        ("site", "https://a.example/h h"),  # a space
        ("site", "https://a.example/h#frag"),  # a fragment is not in the pattern
        ("site", "ftp://a.example/h"),
        ("hook", "http://a.b/"),
        ("visio", "http://visio.example.org/rcp"),  # https only
    ],
)
def test_urls_outside_the_pattern_are_refused(field, url):
    assert not re.match(_Form().fields[field].pattern, url)
    with pytest.raises(ma.ValidationError) as refused:
        _Form().load({field: url})
    assert field in refused.value.messages


def test_the_committed_document_states_the_enforced_patterns():
    from planning.schemas import WebhookCreateSchema

    document = json.loads(COMMITTED.read_text())
    stated = document["components"]["schemas"]["WebhookCreate"]["properties"]["url"]["pattern"]
    assert stated == WebhookCreateSchema().fields["url"].pattern


@pytest.mark.parametrize("field", ["site", "hook", "visio"])
def test_every_url_the_pattern_describes_is_taken(field):
    """The pattern is no wider than marshmallow's own URL check (the other way round holds by
    construction: the field checks the pattern), over many generated URLs."""
    pattern = _Form().fields[field].pattern

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.from_regex(pattern, fullmatch=True))
    def taken(url: str) -> None:
        assert _Form().load({field: url}) == {field: url}

    taken()
