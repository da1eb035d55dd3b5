"""CNNImageClassifier with torch DDP: two gloo processes on the CPU against one, the
single-process path untouched, bad ``n_processes``, and a failing process ending the fit with
one error instead of a hang.

Images are tiny (32 px) and training short: the launched processes' start-up (importing
torch in each) is most of the time. Speed and AUROC at a useful size are in
benchmarks/bench_ddp.py.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from ramultimodal import InputError
from ramultimodal.image import CNNImageClassifier, _ddp_step
from ramultimodal.image._ddp_launch import launch

SIZE = 32


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def blob_images(n: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Noise images; the positive class has a bright square in the top-left corner."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = []
    for label in labels:
        image = rng.random((SIZE, SIZE), dtype=np.float32) * 0.5
        if label:
            image[2:14, 2:14] += 0.5
        images.append(image)
    return images, labels


def small_model(**params) -> CNNImageClassifier:
    defaults = dict(
        image_size=SIZE, max_epochs=3, batch_size=8, lr=3e-3, augment=False,
        random_state=0, verbose=0,
    )  # fmt: skip
    return CNNImageClassifier(**{**defaults, **params})


def test_without_a_process_group_no_ddp_step_runs_and_one_process_is_the_default(monkeypatch):
    images, labels = blob_images(16, seed=0)
    default = small_model(max_epochs=1, augment=True).fit(images, labels)

    def no_ddp(*args, **kwargs):  # pragma: no cover - the assertion is that it is not called
        raise AssertionError("DDP used without a process group")

    monkeypatch.setattr("ramultimodal.image._training.ddp_module", no_ddp)
    monkeypatch.setattr("ramultimodal.image._training.shard_loader", no_ddp)
    one = small_model(max_epochs=1, augment=True, n_processes=1).fit(images, labels)
    assert _ddp_step.process_group() is None
    for name, tensor in default.module_.state_dict().items():
        assert torch.equal(tensor, one.module_.state_dict()[name]), name


@pytest.mark.parametrize("n_processes", [0, -1, 1.5, "2", True, None])
def test_a_bad_n_processes_is_a_value_error(n_processes):
    images, labels = blob_images(8, seed=0)
    with pytest.raises(ValueError, match="n_processes"):
        small_model(n_processes=n_processes).fit(images, labels)


@pytest.mark.slow
def test_two_gloo_processes_learn_what_one_does():
    images, labels = blob_images(40, seed=0)
    test_images, test_labels = blob_images(40, seed=1)
    model = small_model(n_processes=2)
    assert clone(model).get_params()["n_processes"] == 2
    two = model.fit(images, labels)
    one = small_model().fit(images, labels)
    proba = two.predict_proba(test_images)[:, 1]
    assert np.isfinite(proba).all()
    assert two.module_.training is False and two.device_.type == "cpu"
    assert [record["epoch"] for record in two.history_] == [1, 2, 3]
    auroc_two = roc_auc_score(test_labels, proba)
    auroc_one = roc_auc_score(test_labels, one.predict_proba(test_images)[:, 1])
    assert auroc_two >= 0.9 and abs(auroc_two - auroc_one) <= 0.1, (auroc_one, auroc_two)
    # The estimator stays a scikit-learn one: parameters unchanged, the fit saved and reloaded.
    assert two.get_params()["n_processes"] == 2


@pytest.mark.slow
def test_bad_input_in_the_processes_is_one_clear_error(tmp_path):
    images, labels = blob_images(8, seed=0)
    missing = tmp_path / "no-such-radiograph.png"
    X = [*images[:-1], str(missing)]
    # The processes' ImageReadError, as an InputError: the CLI prints it on one line.
    with pytest.raises(InputError, match=r"process \d of 2: ImageReadError: .*no-such"):
        small_model(n_processes=2).fit(X, labels)


# One process fails while the other waits for it in a collective: the launcher's monitor
# must end both and the fit raise, not hang until the collective's timeout.
_ONE_FAILS = """
import torch, torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import record

@record
def main():
    dist.init_process_group("gloo")
    if dist.get_rank() == 1:
        raise ValueError("a radiograph that cannot be read")
    dist.all_reduce(torch.ones(1))
    dist.all_reduce(torch.ones(1))

main()
"""


@pytest.mark.slow
def test_a_failing_process_ends_the_others_with_one_error():
    start = time.perf_counter()
    with pytest.raises(ValueError, match="process 1 of 2: a radiograph that cannot be read"):
        launch(sys.executable, ("-c", _ONE_FAILS), 2)
    assert time.perf_counter() - start < 60


# A user's own script under a launcher (torchrun, or elastic_launch as here): it starts the
# process group itself and calls the ordinary fit, which then trains with DDP in that group.
_USER_SCRIPT = """
import hashlib, sys
import numpy as np, torch, torch.distributed as dist
import ramultimodal.image._training as training
from ramultimodal.image import CNNImageClassifier

wrapped = []  # the networks that training wrapped in DDP
ddp_module = training.ddp_module
training.ddp_module = lambda *args: wrapped.append(1) or ddp_module(*args)
dist.init_process_group("gloo")
torch.set_num_threads(1)
rng = np.random.default_rng(0)
labels = np.arange(16) % 2
images = [rng.random((32, 32), dtype=np.float32) + 0.5 * label for label in labels]
model = CNNImageClassifier(image_size=32, max_epochs=2, batch_size=8, random_state=0,
                           validation_fraction=0.25, verbose=0).fit(images, labels)
state = model.module_.state_dict()
digest = hashlib.sha256(b"".join(state[k].numpy().tobytes() for k in sorted(state)))
with open(f"{sys.argv[1]}/weights-{dist.get_rank()}.txt", "w") as out:
    out.write(f"{digest.hexdigest()} wrapped {len(wrapped)}")
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_fit_in_a_process_group_a_launcher_started_keeps_the_processes_in_step(tmp_path):
    launch(sys.executable, ("-c", _USER_SCRIPT, str(tmp_path)), 2)
    # Each process trained on its share of every batch, with the gradients averaged over
    # the two at every step: the same weights in both.
    first, second = (tmp_path / f"weights-{rank}.txt" for rank in (0, 1))
    assert first.read_text() == second.read_text()
    assert first.read_text().endswith("wrapped 1")
