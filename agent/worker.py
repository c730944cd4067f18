"""The LiveKit worker: registration under the configured agent name, models loaded once per
job process, and the entrypoint that answers each call."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import ipaddress
import logging
from typing import Any
from urllib.parse import urlparse

from livekit import local_inference, rtc
from livekit.agents import (
    Agent,
    AgentServer,
    AgentSession,
    JobContext,
    JobExecutorType,
    JobProcess,
    TurnHandlingOptions,
    room_io,
    tokenize,
    vad,
)
from livekit.agents.worker import ServerEnvOption
from livekit.plugins import silero

from agent import log_privacy, stop_signals
from agent.call_state import CallState, open_call
from agent.crm import open_call_crm
from agent.local_tts import EspeakTTS, espeak_available
from agent.metadata import parse_metadata
from agent.notices import APOLOGY, NOT_CONFIGURED
from agent.output_guard import configured_secrets
from agent.phone import PhoneCall, phone_call, trusted_trunks, wait_until_answered
from agent.providers import Providers, pipeline_available, tls_context
from agent.recorder import CallRecorder
from agent.session import create_session, start_call
from agent.status_server import serve_status
from agent.supervision import Supervision
from agent.turn_taking import turn_detector, turn_handling
from agent.worker_reports import WorkerReports
from app.crm import calls as crm_calls
from app.crm.phones import mask_phone
from app.readiness import check_crm
from app.settings import Settings, get_settings
from app.telephony.lines import line_for

logger = logging.getLogger("ornina.agent.worker")

DEFAULT_HEALTH_PORT = 8081
DRAIN_TIMEOUT = 900
"""Seconds a SIGTERM waits for calls in progress to end (supervisord's stopwaitsecs must be at
least this)."""
CONNECT_RETRIES = 1_000_000
"""Effectively forever: a worker that starts before its LiveKit server keeps retrying (every
10 s) instead of exiting."""
IDLE_PROCESSES = 4
"""Job processes kept warm (~90 MiB each while idle). A call that finds none waits for a new
process to import and load its models, seconds on a busy machine, while its caller listens to
silence; four covers a burst of four callers even on two cores (bench/, BENCHMARKS.md)."""
CAPTIONS = room_io.TextOutputOptions(sync_transcription=False)
"""Captions as the reply is generated, not paced word by word to the audio. The pacing runs an
STFT of the agent's audio on the call's event loop; under load it blocked that loop, and with it
the call's audio, for 0.5-1 s at a time (bench/, BENCHMARKS.md). The cost: an interrupted reply
is kept in the transcript as generated up to the interruption rather than as heard."""
PARTICIPANT_TIMEOUT = 20.0
CALLBACK_RING_TIMEOUT = 60.0
"""How long a callback rings before the agent gives up (the trunk may give up earlier)."""
NOTICE_PLAYOUT_TIMEOUT = 30.0
PREWARM_IMPORTS = (
    "anyio._backends._asyncio",
    "anyio._core._sockets",
    "anyio._core._streams",
    "anyio.abc._testing",
    "httpcore._async.http11",
    "openai.lib.streaming.chat",
    "openai.pagination",
    "openai.resources.audio.speech",
    "openai.resources.audio.transcriptions",
    "openai.resources.chat.completions",
    "openai.resources.chat.completions.messages",
    "openai.resources.models",
)
"""Imported by the first provider request; the framework logs each as blocking a call's loop."""
_background: set[asyncio.Future] = set()
"""The worker's own loops (load changes, reports to the API), for the life of the process."""
_status_servers: set[asyncio.Future] = set()
"""The status endpoint's start (its runner, for a clean stop in tests)."""
LOAD_CHECK_SECONDS = 0.2
"""How often the worker compares its calls with the last status LiveKit heard."""


def health_address(url: str) -> tuple[str, int]:
    """Where the worker's health server listens, from `agent_health_url`.

    An IP address or localhost is bound as given; any other host name means "reachable from
    elsewhere", so every interface is bound."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    port = parsed.port or DEFAULT_HEALTH_PORT
    if host == "localhost":
        return host, port
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "", port
    return host, port


def call_load(server: CallServer) -> float:
    """Load as the share of call slots in use (`max_calls`, AGENT_MAX_CONCURRENT_CALLS, from
    the cores by default), so a busy CPU (a self-hosted model on the same box) never makes the
    worker refuse calls: the capacity is a number of calls, measured (bench/capacity.py)."""
    return len(server.active_jobs) / server.max_calls


class CallServer(AgentServer):
    """The AgentServer with an exact load estimate for calls accepted but not yet started, and
    a log line for every call it refuses.

    Upstream behaviour worked around (livekit-agents 1.8.9, `AgentServer._get_effective_load`):
    while no call is active yet, each call accepted but not yet launched counts as
    `load_threshold / num_idle_processes` (1.0 / 4 here), whatever the load function says, so an
    idle worker accepts at most IDLE_PROCESSES calls of a simultaneous burst and refuses the
    rest; with one worker LiveKit then drops those calls ("no workers with sufficient
    capacity") and their callers wait for an agent that never comes. Each call is 1 / max_calls
    of our load (`call_load`), accepted or not. This reads the private `_worker_load` and
    `_reserved_slots`: tests/agent/test_agent_framework_contract.py fails when an upgrade
    changes them.

    A full worker refuses the job request (`_is_available`), which is right with several
    workers (LiveKit offers the call to another) and silence with one: LiveKit does not retry
    the job. So the API's worker gate (app/worker_gate.py) reads `calls` and `max_calls` from
    the status endpoint and refuses the call (503) before minting its token.
    """

    def __init__(self, *, max_calls: int, **options: object) -> None:
        super().__init__(**options)
        self.max_calls = max_calls

    @property
    def calls_in_progress(self) -> int:
        """Calls running, plus calls accepted and still waiting for LiveKit's assignment or a
        job process (0 before the server runs)."""
        running = len(self.active_jobs) if hasattr(self, "_proc_pool") else 0
        return running + getattr(self, "_reserved_slots", 0)

    def _get_effective_load(self) -> float:
        return self._worker_load + self._reserved_slots / self.max_calls

    async def report_load_changes(self) -> None:
        """Tell LiveKit the worker's status as soon as its calls change (a call accepted,
        started or ended), not only at upstream's 2.5 s tick: LiveKit drops a job it finds no
        available worker for ("no servers available"), so a caller placed right after a call
        ended on a full worker would otherwise wait in silence (tests/cluster)."""
        last = (self.calls_in_progress, self.draining)
        while True:
            await asyncio.sleep(LOAD_CHECK_SECONDS)
            current = (self.calls_in_progress, self.draining)
            if current != last:
                try:
                    await self._refresh_worker_load()
                    await self._update_worker_status()
                except Exception:  # noqa: BLE001 - upstream's own 2.5 s report goes on
                    logger.exception("could not report the worker's load to LiveKit")
                last = current

    async def _answer_availability(self, msg: Any, **options: Any) -> None:
        """Tell LiveKit of the slot a job request just took, at once.

        Upstream reports the worker's status every 2.5 s (UPDATE_STATUS_INTERVAL). LiveKit
        offers a call to the worker with the most spare capacity as it last heard, and never
        offers a call a worker refused to a worker on another server node: with workers on
        several nodes, a call offered to a worker that filled up since its last report is
        lost (LiveKit 1.13, measured: tests/cluster). Reporting right after the reservation
        shrinks that window to one round trip."""
        await super()._answer_availability(msg, **options)
        await self._update_worker_status()

    def _is_available(self) -> bool:
        # upstream asks this once per job request, before reserving a slot (pinned by the
        # framework contract test); the refusal itself is logged nowhere but LiveKit's log
        available = super()._is_available()
        if not available and not self.draining:
            logger.warning(
                "refusing a call: every call slot is in use",
                extra={"calls": self.calls_in_progress, "max_calls": self.max_calls},
            )
        return available


def prewarm(proc: JobProcess) -> None:
    """Once per job process, before any call: the VAD (and the audio turn detector's weights
    when TURN_DETECTOR=audio), the TLS context of the provider clients, and the modules their
    first request would import on the call's event loop. The last three are already loaded in
    the forkserver (agent/preload.py), where this costs nothing; without it they are loaded
    here."""
    settings = get_settings()
    proc.userdata["vad"] = silero.VAD.load(min_silence_duration=settings.vad_min_silence)
    if settings.turn_detector == "audio":
        local_inference.init_eot()
    tls_context()
    for module in PREWARM_IMPORTS:
        importlib.import_module(module)
    tokenize.basic.hyphenate_word("warm")  # builds the hyphenation patterns (~0.2 s under load)


def build_server(settings: Settings) -> AgentServer:
    host, port = health_address(settings.agent_health_url)
    server = CallServer(
        max_calls=settings.agent_max_concurrent_calls,
        ws_url=settings.livekit_url,
        api_key=settings.livekit_api_key,
        api_secret=settings.livekit_api_secret.get_secret_value(),
        host="127.0.0.1",
        port=0,
        setup_fnc=prewarm,
        load_fnc=call_load,
        load_threshold=1.0,
        job_executor_type=JobExecutorType.PROCESS,
        num_idle_processes=ServerEnvOption(dev_default=1, prod_default=IDLE_PROCESSES),
        drain_timeout=DRAIN_TIMEOUT,
        max_retry=CONNECT_RETRIES,
        # job processes must outlive a SIGTERM to the whole group while the worker drains;
        # and they start with the agent already imported (agent/preload.py)
        preload_modules=[stop_signals.__name__, "agent.preload"],
    )
    server.rtc_session(entrypoint, agent_name=settings.agent_name)
    server.on("worker_started", lambda: _on_worker_started(settings, server, host, port))
    return server


def _on_worker_started(settings: Settings, server: CallServer, host: str, port: int) -> None:
    log_privacy.install()
    _background.add(asyncio.ensure_future(server.report_load_changes()))
    # LiveKit's own health server took a free port; ours answers at AGENT_HEALTH_URL.
    if settings.crm_api_url:
        reports = WorkerReports(server, settings)
        _background.add(asyncio.ensure_future(reports.run()))

        async def crm_check() -> str | None:
            return reports.problem()

        logger.info("CRM through the API", extra={"api": settings.crm_api_url})
    else:

        async def crm_check() -> str | None:
            return await asyncio.to_thread(check_crm, settings)

    _status_servers.add(
        asyncio.ensure_future(serve_status(server, settings.agent_name, host, port, crm_check))
    )
    missing = settings.missing_provider_keys()
    if not pipeline_available(settings):
        logger.warning(
            "provider keys missing: callers will hear a short notice instead of an assistant",
            extra={"missing": missing},
        )
    elif missing:
        logger.warning("optional provider keys missing", extra={"missing": missing})
    if pipeline_available(settings) and not espeak_available():
        logger.warning("espeak-ng not found: no local voice for apologies if every TTS fails")


async def entrypoint(ctx: JobContext) -> None:
    settings = get_settings()
    meta = parse_metadata(ctx.job.metadata, region=settings.phone_default_region)
    ctx.log_context_fields = {"room": ctx.room.name, "call_id": meta.call_id}
    logger.info(
        "call dispatched",
        extra={"department": meta.department.value, "phone": mask_phone(meta.phone)},
    )
    providers = Providers(settings) if pipeline_available(settings) else None
    crm = None
    try:
        await ctx.connect()
        caller = await _first_caller(ctx)  # at once when another agent already answers
        if _answered_by_another_agent(ctx):
            # the API dispatched the agent again to a caller who waited (app/lost_calls.py)
            # while the first one was still on its way: one agent speaks, this one leaves
            logger.warning("another agent already answers this call: leaving")
            if providers is not None:
                await providers.aclose()
            ctx.shutdown(reason="another agent answers this call")
            return
        phone = phone_call(caller, settings.phone_default_region)
        crm = await open_call_crm(settings)
        state = await open_call(
            crm,
            meta,
            room=ctx.room.name,
            default_language=settings.default_language,
            region=settings.phone_default_region,
            voice=providers,
            phone=phone,
            line=line_for(settings.phone_lines, phone.dialled_number) if phone else None,
            caller_id=await _trusted_caller_id(ctx, settings, phone),
        )
    except Exception:
        logger.exception("could not open the call in the CRM")
        if crm is not None:
            with contextlib.suppress(Exception):
                await crm.aclose()
        language = meta.language or settings.default_language
        await _speak_and_leave(ctx, APOLOGY[language], language=language)
        return
    state.human_line = settings.sip_transfer_to
    state.worker_name = settings.worker_name
    if state.outbound and (
        caller is None or not await wait_until_answered(ctx.room, caller, CALLBACK_RING_TIMEOUT)
    ):
        # a callback we placed greets once the customer picks up; this one never did
        logger.info("callback not answered", extra={"call_id": state.call_id})
        await crm.run(crm_calls.end_call, call_id=state.call_id, outcome="not_answered")
        await crm.aclose()
        if providers is not None:
            await providers.aclose()
        with contextlib.suppress(Exception):
            await ctx.delete_room()  # hangs up a phone still ringing
        ctx.shutdown(reason="callback not answered")
        return

    if providers is None:
        state.outcome = "providers_not_configured"
        await _speak_and_leave(
            ctx, NOT_CONFIGURED[state.language], language=state.language, state=state
        )
        return

    state.room = ctx.room
    state.secrets = configured_secrets(settings)
    state.notice = {
        lang: settings.call_notice(lang) for lang in ("ar", "en") if settings.call_notice(lang)
    }
    voice_activity = _vad(ctx.proc)
    session = create_session(
        state,
        llm=providers.llm(),
        vad=voice_activity,
        turn_handling=turn_handling(settings, turn_detector(settings)),
    )
    supervision = Supervision(session, state, ctx.room, voice_activity)
    try:
        recorder, _ = await start_call(
            session,
            state,
            room=ctx.room,
            room_options=room_io.RoomOptions(delete_room_on_close=True, text_output=CAPTIONS),
            local_voice=EspeakTTS if espeak_available() else None,
        )
    except Exception:
        logger.exception("could not start the call")
        await state.crm.run(crm_calls.end_call, call_id=state.call_id, outcome="agent_failed")
        await providers.aclose()
        await state.crm.aclose()
        ctx.shutdown(reason="could not start the call")
        return

    async def close_call() -> None:
        await supervision.aclose()
        await recorder.finish()
        await providers.aclose()
        await state.crm.aclose()

    ctx.add_shutdown_callback(close_call)


async def _speak_and_leave(
    ctx: JobContext, text: str, *, language: str, state: CallState | None = None
) -> None:
    """Say one thing with the local voice, then end the call (no provider needed)."""
    session: AgentSession[CallState | None] = AgentSession(
        userdata=state,
        tts=EspeakTTS(language=language),
        vad=None,
        turn_handling=TurnHandlingOptions(turn_detection=None),
    )
    recorder = CallRecorder(session, state) if state is not None else None
    if state is not None:
        await state.crm.run(
            crm_calls.mark_agent_joined, call_id=state.call_id, worker=state.worker_name
        )
        state.crm.submit(
            crm_calls.add_event,
            call_id=state.call_id,
            kind="agent_joined",
            persona=state.persona.value,
        )

    async def close_call() -> None:
        if recorder is not None and state is not None:
            await recorder.finish()
            await state.crm.aclose()

    ctx.add_shutdown_callback(close_call)
    await session.start(
        Agent(instructions="You only read out a notice."),
        room=ctx.room,
        room_options=room_io.RoomOptions(
            audio_input=False, text_input=False, delete_room_on_close=True, text_output=CAPTIONS
        ),
    )
    try:
        await asyncio.wait_for(ctx.wait_for_participant(), PARTICIPANT_TIMEOUT)
        handle = session.say(text, allow_interruptions=False)
        await asyncio.wait_for(handle.wait_for_playout(), NOTICE_PLAYOUT_TIMEOUT)
    except Exception:
        logger.exception("could not play the notice")
    session.shutdown()


async def _trusted_caller_id(ctx: JobContext, settings: Settings, phone: PhoneCall | None) -> str:
    """The caller's number when the phone call came over a trunk whose caller ID we trust."""
    if phone is None or not phone.caller_number or not phone.international:
        return ""
    trusted = await trusted_trunks(
        ctx.api, settings.trusted_trunks, trust_provisioned=settings.sip_trust_caller_id
    )
    return phone.caller_number if phone.trunk_id in trusted else ""


def _answered_by_another_agent(ctx: JobContext) -> bool:
    return any(
        p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        for p in ctx.room.remote_participants.values()
    )


async def _first_caller(ctx: JobContext) -> rtc.RemoteParticipant | None:
    """The caller, whose participant kind and attributes tell a phone call from a trusted trunk
    (its caller ID) from a web call. A web caller's join created the room, so they are there
    already; a caller who left before the agent came is no one to wait for."""
    try:
        return await asyncio.wait_for(ctx.wait_for_participant(), PARTICIPANT_TIMEOUT)
    except TimeoutError:
        logger.warning("no caller in the room")
        return None


def _vad(proc: JobProcess) -> vad.VAD:
    loaded = proc.userdata.get("vad")
    if loaded is not None:
        return loaded
    return silero.VAD.load(min_silence_duration=get_settings().vad_min_silence)
