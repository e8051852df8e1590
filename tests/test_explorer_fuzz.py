"""Property-based fuzz of the explorer API from its own OpenAPI schema: whatever the parameters, never a 500."""

import pytest
from conftest import needs

needs("fastapi", reason="the explorer's extra (fastapi) is not installed")
schemathesis = needs("schemathesis", reason="schemathesis is not installed")
from hypothesis import HealthCheck, settings  # noqa: E402

from infogan.serve.explorer import create_app  # noqa: E402


@pytest.fixture(scope="module")
def api_schema(finished_tiny_run):
    """The schema of an explorer over the session's finished run (read only: the session checks it stays so)."""
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(finished_tiny_run))


OPERATIONS = ["/api/runs", "/api/info", "/api/generate", "/api/traverse", "/api/categories"]


@pytest.mark.parametrize("path", OPERATIONS)
def test_api_never_answers_500(api_schema, path):
    """Cases generated from the schema (valid and invalid values alike) by schemathesis' hypothesis strategies."""
    from hypothesis import given

    operation = api_schema[path]["GET"]

    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call()
        assert response.status_code < 500, f"{path} {case.query} -> {response.status_code} {response.text[:300]}"
        if response.status_code == 200 and path not in ("/api/runs", "/api/info"):
            content_type = response.headers.get("content-type")
            content_type = content_type[0] if isinstance(content_type, list) else content_type
            assert content_type == "image/png"

    check()
