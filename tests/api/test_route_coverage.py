"""Every route of the app has a test that exercises it successfully.

A route added without an entry here fails this test; so does an entry whose test is gone.
"""

from __future__ import annotations

import importlib

from tests.api.conftest import Route

ROUTE_TESTS = {
    "GET /openapi.json": "test_health::test_docs_and_openapi",
    "GET /docs": "test_health::test_docs_and_openapi",
    "GET /docs/oauth2-redirect": "test_health::test_docs_and_openapi",
    "GET /redoc": "test_health::test_docs_and_openapi",
    "GET /healthz": "test_health::test_healthz",
    "GET /readyz": "test_health::test_readyz_names_the_failing_parts",
    "POST /api/calls": "test_calls::test_token_dispatches_exactly_the_configured_agent",
    "POST /api/token": (
        "test_token_endpoint::test_valid_request_gives_201_and_a_token_dispatching_our_agent_once"
    ),
    "GET /api/calls": "test_calls::test_list_calls_filters",
    "GET /api/calls/{call_id}": "test_calls::test_the_call_row_exists_with_a_dispatched_event",
    "GET /api/calls/unlinked": "test_calls::test_an_operator_links_an_unverified_call",
    "GET /api/calls/live": (
        "test_supervision::test_the_live_list_shows_calls_in_progress_with_their_last_caption"
    ),
    "POST /api/calls/{call_id}/listen": (
        "test_supervision::test_listening_in_gives_a_hidden_subscribe_only_token_for_that_room_only"
    ),
    "POST /api/calls/{call_id}/takeover": (
        "tests.browser.test_supervision::test_listen_take_over_and_hand_back_a_live_call"
    ),
    "POST /api/calls/{call_id}/handback": (
        "tests.browser.test_supervision::test_listen_take_over_and_hand_back_a_live_call"
    ),
    "POST /api/calls/{call_id}/link": "test_calls::test_an_operator_links_an_unverified_call",
    "POST /api/customers/{customer_id}/verification-code": (
        "test_customers::test_verification_codes_for_a_customer"
    ),
    "GET /api/customers": "test_customers::test_list_pagination_newest_first",
    "GET /api/customers/lookup": "test_customers::test_lookup_accepts_any_common_format",
    "GET /api/customers/{customer_id}": "test_customers::test_create_get_and_update",
    "POST /api/customers": "test_customers::test_create_get_and_update",
    "PATCH /api/customers/{customer_id}": "test_customers::test_create_get_and_update",
    "GET /api/tickets": "test_tickets::test_list_filters",
    "GET /api/tickets/{ticket_id}": "test_tickets::test_open_ticket_number_and_sla",
    "POST /api/tickets": "test_tickets::test_open_ticket_number_and_sla",
    "POST /api/tickets/{ticket_id}/status": "test_tickets::test_status_changes_keep_history",
    "GET /api/services": "test_services::test_a_fresh_install_lists_the_sample_catalog",
    "PUT /api/services": "test_services::test_replace_catalog",
    "GET /api/services/{service_id}": "test_services::test_create_get_update_delete",
    "POST /api/services": "test_services::test_create_get_update_delete",
    "PATCH /api/services/{service_id}": "test_services::test_create_get_update_delete",
    "DELETE /api/services/{service_id}": "test_services::test_create_get_update_delete",
    "GET /api/quotes": "test_quotes::test_quotes_are_listed_and_readable",
    "GET /api/quotes/{quote_id}": "test_quotes::test_quotes_are_listed_and_readable",
    "GET /api/personas": "test_personas_api::test_lists_the_three_personas_without_prompts",
    "GET /api/analytics/personas": "test_analytics::test_persona_figures",
    "GET /api/analytics/personas.csv": "test_analytics::test_personas_csv",
    "GET /api/analytics/calls.csv": "test_analytics::test_calls_csv",
    "POST /api/session": (
        "test_operators::test_sessions_need_the_csrf_token_expire_and_end_with_the_account"
    ),
    "GET /api/session": "test_operators::test_each_role_may_use_exactly_its_routes",
    "DELETE /api/session": "test_operators::test_each_role_may_use_exactly_its_routes",
    "GET /api/operators": "test_operators::test_each_role_may_use_exactly_its_routes",
    "POST /api/operators": "test_operators::test_each_role_may_use_exactly_its_routes",
    "PATCH /api/operators/{operator_id}": (
        "test_operators::test_sessions_need_the_csrf_token_expire_and_end_with_the_account"
    ),
    "GET /api/operators/{operator_id}/keys": (
        "test_operators::test_everyone_manages_their_own_keys_and_only_theirs"
    ),
    "POST /api/operators/{operator_id}/keys": (
        "test_operators::test_everyone_manages_their_own_keys_and_only_theirs"
    ),
    "DELETE /api/operators/{operator_id}/keys/{key_id}": (
        "test_operators::test_everyone_manages_their_own_keys_and_only_theirs"
    ),
    "GET /api/audit": "test_operators::test_the_audit_trail_names_who_changed_what",
    "GET /api/audit.csv": "test_operators::test_the_audit_trail_names_who_changed_what",
    "POST /api/tickets/{ticket_id}/callback": (
        "tests.phone.test_phone_line::test_an_operator_callback_rings_the_customer_about_a_ticket"
    ),
    "POST /api/follow-ups/{follow_up_id}/callback": (
        "tests.phone.test_phone_line::test_a_follow_up_callback_is_placed_by_sales"
    ),
    "POST /internal/crm": (
        "test_internal::test_a_calls_operations_run_in_order_with_their_answers_and_errors"
    ),
    "PUT /internal/workers/{worker_id}": (
        "test_internal::test_reports_list_the_workers_and_their_load_for_operators"
    ),
    "GET /api/workers": "test_internal::test_reports_list_the_workers_and_their_load_for_operators",
    "GET /": "test_pages::test_pages_in_both_languages",
    "GET /dashboard": "test_pages::test_pages_in_both_languages",
}


def test_every_route_has_a_test(app_routes: list[Route]):
    routes = {str(route) for route in app_routes}
    untested = sorted(routes - set(ROUTE_TESTS))
    assert not untested, f"routes without a test (add one and list it here): {untested}"
    gone = sorted(set(ROUTE_TESTS) - routes)
    assert not gone, f"listed here but no longer routes of the app: {gone}"


def test_every_listed_test_exists():
    for route, reference in ROUTE_TESTS.items():
        module_name, test_name = reference.split("::")
        # a route whose success needs more than the API (a phone line) is tested elsewhere
        path = module_name if "." in module_name else f"tests.api.{module_name}"
        module = importlib.import_module(path)
        assert callable(getattr(module, test_name, None)), f"{route}: {reference} is missing"
