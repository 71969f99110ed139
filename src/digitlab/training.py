"""Training: a tensor batch loader, the per-epoch train/test functions, and a full run.

The loop body reads like PyTorch's MNIST example: zero_grad, forward, loss, backward, step.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from digitlab import __version__, distributed
from digitlab.atomic import write_text
from digitlab.augment import augment_batch, policy_for
from digitlab.checkpoint import load_train_state, save_model, save_train_state
from digitlab.config import TrainConfig
from digitlab.datasets import Dataset, Split, load_dataset
from digitlab.distributed import World
from digitlab.errors import DigitlabError
from digitlab.models import build_model, count_parameters

HISTORY_FIELDS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")


def select_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA when PyTorch sees a GPU, else the CPU; any torch device name is accepted."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DigitlabError(f"unknown --device {name!r}: use auto, cpu or cuda[:N].") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DigitlabError(f"--device {name} asked for, but PyTorch sees no CUDA GPU here; use --device cpu.")
    return device


def to_model_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 `(N, 28, 28)` -> float `(N, 1, 28, 28)` in [0, 1], channels-last for fast CPU convs."""
    return (images.unsqueeze(1).float() / 255.0).contiguous(memory_format=torch.channels_last)


class TensorLoader:
    """Batches of a `Split` held as one tensor on `device`, sliced by index (no per-sample work).

    Yields `(x, y)` with `x` from `to_model_input`, augmented when `augment_policy` is set, drawing
    from `augment_generator` (default: `generator`, which shuffles). In a data-parallel `world`
    each process takes its shard of every order (`distributed.shard`), `batch_size` at a time.
    """

    def __init__(self, split: Split, batch_size: int, device: torch.device, shuffle: bool = False,
                 generator: torch.Generator | None = None, augment_policy: str | None = None,
                 augment_generator: torch.Generator | None = None, world: World | None = None) -> None:
        self.images = split.images.to(device)
        self.labels = split.labels.to(device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.augment_policy = augment_policy
        self.augment_generator = augment_generator or generator
        self.world = world or World()

    def __len__(self) -> int:
        return math.ceil(len(self.labels) // self.world.size / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator, device=self.generator.device)
            order = order.to(self.images.device)
        else:
            order = torch.arange(n, device=self.images.device)
        order = distributed.shard(order, self.world)
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            x = to_model_input(self.images[index])
            if self.augment_policy:
                # Augmentation returns the default layout; the model runs fastest channels-last.
                x = augment_batch(x, self.augment_generator, self.augment_policy).contiguous(
                    memory_format=torch.channels_last)
            yield x, self.labels[index]


def one_cycle_lr(step: int, total_steps: int, peak_lr: float, warmup: float = 0.2) -> float:
    """Linear warm-up to `peak_lr`, then cosine decay to ~0: a function of the step, so resuming
    needs no scheduler state."""
    warm = max(1, int(total_steps * warmup))
    if step < warm:
        return peak_lr * (0.04 + 0.96 * step / warm)
    progress = (step - warm) / max(1, total_steps - warm)
    return peak_lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train(model: nn.Module, device: torch.device, loader: Iterable, optimizer: torch.optim.Optimizer,
          epoch: int, lr_at_batch: Callable[[int], float] | None = None, label_smoothing: float = 0.0,
          show_progress: bool = True, bf16: bool = False) -> tuple[float, float]:
    """One epoch of training; returns (mean loss, accuracy) over the epoch's batches.
    `bf16` runs the forward pass under bfloat16 autocast (weights and optimizer stay float32)."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    batches = tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=not show_progress, file=sys.stderr)
    for batch_index, (data, target) in enumerate(batches):
        data, target = data.to(device), target.to(device)
        if lr_at_batch is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_at_batch(batch_index)
        optimizer.zero_grad()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            output = model(data)
            loss = F.cross_entropy(output, target, label_smoothing=label_smoothing)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(target)
        correct += (output.argmax(1) == target).sum().item()
        seen += len(target)
    return total_loss / seen, correct / seen


@torch.no_grad()
def test(model: nn.Module, device: torch.device, loader: Iterable) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy on `loader`."""
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    for data, target in loader:
        data, target = data.to(device), target.to(device)
        output = model(data)
        total_loss += F.cross_entropy(output, target, reduction="sum").item()
        correct += (output.argmax(1) == target).sum().item()
        seen += len(target)
    return total_loss / seen, correct / seen


def train_model(model: nn.Module, train_loader: Iterable, num_epochs: int,
                optimizer: torch.optim.Optimizer | None = None, device: torch.device | str | None = None,
                ) -> list[float]:
    """The lab's `train_model`: Adam (lr 1e-3) unless given an optimizer; prints and returns the
    training loss of each epoch. `train_loader` is any iterable of `(images, labels)` batches,
    a `TensorLoader` or a `torch.utils.data.DataLoader`."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for epoch in range(1, num_epochs + 1):
        loss, _ = train(model, device, train_loader, optimizer, epoch, show_progress=False)
        print(f"Epoch [{epoch}/{num_epochs}], Loss: {loss:.4f}")
        losses.append(loss)
    return losses


# ---------------------------------------------------------------- a full run


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict
    history: list[dict]


def make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        if config.weight_decay:
            return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        return torch.optim.Adam(model.parameters(), lr=config.lr)
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, nesterov=True,
                               weight_decay=config.weight_decay)
    raise DigitlabError(f"unknown optimizer {config.optimizer!r}: expected adam or sgd.")


def validate_config(config: TrainConfig) -> None:
    for name in ("epochs", "batch_size"):
        if getattr(config, name) < 1:
            raise DigitlabError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(config, name)}.")
    if not config.lr > 0:
        raise DigitlabError(f"--lr must be positive, got {config.lr}.")
    if config.schedule not in ("onecycle", "constant"):
        raise DigitlabError(f"unknown schedule {config.schedule!r}: expected onecycle or constant.")
    if config.precision not in ("fp32", "bf16"):
        raise DigitlabError(f"unknown --precision {config.precision!r}: expected fp32 or bf16.")


def read_history(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()} for row in csv.DictReader(f)]


def write_history(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def run_info(config: TrainConfig, dataset: Dataset, device: torch.device, model: nn.Module) -> dict:
    return {"train": config.to_dict(), "dataset": {"name": dataset.name, "source": dataset.source,
                                                   "n_train": len(dataset.train), "n_test": len(dataset.test),
                                                   "classes": list(dataset.classes)},
            "digitlab_version": __version__, "torch_version": torch.__version__,
            "python": platform.python_version(), "device": str(device),
            "threads": torch.get_num_threads(), "parameters": count_parameters(model)}


def fit(config: TrainConfig, run_dir: Path, resume: bool = False, report: bool = True,
        dataset: Dataset | None = None, log: Callable[[str], None] = print,
        show_progress: bool | None = None) -> RunResult:
    """Train `config` into `run_dir`: config.json, history.csv, model.safetensors, metrics.json
    and report/. Each epoch ends with an atomic checkpoint, so a killed run loses at most one
    epoch and `resume=True` continues it.

    Started by torchrun, each process trains a DistributedDataParallel replica on its shard of the
    data and rank 0 alone writes and prints (see `digitlab.distributed` for the rules)."""
    run_dir = Path(run_dir)
    state_path, model_path = run_dir / "train_state.safetensors", run_dir / "model.safetensors"
    world = World.from_env()
    if resume:
        if not state_path.is_file():
            raise DigitlabError(f"nothing to resume in {run_dir}: it has no train_state.safetensors.")
        config = TrainConfig.from_run(run_dir)
        if config.world_size != world.size:
            how = ("plain `digitlab train --resume`" if config.world_size == 1
                   else f"torchrun with {config.world_size} processes in all")
            raise DigitlabError(f"{run_dir} was trained with world_size {config.world_size} and this is world_size "
                                f"{world.size}; resume it with {how}.")
    elif state_path.exists() or model_path.exists():
        raise DigitlabError(f"{run_dir} already holds a run: pass --resume to continue it, or choose "
                            "another --out.")
    else:
        config = dataclasses.replace(config, world_size=world.size)
    validate_config(config)
    batch_size = distributed.local_batch_size(config.batch_size, world)
    threads = config.threads or distributed.default_threads(world)
    if threads:
        torch.set_num_threads(threads)
    device = distributed.rank_device(select_device(config.device), world)
    backend = distributed.init(world, device)
    torch.manual_seed(config.seed)
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    if not world.is_main:  # rank 0 speaks for every process
        log, show_progress = (lambda line: None), False

    dataset = dataset or load_dataset(config.data, config.data_dir)
    model = build_model(config.arch, len(dataset.classes)).to(device, memory_format=torch.channels_last)
    optimizer = make_optimizer(config, model)
    generator = torch.Generator(device=device).manual_seed(config.seed)  # shuffles, the same on every rank
    augment_generator = torch.Generator(device=device)  # seeded for each rank and epoch below
    augment_policy = policy_for(dataset.name) if config.augment else None
    train_loader = TensorLoader(dataset.train, batch_size, device, shuffle=True, generator=generator,
                                augment_policy=augment_policy, augment_generator=augment_generator, world=world)
    test_loader = TensorLoader(distributed.shard_split(dataset.test, world), 1024, device)

    info = run_info(config, dataset, device, model)
    start_epoch, history = 0, []
    if resume:
        start_epoch = load_train_state(state_path, model, optimizer, generator)
        history = [row for row in read_history(run_dir / "history.csv") if row["epoch"] <= start_epoch]
        log(f"resuming {run_dir} after epoch {start_epoch}/{config.epochs}")
    elif world.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text(run_dir / "config.json", json.dumps(info, indent=2) + "\n")
    log(f"config: {json.dumps(config.to_dict())}")
    log(f"data: {dataset.name} ({len(dataset.train)} train / {len(dataset.test)} test), arch: "
        f"{config.arch} ({info['parameters']:,} parameters), device: {device}, threads: {info['threads']}")
    if backend:
        log(f"distributed: {world.size} processes ({backend}), batch {config.batch_size} = {world.size} x {batch_size}")

    net = distributed.wrap(model, world, device)  # DistributedDataParallel under torchrun, else the model itself
    steps_per_epoch = len(train_loader)
    total_steps = steps_per_epoch * config.epochs
    for epoch in range(start_epoch + 1, config.epochs + 1):
        started = time.perf_counter()
        first_step = (epoch - 1) * steps_per_epoch
        # Augmentation and dropout differ between ranks, and a resumed run re-derives their seeds
        # rather than needing every rank's saved generator state.
        epoch_seed = distributed.rank_seed(config.seed, world.rank, epoch)
        augment_generator.manual_seed(epoch_seed)
        torch.manual_seed(epoch_seed)

        def lr_at_batch(i: int, first_step: int = first_step) -> float:
            if config.schedule == "constant":
                return config.lr
            return one_cycle_lr(first_step + i, total_steps, config.lr)

        loss, accuracy = train(net, device, train_loader, optimizer, epoch, lr_at_batch,
                               config.label_smoothing, show_progress, bf16=config.precision == "bf16")
        distributed.average_buffers(model, world)
        val_loss, val_accuracy = test(model, device, test_loader)
        loss, accuracy = distributed.average([loss, accuracy], world, device)
        val_loss, val_accuracy = distributed.average([val_loss, val_accuracy], world, device,
                                                     count=len(test_loader.labels))
        seconds = time.perf_counter() - started
        history.append({"epoch": epoch, "loss": loss, "accuracy": accuracy, "val_loss": val_loss,
                        "val_accuracy": val_accuracy, "lr": optimizer.param_groups[0]["lr"],
                        "seconds": seconds})
        if world.is_main:
            save_model(model_path, model, config.arch, dataset.classes)
            save_train_state(state_path, model, optimizer, generator, epoch)
            write_history(run_dir / "history.csv", history)
        log(f"epoch {epoch:>3}/{config.epochs}  loss {loss:.4f}  accuracy {accuracy:.4f}  "
            f"val_loss {val_loss:.4f}  val_accuracy {val_accuracy:.4f}  {seconds:.1f}s")

    del net  # before leaving the process group (see `distributed.cleanup`)
    distributed.cleanup(world)
    if not world.is_main:
        return RunResult(run_dir, {}, history)

    from digitlab.evaluation import evaluate, write_metrics  # matplotlib etc. only once trained
    evaluation = evaluate(model, dataset.test, dataset.classes, device)
    metrics = evaluation.metrics(n_train=len(dataset.train),
                                 train_seconds=sum(row["seconds"] for row in history))
    metrics.update(dataset=dataset.name, arch=config.arch)
    write_metrics(run_dir / "metrics.json", metrics)
    if report:
        from digitlab.report import write_report
        write_report(run_dir / "report", history, evaluation, dataset.test.images, title=str(run_dir))
    log(f"done: test_accuracy {metrics['test_accuracy']:.4f}  test_loss {metrics['test_loss']:.4f}  "
        f"trained {metrics['train_seconds']:.1f}s  -> {run_dir}")
    return RunResult(run_dir, metrics, history)
