"""The musical checks on hand-made grids: each check accepts what it should and catches what
it must (a parallel fifth, a cluster on a beat, a note out of key or out of range)."""

from __future__ import annotations

import numpy as np
import pytest

from livegen import harmony_checks as hc
from livegen.harmony_checks import A, B, Counts, HarmonyError, Key, S, T
from livegen.notes import make_notes


def beats(*chords) -> np.ndarray:
    """A grid of quarter-note chords: each (S, A, T, B) held for the 4 steps of its beat."""
    return hc.as_grid([list(c) for c in chords for _ in range(hc.STEPS_PER_BEAT)])


C_MAJOR_SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


# ---- grids and notes ----------------------------------------------------------------------
def test_a_grid_takes_rests_as_none_or_negative_and_refuses_other_shapes():
    grid = hc.as_grid([[72, None, -1, 48], [72, 67, 64, 48]])
    assert grid.tolist() == [[72, -1, -1, 48], [72, 67, 64, 48]]
    with pytest.raises(HarmonyError, match="4 voices"):
        hc.as_grid([[72, 67, 64]])
    with pytest.raises(HarmonyError, match="MIDI pitches"):
        hc.as_grid([[72, 67, 64, 200]])


def test_a_repeated_pitch_reads_as_one_held_note_and_a_rest_ends_it():
    column = np.array([60, 60, 62, -1, 62, 62, 60])
    assert hc.voice_notes(column) == [(60, 0, 2), (62, 2, 1), (62, 4, 2), (60, 6, 1)]
    assert hc.voice_notes(np.array([-1, -1])) == []


def test_a_part_of_three_voices_fills_alto_tenor_bass_and_the_lowest_is_always_the_bass():
    # 0..1 q: three notes; 1..2 q: two (alto and bass); 2..3 q: one (the bass).
    mine = make_notes([(67, 0, 1), (64, 0, 1), (48, 0, 3), (65, 1, 2)])
    yours = make_notes([(72, 0, 3)])
    grid = hc.grid_from_parts(yours, (S,), mine, (A, T, B))
    assert grid.shape == (12, 4)
    assert grid[0].tolist() == [72, 67, 64, 48]
    assert grid[4].tolist() == [72, 65, -1, 48]
    assert grid[8].tolist() == [72, -1, -1, 48]


def test_with_more_notes_than_voices_the_lowest_is_still_the_bass_and_the_step_counted():
    mine = make_notes([(67, 0, 1), (64, 0, 2), (60, 0, 2), (48, 0, 2), (55, 1, 2), (50, 2, 3)])
    grid = hc.notes_on_grid(mine, 12, (A, T, B))
    assert grid[0].tolist() == [-1, 67, 64, 48]  # 60 finds no voice
    assert grid[4].tolist() == [-1, 64, 60, 48]  # 55 neither
    assert hc.crowded_steps(mine, 12, 3) == 8  # four notes over the first two quarters
    assert hc.crowded_steps(mine, 12, 4) == 0


# ---- key ----------------------------------------------------------------------------------------
def test_the_key_of_a_c_major_scale_is_c_major_and_of_an_a_minor_line_a_minor():
    grid = beats(*[(p, -1, -1, -1) for p in C_MAJOR_SCALE + [67, 64, 60, 60]])
    assert hc.estimate_key(grid, [S]) == Key(0, minor=False)
    a_minor = [69, 71, 72, 74, 76, 77, 68, 69, 64, 69, 72, 69]
    key = hc.estimate_key(beats(*[(p, -1, -1, -1) for p in a_minor]), [S])
    assert key == Key(9, minor=True) and str(key) == "A minor"
    assert 8 in key.scale() and 7 in key.scale()  # G# (leading tone) and G both in A minor
    assert hc.estimate_key(beats((-1, 60, -1, -1)), [S]) is None  # a rest says nothing


def test_notes_out_of_the_melodys_key_are_counted_against_the_judged_voice():
    melody = C_MAJOR_SCALE + [67, 64, 60, 60]
    alto = [55, 57, 59, 60, 62, 61, 62, 64, 63, 60, 55, 55]  # C# and Eb: out of C major
    grid = beats(*[(s, a, -1, -1) for s, a in zip(melody, alto, strict=True)])
    counts = hc.check(grid, given=[S], judged=[A])
    # Repeated 55s at the end read as one note: 11 notes, 2 out of the key.
    assert (counts.notes, counts.in_key) == (11, 9)


# ---- consonance -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "pitches",
    [
        (72, 67, 64, 48),  # C major triad
        (69, 64, 60, 57),  # A minor triad
        (71, 65, 62, 55),  # G7
        (74, 65, 59, 59),  # B diminished
        (67, 60),  # a fifth
        (64, 60),  # a third
    ],
)
def test_a_triad_a_dominant_seventh_and_their_subsets_are_consonant(pitches):
    assert hc.is_consonant(pitches)


@pytest.mark.parametrize(
    "pitches",
    [
        (62, 61, 60, 48),  # a cluster
        (72, 71, 67, 48),  # C major seventh
        (65, 64, 60, 48),  # a suspended fourth against its resolution
        (74, 71, 67, 60),  # G major over a C pedal
    ],
)
def test_a_cluster_a_major_seventh_a_suspension_and_a_pedal_clash_are_not(pitches):
    assert not hc.is_consonant(pitches)


def test_consonance_is_judged_on_beats_only_and_needs_two_voices():
    grid = beats((72, 67, 64, 48), (72, 71, 69, 48), (72, -1, -1, -1))
    grid[1] = [72, 73, 74, 48]  # a cluster off the beat: not judged
    assert hc.count_consonant(grid) == (2, 1)  # beat 2 is a cluster, beat 3 a single voice


# ---- parallels ----------------------------------------------------------------------------------
def test_a_parallel_fifth_and_a_parallel_octave_between_the_outer_voices_are_caught():
    fifths = beats((67, -1, -1, 60), (69, -1, -1, 62))
    assert hc.count_parallels(fifths) == (2, 1, 0)
    octaves = beats((72, -1, -1, 48), (74, -1, -1, 50))
    assert hc.count_parallels(octaves) == (2, 0, 1)
    compound = beats((79, -1, -1, 48), (81, -1, -1, 50))  # a twelfth moving to a twelfth
    assert hc.count_parallels(compound) == (2, 1, 0)


def test_contrary_and_oblique_motion_and_moves_across_a_rest_are_not_parallels():
    contrary = beats((67, -1, -1, 60), (69, -1, -1, 50))  # fifth to twelfth, opposite ways
    oblique = beats((67, -1, -1, 60), (67, -1, -1, 60))  # the same fifth held
    broken = beats((67, -1, -1, 60), (-1, -1, -1, 61), (69, -1, -1, 62))
    for grid in (contrary, oblique, broken):
        _, fifths, octaves = hc.count_parallels(grid)
        assert fifths == octaves == 0


def test_parallels_between_steps_off_the_beat_are_not_counted():
    grid = beats((67, -1, -1, 64), (69, -1, -1, 64))
    grid[1] = [67, -1, -1, 60]  # fifths at steps 1 and 2, between the beats
    grid[2] = [69, -1, -1, 62]
    assert hc.count_parallels(grid) == (2, 0, 0)


# ---- ranges and the whole check -----------------------------------------------------------------
def test_notes_outside_a_voices_range_are_counted_per_voice():
    # Bass 36 (C2) is below 40; tenor 70 is above 69; the alto's 53 is just inside.
    grid = beats((72, 53, 70, 36), (72, 55, 64, 48))
    counts = hc.check(grid, given=[S], judged=[A, T, B])
    assert counts.notes == 6 and counts.out_of_range == 2


def test_a_short_chorale_by_hand_counts_every_figure():
    grid = beats(
        (72, 67, 64, 48),  # I
        (74, 67, 62, 55),  # V (no third): consonant
        (76, 64, 60, 57),  # vi: S and B both rise a step, a twelfth to a twelfth
        (77, 72, 69, 53),  # IV
        (74, 71, 67, 55),  # V, in contrary motion
        (72, 64, 60, 48),  # I
    )
    counts = hc.check(grid, given=[S], judged=[A, T, B])
    # The alto's G held over two beats is one note: 5 + 6 + 6 notes.
    assert counts == Counts(
        notes=17, in_key=17, beats=6, consonant=6, outer_beats=6, fifths=1, octaves=0
    )
    rates = counts.rates()
    assert rates["parallels_per_100_beats"] == pytest.approx(100 / 6)
    assert rates["in_key"] == 1.0 and rates["out_of_range_per_100_notes"] == 0.0


def test_counts_pool_by_adding_and_an_empty_count_has_no_rates():
    a = Counts(notes=10, in_key=9, beats=4, consonant=3)
    b = Counts(notes=30, in_key=21, beats=4, consonant=1)
    assert (a + b).rates()["in_key"] == pytest.approx(30 / 40)  # pooled, not a mean of rates
    assert (a + b).rates()["consonant_beats"] == pytest.approx(0.5)
    assert all(v is None for v in Counts().rates().values())


# ---- against Bach -----------------------------------------------------------------------------
def test_livegen_passes_a_figure_within_twice_bachs_faults_and_fails_beyond():
    bach = Counts(notes=100, in_key=95, beats=50, consonant=40, outer_beats=50, fifths=1)
    good = Counts(notes=100, in_key=91, beats=50, consonant=30, outer_beats=50, octaves=2)
    verdicts = {v.figure: v for v in hc.compare(bach, good)}
    key = verdicts["notes out of key, %"]
    assert (key.bach, key.livegen, key.passed) == (5.0, 9.0, True)
    assert key.ratio == pytest.approx(1.8)
    assert verdicts["beats not consonant, %"].passed is True  # 40% against 20%: just 2x
    assert verdicts["parallel 5ths/8ves per 100 beats"].passed is True
    bad = Counts(notes=100, in_key=89, beats=50, consonant=29, outer_beats=50, fifths=3)
    assert [v.passed for v in hc.compare(bach, bad)] == [False, False, False, True]


def test_a_fault_bach_never_makes_must_not_be_made_and_an_empty_figure_does_not_apply():
    bach = Counts(notes=10, in_key=10, beats=4, consonant=4, outer_beats=4)
    one_off = Counts(notes=10, in_key=10, beats=4, consonant=4, outer_beats=4, out_of_range=1)
    verdict = hc.compare(bach, one_off)[3]
    assert (verdict.ratio, verdict.passed) == (None, False)
    assert hc.compare(bach, bach)[3].passed is True
    assert hc.compare(Counts(), Counts())[0].passed is None
