"""Tests of helpers.lab.train: the training loop learns, is reproducible and checks its inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from helpers.core.threads import fixed_threads
from helpers.lab.cnn import make_cnn
from helpers.lab.digits import DigitsData, Split, load_digits_split, subsample
from helpers.lab.train import History, evaluate, train


@pytest.fixture(scope="module")
def data() -> DigitsData:
    return load_digits_split()


@pytest.fixture(scope="module")
def small(data):
    return subsample(data.train, 0.3, seed=0)


def params_of(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("kind", ["normal", "separable"])
def test_a_tiny_run_learns(data, small, kind):
    model = make_cnn(kind, 6, seed=0)
    _, acc_before = evaluate(model, data.val)
    history = train(model, small, data.val, epochs=10, batch_size=32, lr=0.02, seed=0)
    assert history.epoch == list(range(1, 11))
    assert acc_before < 0.2 and history.val_acc[-1] > 0.45  # chance is 0.1
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.train_acc[-1] > 0.5


def test_same_seed_reproduces_exactly_and_other_seeds_differ(data, small):
    def run(seed: int) -> tuple[History, list[torch.Tensor]]:
        model = make_cnn("separable", 4, seed=seed)
        history = train(model, small, data.val, epochs=3, batch_size=50, seed=seed)
        return history, params_of(model)

    (h1, p1), (h2, p2), (h3, p3) = run(0), run(0), run(1)
    assert h1.epoch == [1, 2, 3]
    assert h1 == h2
    assert all(torch.equal(a, b) for a, b in zip(p1, p2, strict=True))
    assert h1.val_loss != h3.val_loss
    assert not all(torch.equal(a, b) for a, b in zip(p1, p3, strict=True))


def test_batch_order_depends_on_the_seed_only(data, small):
    histories = []
    for seed in (0, 0, 1):
        model = make_cnn("normal", 4, seed=0)  # same initial weights every time
        histories.append(train(model, small, data.val, epochs=2, batch_size=40, seed=seed))
    assert histories[0] == histories[1]
    assert histories[0].train_loss != histories[2].train_loss


def test_results_do_not_depend_on_the_thread_setting(data, small):
    before = torch.get_num_threads()
    histories = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        model = make_cnn("separable", 4, seed=0)
        histories.append(train(model, small, data.val, epochs=2, batch_size=64, seed=0))
        assert torch.get_num_threads() == threads  # restored afterwards
    torch.set_num_threads(before)
    assert histories[0] == histories[1]


def test_eval_every_records_only_some_epochs(data, small):
    model = make_cnn("normal", 4, seed=0)
    history = train(model, small, None, epochs=7, batch_size=64, eval_every=3)
    assert history.epoch == [3, 6, 7] and history.epochs == 7
    assert len(history.train_acc) == 3 and history.val_acc == []
    with pytest.raises(ValueError, match="validation"):
        history.gap()


def test_evaluate_matches_a_direct_computation(data):
    model = make_cnn("normal", 4, seed=0)
    model.train()
    loss, acc = evaluate(model, data.test, batch_size=100)
    assert model.training  # mode restored
    model.eval()
    with torch.no_grad():
        logits = model(data.test.x)
    assert loss == pytest.approx(nn.functional.cross_entropy(logits, data.test.y).item(),
                                 rel=1e-5)
    assert acc == int((logits.argmax(1) == data.test.y).sum()) / len(data.test)


def test_history_gaps():
    history = History([1, 2], [0.5, 0.1], [0.8, 1.0], [0.6, 0.4], [0.7, 0.9])
    assert history.gap() == pytest.approx(0.1)
    assert history.gap(0) == pytest.approx(0.1)
    assert history.loss_gap() == pytest.approx(0.3)
    assert history.epochs == 2


def test_numpy_scalars_are_numbers(data, small):
    """A learning rate computed with NumPy (np.float32) is a valid learning rate."""
    runs = []
    for lr, decay in ((0.01, 0.0), (np.float64(0.01), np.float32(0.0))):
        model = make_cnn("normal", 2, seed=0)
        runs.append(train(model, small, None, epochs=2, lr=lr, weight_decay=decay,
                          batch_size=np.int64(64), seed=np.int64(0)))
    assert runs[0] == runs[1]
    model = make_cnn("normal", 2, seed=0)
    assert train(model, small, None, epochs=1, lr=np.float32(0.01)).epochs == 1


@pytest.mark.parametrize("kwargs, error, name", [
    ({"epochs": 0}, ValueError, "epochs"), ({"lr": 0.0}, ValueError, "lr"),
    ({"lr": "fast"}, TypeError, "lr"), ({"batch_size": 0}, ValueError, "batch_size"),
    ({"patience": 0}, ValueError, "patience"), ({"seed": [0, -1]}, ValueError, r"seed\[1\]"),
    ({"weight_decay": -1.0}, ValueError, "weight_decay"), ({"seed": -1}, ValueError, "seed"),
    ({"eval_every": 0}, ValueError, "eval_every"), ({"lr": float("nan")}, ValueError, "lr"),
    ({"lr": True}, TypeError, "lr"), ({"weight_decay": "0"}, TypeError, "weight_decay"),
])
def test_train_validates(data, kwargs, error, name):
    with pytest.raises(error, match=name):
        train(make_cnn("normal", 2), data.val, **kwargs)


def test_inputs_are_checked(data):
    with pytest.raises(TypeError, match="model"):
        train("model", data.val)
    with pytest.raises(TypeError, match="train_data"):
        train(make_cnn("normal", 2), (data.val.x, data.val.y))
    with pytest.raises(TypeError, match="data"):
        evaluate(make_cnn("normal", 2), data.val.x)


def test_full_batch_adam_is_one_plain_step_an_epoch(data, small):
    model = make_cnn("normal", 2, seed=3)
    twin = make_cnn("normal", 2, seed=3).double()  # train() trains in float64
    train(model, small, None, epochs=3, lr=0.01, seed=0)
    opt = torch.optim.Adam(twin.parameters(), lr=0.01)
    with fixed_threads(1):
        twin.train()
        for _ in range(3):
            opt.zero_grad()
            nn.functional.cross_entropy(twin(small.x.double()), small.y).backward()
            opt.step()
    assert all(torch.equal(a, b) for a, b in zip(params_of(model), params_of(twin), strict=True))


def test_cosine_schedule_ends_at_zero_and_differs_from_constant(data, small):
    seen = []

    class Spy(torch.optim.Adam):
        def step(self, closure=None):
            seen.append(self.param_groups[0]["lr"])
            return super().step(closure)

    original = torch.optim.Adam
    torch.optim.Adam = Spy
    try:
        cosine = train(make_cnn("normal", 2, seed=0), small, data.val, epochs=4, batch_size=100,
                       lr=0.05, schedule="cosine")
    finally:
        torch.optim.Adam = original
    steps = 4 * 4  # 324 images in batches of 100
    assert len(seen) == steps and seen[0] == 0.05
    assert all(a > b for a, b in zip(seen, seen[1:], strict=False))
    # the last step uses lr * (1 + cos(pi * (steps - 1) / steps)) / 2, close to 0
    assert seen[-1] == pytest.approx(0.05 * (1 + math.cos(math.pi * (steps - 1) / steps)) / 2)
    constant = train(make_cnn("normal", 2, seed=0), small, data.val, epochs=4, batch_size=100,
                     lr=0.05)
    assert cosine != constant
    with pytest.raises(ValueError, match="schedule"):
        train(make_cnn("normal", 2), small, schedule="step")


# Another CPU, simulated: PyTorch's portable kernels instead of the vectorised
# ones, MKL's reproducible code path, oneDNN capped at AVX2. The variables must
# be set before torch is imported, so each run is a fresh Python process.
OTHER_CPU = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE",
             "DNNL_MAX_CPU_ISA": "AVX2"}
_TRAIN_SCRIPT = """
import math, torch
from helpers.lab.cnn import make_cnn
from helpers.lab.digits import load_digits_split, subsample
from helpers.lab.train import train
data = load_digits_split(seed=0)
small = subsample(data.train, 0.1, seed=0)
for kind, width in (("normal", 4), ("separable", 8)):
    model = make_cnn(kind, width, seed=3)
    init = [p.detach().clone() for p in model.parameters()]
    history = train(model, small, data.val, epochs=8, lr=0.02, seed=3,
                    batch_size=math.ceil(len(small) / 4), schedule="cosine")
    print(sum(float(p.double().sum()) for p in init).hex(),
          repr(history.train_loss[-1]), repr(history.val_loss[-1]))
"""


def _run_training(extra_env: dict[str, str]) -> list[list[str]]:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in OTHER_CPU}
    result = subprocess.run([sys.executable, "-c", _TRAIN_SCRIPT], env={**env, **extra_env},
                            capture_output=True, text=True, check=True, timeout=300)
    return [line.split() for line in result.stdout.splitlines()]


def test_training_is_the_same_under_another_cpus_kernels():
    here, other = _run_training({}), _run_training(OTHER_CPU)
    assert len(here) == len(other) == 2
    for (init_a, *losses_a), (init_b, *losses_b) in zip(here, other, strict=True):
        assert init_a == init_b  # the same float32 initial weights, bit for bit
        for a, b in zip(losses_a, losses_b, strict=True):
            # float64 training: kernel differences stay near 1e-16 and do not grow
            assert float(a) == pytest.approx(float(b), rel=1e-9, abs=0)


# --- ensembles and paired intervals --------------------------------------------


@pytest.mark.parametrize("kind", ["normal", "separable"])
def test_train_ensemble_matches_separate_training(kind):
    from helpers.lab.cnn import make_cnn_ensemble
    from helpers.lab.train import train_ensemble

    data = load_digits_split(seed=0)
    small = subsample(data.train, 0.1, seed=0)
    seeds = [0, 1]
    alone = [train(make_cnn(kind, 4, seed=s), small, data.val, epochs=3, batch_size=16,
                   lr=0.01, schedule="cosine", seed=5) for s in seeds]
    together = train_ensemble(make_cnn_ensemble(kind, 4, seeds), small, data.val, epochs=3,
                              batch_size=16, lr=0.01, schedule="cosine", seed=5)
    assert len(together) == 2
    for a, b in zip(alone, together, strict=True):
        assert a.epoch == b.epoch
        np.testing.assert_allclose(a.train_loss, b.train_loss, rtol=1e-9)
        np.testing.assert_allclose(a.val_loss, b.val_loss, rtol=1e-9)
        assert a.val_acc == b.val_acc


def test_evaluate_ensemble_and_validation():
    from helpers.lab.cnn import make_cnn_ensemble
    from helpers.lab.train import evaluate_ensemble, train_ensemble

    data = load_digits_split(seed=0)
    ensemble = make_cnn_ensemble("normal", 2, [0, 1]).double()
    losses, accs = evaluate_ensemble(ensemble, data.val)
    for seed, loss, acc in zip([0, 1], losses, accs, strict=True):
        single = make_cnn("normal", 2, seed=seed).double()
        assert evaluate(single, data.val) == pytest.approx((loss, acc), rel=1e-9)
    with pytest.raises(ValueError, match="members"):
        evaluate_ensemble(make_cnn("normal", 2).double(), data.val)
    with pytest.raises(ValueError, match="schedule"):
        train_ensemble(ensemble, data.val, schedule="step")
    with pytest.raises(TypeError, match="train_data"):
        train_ensemble(ensemble, data.val.x)


def test_per_member_batch_orders_match_training_alone(data, small):
    from helpers.lab.cnn import make_cnn_ensemble
    from helpers.lab.train import train_ensemble

    seeds, orders = [0, 1], [7, 8]
    alone = [train(make_cnn("normal", 3, seed=s), small, data.val, test_data=data.test,
                   epochs=3, batch_size=32, seed=o) for s, o in zip(seeds, orders, strict=True)]
    together = train_ensemble(make_cnn_ensemble("normal", 3, seeds), small, data.val,
                              test_data=data.test, epochs=3, batch_size=32, seed=orders)
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_allclose(a.train_loss, b.train_loss, rtol=1e-9)
        np.testing.assert_allclose(a.test_loss, b.test_loss, rtol=1e-9)
        assert a.test_acc == b.test_acc and len(a.test_acc) == 3
    with pytest.raises(ValueError, match="batch orders"):
        train_ensemble(make_cnn_ensemble("normal", 2, seeds), small, seed=[1, 2, 3])
    with pytest.raises(ValueError, match="train_ensemble"):
        train(make_cnn_ensemble("normal", 2, seeds), small)


def test_early_stopping_restores_the_best_epoch_and_is_a_prefix(data, small):
    tiny = subsample(small, 0.2, seed=0)  # few images: the validation loss turns soon
    model = make_cnn("normal", 8, seed=0)
    history = train(model, tiny, data.val, epochs=60, batch_size=16, lr=0.01, patience=3)
    best = history.best_index()
    assert history.epochs < 60 and len(history.epoch) == best + 1 + 3
    assert min(history.val_loss[best + 1:]) >= history.val_loss[best]
    assert evaluate(model, data.val)[0] == pytest.approx(history.val_loss[best], rel=1e-12)
    # a constant rate: a shorter run is exactly the first epochs of a longer one
    short = train(make_cnn("normal", 8, seed=0), tiny, data.val, epochs=4, batch_size=16,
                  lr=0.01)
    assert short.val_loss == history.val_loss[:4]
    with pytest.raises(ValueError, match="patience"):
        train(make_cnn("normal", 2), tiny, None, patience=2)


# --- bad input: a clear error, and the model left as it was --------------------


def _state(model: nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in model.state_dict().values()]


def _bad_calls(small):
    from helpers.lab.cnn import make_cnn_ensemble
    from helpers.lab.train import train_ensemble

    rgb = Split(torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 3]))
    uneven = Split(small.x[:4], small.y[:4])
    object.__setattr__(uneven, "y", small.y[:3])  # a Split changed behind its back
    return {
        "seed list": (lambda m: train_ensemble(m, small, seed=[1, 2, 3]), "ensemble",
                      ValueError, "batch orders"),
        "seed list, one network": (lambda m: train(m, small, seed=[0, 1]), "normal",
                                   ValueError, "batch orders"),
        "huge seed": (lambda m: train(m, small, seed=2**64), "normal", ValueError, "seed"),
        "images": (lambda m: train(m, rgb), "normal", ValueError, "train_data"),
        "val images": (lambda m: train(m, small, rgb), "normal", ValueError, "val_data"),
        "lengths": (lambda m: train(m, uneven), "normal", ValueError, "train_data"),
        "labels": (lambda m: train(m, small), "five classes", ValueError, "labels up to 9"),
        "ensemble": (lambda m: train(m, small), "ensemble", ValueError, "train_ensemble"),
        "epochs": (lambda m: train(m, small, epochs=10**9), "normal", ValueError, "epochs"),
        "numpy float seeds": (lambda m: train_ensemble(m, small, seed=np.array([1.0, 2.0])),
                              "ensemble", TypeError, r"seed\[0\]"),
        "bool seed": (lambda m: train(m, small, seed=True), "normal", TypeError, "seed"),
        "make_ensemble": (lambda m: make_cnn_ensemble("normal", 2, [0, 1.5]), "normal",
                          TypeError, r"seeds\[1\]"),
    }


@pytest.mark.parametrize("case", ["seed list", "seed list, one network", "huge seed", "images",
                                  "val images", "lengths", "labels", "ensemble", "epochs",
                                  "numpy float seeds", "bool seed", "make_ensemble"])
def test_a_failing_call_leaves_the_model_as_it_was(small, case):
    from helpers.lab.cnn import make_cnn_ensemble

    call, model_kind, error, message = _bad_calls(small)[case]
    model = {"normal": lambda: make_cnn("normal", 2, seed=0),
             "five classes": lambda: make_cnn("normal", 2, seed=0, num_classes=5),
             "ensemble": lambda: make_cnn_ensemble("normal", 2, [0, 1])}[model_kind]()
    model.train()
    model[2].eval()  # one module in its own mode
    before = _state(model)
    with pytest.raises(error, match=message):
        call(model)
    assert all(t.dtype == torch.float32 for t in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, _state(model), strict=True))
    assert model.training and not model[2].training and model[1].training


def test_numpy_seeds_are_seeds(data, small):
    from helpers.lab.cnn import make_cnn_ensemble
    from helpers.lab.train import train_ensemble

    runs = [train_ensemble(make_cnn_ensemble("normal", 2, seeds), small, epochs=1,
                           batch_size=64, seed=order)
            for seeds, order in (([0, 1], [7, 8]), (np.array([0, 1]), np.array([7, 8])),
                                 ((np.int64(0), np.int32(1)), [np.int64(7), np.int64(8)]))]
    assert runs[0] == runs[1] == runs[2]
    one = train_ensemble(make_cnn_ensemble("normal", 2, [0, 1]), small, epochs=1, seed=[3, 3])
    assert one == train_ensemble(make_cnn_ensemble("normal", 2, [0, 1]), small, epochs=1,
                                 seed=np.int64(3))


def test_evaluate_restores_every_modules_mode_and_checks_the_model(data):
    from helpers.lab.cnn import make_cnn_ensemble
    from helpers.lab.train import evaluate_ensemble

    ensemble = make_cnn_ensemble("normal", 2, [0, 1]).train()
    ensemble[2].eval()
    evaluate_ensemble(ensemble, data.val)
    assert ensemble.training and ensemble[1].training and not ensemble[2].training
    single = make_cnn("normal", 2).eval()
    with pytest.raises(ValueError, match="members"):
        evaluate_ensemble(single, data.val)
    assert not any(m.training for m in single.modules())
    model = make_cnn("normal", 2, num_classes=5).train()
    with pytest.raises(ValueError, match="labels up to 9"):
        evaluate(model, data.val)
    with pytest.raises(ValueError, match="data"):
        evaluate(make_cnn("normal", 2), Split(torch.rand(2, 3, 8, 8), torch.tensor([0, 1])))
    assert model.training


def test_history_gaps_refuse_a_bad_index_clearly():
    history = History([1, 2], [0.5, 0.1], [0.8, 1.0], [0.6, 0.4], [0.7, 0.9])
    assert history.gap(-2) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="epoch must be at most 1, got 2"):
        history.gap(2)
    with pytest.raises(ValueError, match="epoch must be an int >= -2, got -3"):
        history.loss_gap(-3)
    with pytest.raises(TypeError, match="epoch"):
        history.gap(1.0)
    with pytest.raises(ValueError, match="pair up"):
        History(val_acc=[0.5]).gap()
    with pytest.raises(ValueError, match="validation"):
        History().gap()
