"""What each operator role may do, as data: the API checks every operator route against it
and the dashboard shows only what the signed-in role may use. README.md has it as a table."""

from __future__ import annotations

from types import MappingProxyType

PERMISSIONS = MappingProxyType(
    {
        "read": "see calls, customers, tickets, quotes, the catalog and analytics",
        "customers.write": "create and edit customers",
        "tickets.write": "open tickets and change their status",
        "codes.issue": "give a customer a one-time verification code",
        "calls.link": "link an unverified call to a customer",
        "calls.place": "phone a customer back about their ticket or follow-up",
        "calls.supervise": "listen in to live calls, take them over and hand them back",
        "audit.read": "read the audit trail",
        "catalog.write": "change the service catalog",
        "operators.manage": "create, change and disable operators, and revoke anyone's keys",
    }
)
_AGENT = frozenset({"read", "customers.write", "tickets.write", "codes.issue", "calls.place"})
_SUPERVISOR = _AGENT | {"calls.link", "calls.supervise", "audit.read"}
ROLE_PERMISSIONS = MappingProxyType(
    {
        "agent": _AGENT,
        "supervisor": _SUPERVISOR,
        "admin": frozenset(PERMISSIONS),
    }
)
"""Every operator, whatever the role, may also create and revoke their own API keys."""
