"""Data-parallel training: the sharding rules in-process, and a real 2-process run under torchrun."""

import csv
import json
import os
import subprocess
import sys

import pytest
import torch

from digitlab.checkpoint import load_model
from digitlab.config import TrainConfig
from digitlab.datasets import Split
from digitlab.distributed import World, default_threads, local_batch_size, rank_seed, shard
from digitlab.errors import DigitlabError
from digitlab.training import TensorLoader, fit
from tests.conftest import REPO, run_cli


def test_world_is_read_from_torchrun_variables():
    assert World.from_env({}) == World(rank=0, size=1, local_rank=0, local_size=1)
    world = World.from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"})
    assert world == World(rank=3, size=4, local_rank=1, local_size=2) and not world.is_main
    with pytest.raises(DigitlabError, match="start distributed training with torchrun"):
        World.from_env({"WORLD_SIZE": "2"})


def test_ranks_take_disjoint_equal_shards_of_one_order():
    order = torch.randperm(11, generator=torch.Generator().manual_seed(0))
    shards = [shard(order, World(rank=r, size=3)) for r in range(3)]
    assert [len(s) for s in shards] == [3, 3, 3]  # 11 -> 9: the two left over would be a step only some take
    taken = torch.cat(shards)
    assert len(set(taken.tolist())) == 9 and set(taken.tolist()) <= set(order.tolist())


def test_a_global_batch_is_the_single_process_batch():
    """Under the global-batch rule, step k of 2 processes sees exactly the images of step k of one."""
    n = 1000
    split = Split(torch.zeros(n, 28, 28, dtype=torch.uint8), torch.arange(n))  # labels name the images
    cpu = torch.device("cpu")

    def batches(rank: int, size: int) -> list[list[int]]:
        loader = TensorLoader(split, local_batch_size(128, World(rank=rank, size=size)), cpu, shuffle=True,
                              generator=torch.Generator().manual_seed(5), world=World(rank=rank, size=size))
        assert len(loader) == 8
        return [labels.tolist() for _, labels in loader]

    single, rank0, rank1 = batches(0, 1), batches(0, 2), batches(1, 2)
    assert len(single) == len(rank0) == len(rank1) == 8
    for whole, part0, part1 in zip(single, rank0, rank1):
        assert len(part0) == len(part1) and not set(part0) & set(part1)
        assert sorted(part0 + part1) == sorted(whole)


def test_batch_size_must_split_evenly_over_the_processes():
    assert local_batch_size(128, World(rank=1, size=4)) == 32
    with pytest.raises(DigitlabError, match="--batch-size 100 does not split evenly over 3 processes"):
        local_batch_size(100, World(rank=0, size=3))


def test_each_rank_and_epoch_gets_its_own_seed():
    seeds = {rank_seed(0, rank, epoch) for rank in range(4) for epoch in range(1, 6)}
    assert len(seeds) == 20 and rank_seed(0, 1, 2) == rank_seed(0, 1, 2)
    assert rank_seed(0, 1, 1) != rank_seed(1, 0, 1)  # not seed + rank


def test_threads_share_out_the_cores_of_a_node():
    assert default_threads(World(), cores=2) == 0  # one process: PyTorch's choice
    assert default_threads(World(rank=1, size=2, local_rank=1, local_size=2), cores=2) == 1
    assert default_threads(World(rank=5, size=8, local_rank=1, local_size=2), cores=16) == 8
    assert default_threads(World(rank=0, size=4, local_rank=0, local_size=4), cores=2) == 1


def torchrun(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc_per_node=2 -m digitlab ARGS` (torchrun is torch.distributed.run)."""
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "digitlab", *args], capture_output=True, text=True, cwd=REPO, timeout=timeout)


def history(run_dir) -> list[dict]:
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_two_processes_train_one_run_and_resume_only_as_two(tmp_path):
    # The lab recipe keeps it cheap; its constant learning rate lets a 1-epoch run, resumed for a
    # second epoch, be compared with a straight 2-epoch run. Augmentation exercises per-rank seeds.
    recipe = ["--recipe", "lab", "--augment", "--no-report"]
    straight = torchrun("train", *recipe, "--epochs", "2", "--out", str(tmp_path / "a"))
    assert straight.returncode == 0, straight.stderr
    assert straight.stdout.count("done: test_accuracy") == 1 and straight.stdout.count("model:") == 1
    assert "distributed: 2 processes (gloo), batch 128 = 2 x 64" in straight.stdout
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["train"]["world_size"] == 2
    assert config["threads"] == max(1, len(os.sched_getaffinity(0)) // 2)
    assert [int(row["epoch"]) for row in history(tmp_path / "a")] == [1, 2]
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.7 and metrics["n_test"] == 1000  # chance is 0.10; 0.78 seen
    model, metadata = load_model(tmp_path / "a" / "model.safetensors")
    assert metadata["arch"] == "seed"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "config.json", "history.csv", "metrics.json", "model.safetensors", "train_state.safetensors"]

    first = torchrun("train", *recipe, "--epochs", "1", "--out", str(tmp_path / "b"))
    assert first.returncode == 0, first.stderr
    config_b = json.loads((tmp_path / "b" / "config.json").read_text())
    config_b["train"]["epochs"] = 2  # as if run b had been asked for 2 epochs and stopped after one
    (tmp_path / "b" / "config.json").write_text(json.dumps(config_b))
    resumed = torchrun("train", "--resume", "--out", str(tmp_path / "b"), "--no-report")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count(f"resuming {tmp_path / 'b'} after epoch 1/2") == 1
    rows_a, rows_b = history(tmp_path / "a"), history(tmp_path / "b")
    assert [int(row["epoch"]) for row in rows_b] == [1, 2]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert float(rows_b[1][key]) == pytest.approx(float(rows_a[1][key]), abs=1e-6), key

    one = run_cli("train", "--resume", "--out", str(tmp_path / "a"), "--no-report")
    assert one.returncode == 2 and one.stderr.count("\n") == 1
    assert "was trained with world_size 2 and this is world_size 1; resume it with torchrun with 2 processes" \
        in one.stderr


@pytest.mark.slow
def test_two_processes_learn_what_one_learns(tmp_path, mnist5k):
    """Without augmentation, dropout or batch norm (the lab's recipe), the global-batch rule makes
    2 processes take the same steps as one: only the order of floating-point sums differs."""
    two = torchrun("train", "--recipe", "lab", "--epochs", "2", "--out", str(tmp_path / "two"), "--no-report")
    assert two.returncode == 0, two.stderr
    config = TrainConfig.lab_recipe()
    config.epochs, config.threads = 2, 1
    one = fit(config, tmp_path / "one", dataset=mnist5k, report=False, log=lambda line: None)
    for row_one, row_two in zip(one.history, history(tmp_path / "two")):
        assert float(row_two["loss"]) == pytest.approx(row_one["loss"], rel=1e-3)
        assert float(row_two["val_accuracy"]) == pytest.approx(row_one["val_accuracy"], abs=0.003)
