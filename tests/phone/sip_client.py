"""A real SIP phone for tests: Debian's baresip 1.0 (package baresip-core) driven headless.

    greeting = speech_wav(tmp / "hello.wav", "Hello, I need an appointment.", tail_silence=8)
    with SipClient(audio=greeting) as caller:
        result = caller.dial(f"sip:+15550100@127.0.0.1:{sip_port}", seconds=30)
    assert result.established, result.output
    assert voiced_seconds(result.heard) > 1.0       # the agent spoke
    print(result.answer_time)                        # INVITE -> first voiced audio, seconds

    with SipClient("+15550199", auto_answer=True) as human:   # a callee (transfer target)
        human.start()
        ...                                          # something calls human.uri
        human.wait_for_call(timeout=20)
        human.wait_for_hangup(timeout=60)
        human.recordings()                           # what the human heard, one WAV per call

How baresip is used (checked with real calls against livekit-sip 1.8):

- Each client has its own config directory (`config` + `accounts`), SIP listen port and RTP port
  range on 127.0.0.1, so several clients and bundles can run side by side. Modules: g711, aufile
  (audio source: a WAV file), aubridge (a null player), sndfile (records both directions) plus
  the `account` and `menu` apps. Never `stdio`: it needs a terminal.
- The audio source is an 8 kHz mono 16-bit WAV. When it ends, baresip hangs up: the WAV's length
  is the call's length (pad it with silence; `speech_wav` does).
- sndfile writes `dump-<YYYY-mm-dd-HH-MM-SS>-dec.wav` (what this client heard) and `-enc.wav`
  (what it sent) per call into the config directory. The name has one-second resolution: two
  calls starting within the same second overwrite each other's files.
- baresip's stdout is read line by line on a thread and every line is stamped with
  `time.monotonic()` as it arrives; call events (INVITE sent, provisional responses, established,
  first RTP packet, closed with a status) are parsed from it.
- baresip lingers up to ~32 s after `-t` expires when an INVITE is still unanswered (it waits for
  its CANCEL transaction), so the harness stops the process itself as soon as every call is over
  and kills the whole process group when it does not exit promptly.

Answer time: `CallResult.answer_time` = (first RTP packet received - INVITE sent) + offset of the
first voiced 20 ms frame in the dec WAV. sndfile writes decoded frames as RTP arrives, so sample 0
of the dec WAV is the first packet; livekit-sip sends a continuous stream (silence included)
once the call is up, so WAV offsets map onto wall-clock time after that packet (check
`CallResult.media_gap` to confirm: the call's received span minus the WAV's length, ~0 when no
packets were missing). It is measured at arrival, before baresip's jitter buffer.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BARESIP = shutil.which("baresip") or "/usr/bin/baresip"
MODULE_PATH = "/usr/lib/baresip/modules"
SAMPLE_RATE = 8000
FRAME_SECONDS = 0.02
SILENCE_RMS = 200.0
"""A 20 ms frame louder than this (16-bit RMS) counts as voice; PCMU line noise is ~3-5."""
DEFAULT_NUMBER = "+966500000001"


class SipClientError(RuntimeError):
    pass


# -- audio files ------------------------------------------------------------------------------


def speech_wav(
    path: str | os.PathLike[str],
    text: str,
    *,
    voice: str = "en",
    lead_silence: float = 1.0,
    tail_silence: float = 8.0,
    speed: int | None = None,
) -> Path:
    """`text` spoken by espeak-ng (`voice`: "en", "ar", ...) as an 8 kHz mono 16-bit WAV, with
    `lead_silence` seconds before and `tail_silence` after. Used as a client's audio source, its
    length is the call's length."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="speech-") as scratch:
        raw = Path(scratch) / "raw.wav"
        command = ["espeak-ng", "-v", voice, "-w", str(raw)]
        if speed is not None:
            command += ["-s", str(speed)]
        subprocess.run([*command, text], check=True, capture_output=True, timeout=60)
        subprocess.run(
            ["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer"]
            + [str(path), "pad", f"{lead_silence:g}", f"{tail_silence:g}"],
            check=True,
            capture_output=True,
            timeout=60,
        )
    return path


def silence_wav(path: str | os.PathLike[str], seconds: float) -> Path:
    """`seconds` of digital silence as an 8 kHz mono 16-bit WAV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(b"\0\0" * int(seconds * SAMPLE_RATE))
    return path


def read_pcm(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """The first channel of a 16-bit PCM WAV as int16 samples, and its sample rate.

    Tolerates the header of a file whose writer was killed before closing it (data size 0 or
    past the end of the file): the data then runs to the end of the file."""
    data = Path(path).read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a WAV file")
    pos, channels, rate, bits = 12, 1, SAMPLE_RATE, 16
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk == b"fmt ":
            _fmt, channels, rate = struct.unpack("<HHI", data[body : body + 8])
            bits = struct.unpack("<H", data[body + 14 : body + 16])[0]
        elif chunk == b"data":
            end = body + size if 0 < size <= len(data) - body else len(data)
            if bits != 16:
                raise ValueError(f"{path}: {bits}-bit samples, expected 16")
            raw = data[body : end - (end - body) % (2 * channels)]
            samples = np.frombuffer(raw, dtype="<i2")
            return samples[::channels].copy(), rate
        pos = body + size + (size & 1)
    raise ValueError(f"{path}: no data chunk")


def frame_rms(path: str | os.PathLike[str], frame: float = FRAME_SECONDS) -> np.ndarray:
    """The RMS of each whole `frame`-second frame of a WAV (16-bit units)."""
    samples, rate = read_pcm(path)
    size = max(1, int(rate * frame))
    count = len(samples) // size
    frames = samples[: count * size].astype(np.float64).reshape(count, size)
    return np.sqrt((frames**2).mean(axis=1)) if count else np.zeros(0)


def duration(path: str | os.PathLike[str]) -> float:
    samples, rate = read_pcm(path)
    return len(samples) / rate


def rms(path: str | os.PathLike[str]) -> float:
    """The RMS of a whole WAV (16-bit units; 0.0 for an empty one)."""
    samples, _rate = read_pcm(path)
    return float(np.sqrt((samples.astype(np.float64) ** 2).mean())) if len(samples) else 0.0


def voiced_seconds(path: str | os.PathLike[str], threshold: float = SILENCE_RMS) -> float:
    """Seconds of a WAV in 20 ms frames louder than `threshold`."""
    return float((frame_rms(path) > threshold).sum() * FRAME_SECONDS)


def first_voice_offset(
    path: str | os.PathLike[str], threshold: float = SILENCE_RMS
) -> float | None:
    """Seconds from the start of a WAV to its first 20 ms frame louder than `threshold`; None
    when it is silent throughout."""
    loud = np.flatnonzero(frame_rms(path) > threshold)
    return float(loud[0] * FRAME_SECONDS) if len(loud) else None


# -- ports ------------------------------------------------------------------------------------


def free_udp_port(low: int = 15000, high: int = 20000) -> int:
    """A port on 127.0.0.1 free for both UDP and TCP right now (baresip's `sip_listen` binds
    both), chosen at random in [low, high): below the RTP ranges and outside the kernel's
    ephemeral ports, which outgoing connections take at any moment."""
    rng = np.random.default_rng()
    for _ in range(200):
        port = int(rng.integers(low, high))
        if _free(port, socket.SOCK_DGRAM) and _free(port, socket.SOCK_STREAM):
            return port
    raise SipClientError(f"no free port in {low}-{high}")


def _free(port: int, kind: int) -> bool:
    """Nothing is bound to `port` on 127.0.0.1 for `kind` (SOCK_DGRAM or SOCK_STREAM)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_udp_range(count: int = 10, low: int = 20000, high: int = 30000) -> tuple[int, int]:
    """`count` consecutive free UDP ports (an even start) in [low, high), chosen at random so
    clients in parallel tests rarely collide; below the SIP service's and LiveKit's ranges and
    the kernel's ephemeral ports."""
    rng = np.random.default_rng()
    for _ in range(200):
        start = int(rng.integers(low // 2, (high - count) // 2)) * 2
        if all(_free(port, socket.SOCK_DGRAM) for port in range(start, start + count)):
            return start, start + count - 1
    raise SipClientError(f"no {count} free UDP ports in {low}-{high}")


# -- baresip's output -------------------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STATUS_LINE = re.compile(r"^\[\d+:\d\d:\d\d\] audio=")
CONNECTING = re.compile(r"^call: connecting to '(?P<peer>[^']+)'")
PROGRESS = re.compile(r"^call: SIP Progress: (?P<code>\d{3}) (?P<reason>.*?) \(")
INCOMING = re.compile(r"Incoming call from: (?:.*?)(?P<peer>sips?:\S+) - ")
ESTABLISHED = re.compile(r"Call established: (?P<peer>\S+)")
FIRST_RTP = re.compile(r"^stream: incoming rtp for 'audio' established")
CLOSED_CODE = re.compile(r"^(?P<peer>\S+): session closed: (?P<code>\d{3}) ?(?P<reason>.*)$")
CLOSED = re.compile(r"^(?P<peer>\S+): session closed(?:: (?P<reason>.*))?$")
TERMINATED = re.compile(r"Call with (?P<peer>\S+) terminated \(duration: (?P<duration>[^)]*)\)")
DUMP = re.compile(r"^sndfile: dumping (?P<dir>encode|decode) audio to (?P<path>\S+)")


@dataclass(frozen=True)
class Line:
    at: float
    """time.monotonic() when the line was read."""
    text: str


class _Output:
    """A process's stdout read on a thread: lines (split on \\n and \\r, ANSI colours and
    baresip's once-a-tick status lines dropped), each stamped as it arrives."""

    def __init__(self, stream) -> None:  # noqa: ANN001 - a binary pipe
        self.lines: list[Line] = []
        self.eof = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:  # noqa: ANN001
        pending = b""
        try:
            while chunk := stream.read1(65536):
                now = time.monotonic()
                pending += chunk
                *complete, pending = re.split(rb"[\r\n]", pending)
                self._add(now, complete)
        finally:
            self._add(time.monotonic(), [pending] if pending else [])
            with self._cond:
                self.eof = True
                self._cond.notify_all()

    def _add(self, now: float, raw_lines: list[bytes]) -> None:
        texts = [ANSI.sub("", raw.decode(errors="replace")).rstrip() for raw in raw_lines]
        kept = [Line(now, t) for t in texts if t.strip() and not STATUS_LINE.match(t)]
        if kept:
            with self._cond:
                self.lines.extend(kept)
                self._cond.notify_all()

    def wait(self, predicate: Callable[[], object], timeout: float) -> object:
        """Block until `predicate()` (called with the lock held) is truthy or `timeout` passes;
        returns its last value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (result := predicate()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.2))
            return result

    def snapshot(self) -> list[Line]:
        with self._cond:
            return list(self.lines)

    def text(self) -> str:
        return "\n".join(line.text for line in self.snapshot())

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)


def _peer_key(uri: str) -> str:
    """A peer URI as a key: a transfer target is printed as `<sip:x@h:p>` when dialled and as
    `sip:x@h:p` once closed; a dialled URI gains `;transport=udp`."""
    return uri.strip("<>").split(";")[0]


def _open_calls(lines: list[Line]) -> tuple[int, int]:
    """(calls started, calls still open) in baresip's output so far; a call is keyed by its
    peer URI, opened by "connecting to"/"Incoming call", closed by "session closed"/"terminated"."""
    open_peers: set[str] = set()
    started = 0
    for line in lines:
        text = line.text
        if match := CONNECTING.search(text) or INCOMING.search(text):
            open_peers.add(_peer_key(match["peer"]))
            started += 1
        elif match := CLOSED.search(text) or TERMINATED.search(text):
            open_peers.discard(_peer_key(match["peer"]))
    return started, len(open_peers)


def _stop(process: subprocess.Popen, timeout: float = 2.0) -> None:
    """Stop baresip and reap it: SIGTERM to its process group (it hangs up its calls and exits
    once their transactions are done), a second SIGTERM after `timeout` (it then exits at
    once), SIGKILL as the last resort."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGTERM, 1.0), (signal.SIGKILL, None)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


# -- results ----------------------------------------------------------------------------------


@dataclass
class CallResult:
    """What one `SipClient.dial` saw. Times are seconds after the INVITE was sent (None: it
    did not happen)."""

    uri: str
    established: bool
    status: int | None
    """The final SIP status of a call that was not established, when a response arrived
    ("session closed: 486 Busy Here"); None when established or when nothing final came (the
    SIP service drops INVITEs it will not take without answering: see `reason`)."""
    reason: str
    """The reason phrase, or baresip's error text, or "no final response"."""
    progress: list[int]
    """Provisional responses before the call was established or refused (100, 180, 183; a
    100 per INVITE: baresip re-sends it with credentials after each 401/407)."""
    heard: Path | None
    """The dec WAV of the first call: what this client heard."""
    sent: Path | None
    """The enc WAV of the first call: what this client sent."""
    recordings: list[Path]
    """Every dec WAV this run wrote, in order (a REFER transfer adds the call to its target)."""
    dialled: list[str]
    """Every URI this run called, in order: the dialled one, then transfer targets."""
    hangup: str
    """Who ended the first call: "remote" (a BYE came: baresip says "session closed:
    Connection reset by peer"), "local" (the audio source ended, `seconds` passed) or ""
    (it was never established)."""
    invite_at: float | None
    """time.monotonic() when "connecting to" (the INVITE being sent) was read."""
    established_at: float | None
    """INVITE -> 200 OK (the first call established)."""
    media_at: float | None
    """INVITE -> first RTP packet received."""
    ended_at: float | None
    """INVITE -> the first call closed."""
    answer_time: float | None
    """INVITE -> first voiced 20 ms frame received: media_at + its offset in the dec WAV."""
    media_gap: float | None
    """(ended_at - media_at) - length of the dec WAV: ~0.1 s when RTP flowed without gaps
    (baresip's jitter buffer still holds ~5 frames at hangup), so that WAV offsets are
    wall-clock offsets; much more means packets were missing and answer_time is early."""
    output: str
    lines: list[Line] = field(repr=False, default_factory=list)

    def describe(self) -> str:
        """A one-paragraph summary plus baresip's output, for assertion messages."""
        return (
            f"dial {self.uri}: established={self.established} status={self.status} "
            f"reason={self.reason!r} progress={self.progress} hangup={self.hangup!r} "
            f"answer_time={self.answer_time}\n"
            f"--- baresip output ---\n{self.output}"
        )


@dataclass(frozen=True)
class IncomingCall:
    peer: str
    """The caller's SIP URI as baresip names it."""
    established_at: float
    """time.monotonic() when the call was established."""


# -- the client -------------------------------------------------------------------------------


class SipClient:
    """One baresip user agent on 127.0.0.1 with its own config directory.

    `number` is the account's user part (the caller ID it presents). `audio` is the 8 kHz mono
    WAV it sends (default: 60 s of silence); the call ends when it ends. `auto_answer` makes it
    answer incoming calls. `auth_user`/`auth_password` answer a digest challenge (401/407); they
    must not contain `;`, `>` or whitespace (they go into baresip's account line).
    `workdir` keeps config and recordings in a given directory (default: a temporary one that
    `close()` removes unless `keep=True`)."""

    def __init__(
        self,
        number: str = DEFAULT_NUMBER,
        *,
        audio: str | os.PathLike[str] | None = None,
        auto_answer: bool = False,
        auth_user: str | None = None,
        auth_password: str | None = None,
        port: int | None = None,
        workdir: str | os.PathLike[str] | None = None,
        keep: bool = False,
        sip_trace: bool = False,
    ) -> None:
        self.number = number
        self.auto_answer = auto_answer
        self.port = port or free_udp_port()
        self.rtp_ports = free_udp_range()
        self._own_dir = workdir is None
        self.dir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="ornina-sip-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self.sip_trace = sip_trace
        self.audio = Path(audio) if audio else silence_wav(self.dir / "silence.wav", 60.0)
        for secret in (auth_user, auth_password):
            if secret is not None and re.search(r"[;>\s]", secret):
                raise ValueError("auth_user/auth_password must not contain ';', '>' or spaces")
        self.auth_user, self.auth_password = auth_user, auth_password
        self._process: subprocess.Popen | None = None
        self._output: _Output | None = None
        self._seen_established = 0
        self._seen_closed = 0
        self._write_config()

    @property
    def uri(self) -> str:
        """Where to call this client: `sip:<number>@127.0.0.1:<port>`."""
        return f"sip:{self.number}@127.0.0.1:{self.port}"

    def _write_config(self) -> None:
        low, high = self.rtp_ports
        config = {
            "sip_listen": f"127.0.0.1:{self.port}",
            "net_interface": "127.0.0.1",
            "module_path": MODULE_PATH,
            "audio_source": f"aufile,{self.audio}",
            "audio_player": "aubridge,nil",
            "audio_alert": "aubridge,nil",
            "ausrc_srate": str(SAMPLE_RATE),
            "auplay_srate": str(SAMPLE_RATE),
            "rtp_ports": f"{low}-{high}",
            "rtp_timeout": "0",
            "snd_path": str(self.dir),
        }
        lines = [f"{key} {value}" for key, value in config.items()]
        lines += [f"module {name}.so" for name in ("g711", "aufile", "aubridge", "sndfile")]
        lines += [f"module_app {name}.so" for name in ("account", "menu")]
        (self.dir / "config").write_text("\n".join(lines) + "\n")
        account = f"<sip:{self.number}@127.0.0.1:{self.port};transport=udp>;regint=0"
        account += ";audio_codecs=PCMU"
        if self.auto_answer:
            account += ";answermode=auto"
        if self.auth_user is not None:
            account += f";auth_user={self.auth_user}"
        if self.auth_password is not None:
            account += f";auth_pass={self.auth_password}"
        (self.dir / "accounts").write_text(account + "\n")

    def _spawn(self, *args: str) -> tuple[subprocess.Popen, _Output]:
        if self._process is not None and self._process.poll() is None:
            raise SipClientError("baresip is already running for this client")
        command = [BARESIP, "-f", str(self.dir), *(["-s"] if self.sip_trace else []), *args]
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return process, _Output(process.stdout)

    # -- calling --------------------------------------------------------------------------------

    def dial(self, uri: str, *, seconds: float = 30.0, settle: float = 1.0) -> CallResult:
        """Call `uri` and return once the call is over: every call closed (the remote hung up,
        the audio source ended, the call was rejected) and nothing new started for `settle`
        seconds, or `seconds` passed (baresip's `-t`, which hangs up), or baresip exited.
        A transfer (REFER) is followed: the call to its target is part of this run."""
        process, output = self._spawn("-e", f"/dial {uri}", "-t", str(math.ceil(seconds)))
        self._process, self._output = process, output
        deadline = time.monotonic() + seconds + 5.0

        def over() -> bool:
            started, still_open = _open_calls(output.lines)
            stopping = any(line.text.startswith("ua: stop all") for line in output.lines)
            return bool(started and not still_open) or stopping or output.eof

        try:
            while output.wait(over, timeout=deadline - time.monotonic()) and not output.eof:
                # over, unless something new (a transfer's call) shows up within `settle`
                count = len(output.snapshot())
                output.wait(lambda n=count: len(output.lines) > n or output.eof, settle)
                if len(output.snapshot()) == count:
                    break
        finally:
            _stop(process, timeout=1.0)
            output.join()
            self._process = None
        return _result(uri, output.snapshot())

    # -- answering ------------------------------------------------------------------------------

    def start(self) -> SipClient:
        """Run baresip in the background (set `auto_answer=True` to take calls); returns once
        it is ready to take calls."""
        self._process, self._output = self._spawn()
        self._seen_established = self._seen_closed = 0
        output = self._output
        ready = output.wait(
            lambda: any("baresip is ready" in line.text for line in output.lines) or output.eof,
            timeout=10.0,
        )
        if not ready or self._process.poll() is not None:
            text = output.text()
            self.stop()
            raise SipClientError(f"baresip did not start:\n{text}")
        return self

    def _events(self, pattern: re.Pattern[str]) -> list[Line]:
        assert self._output is not None, "start() first"
        return [line for line in self._output.lines if pattern.search(line.text)]

    def wait_for_call(self, timeout: float = 30.0) -> IncomingCall:
        """The next call this running client has established (each call is returned once)."""
        if self._output is None:
            raise SipClientError("start() first")
        index = self._seen_established
        found = self._output.wait(lambda: len(self._events(ESTABLISHED)) > index, timeout)
        if not found:
            raise TimeoutError(
                f"no call reached {self.uri} within {timeout} s\n{self._output.text()}"
            )
        line = self._events(ESTABLISHED)[index]
        self._seen_established += 1
        peer = ESTABLISHED.search(line.text)
        return IncomingCall(peer=peer["peer"] if peer else "", established_at=line.at)

    def wait_for_hangup(self, timeout: float = 60.0) -> float:
        """Wait for the next call of this running client to end; the time.monotonic() of it."""
        if self._output is None:
            raise SipClientError("start() first")
        index = self._seen_closed

        def closes() -> list[Line]:
            return [
                line
                for line in self._output.lines
                if TERMINATED.search(line.text) or CLOSED.search(line.text)
            ]

        if not self._output.wait(lambda: len(closes()) > index, timeout):
            raise TimeoutError(f"no call on {self.uri} ended within {timeout} s")
        # a call closed by the remote prints "session closed" and then "terminated"
        line = closes()[index]
        self._seen_closed = len(closes())
        return line.at

    def recordings(self) -> list[Path]:
        """What this client heard: every dec WAV in its directory, oldest first."""
        return sorted(self.dir.glob("dump-*-dec.wav"))

    @property
    def output(self) -> str:
        return self._output.text() if self._output else ""

    def stop(self) -> None:
        """Stop a background baresip (its calls are hung up)."""
        if self._process is not None:
            _stop(self._process)
            if self._output is not None:
                self._output.join()
            self._process = None

    def close(self) -> None:
        self.stop()
        if self._own_dir and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> SipClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _result(uri: str, lines: list[Line]) -> CallResult:
    """A CallResult from baresip's timestamped output of one `dial` run."""

    def first(pattern: re.Pattern[str]) -> tuple[Line, re.Match[str]] | tuple[None, None]:
        for line in lines:
            if match := pattern.search(line.text):
                return line, match
        return None, None

    invite, _ = first(CONNECTING)
    established, _ = first(ESTABLISHED)
    media, _ = first(FIRST_RTP)
    closed_code, code_match = first(CLOSED_CODE)
    ended = next(
        (line for line in lines if TERMINATED.search(line.text) or CLOSED.search(line.text)),
        None,
    )
    dialled = [m["peer"].strip("<>") for line in lines if (m := CONNECTING.search(line.text))]
    dumps = [(m["dir"], Path(m["path"])) for line in lines if (m := DUMP.search(line.text))]
    recordings = [path for kind, path in dumps if kind == "decode"]
    sent = next((path for kind, path in dumps if kind == "encode"), None)
    progress: list[int] = []
    for line in lines:
        if established is not None and line.at > established.at:
            break
        if match := PROGRESS.search(line.text):
            progress.append(int(match["code"]))

    def since_invite(line: Line | None) -> float | None:
        return line.at - invite.at if line is not None and invite is not None else None

    hangup = ""
    if established is not None and dialled:
        first_peer = _peer_key(dialled[0])
        closes = [m for line in lines if (m := CLOSED.search(line.text))]
        hangup = "remote" if any(_peer_key(m["peer"]) == first_peer for m in closes) else "local"
    status, reason = None, ""
    if invite is None:
        reason = "baresip did not send the INVITE (see output)"
    elif established is None:
        if code_match is not None:
            status, reason = int(code_match["code"]), code_match["reason"]
        elif (closed := first(CLOSED)[1]) is not None:
            reason = closed["reason"] or "session closed"
        else:
            reason = "no final response"
    heard = recordings[0] if recordings else None
    answer_time = media_gap = None
    if heard is not None and heard.exists() and media is not None and invite is not None:
        offset = first_voice_offset(heard)
        if offset is not None:
            answer_time = media.at - invite.at + offset
        if ended is not None:
            media_gap = (ended.at - media.at) - duration(heard)
    return CallResult(
        uri=uri,
        established=established is not None,
        status=status,
        reason=reason,
        progress=progress,
        heard=heard,
        sent=sent,
        recordings=recordings,
        dialled=dialled,
        hangup=hangup,
        invite_at=invite.at if invite else None,
        established_at=since_invite(established),
        media_at=since_invite(media),
        ended_at=since_invite(ended),
        answer_time=answer_time,
        media_gap=media_gap,
        output="\n".join(line.text for line in lines),
        lines=lines,
    )
