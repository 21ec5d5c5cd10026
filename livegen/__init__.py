"""livegen: real-time MIDI continuation with a stateful LSTM stepped once per clock tick."""

__version__ = "0.1.0"
