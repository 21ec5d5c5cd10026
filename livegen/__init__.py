"""livegen: real-time MIDI continuation with a stateful LSTM stepped once per clock tick."""

import os

# The fused CPU step is a chain of small NumPy GEMVs. With OpenBLAS's default thread pool
# they ran 75x slower here when the other core was busy (p50 11.7 ms against 0.16 ms per
# tick). livegen.threads.limit_threads is the reliable limit (it works whatever was
# imported first); this only covers processes that import livegen before NumPy and never
# call it. Delete it once the engine's process calls limit_threads (engine.py/server.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
