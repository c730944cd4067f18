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
