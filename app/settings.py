"""Settings shared by the API and the agent worker, read from the environment and `.env`.

`load_settings()` turns any validation failure into one line naming the variable, which the
entry points print before exiting: a bad setting stops a process at start, never mid-call.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from livekit import api
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.telephony.lines import PhoneLine, parse_lines

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("ar", "en")
DEV_KEY_PAIR = ("devkey", "secret")
PLACEHOLDER = re.compile(r"(change-?me|x+|0+|your.*)")
"""Key values copied from an example rather than generated."""


AUDIO_DETECTOR_MIN_SILENCE = 0.25
"""livekit-agents refuses a shorter VAD silence with its audio turn detector."""


class SettingsError(SystemExit):
    """A missing or invalid setting; its message is one line naming the variable."""


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


CALLS_PER_CORE = 3
"""A call costs the worker about 14-17 % of a core (VAD, Opus, resampling; BENCHMARKS.md), and
with the cores saturated callers stop hearing the agent. Ten callers at once on two cores
(BENCHMARKS.md, "A burst of callers"): at four per core one caller of the eight taken heard no
greeting in one run of three and up to six got no reply within 20 s (every call past the four
warm job processes waits for a new one on saturated cores); at three per core all six taken were
served in three runs of three, and the API refused the other four (503) before their tokens."""


def default_max_calls() -> int:
    return CALLS_PER_CORE * (os.cpu_count() or 1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=os.environ.get("ORNINA_ENV_FILE", PROJECT_ROOT / ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # LiveKit
    livekit_url: str = Field(min_length=1)
    livekit_api_key: str = Field(min_length=1)
    livekit_api_secret: SecretStr = Field(min_length=1)
    agent_name: str = Field(default="ornina-agent", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    agent_health_url: str = "http://127.0.0.1:8081"
    agent_max_concurrent_calls: int = Field(default_factory=default_max_calls, ge=1, le=1000)

    # Turn-taking (agent/turn_taking.py; the trade-offs are in BENCHMARKS.md, "Turn-taking")
    turn_detector: Literal["transcript", "audio"] = "transcript"
    """How the agent decides a caller has finished: "transcript" reads what they said (a
    dangling word, a number half dictated), "audio" is LiveKit's audio model (v1-mini)."""
    vad_min_silence: float = Field(default=0.25, ge=0.1, le=2.0)
    """Seconds of silence that end a stretch of speech (and start its transcription)."""
    endpointing_min_delay: float = Field(default=0.25, ge=0.0, le=5.0)
    """Seconds after the caller's speech before a finished turn is answered."""
    endpointing_max_delay: float = Field(default=2.0, ge=0.2, le=10.0)
    """Seconds the agent waits for a caller who paused mid-sentence to go on."""

    # What runs in this container (README, "Deployment shapes"); start_all.sh and
    # supervisord.conf read them, /readyz checks what is switched on
    run_api: bool = True
    """The API and the CRM file live here."""
    run_worker: bool = True
    """An agent worker runs here."""
    worker_name: str = Field(
        default_factory=lambda: socket.gethostname()[:64] or "worker",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
    )
    """Recorded on each call the worker handles (the host name unless set)."""
    crm_api_url: str | None = None
    """A worker without the CRM file reaches it through the API at this address (the core
    container's), with WORKER_SERVICE_KEY; unset, the worker opens CRM_DB_PATH itself."""
    worker_service_key: SecretStr | None = Field(default=None, min_length=32)
    """The key of the API's internal routes for workers (app/routers/internal.py): set the same
    value on the core and on every worker-only container. Unset on the core: no remote worker."""
    lost_calls_check_seconds: float = Field(default=15.0, ge=0.5, le=3600)
    """How often the API looks for calls whose agent is gone (app/lost_calls.py)."""
    crm_api_insecure: bool = False
    """Allow a plain http:// CRM_API_URL off loopback (a private network between machines)."""
    crm_write_buffer: int = Field(default=2000, ge=10, le=1_000_000)
    """CRM writes a call keeps while the API does not answer (agent/crm.py); past it, new
    writes are dropped with an error in the log."""

    # CRM and API
    crm_db_path: Path = PROJECT_ROOT / "data" / "crm.sqlite3"
    operator_api_key: SecretStr | None = Field(default=None, min_length=16)
    """Needed where the API runs (RUN_API); a worker-only container has none."""
    default_language: Literal["ar", "en"] = "ar"
    phone_default_region: str = Field(default="SA", pattern=r"^[A-Z]{2}$")
    calls_rate_limit_per_minute: int = Field(default=30, ge=1, le=100_000)
    calls_require_worker: bool = True
    """Refuse new calls (503) while the worker cannot take them; off only for tests of the API
    alone."""
    token_endpoint_key: SecretStr | None = None
    trusted_backend_key: SecretStr | None = Field(default=None, min_length=16)
    """The server key of a trusted backend (the company's logged-in website): with it, a call
    start may name the customer and so start a verified call. Unset: no call is verified this
    way."""
    sip_trusted_trunks: str = ""
    """Comma-separated LiveKit SIP trunk ids whose caller ID is trusted: a phone call from a
    customer's number on one of them is verified as that customer."""
    token_endpoint_cors_origins: str = ""
    """Comma-separated web origins allowed to call POST /api/token from a browser."""

    # Supervision: a notice in every greeting that calls may be monitored and recorded
    call_notice_enabled: bool = False
    call_notice_ar: str = Field(
        default="قد تتم مراقبة هذه المكالمة وتسجيلها لأغراض الجودة.", max_length=300
    )
    call_notice_en: str = Field(
        default="This call may be monitored and recorded for quality purposes.", max_length=300
    )

    # The phone line (LiveKit's SIP service; README, "The phone line")
    sip_enabled: bool = True
    """The phone line beside the embedded LiveKit server (start_all.sh reads it)."""
    phone_line: bool = False
    """The embedded SIP service and Redis run (start_all.sh sets it: the embedded LiveKit server
    and SIP_ENABLED); the API's readiness then names the SIP service."""
    sip_port: int = Field(default=5060, ge=1, le=65535)
    sip_lines: str = "+15550100"
    """Comma-separated numbers callers dial, each optionally `=department[:language]`
    (`+15550100=reception:ar,+15550101=reception:en,+15550102=sales`). Calls to any other
    number are refused."""
    sip_allowed_addresses: str = "127.0.0.1/32"
    """Comma-separated addresses or CIDR ranges a call may come from (the trunk provider's)."""
    sip_auth_username: str = ""
    sip_auth_password: SecretStr | None = None
    """Digest authentication the caller's side must pass (both or neither)."""
    sip_trust_caller_id: bool = False
    """Trust the caller ID on the provisioned inbound trunk: a call from a customer's number is
    verified as that customer. Only for a trunk whose provider vouches for caller ID."""
    sip_transfer_to: str = Field(default="", pattern=r"^((sip|tel):\S{3,200})?$")
    """Where "a person, please" goes (`sip:desk@pbx.example.com`, `tel:+15550199`); empty: a
    callback ticket instead."""
    sip_outbound_address: str = Field(default="", pattern=r"^([A-Za-z0-9.-]+(:[0-9]{1,5})?)?$")
    """The trunk provider's SIP address for callbacks (`sip.example.com:5060`); empty: no
    outbound calls."""
    sip_outbound_number: str = Field(default="", pattern=r"^(\+[0-9]{6,15})?$")
    """The number callbacks come from (E.164)."""
    sip_outbound_username: str = ""
    sip_outbound_password: SecretStr | None = None
    public_host: str = Field(
        default="", pattern=r"^([A-Za-z0-9][A-Za-z0-9.-]{0,252}|[0-9.]{7,15})?$"
    )
    """Public mode: the host name or IP address callers use (Caddy serves HTTPS on it and
    proxies LiveKit's signalling; start_all.sh opens LiveKit's media ports). Empty: local."""
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)

    # Providers (optional at start: without keys the agent speaks a local notice)
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    eleven_api_key: SecretStr | None = None
    elevenlabs_base_url: str | None = None
    """ElevenLabs' API elsewhere (a data-residency region, or the tests' provider double)."""
    llm_model: str = "gpt-4.1-mini"
    stt_model: str = "gpt-4o-mini-transcribe"
    tts_model: str = "gpt-4o-mini-tts"
    elevenlabs_model: str = "eleven_multilingual_v2"
    voice_reception: str = "pNInz6obpgDQGcFmaJgB"
    voice_sales: str = "EXAVITQu4vr4xnSDxMaL"
    voice_complaints: str = "TxGEqnHWrfWFTfGW9XCX"

    @field_validator("livekit_url")
    @classmethod
    def _livekit_url_scheme(cls, value: str) -> str:
        if urlparse(value).scheme not in ("ws", "wss", "http", "https"):
            raise ValueError("must start with ws://, wss://, http:// or https://")
        return value

    @field_validator("openai_base_url", "elevenlabs_base_url", "agent_health_url", "crm_api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if urlparse(value).scheme not in ("http", "https") or not urlparse(value).hostname:
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator(
        "openai_api_key",
        "eleven_api_key",
        "token_endpoint_key",
        "trusted_backend_key",
        "sip_auth_password",
        "sip_outbound_password",
        "worker_service_key",
        "operator_api_key",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _refuse_dev_keys_off_loopback(self) -> Settings:
        pair = (self.livekit_api_key, self.livekit_api_secret.get_secret_value())
        if pair == DEV_KEY_PAIR and not _is_loopback(self.livekit_url):
            raise ValueError(
                "LIVEKIT_API_KEY/LIVEKIT_API_SECRET: the dev key pair is only for a local "
                "LiveKit server on loopback"
            )
        operator_key = self.operator_api_key.get_secret_value() if self.operator_api_key else ""
        if self.run_api and not operator_key:
            raise ValueError("OPERATOR_API_KEY is missing (the API runs here: RUN_API)")
        if operator_key and PLACEHOLDER.fullmatch(operator_key):
            raise ValueError("OPERATOR_API_KEY: a placeholder value; generate a real key")
        if self.public_host and pair == DEV_KEY_PAIR:
            raise ValueError(
                "LIVEKIT_API_KEY/LIVEKIT_API_SECRET: the dev key pair would let anyone on the "
                "internet use the LiveKit server in public mode; start_all.sh generates a pair"
            )
        trusted = self.trusted_backend_key
        if trusted is not None:
            if PLACEHOLDER.fullmatch(trusted.get_secret_value()):
                raise ValueError("TRUSTED_BACKEND_KEY: a placeholder value; generate a real key")
            if trusted.get_secret_value() == operator_key:
                raise ValueError("TRUSTED_BACKEND_KEY: must differ from OPERATOR_API_KEY")
        return self

    @model_validator(mode="after")
    def _workers(self) -> Settings:
        service = self.worker_service_key.get_secret_value() if self.worker_service_key else ""
        if service:
            if PLACEHOLDER.fullmatch(service):
                raise ValueError("WORKER_SERVICE_KEY: a placeholder value; generate a real key")
            others = (self.operator_api_key, self.trusted_backend_key, self.token_endpoint_key)
            if any(k is not None and k.get_secret_value() == service for k in others):
                # the service key opens the internal routes only: never the same as another
                raise ValueError("WORKER_SERVICE_KEY: must differ from every other key")
        if self.crm_api_url and not service:
            raise ValueError(
                "WORKER_SERVICE_KEY: a worker reaching the CRM through CRM_API_URL needs it"
            )
        if self.crm_api_url and not _is_loopback(self.crm_api_url):
            if urlparse(self.crm_api_url).scheme != "https" and not self.crm_api_insecure:
                raise ValueError(
                    "CRM_API_URL: use https:// off loopback (the service key and callers' records "
                    "travel on it), or set CRM_API_INSECURE=true on a private network"
                )
        if not self.run_api and not self.run_worker:
            raise ValueError("RUN_API/RUN_WORKER: this container would run neither")
        return self

    @field_validator("token_endpoint_cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in filter(None, (o.strip() for o in value.split(","))):
            parsed = urlparse(origin)
            if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path:
                raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
        return value

    @field_validator("sip_lines")
    @classmethod
    def _lines(cls, value: str) -> str:
        if not parse_lines(value):
            # a trunk without numbers would answer any number dialled
            raise ValueError("at least one number is needed")
        return value

    @field_validator("sip_allowed_addresses")
    @classmethod
    def _addresses(cls, value: str) -> str:
        for item in filter(None, (a.strip() for a in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError("each item must be an IP address or a CIDR range") from None
        return value

    @model_validator(mode="after")
    def _turn_taking(self) -> Settings:
        if self.endpointing_min_delay > self.endpointing_max_delay:
            raise ValueError("ENDPOINTING_MIN_DELAY: must not exceed ENDPOINTING_MAX_DELAY")
        if self.turn_detector == "audio" and self.vad_min_silence < AUDIO_DETECTOR_MIN_SILENCE:
            # the audio model predicts at 200 ms of silence; the framework refuses less
            raise ValueError(
                f"VAD_MIN_SILENCE: at least {AUDIO_DETECTOR_MIN_SILENCE} with TURN_DETECTOR=audio"
            )
        return self

    @model_validator(mode="after")
    def _sip_pairs(self) -> Settings:
        if bool(self.sip_auth_username) != (self.sip_auth_password is not None):
            raise ValueError("SIP_AUTH_USERNAME/SIP_AUTH_PASSWORD: set both or neither")
        if self.sip_outbound_address and not self.sip_outbound_number:
            raise ValueError("SIP_OUTBOUND_NUMBER: callbacks need the number they come from")
        if bool(self.sip_outbound_username) != (self.sip_outbound_password is not None):
            raise ValueError("SIP_OUTBOUND_USERNAME/SIP_OUTBOUND_PASSWORD: set both or neither")
        if self.sip_trust_caller_id and not self.sip_auth_username:
            # LiveKit also matches an allowed address against the From header's host, which
            # any caller writes: only digest authentication proves the call came via the trunk
            raise ValueError(
                "SIP_TRUST_CALLER_ID: needs SIP_AUTH_USERNAME/SIP_AUTH_PASSWORD (an address "
                "allow-list alone can be spoofed)"
            )
        return self

    def call_notice(self, language: str) -> str:
        """The monitoring notice said before the greeting, "" when it is off."""
        if not self.call_notice_enabled:
            return ""
        return self.call_notice_ar if language == "ar" else self.call_notice_en

    @property
    def phone_lines(self) -> tuple[PhoneLine, ...]:
        return parse_lines(self.sip_lines)

    @property
    def allowed_addresses(self) -> list[str]:
        return [a.strip() for a in self.sip_allowed_addresses.split(",") if a.strip()]

    @property
    def trusted_trunks(self) -> frozenset[str]:
        return frozenset(t.strip() for t in self.sip_trusted_trunks.split(",") if t.strip())

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.token_endpoint_cors_origins.split(",") if o.strip()]

    @property
    def browser_livekit_url(self) -> str:
        """The LiveKit URL a caller's browser connects to: in public mode with the embedded
        server, the public host's wss:// origin (Caddy proxies it to the local server); else
        `livekit_url` (an external server is reached where it is)."""
        if self.public_host and _is_loopback(self.livekit_url):
            return f"wss://{self.public_host}"
        return self.livekit_url

    def livekit_api(self, **options: object) -> api.LiveKitAPI:
        """A client of the LiveKit server's API with our key pair (an async context manager)."""
        return api.LiveKitAPI(
            self.livekit_http_url,
            self.livekit_api_key,
            self.livekit_api_secret.get_secret_value(),
            **options,
        )

    @property
    def livekit_http_url(self) -> str:
        """The LiveKit server's HTTP(S) URL, for the server API and health checks."""
        return re.sub(r"^ws", "http", self.livekit_url)

    def missing_provider_keys(self) -> list[str]:
        """Names of provider keys that are not set (nothing is missing with a local base URL)."""
        missing = []
        if self.openai_api_key is None and self.openai_base_url is None:
            missing.append("OPENAI_API_KEY")
        if self.eleven_api_key is None:
            missing.append("ELEVEN_API_KEY")
        return missing


def describe_error(error: ValidationError) -> str:
    """One line naming the first failing variable, never its value."""
    first = error.errors()[0]
    name = "_".join(str(part) for part in first["loc"]).upper()
    message = first["msg"].removeprefix("Value error, ").replace("items", "characters")
    if first["type"] == "missing":
        return f"setting {name} is missing: set it in the environment or in .env"
    if not name and (missing := re.fullmatch(r"([A-Z_]+) is missing \((.*)\)", message)):
        return (
            f"setting {missing[1]} is missing: set it in the environment or in .env ({missing[2]})"
        )
    if not name:
        return f"invalid settings: {message}"
    return f"setting {name} is invalid: {message}"


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_error(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
