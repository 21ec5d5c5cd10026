"""Opening the session and running the panel: the one way ``livegen`` and the tests build it.

:func:`make_app` takes a function that opens the session and returns a client of its engine
(:meth:`livegen.client.EngineClient.open`: the engine in a process of its own; a fake in
the tests) and hands it the settings remembered from the last run; :func:`run_panel` runs
the app and closes the session, every note off, however the panel ends.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from livegen.snapshot import Snapshot
from livegen.tui.app import POLL, LivegenApp
from livegen.tui.models import Catalog, find_models
from livegen.tui.state import load_state, state_path

EngineFactory = Callable[[dict[str, Any]], Any]  # remembered settings -> an engine client


def make_app(
    engine_factory: EngineFactory,
    *,
    settings_path: Path | None = None,
    catalog: Catalog | None = None,
    start_engine: bool = True,
    snapshot_source: Callable[[], Snapshot] | None = None,
    poll: float = POLL,
) -> LivegenApp:
    """Open the session and build the panel around it.

    ``engine_factory(remembered)`` opens the session and returns a client of its engine
    (not started); ``remembered`` holds the settings
    kept from the last run (checkpoint, temperature, mode) for it to use under the command
    line's. If the remembered model cannot be loaded any more, the session is opened again
    without it, and the panel says so. Errors opening the session propagate (the CLI turns
    them into one line) and nothing is left open.

    ``settings_path``: where the remembered settings live (default: the user's config
    folder). ``catalog``: the model list (default: every model a name reaches, and the
    session's own). ``start_engine=False`` and ``snapshot_source`` are for tests that
    need a still picture.
    """
    from livegen.checkpoint import CheckpointError

    path = settings_path or state_path()
    remembered, notice = load_state(path)
    notices = [notice] if notice else []
    try:
        engine = engine_factory(dict(remembered))
    except CheckpointError as err:
        if "checkpoint" not in remembered:
            raise
        gone = remembered.pop("checkpoint")
        engine = engine_factory(dict(remembered))
        notices.append(f"the last model, {gone}, cannot be loaded ({err}); using the default")
    try:
        if catalog is None:
            catalog = find_models([engine.hello.model_path])
        # The models are described in the panel's background (its own process: the
        # torch.load of each no longer holds the engine's GIL).
        return LivegenApp(
            engine,
            catalog,
            settings_path=path,
            notices=notices,
            start_engine=start_engine,
            snapshot_source=snapshot_source,
            poll=poll,
            remembered=remembered,
        )
    except BaseException:
        engine.close()
        raise


def run_panel(app: LivegenApp) -> int:
    """Run the panel until quit; the session is closed (all notes off) whatever happens."""
    try:
        app.run()
    finally:
        app.shutdown()
    s = app.engine.snapshot()
    print(
        f"livegen: stopped after {s.tick + 1} ticks, all notes off; late ticks {s.late_ticks}, "
        f"dropped input {s.dropped_input}, step p50 {s.step_p50_us:.0f} us "
        f"p99 {s.step_p99_us:.0f} us"
    )
    if app.save_error:
        print(f"livegen: {app.save_error}", file=sys.stderr)
    if app.return_code:
        return app.return_code
    if app.engine.error:
        print(f"livegen: error: {app.engine.error}", file=sys.stderr)
        return 1
    return 0
