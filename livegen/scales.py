"""Keys and scales for the key lock: ``"D dorian"`` -> the MIDI pitches livegen may strike."""

from __future__ import annotations

# Scales for the key lock, as semitones above the tonic.
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic-minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "minor-pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}
TONICS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


def parse_key(text: str) -> tuple[int, str]:
    """``"D dorian"`` -> ``(2, "dorian")``; ``"F#"`` alone means major. Raises ValueError."""
    parts = text.strip().lower().split()
    if not parts or len(parts) > 2:
        raise ValueError(f"key {text!r} must look like 'C major' or 'F# dorian'")
    name = parts[0]
    if not name or name[0] not in TONICS:
        raise ValueError(f"key {text!r}: tonic must be a letter A..G")
    tonic = TONICS[name[0]]
    for accidental in name[1:]:
        if accidental in "#s":
            tonic += 1
        elif accidental == "b":
            tonic -= 1
        else:
            raise ValueError(f"key {text!r}: unknown accidental {accidental!r}")
    scale = parts[1] if len(parts) == 2 else "major"
    if scale not in SCALES:
        raise ValueError(f"key {text!r}: scale must be one of {', '.join(SCALES)}")
    return tonic % 12, scale


def key_pitches(text: str | None) -> list[int] | None:
    """Every MIDI pitch in the key (None: no lock)."""
    if text is None:
        return None
    tonic, scale = parse_key(text)
    steps = {(tonic + s) % 12 for s in SCALES[scale]}
    return [p for p in range(128) if p % 12 in steps]
