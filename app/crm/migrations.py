"""Versioned schema: each change is a named function, applied once, in order."""

from sqlite_utils import Database, Migrations

from app.crm.clock import now_iso
from app.crm.sample_catalog import SAMPLE_SERVICES

migrations = Migrations("ornina_crm")


@migrations()
def m001_initial_schema(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE customers (
            id INTEGER PRIMARY KEY,
            phone TEXT UNIQUE,
            name TEXT,
            email TEXT,
            service_interest TEXT,
            language TEXT CHECK (language IN ('ar', 'en')),
            notes TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX customers_name ON customers(name);

        CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            room TEXT NOT NULL UNIQUE,
            customer_id INTEGER REFERENCES customers(id),
            language TEXT NOT NULL,
            department TEXT NOT NULL,
            caller_name TEXT,
            caller_phone TEXT,
            status TEXT NOT NULL DEFAULT 'created'
                CHECK (status IN ('created', 'active', 'ended')),
            outcome TEXT,
            personas_visited TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            agent_joined_at TEXT,
            ended_at TEXT,
            duration_seconds REAL
        );
        CREATE INDEX calls_customer ON calls(customer_id);
        CREATE INDEX calls_created ON calls(created_at);

        CREATE TABLE call_events (
            id INTEGER PRIMARY KEY,
            call_id INTEGER NOT NULL REFERENCES calls(id),
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            persona TEXT,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX call_events_call ON call_events(call_id);

        CREATE TABLE transcript_turns (
            id INTEGER PRIMARY KEY,
            call_id INTEGER NOT NULL REFERENCES calls(id),
            at TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('caller', 'agent')),
            persona TEXT,
            language TEXT,
            text TEXT NOT NULL,
            interrupted INTEGER NOT NULL DEFAULT 0,
            end_of_turn_delay REAL,
            transcription_delay REAL,
            llm_ttft REAL,
            tts_ttfb REAL,
            e2e_latency REAL
        );
        CREATE INDEX transcript_turns_call ON transcript_turns(call_id);

        CREATE TABLE services (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            name_en TEXT NOT NULL,
            name_ar TEXT NOT NULL,
            description_en TEXT NOT NULL DEFAULT '',
            description_ar TEXT NOT NULL DEFAULT '',
            price REAL NOT NULL CHECK (price >= 0),
            currency TEXT NOT NULL,
            unit TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            is_sample INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE tickets (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL UNIQUE,
            customer_id INTEGER NOT NULL REFERENCES customers(id),
            call_id INTEGER REFERENCES calls(id),
            category TEXT NOT NULL,
            priority TEXT NOT NULL,
            status TEXT NOT NULL,
            subject TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            sla_due_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX tickets_customer ON tickets(customer_id);

        CREATE TABLE ticket_status_changes (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(id),
            at TEXT NOT NULL,
            from_status TEXT,
            to_status TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX ticket_status_changes_ticket ON ticket_status_changes(ticket_id);

        CREATE TABLE quotes (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL UNIQUE,
            customer_id INTEGER NOT NULL REFERENCES customers(id),
            call_id INTEGER REFERENCES calls(id),
            items TEXT NOT NULL,
            total REAL NOT NULL,
            currency TEXT NOT NULL,
            valid_until TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX quotes_customer ON quotes(customer_id);

        CREATE TABLE follow_ups (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(id),
            call_id INTEGER REFERENCES calls(id),
            due_at TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        """
    )


@migrations()
def m002_sample_service_catalog(db: Database) -> None:
    stamp = now_iso()
    db["services"].insert_all(
        [
            {**service, "is_sample": 1, "created_at": stamp, "updated_at": stamp}
            for service in SAMPLE_SERVICES
        ]
    )


@migrations()
def m003_caller_identity(db: Database) -> None:
    """Identity levels on calls; items a caller opened without proving who they are stay on
    the call (no customer) until an operator links it; one-time codes and verification
    attempts. A past call linked to a customer was linked by a typed number: a claim."""
    db.executescript(
        """
        ALTER TABLE calls ADD COLUMN identity_level TEXT NOT NULL DEFAULT 'anonymous'
            CHECK (identity_level IN ('anonymous', 'claimed', 'verified'));
        ALTER TABLE calls ADD COLUMN identity_method TEXT;
        ALTER TABLE calls ADD COLUMN identity_at TEXT;
        ALTER TABLE calls ADD COLUMN caller_email TEXT;
        ALTER TABLE calls ADD COLUMN caller_interest TEXT;
        ALTER TABLE calls ADD COLUMN linked_at TEXT;
        UPDATE calls SET identity_level = 'claimed'
            WHERE customer_id IS NOT NULL OR caller_phone IS NOT NULL OR caller_name IS NOT NULL;
        CREATE INDEX calls_identity ON calls(identity_level);

        CREATE TABLE verification_codes (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(id),
            code_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT,
            used_by_call_id INTEGER REFERENCES calls(id)
        );
        CREATE INDEX verification_codes_customer ON verification_codes(customer_id);

        CREATE TABLE verification_attempts (
            id INTEGER PRIMARY KEY,
            call_id INTEGER NOT NULL REFERENCES calls(id),
            customer_id INTEGER REFERENCES customers(id),
            at TEXT NOT NULL,
            ok INTEGER NOT NULL
        );
        CREATE INDEX verification_attempts_call ON verification_attempts(call_id);
        CREATE INDEX verification_attempts_customer ON verification_attempts(customer_id, at);
        """
    )
    for table in ("tickets", "quotes", "follow_ups"):
        db[table].transform(not_null={"customer_id": False})
    for table in ("tickets", "quotes", "follow_ups"):
        db.execute(f"CREATE INDEX IF NOT EXISTS {table}_call ON {table}(call_id)")


@migrations()
def m004_operators(db: Database) -> None:
    """Named operators with roles, their sign-in sessions and personal API keys (secrets only
    as hashes), and the audit trail of what operators changed."""
    db.executescript(
        """
        CREATE TABLE operators (
            id INTEGER PRIMARY KEY,
            login TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
            active INTEGER NOT NULL DEFAULT 1,
            password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE operator_sessions (
            id INTEGER PRIMARY KEY,
            operator_id INTEGER NOT NULL REFERENCES operators(id),
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            ended_at TEXT
        );
        CREATE INDEX operator_sessions_operator ON operator_sessions(operator_id);

        CREATE TABLE operator_keys (
            id INTEGER PRIMARY KEY,
            operator_id INTEGER NOT NULL REFERENCES operators(id),
            name TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        CREATE INDEX operator_keys_operator ON operator_keys(operator_id);

        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            operator_id INTEGER REFERENCES operators(id),
            operator_login TEXT NOT NULL,
            action TEXT NOT NULL,
            record_type TEXT NOT NULL,
            record_id TEXT,
            details TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX audit_log_record ON audit_log(record_type, record_id);
        CREATE INDEX audit_log_operator ON audit_log(operator_id);
        CREATE INDEX audit_log_at ON audit_log(at);
        """
    )


@migrations()
def m005_phone_line(db: Database) -> None:
    """Phone calls: how a call came (`web` or `phone`), which way (`inbound`, or `outbound`
    for a callback), the number the caller dialled, and the ticket or follow-up a callback is
    about."""
    db.executescript(
        """
        ALTER TABLE calls ADD COLUMN channel TEXT NOT NULL DEFAULT 'web'
            CHECK (channel IN ('web', 'phone'));
        ALTER TABLE calls ADD COLUMN direction TEXT NOT NULL DEFAULT 'inbound'
            CHECK (direction IN ('inbound', 'outbound'));
        ALTER TABLE calls ADD COLUMN dialled_number TEXT;
        ALTER TABLE calls ADD COLUMN callback_ticket_id INTEGER REFERENCES tickets(id);
        ALTER TABLE calls ADD COLUMN callback_follow_up_id INTEGER REFERENCES follow_ups(id);
        CREATE INDEX calls_channel ON calls(channel);
        """
    )


@migrations()
def m006_supervision(db: Database) -> None:
    """Operators who take over a call speak in its transcript: turns of the role `operator`,
    with who spoke. SQLite cannot change a CHECK constraint in place, so the table is rebuilt
    (same rows, same ids, same index)."""
    db.executescript(
        """
        CREATE TABLE transcript_turns_new (
            id INTEGER PRIMARY KEY,
            call_id INTEGER NOT NULL REFERENCES calls(id),
            at TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('caller', 'agent', 'operator')),
            persona TEXT,
            language TEXT,
            text TEXT NOT NULL,
            interrupted INTEGER NOT NULL DEFAULT 0,
            end_of_turn_delay REAL,
            transcription_delay REAL,
            llm_ttft REAL,
            tts_ttfb REAL,
            e2e_latency REAL,
            operator_login TEXT
        );
        INSERT INTO transcript_turns_new (id, call_id, at, role, persona, language, text,
            interrupted, end_of_turn_delay, transcription_delay, llm_ttft, tts_ttfb, e2e_latency)
        SELECT id, call_id, at, role, persona, language, text, interrupted, end_of_turn_delay,
            transcription_delay, llm_ttft, tts_ttfb, e2e_latency FROM transcript_turns;
        DROP TABLE transcript_turns;
        ALTER TABLE transcript_turns_new RENAME TO transcript_turns;
        CREATE INDEX transcript_turns_call ON transcript_turns(call_id);
        """
    )


@migrations()
def m007_remote_workers(db: Database) -> None:
    """Workers on other machines reach the CRM through the API (app/routers/internal.py): each
    call records the worker that handled it, and `worker_requests` remembers each operation a
    worker sent, by the id it gave, with its answer, so a retry after a lost answer (the API
    restarting) is answered again instead of applied twice."""
    db.executescript(
        """
        ALTER TABLE calls ADD COLUMN worker TEXT;
        CREATE TABLE worker_requests (
            id TEXT PRIMARY KEY,
            operation TEXT NOT NULL,
            answer TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX worker_requests_at ON worker_requests(at);
        """
    )
