"""Authorization beyond "every guarded route answers 401" (tests/api/test_auth.py): keys are
compared in constant time, and the OpenAPI spec declares exactly the auth the API enforces.

(`POST /api/calls` and `POST /api/token` over the limit answering 429 with `Retry-After` is in
tests/api/test_rate_limit.py and tests/api/test_token_endpoint.py.)
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator

import httpx
import pytest

from app import auth, deps
from app.routers import internal, token_endpoint
from tests.api.conftest import PUBLIC_API_ROUTES, RunningApi, running_api

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def function_tree(function: Callable) -> ast.FunctionDef | ast.AsyncFunctionDef:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    (node,) = tree.body
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    return node


def names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


@pytest.mark.parametrize(
    ("function", "secret_names"),
    [
        pytest.param(auth.is_installation_key, {"supplied", "expected"}, id="operator key"),
        pytest.param(auth.check_csrf, {"supplied", "expected"}, id="CSRF token"),
        pytest.param(auth.codes_issuer, {"supplied", "expected"}, id="server key (codes)"),
        pytest.param(deps.check_server_key, {"supplied", "expected"}, id="server key (calls)"),
        pytest.param(token_endpoint.create_token, {"supplied", "expected"}, id="X-Call-Key"),
        pytest.param(internal.service_worker, {"supplied", "expected"}, id="worker service key"),
    ],
)
def test_keys_are_compared_in_constant_time(function: Callable, secret_names: set[str]):
    tree = function_tree(function)
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "compare_digest"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in ("secrets", "hmac")
    ]
    assert len(calls) == 1, "the key must be checked with secrets/hmac.compare_digest"
    assert secret_names <= names_in(calls[0]), ast.unparse(calls[0])
    # No other comparison touches the key: `==`, `!=`, `in` and `startswith` stop early.
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and names_in(node) & secret_names:
            operators = [type(op) for op in node.ops]
            assert operators in ([ast.Is], [ast.IsNot]), ast.unparse(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("startswith", "endswith", "find", "index"):
                assert not names_in(node) & {"expected"}, ast.unparse(node)


@pytest.fixture(scope="module")
def api() -> Iterator[RunningApi]:
    with running_api() as running:
        yield running


BACKEND_OR_OPERATOR_ROUTES = {("POST", "/api/customers/{customer_id}/verification-code")}
"""Routes the trusted backend's key (X-Server-Key) opens besides the operator key."""


def test_the_spec_declares_the_operator_key_on_exactly_the_guarded_operations(api: RunningApi):
    spec = httpx.get(f"{api.base_url}/openapi.json", timeout=10).json()
    assert spec["components"]["securitySchemes"] == {
        "OperatorKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "OperatorBearer": {"type": "http", "scheme": "bearer"},
        "ServerKey": {"type": "apiKey", "in": "header", "name": "X-Server-Key"},
        "OperatorSession": {"type": "apiKey", "in": "cookie", "name": "ornina_session"},
        "WorkerServiceKey": {"type": "apiKey", "in": "header", "name": "X-Service-Key"},
    }
    guarded, public, internal = [], [], []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS and path.startswith("/internal/"):
                # the workers' routes take the service key and nothing else
                internal.append((method.upper(), path))
                assert operation.get("security") == [{"WorkerServiceKey": []}], path
            if method not in HTTP_METHODS or not path.startswith("/api/"):
                continue
            route = (method.upper(), path)
            if route in PUBLIC_API_ROUTES:
                public.append(route)
                assert "security" not in operation, route
            elif route in BACKEND_OR_OPERATOR_ROUTES:
                guarded.append(route)
                assert operation.get("security") == [
                    {"ServerKey": []},
                    {"OperatorKey": []},
                    {"OperatorBearer": []},
                    {"OperatorSession": []},
                ], route
            else:
                guarded.append(route)
                assert operation.get("security") == [
                    {"OperatorKey": []},
                    {"OperatorBearer": []},
                    {"OperatorSession": []},
                ], route
    assert set(public) == PUBLIC_API_ROUTES
    assert len(guarded) >= 15
    assert set(internal) == {("POST", "/internal/crm"), ("PUT", "/internal/workers/{worker_id}")}
