"""FluidSynth as livegen's instrument: the soundfont, a live synth on ``livegen out``, WAV files.

``--synth`` (:func:`start_synth`) lets a keyboard player hear the answer with no DAW: the
engine's process starts FluidSynth as a child, waits until its MIDI input exists, connects
``livegen out`` to it (and its audio to the sound card, where JACK has one), and stops it
with the session. ``livegen generate --wav`` (:func:`render_wav`) renders a MIDI file to
audio with FluidSynth's offline renderer, faster than real time.

Everything the user can get wrong (no FluidSynth, no soundfont, a port that never
appears) is a :class:`SynthError` whose one line says how to fix it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from livegen.errors import LivegenError

CLIENT = "livegen-synth"  # FluidSynth's JACK / ALSA client name, as patchbays show it
READY_TIMEOUT = 10.0  # seconds for FluidSynth's MIDI port to appear (it loads the .sf2 first)
RENDER_RATE = 44100

# Best first: FluidR3 (Debian's fluid-soundfont-gm, 140 MB) sounds better than TimGM6mb
# (6 MB); default-GM.sf2 is Debian's alternatives link to whichever is installed.
SOUNDFONT_NAMES = ("FluidR3_GM.sf2", "TimGM6mb.sf2", "default-GM.sf2")
HOMEBREW_DIRS = (
    Path("/opt/homebrew/share/soundfonts"),  # Apple silicon
    Path("/usr/local/share/soundfonts"),  # Intel
)
SOUNDFONT_DIRS = (
    Path("/usr/share/sounds/sf2"),  # Debian, Ubuntu
    Path("/usr/share/soundfonts"),  # Fedora, Arch
    *HOMEBREW_DIRS,
)


class SynthError(LivegenError, RuntimeError):
    """FluidSynth or a soundfont is missing, or FluidSynth did not start: one line."""


def install_hint(platform: str | None = None) -> str:
    """How to get FluidSynth and a General MIDI soundfont on this kind of machine."""
    platform = platform or sys.platform
    if platform == "darwin":
        return (
            "install it with: brew install fluid-synth, and put a General MIDI .sf2 in "
            "/opt/homebrew/share/soundfonts (or pass --soundfont FILE.sf2)"
        )
    return (
        "install it with: sudo apt-get install fluidsynth timgm6mb-soundfont "
        "(or fluid-soundfont-gm, larger and better)"
    )


def candidate_soundfonts() -> list[Path]:
    """Where a soundfont is looked for, in order: each name in every folder, best name first."""
    named = [folder / name for name in SOUNDFONT_NAMES for folder in SOUNDFONT_DIRS]
    return named + [folder / "default.sf2" for folder in HOMEBREW_DIRS]  # Homebrew users' name


def find_soundfont(
    explicit: str | Path | None = None, candidates: list[Path] | None = None
) -> Path:
    """``explicit`` (``--soundfont``) if given, else the first candidate that exists."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise SynthError(f"soundfont {path} not found: pass --soundfont an existing .sf2 file")
        if not is_soundfont(path):
            # FluidSynth would only warn and play silence.
            raise SynthError(f"{path} is not a SoundFont 2 file: pass --soundfont a .sf2 file")
        return path
    for path in candidate_soundfonts() if candidates is None else candidates:
        if path.is_file() and is_soundfont(path):
            return path
    return _missing("no General MIDI soundfont found in /usr/share/sounds/sf2")


def is_soundfont(path: Path) -> bool:
    """A RIFF file of form ``sfbk``: what SoundFont 2 files are."""
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head[:4] == b"RIFF" and head[8:12] == b"sfbk"


def find_fluidsynth() -> str:
    found = shutil.which("fluidsynth")
    if found is None:
        _missing("fluidsynth is not installed")
    return found


def _missing(what: str):
    raise SynthError(f"{what}; {install_hint()}")


# ---- offline: generate --wav ------------------------------------------------------------------
def render_command(fluidsynth: str, soundfont: Path, midi: Path, wav: Path) -> list[str]:
    """FluidSynth's fast offline render: no audio driver (-n), no shell (-i), WAV out."""
    out = ["-T", "wav", "-F", str(wav), "-r", str(RENDER_RATE)]
    return [fluidsynth, "-ni", "-q", *out, str(soundfont), str(midi)]


def render_wav(midi: Path, wav: Path, soundfont: Path, *, timeout: float = 600.0) -> None:
    """Render ``midi`` to ``wav`` with ``soundfont``.

    Written beside ``wav`` and renamed at the end, so a failed or interrupted render never
    leaves a truncated file under the asked-for name.
    """
    fluidsynth = find_fluidsynth()
    fd, part_name = tempfile.mkstemp(prefix=f".{wav.name}.", suffix=".part", dir=wav.parent)
    os.close(fd)
    part = Path(part_name)
    try:
        done = subprocess.run(
            render_command(fluidsynth, soundfont, midi, part),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0 or part.stat().st_size <= 44:  # 44: a WAV header alone
            raise SynthError(
                f"fluidsynth could not render {midi.name} to {wav}: "
                + (_last_line(done.stderr + done.stdout) or f"exit status {done.returncode}")
            )
        os.replace(part, wav)
    except subprocess.TimeoutExpired:
        raise SynthError(f"fluidsynth took over {timeout:.0f} s rendering {wav}") from None
    finally:
        with contextlib.suppress(OSError):
            part.unlink()


def _last_line(text: str) -> str:
    """The line that says why: the last error FluidSynth logged, else its last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or [""])[-1]


# ---- live: --synth -------------------------------------------------------------------------
@dataclass
class Synth:
    """A running FluidSynth that plays ``livegen out``; :meth:`stop` ends it."""

    proc: subprocess.Popen
    client: str  # its JACK or ALSA client name
    notice: str  # what the session tells the user: where it plays, what is heard
    log_path: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 2.0) -> None:
        """End of input ends FluidSynth's shell and FluidSynth; a signal if that is not enough."""
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout)
        with contextlib.suppress(OSError):
            self.log_path.unlink()


def synth_command(backend: str, fluidsynth: str, soundfont: Path, client: str) -> list[str]:
    """FluidSynth for a session on ``backend``; its shell reads livegen's pipe, not a TCP port
    (no ``-s``: livegen opens no network listener unless asked)."""
    if backend == "jack":
        drivers = ["-a", "jack", "-m", "jack", "-o", f"audio.jack.id={client}"]
        drivers += ["-o", f"midi.jack.id={client}"]
    elif backend == "alsa":
        drivers = ["-a", alsa_audio_driver(), "-m", "alsa_seq", "-o", f"midi.alsa_seq.id={client}"]
    else:
        _wiring(backend)  # raises: livegen cannot connect a synth there
    return [fluidsynth, "-q", *drivers, "-o", "shell.prompt=", str(soundfont)]


def alsa_audio_driver(runtime_dir: str | None = None) -> str:
    """PulseAudio (PipeWire's pulse server too) where its socket exists, else ALSA directly:
    on a desktop the sound card is usually held by the sound server."""
    runtime_dir = runtime_dir if runtime_dir is not None else os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir and (Path(runtime_dir) / "pulse" / "native").exists():
        return "pulseaudio"
    return "alsa"


def start_synth(ports_info, soundfont: str | Path | None = None, *, timeout=READY_TIMEOUT) -> Synth:
    """Start FluidSynth for the session's ports (a :class:`livegen.midi_io.PortInfo`), connect
    ``livegen out`` to it and return it running; :class:`SynthError` if it cannot."""
    backend = ports_info.backend
    wiring = _wiring(backend)
    fluidsynth = find_fluidsynth()
    sf2 = find_soundfont(soundfont)
    client = wiring.free_client_name(CLIENT)
    synth = spawn(synth_command(backend, fluidsynth, sf2, client), client)
    try:
        port = wait_for(synth, lambda: wiring.synth_input(client), timeout)
        where = wiring.connect(ports_info, port, client)
    except BaseException:
        synth.stop()
        raise
    synth.notice = f"FluidSynth ({sf2.name}) plays 'livegen out' as {client!r}: {where}"
    return synth


def _wiring(backend: str):
    """The module that finds and connects FluidSynth's ports on ``backend``."""
    if backend == "jack":
        from livegen import synth_jack

        return synth_jack
    if backend == "alsa":
        from livegen import synth_alsa

        return synth_alsa
    raise SynthError(
        f"--synth works with JACK or ALSA ports, not {backend}: start a synth yourself and "
        "connect 'livegen out' to it (or use --backend jack)"
    )


def spawn(cmd: list[str], client: str) -> Synth:
    """FluidSynth as a child that cannot outlive this process.

    Its stdin is a pipe from this process: when this process ends, however it ends, the pipe
    closes and FluidSynth's shell quits. On Linux it also gets SIGKILL when its parent dies
    (PR_SET_PDEATHSIG), in case it is stuck; the kernel ties that to the thread that forks,
    so call this from a thread that lives as long as the session (the engine process's main
    thread does). Its own session keeps a terminal's Ctrl-C from killing it before the
    engine has sent every note-off through it.
    """
    fd, log_name = tempfile.mkstemp(prefix=f"{client}-", suffix=".log")
    # A log file, not a pipe: a pipe nobody reads would block FluidSynth once full.
    with os.fdopen(fd, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()),
        )
    return Synth(proc, client, "", Path(log_name))


def _die_with_parent(parent: int):
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded here: the child only makes the call
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL))
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def wait_for(synth: Synth, find, timeout: float):
    """Poll ``find()`` until it returns FluidSynth's input port; a bounded wait."""
    deadline = time.monotonic() + timeout
    while True:
        if synth.proc.poll() is not None:
            raise SynthError(
                f"fluidsynth exited with status {synth.proc.returncode} while starting: "
                + (_last_line(synth.log()) or "no message")
            )
        port = find()
        if port is not None:
            return port
        if time.monotonic() > deadline:
            said = _last_line(synth.log())
            raise SynthError(
                f"fluidsynth's MIDI input {synth.client!r} did not appear within {timeout:.0f} s"
                + (f" ({said})" if said else "; is the JACK server or ALSA sequencer running?")
            )
        time.sleep(0.05)


def run_tool(name: str, *args: str, missing: str) -> str:
    """A patch tool's stdout (jack_lsp, aconnect, ...); ``missing`` says how to install it."""
    path = shutil.which(name)
    if path is None:
        raise SynthError(f"{name} is not installed; {missing}")
    done = subprocess.run([path, *args], capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        why = _last_line(done.stderr + done.stdout) or f"exit status {done.returncode}"
        raise SynthError(f"{name} {' '.join(args)} failed: {why}")
    return done.stdout


def parse_client_port(name: str) -> str | None:
    """``'livegen:livegen out 128:1'`` (an ALSA name as rtmidi lists it) -> ``'128:1'``."""
    m = re.search(r"(\d+:\d+)\s*$", name)
    return m.group(1) if m else None
