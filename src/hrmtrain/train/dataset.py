"""SFT rows (read and validated by prompt/rows.py) split, encoded and batched for training."""

from __future__ import annotations

import random
from pathlib import Path

import torch

from hrmtrain.errors import DataError
from hrmtrain.prompt.chat import IGNORE, ChatEncoder, Example, PromptTooLong
from hrmtrain.prompt.rows import Row, load_rows


def split_rows(rows: list[Row], val_ratio: float, seed: int) -> tuple[list[Row], list[Row]]:
    """Conversation-level split (all turns of a row on one side), deterministic in `seed`."""
    if len(rows) < 2:
        raise DataError(rows[0].file if rows else "data.path", "need at least 2 rows to split train/validation")
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_val = min(len(rows) - 1, max(1, round(len(rows) * val_ratio)))
    val = sorted(order[:n_val])
    train = sorted(order[n_val:])
    return [rows[i] for i in train], [rows[i] for i in val]


def load_train_val(path: str | Path, val_ratio: float, seed: int) -> tuple[list[Row], list[Row]]:
    """The splits `hrmtrain data` wrote (train.parquet, val.parquet), or any data split by `val_ratio`."""
    p = Path(path)
    if p.is_dir() and (p / "train.parquet").is_file() and (p / "val.parquet").is_file():
        return load_rows(p / "train.parquet"), load_rows(p / "val.parquet")
    return split_rows(load_rows(path), val_ratio, seed)


def evenly_spaced(rows: list, n: int) -> list:
    """`n` of `rows` spread evenly over them, first one included, in their order; all of them when n is 0
    or at least their number."""
    if not n or n >= len(rows):
        return rows
    return [rows[i * len(rows) // n] for i in range(n)]


def encode_rows(rows: list[Row], encoder: ChatEncoder, max_length: int) -> list[Example]:
    out = []
    for row in rows:
        try:
            examples = encoder.encode(row.messages, row.tools, max_length)
        except PromptTooLong as exc:
            raise DataError(row.file, str(exc), row.number) from None
        except ValueError as exc:
            raise DataError(row.file, str(exc), row.number) from None
        for ex in examples:
            ex.source = f"{row.file}, row {row.number}"
        out.extend(examples)
    return out


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest sequence of the batch."""
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        mask[i, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def collate_packed(examples: list[Example], pad_id: int, width: int) -> dict[str, torch.Tensor]:
    """Padding-free packing: the examples laid end to end in rows of at most `width` tokens (first
    fit, in the given order), `position_ids` restarting at 0 for each. With no attention mask,
    transformers reads the restarts as sequence boundaries and masks attention block-diagonally
    (masking_utils.find_packed_sequence_indices), so no token sees another example. The first label
    of each example is dropped: it would be predicted from the previous example's last token (the
    unpacked loss never has it as a target either). Rows are right-padded to the longest row; the
    padding is a segment of its own with no labels. `real_tokens`: tokens that are not padding."""
    rows: list[list[Example]] = []
    room: list[int] = []
    for e in examples:
        n = len(e.input_ids)
        k = next((i for i, free in enumerate(room) if free >= n), None)
        if k is None:
            rows.append([e])
            room.append(width - n)
        else:
            rows[k].append(e)
            room[k] -= n
    longest = max(sum(len(e.input_ids) for e in row) for row in rows)
    ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), longest), IGNORE, dtype=torch.long)
    positions = torch.zeros((len(rows), longest), dtype=torch.long)
    for r, row in enumerate(rows):
        at = 0
        for e in row:
            n = len(e.input_ids)
            ids[r, at:at + n] = torch.tensor(e.input_ids)
            labels[r, at + 1:at + n] = torch.tensor(e.labels[1:])
            positions[r, at:at + n] = torch.arange(n)
            at += n
        positions[r, at:] = torch.arange(longest - at)
    return {"input_ids": ids, "labels": labels, "position_ids": positions,
            "real_tokens": torch.tensor(sum(len(e.input_ids) for e in examples))}


class StepBatches:
    """The micro-batches of optimizer step `s`, a pure function of (seed, s, rank).

    Each epoch is a seeded permutation; micro-batch m of the run is slice m of the epochs laid end
    to end. Resuming at step s therefore needs no sampler state: the data continue where they
    stopped.
    """

    def __init__(self, examples: list[Example], batch_size: int, accum: int, seed: int,
                 rank: int = 0, world_size: int = 1, pad_id: int = 0, pack_width: int | None = None,
                 group_by_length: int = 0):
        if len(examples) < batch_size * world_size:
            raise ValueError(f"{len(examples)} training sequences cannot fill one batch of "
                             f"{batch_size} x {world_size} processes")
        self.examples, self.bs, self.accum = examples, batch_size, accum
        self.seed, self.rank, self.world, self.pad_id = seed, rank, world_size, pad_id
        self.pack_width = pack_width  # None: right-pad each micro-batch; else pack into rows this wide
        self.per_epoch = len(examples) // (batch_size * world_size)
        self.group_by_length = group_by_length  # 0: off; else micro-batches per length-sorted mega-batch
        self._perm: dict[int, list[int]] = {}

    def _order(self, epoch: int) -> list[int]:
        if epoch not in self._perm:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            order = torch.randperm(len(self.examples), generator=g).tolist()
            if self.group_by_length:
                order = self._grouped(order, g)
            self._perm = {epoch: order}
        return self._perm[epoch]

    def _grouped(self, order: list[int], g: torch.Generator) -> list[int]:
        """The permutation cut into mega-batches of `group_by_length` global batches, each sorted by length
        and cut into global batches, whose order is then shuffled (transformers' `group_by_length`): a
        micro-batch holds sequences of similar length, so padding and the attention's quadratic cost follow
        its own rows, not the longest of four random ones. Measured on SmolLM2-135M, batch 4, 2 cores
        over the default run's 40 steps: 1.26x as many tokens as real ones and 1.52x the attention cost
        with random batches; 1.02x and 1.05x grouped 16 batches at a time."""
        width = self.bs * self.world
        mega = width * self.group_by_length
        groups: list[list[int]] = []
        for start in range(0, len(order), mega):
            chunk = sorted(order[start:start + mega], key=lambda i: -len(self.examples[i].input_ids))
            groups += [chunk[k:k + width] for k in range(0, len(chunk), width)]
        full = [grp for grp in groups if len(grp) == width]
        rest = [i for grp in groups if len(grp) < width for i in grp]  # a partial batch stays last (dropped)
        shuffled = [full[k] for k in torch.randperm(len(full), generator=g).tolist()]
        return [i for grp in shuffled for i in grp] + rest

    def micro_batches(self, step: int) -> list[list[Example]]:
        out = []
        for m in range(step * self.accum, (step + 1) * self.accum):
            epoch, b = divmod(m, self.per_epoch)
            order = self._order(epoch)
            start = (b * self.world + self.rank) * self.bs
            out.append([self.examples[i] for i in order[start:start + self.bs]])
        return out

    def epoch_of(self, step: int) -> float:
        return step * self.accum / self.per_epoch

    def __call__(self, step: int) -> list[dict[str, torch.Tensor]]:
        if self.pack_width:
            return [collate_packed(mb, self.pad_id, self.pack_width) for mb in self.micro_batches(step)]
        return [collate(mb, self.pad_id) for mb in self.micro_batches(step)]


class StepDataset(torch.utils.data.Dataset):
    """Optimizer steps `start..stop-1` as a map-style dataset: item i is the list of micro-batches of
    step `start + i`, so a DataLoader's workers build (collate, pack) upcoming steps in the background
    while the current one trains. Each item is a pure function of the step (StepBatches), so workers
    need no shared state and resuming needs no sampler state."""

    def __init__(self, batches: StepBatches, start: int, stop: int):
        self.batches, self.start, self.stop = batches, start, stop

    def __len__(self) -> int:
        return max(self.stop - self.start, 0)

    def __getitem__(self, i: int) -> list[dict[str, torch.Tensor]]:
        return self.batches(self.start + i)


class ValBatches(torch.utils.data.Dataset):
    """The validation set in length-sorted batches (little padding), one padded batch per item."""

    def __init__(self, examples: list[Example], batch_size: int, pad_id: int):
        ordered = sorted(examples, key=lambda e: len(e.input_ids))
        self.chunks = [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]
        self.pad_id = pad_id

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return collate(self.chunks[i], self.pad_id)


def loader(dataset: torch.utils.data.Dataset, loader_kwargs: dict) -> torch.utils.data.DataLoader:
    """Items in order, unbatched (each item already is a batch or a step's batches)."""
    return torch.utils.data.DataLoader(dataset, batch_size=None, shuffle=False, **loader_kwargs)
