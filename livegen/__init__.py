"""livegen: real-time MIDI continuation with a stateful LSTM stepped once per clock tick."""

import os

# The fused CPU step is a chain of small NumPy GEMVs. With OpenBLAS's default thread pool
# they ran 75x slower here when the other core was busy (p50 11.7 ms against 0.16 ms per
# tick), so livegen keeps BLAS to one thread unless the user says otherwise. It must be
# set before NumPy is first imported, hence here.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
