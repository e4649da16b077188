"""Where the training loop takes its batches: the sampler itself, or worker processes.

With no workers every batch comes from the loop's own :class:`PairSampler`, whose RNG state is
saved with the training state, so ``--resume`` continues exactly. With ``workers`` > 0 a
``torch.utils.data.DataLoader`` runs forked copies of the sampler, each reseeded from
(seed, first step, worker), and hands their batches over in a fixed round-robin order: a run is
reproducible for the same worker count, and the pairs are cut while the model trains (on a GPU
cutting pairs, not the model, limits the step rate). A resumed run then draws other pairs than
an uninterrupted one would.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from frame_restore_ros.training.pairs import PairBatch, PairSampler


class _SamplerStream(IterableDataset):
    """Endless batches from a copy of ``sampler`` reseeded for each worker process."""

    def __init__(self, sampler: PairSampler, batch_size: int, seed: int, first_step: int):
        super().__init__()
        self.sampler = sampler
        self.batch_size = batch_size
        self.seed = seed
        self.first_step = first_step

    def __iter__(self) -> Iterator[PairBatch]:
        info = get_worker_info()
        worker = info.id if info is not None else 0
        sampler = copy.copy(self.sampler)  # shares the clips (read only), not the RNGs
        entropy = [self.seed, self.first_step, worker]
        sampler.rng = np.random.default_rng(entropy)
        sampler.generator = torch.Generator().manual_seed(
            int(np.random.SeedSequence(entropy).generate_state(1)[0])
        )
        while True:
            yield sampler.sample(self.batch_size, as_uint8=True)


def batch_stream(
    sampler: PairSampler, batch_size: int, workers: int, seed: int, first_step: int
) -> Iterator[PairBatch]:
    """Endless training batches of ``batch_size`` pairs (fields as :class:`PairBatch`).

    ``workers`` = 0: from ``sampler`` in this process (its RNG state is the resumable one);
    else from that many forked worker processes, two batches ahead each, images as uint8
    (:meth:`PairBatch.on` makes them float where the model runs).
    """
    if workers == 0:
        while True:
            yield sampler.sample(batch_size)
    loader = DataLoader(
        _SamplerStream(sampler, batch_size, seed, first_step),
        batch_size=None,  # the sampler makes whole batches
        num_workers=workers,
        prefetch_factor=2,
        multiprocessing_context="fork",  # the clips are shared, not pickled
    )
    yield from loader
