"""Small real audio for the emulator and the demo: generated PCM WAV files (no external tools)."""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path


def sine_wav(seconds: float = 2.0, *, freq: float = 440.0, sample_rate: int = 16000, amplitude: float = 0.3,
             harmonics: int = 1) -> bytes:
    """A mono 16-bit PCM WAV of a (harmonic-rich) tone."""
    frames = int(seconds * sample_rate)
    peak = int(32767 * amplitude)
    step = 2 * math.pi * freq / sample_rate
    samples = []
    for i in range(frames):
        value = sum(math.sin(step * i * h) / h for h in range(1, harmonics + 1))
        samples.append(int(peak * value / max(1.0, harmonics ** 0.5)))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buf.getvalue()


def scale_wav(data: bytes, factor: float) -> bytes:
    """Return ``data`` (16-bit PCM WAV) with every sample multiplied by ``factor`` (a crude 'stem')."""
    with wave.open(io.BytesIO(data), "rb") as src:
        params = src.getparams()
        raw = src.readframes(src.getnframes())
    if params.sampwidth != 2:
        return data
    count = len(raw) // 2
    values = struct.unpack(f"<{count}h", raw[: count * 2])
    scaled = struct.pack(f"<{count}h", *(max(-32768, min(32767, int(v * factor))) for v in values))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setparams(params)
        out.writeframes(scaled)
    return buf.getvalue()


def write_sine_wav(path: str | Path, seconds: float = 2.0, **kwargs: float) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(sine_wav(seconds, **kwargs))  # type: ignore[arg-type]
    return target


def m4a_clip() -> bytes:
    """A real m4a (AAC-LC in MPEG-4, brand ``M4A``, 2 s of a 440 Hz tone, about 7 KB), packaged with the emulator.

    Made once with ffmpeg (``ffmpeg -f lavfi -i "sine=frequency=440:duration=2:sample_rate=22050" -ac 1 -c:a aac
    -b:a 24k -map_metadata -1 -fflags +bitexact -flags:a +bitexact -movflags +faststart -brand M4A clip.m4a``);
    nothing is encoded at run time."""
    from importlib.resources import files

    return files("airflow_provider_music.testing").joinpath("clip.m4a").read_bytes()
