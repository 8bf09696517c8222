"""schemathesis against the API's own OpenAPI schema, on real storage filled from a simulated
run: no request it generates gets a 5xx or a response that breaks the schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from storelens.serving.api import create_app
from storelens.storage import Database, save_records
from storelens.storage.keys import create_key

SECRET = "q" * 40


@pytest.mark.slow
def test_no_request_breaks_the_api_or_its_schema(tmp_path, store_run):
    db = Database(f"sqlite:///{tmp_path / 'api.db'}")
    db.migrate()
    save_records(
        db, [*store_run.sessions, *store_run.events, *store_run.baskets, *store_run.alerts]
    )
    headers = {"Authorization": "Bearer " + create_key(db, secret=SECRET, store_id=None)[1]}
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(db, SECRET))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 13

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case):
            # a cursor or an id is any string to the schema; refusing a made-up one is right
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        check()
