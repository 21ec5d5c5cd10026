"""The CUDA batch-1 step: one CUDA graph launch per tick instead of dozens of kernels.

At batch 1 a tick on the GPU is a few dozen tiny kernels, each costing more to launch
than to run; a captured graph replays them all in one launch.
"""

from __future__ import annotations

import operator

import numpy as np
import torch
from torch import Tensor

from livegen.model import LSTMModel, State
from livegen.steppers.base import StepInput, check_pos, frame_keys
from livegen.steppers.torch_step import CellWeights, cell_step
from livegen.style import default_weights


class CudaGraphStep:
    """The CUDA batch-1 step: :func:`cell_step` captured once per state as a CUDA graph.

    A tick then costs one graph launch over static buffers instead of a few dozen kernel
    launches. A graph reads and writes fixed addresses, so each state object (the
    Player holds two, its state and its plan's fork) gets its own graph, captured on
    first use. The input goes into a static buffer before the launch; the logits come
    back to the CPU, where the sampler runs.
    """

    name = "cuda-graph"
    MAX_GRAPHS = 4  # a reset makes new states; older graphs are dropped

    def __init__(self, model: LSTMModel, device: torch.device | str = "cuda") -> None:
        self.device = torch.device(device)
        cfg = model.cfg
        self.cfg = cfg
        self.frame_input = cfg.frame_input
        self.weights = CellWeights.of(model, self.device)
        if cfg.frame_input:
            self._x = torch.zeros(1, cfg.vocab_size, device=self.device)  # (1, V)
            self._host = torch.zeros(1, cfg.vocab_size).pin_memory()
        else:
            self._x = torch.zeros(1, dtype=torch.long, device=self.device)  # (1,)
            self._host = torch.zeros(1, dtype=torch.long).pin_memory()
        self._frame = np.zeros(cfg.vocab_size, np.float32)
        # The position index rides in its own static buffer, copied with the input.
        self._pos = torch.zeros(1, dtype=torch.long, device=self.device)  # (1,)
        self._pos_host = torch.zeros(1, dtype=torch.long).pin_memory()
        self._n_pos = cfg.metric_beats * cfg.metric_tpq
        self._logits = torch.empty(cfg.vocab_size).pin_memory()
        self._graphs: dict[int, tuple[State, torch.cuda.CUDAGraph, Tensor]] = {}
        self.style: np.ndarray | None = None
        if cfg.styles:
            self.set_style(default_weights(model))

    def set_style(self, weights) -> None:
        """Play in style ``weights`` (S,) from the next step on; the state is not touched.

        The graphs read layer 0's bias from its fixed address, so none is captured again.
        """
        self.weights.set_style(weights)
        self.style = np.asarray(weights, np.float32)

    def new_state(self) -> State:
        shape = (self.cfg.n_layer, 1, self.cfg.n_hidden)
        return State(torch.zeros(shape, device=self.device), torch.zeros(shape, device=self.device))

    def copy_state(self, dst: State, src: State) -> None:
        dst.h.copy_(src.h)
        dst.c.copy_(src.c)

    def _graph(self, state: State) -> tuple[torch.cuda.CUDAGraph, Tensor]:
        entry = self._graphs.get(id(state.h))
        if entry is not None and entry[0].h is state.h and entry[0].c is state.c:
            return entry[1], entry[2]
        saved = (state.h.clone(), state.c.clone())
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(3):  # warm-up outside capture, as CUDA graphs require
                cell_step(self.weights, self._x, state.h, state.c, self._pos)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(graph):
            out = cell_step(
                self.weights, self._x, state.h, state.c, self._pos
            )  # (V,) static output
        state.h.copy_(saved[0])
        state.c.copy_(saved[1])
        if len(self._graphs) >= self.MAX_GRAPHS:
            self._graphs.pop(next(iter(self._graphs)))
        self._graphs[id(state.h)] = (state, graph, out)
        return graph, out

    def __call__(self, x: StepInput, state: State, pos: int = 0) -> Tensor:
        graph, out = self._graph(state)
        if self.cfg.metric:
            self._pos_host[0] = check_pos(pos, self._n_pos)
            self._pos.copy_(self._pos_host, non_blocking=True)
        if not self.frame_input:
            self._host[0] = operator.index(x)
        elif isinstance(x, Tensor):
            self._host[0].copy_(x.reshape(-1))
        else:
            if isinstance(x, np.ndarray):
                np.copyto(self._frame, x, casting="unsafe")
            else:
                frame_keys(x, self._frame)
            self._host[0].copy_(torch.from_numpy(self._frame))
        self._x.copy_(self._host, non_blocking=True)
        graph.replay()
        self._logits.copy_(out)  # waits for the graph: the sampler needs the logits
        return self._logits
