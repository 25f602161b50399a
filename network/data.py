"""Training samples from any Dataset of the shard item contract, split by subject.

Item contract (``shards.ShardDataset``): 'rgb' float32 (3, H, W) in [0, 1]; 'normal' float32
(3, H, W) unit, model frame, 0 where invalid; 'uv' float32 (2, H, W) in [0, 1]; 'mask' uint8
(H, W) bits 1 normal valid, 2 uv valid, 4 face; 'K' (3, 3); 'w2c' (4, 4); 'sample_id',
'subject', 'dataset' str.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from network.augment import apply_augmentation, draw_params, resize_sample, sample_seed
from network.config import TrainConfig
from network.uv_mirror import UvMirror

REQUIRED_KEYS = ("rgb", "normal", "uv", "mask", "K", "w2c", "sample_id", "subject", "dataset")


def subject_keys(dataset: Dataset) -> list[str]:
    """'dataset/subject' of every item.

    Uses ``dataset.subject_keys()`` or a ``dataset.subjects`` sequence when the dataset offers
    one (cheap); otherwise reads every item.
    """
    if hasattr(dataset, "subject_keys"):
        return list(dataset.subject_keys())
    if hasattr(dataset, "subjects"):
        return list(dataset.subjects)
    keys = []
    for index in range(len(dataset)):
        item = dataset[index]
        keys.append(f"{item['dataset']}/{item['subject']}")
    return keys


def split_by_subject(keys: Sequence[str], val_fraction: float,
                     seed: int) -> tuple[list[str], list[str]]:
    """Split subjects (never images) into train and held-out lists.

    Subjects are ordered by sha256(seed, subject), so adding a subject does not move others;
    at least one subject lands on each side.

    Returns
    -------
    train_subjects, val_subjects : sorted lists of subject keys
    """
    subjects = sorted(set(keys))
    if len(subjects) < 2:
        raise ValueError(f"need at least 2 subjects to split by subject, got {subjects}")
    ranked = sorted(subjects, key=lambda s: hashlib.sha256(f"{seed}|{s}".encode()).hexdigest())
    count = min(max(1, round(val_fraction * len(subjects))), len(subjects) - 1)
    return sorted(ranked[count:]), sorted(ranked[:count])


class TrainingSamples(Dataset):
    """Subset of a base dataset, resized to the training resolution, optionally augmented.

    Parameters
    ----------
    base : Dataset with the shard item contract
    indices : (N,) item indices of ``base`` in this subset
    config : resolution, seed and augmentation settings
    augment : augment (train) or not (held-out)
    uv_mirror : uv symmetry map; without one, flip is never drawn

    ``__getitem__`` takes a position or (position, epoch); augmentation is seeded by
    (config.seed, sample_id, epoch).
    """

    def __init__(self, base: Dataset, indices: Sequence[int], config: TrainConfig,
                 augment: bool, uv_mirror: UvMirror | None = None) -> None:
        self.base = base
        self.indices = list(indices)
        self.config = config
        self.augment = augment
        self.uv_mirror = uv_mirror

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, object]:
        position, epoch = key if isinstance(key, tuple) else (key, 0)
        item = self.base[self.indices[position]]
        missing = [name for name in REQUIRED_KEYS if name not in item]
        if missing:
            raise KeyError(f"dataset item {self.indices[position]} lacks {missing}")
        resolution = self.config.model.resolution
        sample = resize_sample(item, resolution)
        if self.augment:
            config = self.config
            rng = np.random.default_rng(sample_seed(config.seed, str(item["sample_id"]), epoch))
            flip_prob = config.flip_prob if self.uv_mirror is not None else 0.0
            params = draw_params(rng, resolution, flip_prob, config.jitter, config.scale_range,
                                 config.shift_frac)
            sample = apply_augmentation(sample, params, self.uv_mirror)
        return {name: sample[name] for name in REQUIRED_KEYS}


class StepSampler(Sampler):
    """(position, epoch) keys for steps [start_step, steps) of a fixed-order sample stream.

    The stream walks one seeded permutation per epoch; step s draws stream entries
    [s * batch_size, (s + 1) * batch_size), so a resumed run sees the same batches.
    """

    def __init__(self, size: int, batch_size: int, seed: int, start_step: int,
                 steps: int) -> None:
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.start, self.stop = start_step * batch_size, steps * batch_size

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = -1
        order = np.empty(0, dtype=np.int64)
        for entry in range(self.start, self.stop):
            if entry // self.size != epoch:
                epoch = entry // self.size
                order = np.random.default_rng([self.seed, epoch]).permutation(self.size)
            yield int(order[entry % self.size]), epoch


def collate(items: list[dict[str, object]]) -> dict[str, object]:
    """Stack tensors; keep strings as lists."""
    batch: dict[str, object] = {}
    for name in REQUIRED_KEYS:
        values = [item[name] for item in items]
        batch[name] = torch.stack(values) if isinstance(values[0], torch.Tensor) else values
    return batch
