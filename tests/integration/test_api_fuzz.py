"""Fuzzing the REST API from its own OpenAPI spec (schemathesis) against a real stack: the web
process as `ticketing up` serves it (the API behind Reflex's own routes on one port, so a
request the API does not know could fall through to the pages: it must not), the payment
worker, Valkey and PostgreSQL (SQLite when PostgreSQL is not among TEST_DB_BACKENDS), with the
demo events so that small generated ids reach real data. (The standalone `ticketing api`
serves the same request layer and routes; every other integration test goes through it.)

Every operation gets schema-valid and schema-invalid requests (schemathesis' examples,
coverage and fuzzing phases). Each answer must: not be a 5xx; have a status, content type,
headers and body the spec declares; and, when it is an error, carry the standard error body
(`{code, message, traceId}` with the `Trace-Id` header), `Retry-After` on a 429, `Allow` on a
405. Invalid input must be refused. Admin routes are fuzzed signed in (a real session cookie).

Bounded: FUZZ_EXAMPLES cases per operation (about 50 operations); the whole module runs in
about two minutes on this 2-core machine.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.conftest import BACKENDS, TEST_ENV, drop_pg_database, make_database_url
from ticketing_app.api.app import create_api
from ticketing_app.settings import PROJECT_ROOT
from ticketing_app.stack import Stack

pytestmark = pytest.mark.integration

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
ADMIN_USER, ADMIN_PASSWORD = "fuzz-admin", f"pw-{uuid.uuid4().hex}"
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class FuzzTarget:
    api_url: str
    admin_cookies: dict[str, str]


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    import subprocess

    backend = "postgres" if "postgres" in BACKENDS else "sqlite"
    url = make_database_url(backend, tmp_path_factory.mktemp("fuzz"))
    st = Stack(database_url=url, extra_env={
        **TEST_ENV, "ADMIN_BOOTSTRAP_USER": ADMIN_USER, "ADMIN_BOOTSTRAP_PASSWORD": ADMIN_PASSWORD,
        "PAYMENT_SYNC_WAIT_S": "5"}).start_services(kafka=False)
    try:
        st.migrate()
        subprocess.run([sys.executable, "-m", "ticketing_app.cli", "seed-demo"], env=st.env(),
                       cwd=PROJECT_ROOT, check=True, capture_output=True)
        web = st.start_web_backend()
        st.start_process("worker")
        api = f"http://127.0.0.1:{web.port}"
        r = httpx.post(f"{api}/api/admin/login", timeout=30,
                       json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        yield FuzzTarget(api, dict(r.cookies))
    finally:
        st.stop()
        if backend == "postgres":
            drop_pg_database(url)


def standard_error_body(ctx: CheckContext, response: schemathesis.Response,
                        case: schemathesis.Case) -> bool | None:
    """Every answer carries Trace-Id; every error (but a health report) the standard body."""
    trace = response.headers.get("trace-id", [""])[0]
    assert TRACE_ID.match(trace), f"no Trace-Id header: {response.headers}"
    if response.status_code < 400 or case.path.startswith("/actuator"):
        return None
    body = response.json()
    assert isinstance(body, dict), body
    assert set(body) <= {"code", "message", "traceId", "details"}, body
    assert isinstance(body.get("code"), str) and re.match(r"^[A-Z_]+$", body["code"]), body
    assert isinstance(body.get("message"), str) and body["message"], body
    assert body.get("traceId") == trace, (body, trace)
    assert "details" not in body or isinstance(body["details"], list), body
    if response.status_code == 429:
        assert response.headers.get("retry-after", [""])[0].isdigit(), response.headers
    if response.status_code == 405:
        assert response.headers.get("allow"), response.headers
    return None


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection,
          missing_required_header, unsupported_method, standard_error_body]

# The spec the API serves at /api/openapi.json, built from the same code (no server needed to
# collect one test per operation). A rejection may also be a 413 (a generated body over
# MAX_REQUEST_BYTES).
CONFIG = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5XX"]}}})
# The seat stream is left out: a successful answer is a stream that never ends, which no
# generic check can wait for; test_seat_stream.py tests it, refusals included.
schema = schemathesis.openapi.from_dict(create_api().openapi(), config=CONFIG) \
    .exclude(path_regex=r"/seats/stream$")


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=False,
          suppress_health_check=list(HealthCheck))
def test_api_answers_match_its_spec(case: schemathesis.Case, fuzz_target: FuzzTarget) -> None:
    # Admin routes signed in (logout would end the session: it is fuzzed without it).
    signed_in = case.path.startswith(("/api/admin/", "/api/checkins")) and \
        case.path != "/api/admin/logout"
    case.call_and_validate(base_url=fuzz_target.api_url,
                           cookies=fuzz_target.admin_cookies if signed_in else None,
                           checks=CHECKS, timeout=30)
