"""`python -m app.preflight`: what start_all.sh runs before supervisord.

Checks the settings (one line naming a bad one), creates or upgrades the CRM file, and says
which provider keys are missing and where the pages are.
"""

from __future__ import annotations

import sys

from app.crm import open_crm, operators
from app.settings import SettingsError, get_settings


def main() -> int:
    try:
        settings = get_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 1
    if not settings.run_api and settings.crm_api_url:
        # a worker-only container (README, "Deployment shapes"): no CRM file here
        print(
            f"==> worker {settings.worker_name}: the CRM through the API at {settings.crm_api_url}"
        )
        print(f"==> its readiness: {settings.agent_health_url}/readyz")
        return 0
    db = open_crm(settings.crm_db_path)
    try:
        has_operators = operators.has_operators(db)
    finally:
        db.close()
    print(f"==> CRM ready at {settings.crm_db_path}")
    missing = settings.missing_provider_keys()
    if missing:
        print(
            f"==> provider keys not set: {', '.join(missing)}. The call center runs; callers "
            "hear a short notice until OPENAI_API_KEY (or OPENAI_BASE_URL) is set in .env."
        )
    base = (
        f"https://{settings.public_host}"
        if settings.public_host
        else f"http://{settings.api_host}:{settings.api_port}"
    )
    print(f"==> call page:  {base}/")
    print(f"==> dashboard:  {base}/dashboard")
    if not has_operators:
        print(
            "==> no operator accounts yet: create the first admin with\n"
            "      .venv/bin/python -m app.accounts create-admin <login> --name '<your name>'\n"
            "    (until then the dashboard takes OPERATOR_API_KEY from .env)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
