"""Train a livegen model: ``python train.py --config configs/<recipe>.yaml [--key=value ...]``.

Thin on purpose: the loop lives in ``livegen/train.py``.
"""

import sys

from livegen.train import main

if __name__ == "__main__":
    sys.exit(main())
