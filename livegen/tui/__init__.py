"""The Textual control panel for a live session: ``livegen`` with no command opens it.

:mod:`livegen.tui.launch` opens the session and runs the panel (:mod:`livegen.tui.app`);
this ``__init__`` stays empty so that ``livegen --help`` never imports Textual.
"""
