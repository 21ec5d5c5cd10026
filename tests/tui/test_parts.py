"""The panel names the parts: whose part is yours and whose is livegen's, in the Session box,
the piano roll's legend and the model list, for a parts model (a tiny parts checkpoint made
by the ``parts_checkpoint`` fixture) and for a single-stream one; and it shows every mode."""

from __future__ import annotations

from rich.text import Text

from livegen import checkpoint
from livegen.modes import Mode
from livegen.roles import ONE_STREAM, roles_of
from livegen.tui.launch import make_app
from livegen.tui.models import Catalog, ModelEntry, describe_checkpoint
from livegen.tui.roll import legend
from tests.tui.helpers import FakeEngineClient, ticks, tiny_catalog
from tests.tui.test_models import save_tiny

HARMONY_LINE = "you: soprano · livegen: alto, tenor, bass"


def session_text(app) -> str:
    return str(app.session_info.content)


def plain(markup: str) -> str:
    return Text.from_markup(markup).plain


def test_the_session_box_and_the_legend_name_the_parts_and_follow_a_switch(drive, parts_checkpoint):
    roles = roles_of(checkpoint.load(parts_checkpoint).codec)  # as Picture.describe reads it

    async def scenario(pilot, app, engine):
        await ticks(pilot, engine)
        assert "one stream: you and livegen share it" in session_text(app)
        assert plain(app.roll.border_title) == plain(legend(ONE_STREAM))
        assert plain(legend(ONE_STREAM)) == "Piano roll  ■ you  ■ livegen  ■ next"

        engine.show_model("tiny_harmony", roles)
        await ticks(pilot, engine)
        assert HARMONY_LINE in session_text(app)
        title = plain(app.roll.border_title)
        assert title == "Piano roll  ■ you: soprano  ■ livegen: alto, tenor, bass  ■ next"

        engine.show_model("tiny_a_melody", ONE_STREAM)  # and back: one stream again
        await ticks(pilot, engine)
        assert "one stream" in session_text(app) and HARMONY_LINE not in session_text(app)
        assert plain(app.roll.border_title) == plain(legend(ONE_STREAM))

    drive(scenario)


def test_the_model_list_shows_each_models_parts_from_its_checkpoint(
    drive, parts_checkpoint, tmp_path
):
    save_tiny(tmp_path / "tiny_melody.pt")
    entries = [
        ModelEntry("tiny_melody", str(tmp_path / "tiny_melody.pt"), "user"),
        ModelEntry("tiny_harmony", str(parts_checkpoint), "file"),
    ]
    catalog = Catalog(entries, describe_checkpoint)
    for entry in entries:
        catalog.describe(entry)
    app = make_app(lambda remembered: FakeEngineClient(), catalog=catalog, start_engine=False)

    async def scenario(pilot, app, engine):
        table = app.models
        await pilot.pause(0.05)
        assert table.get_cell(entries[0].target, "parts") == "one stream"
        harmony = table.get_cell(entries[1].target, "parts")
        assert harmony == "you soprano / livegen alto, tenor, bass"
        assert table.border_subtitle == "parts: one stream"  # the highlighted row's
        await pilot.press("down")
        await pilot.pause(0.05)
        assert table.border_subtitle == "parts: you soprano / livegen alto, tenor, bass"

    try:
        drive(scenario, app=app)
    finally:
        app.shutdown()


def test_the_session_box_shows_every_mode_as_m_cycles_through_them(drive):
    async def scenario(pilot, app, engine):
        await ticks(pilot, engine)
        mode, seen = Mode(engine.snapshot().mode), []
        for _ in Mode:
            await pilot.press("m")
            await ticks(pilot, engine)
            mode = mode.next()
            assert engine.snapshot().mode == mode.value
            assert f"mode   {mode.value}" in session_text(app)
            seen.append(mode)
        assert set(seen) == set(Mode)  # every mode, harmonize too once it is one

    drive(scenario)


def test_the_fixed_model_list_has_no_parts_until_described():
    catalog = tiny_catalog()  # hand-made infos: no parts known, an empty cell, no subtitle
    assert all(catalog.info(e).roles is None for e in catalog.entries)


def test_the_help_for_m_lists_every_mode_in_the_order_m_cycles():
    # keys.py writes them out: this fails when a mode is added to modes.py and not there.
    from livegen.tui.keys import CONTROLS

    (mode_key,) = [c for c in CONTROLS if c.action == "cycle_mode"]
    cycle, mode = [], Mode.CONTINUE
    for _ in Mode:
        cycle.append(mode.value)
        mode = mode.next()
    assert mode_key.help == "next mode: " + ", ".join(cycle)
