import pytest
import torch

from graphcl_rec.models import MF, BPRRecommender
from graphcl_rec.train import Trainer, load_checkpoint
from tests.conftest import make_checkerboard

STEPS_PER_EPOCH = 3  # 40 training pairs of checkerboard(10) in batches of 16


class Faulty(BPRRecommender):
    """BPR whose ``at``-th step (1-based, over the run) goes wrong in one way."""

    def __init__(self, at, fault):
        super().__init__(MF(10, 10, dim=4))
        self.at, self.fault, self.calls, self.steps = at, fault, 0, 0

    def loss(self, batch, adjs, views, generator=None):
        out = super().loss(batch, adjs, views, generator)
        self.calls += 1
        if self.calls == self.at and self.fault == "loss":
            out["loss"] = out["loss"] * float("nan")
        if self.calls == self.at and self.fault == "grad":
            # Finite value (0) but d/dw sqrt(0 * w) = inf * 0 = NaN.
            w = self.encoder.embedding.weight
            out["loss"] = out["loss"] + torch.sqrt(w[0, 0] * 0)
        return out

    def on_step_end(self):
        self.steps += 1
        if self.steps == self.at and self.fault == "weight":
            with torch.no_grad():
                self.encoder.embedding.weight[3, 1] = float("inf")


def run(tmp_path, model, epochs=5):
    train, val = make_checkerboard(10)
    trainer = Trainer(epochs=epochs, batch_size=16, lr=0.05, k=[5], progress=False,
                      checkpoint_dir=tmp_path, seed=0)
    return trainer.fit(model, train, val)


@pytest.mark.parametrize("fault,message", [
    ("loss", r"non-finite loss \(nan\) at epoch 3, step 2; terms: .*'loss': nan"),
    ("grad", r"non-finite gradient of 'encoder.embedding.weight' \(norm nan\) "
             r"at epoch 3, step 2"),
])
def test_non_finite_step_names_epoch_and_step_and_keeps_last_good(
        tmp_path, fault, message):
    at = 2 * STEPS_PER_EPOCH + 2
    model = Faulty(at, fault)
    with pytest.raises(FloatingPointError, match=message) as err:
        run(tmp_path, model)
    assert "last good checkpoint is kept at" in str(err.value)
    # The optimiser step never ran: the weights in memory are still finite.
    assert torch.isfinite(model.encoder.embedding.weight).all()
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["epoch"] == 2 and state["global_step"] == 2 * STEPS_PER_EPOCH
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_non_finite_weights_after_an_epoch_are_never_saved(tmp_path):
    model = Faulty(2 * STEPS_PER_EPOCH, "weight")  # last step of epoch 2
    with pytest.raises(FloatingPointError,
                       match="'encoder.embedding.weight' holds non-finite values "
                             "after epoch 2"):
        run(tmp_path, model)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["epoch"] == 1
    assert torch.isfinite(state["model"]["encoder.embedding.weight"]).all()


def test_resume_after_a_fault_continues_from_the_last_good_epoch(tmp_path):
    with pytest.raises(FloatingPointError):
        run(tmp_path, Faulty(2 * STEPS_PER_EPOCH + 2, "loss"))
    healthy = Faulty(-1, "loss")  # same objective class, never faults
    train, val = make_checkerboard(10)
    hist = Trainer(epochs=5, batch_size=16, lr=0.05, k=[5], progress=False,
                   checkpoint_dir=tmp_path, seed=0).fit(healthy, train, val,
                                                        resume=True)
    reference = Faulty(-1, "loss")
    ref = Trainer(epochs=5, batch_size=16, lr=0.05, k=[5], progress=False,
                  seed=0).fit(reference, train, val)
    assert [r["val"] for r in hist] == [r["val"] for r in ref]
    assert torch.equal(healthy.encoder.embedding.weight,
                       reference.encoder.embedding.weight)


@pytest.mark.parametrize("fault,message", [
    ("loss", r"non-finite loss \(nan\) at epoch 3, step 2 \(checked once per epoch"
             r".*terms: .*'loss': nan"),
    ("grad", r"non-finite gradient of 'encoder.embedding.weight' \(norm nan\) "
             r"at epoch 3, step 2 \(checked once per epoch"),
])
def test_deferred_guard_raises_the_same_error_with_the_same_weights(
        tmp_path, fault, message, device):
    at = 2 * STEPS_PER_EPOCH + 2
    weights = {}
    for guard in ("step", "epoch"):
        model = Faulty(at, fault)
        train, val = make_checkerboard(10)
        trainer = Trainer(epochs=5, batch_size=16, lr=0.05, k=[5], progress=False,
                          checkpoint_dir=tmp_path / guard, seed=0, step_guard=guard,
                          device=device)
        with pytest.raises(FloatingPointError,
                           match=message if guard == "epoch" else "epoch 3, step 2"):
            trainer.fit(model, train, val)
        weights[guard] = model.encoder.embedding.weight.detach().clone()
    # The per-step check stops before the epoch's step 2 is applied; the deferred
    # one skips its steps 2 and 3: both leave the weights as they were after step 1.
    assert torch.isfinite(weights["epoch"]).all()
    torch.testing.assert_close(weights["epoch"], weights["step"], rtol=0, atol=0)


def test_deferred_guard_changes_nothing_when_every_step_is_finite():
    runs = []
    for guard in ("step", "epoch"):
        train, val = make_checkerboard(10)
        model = BPRRecommender(MF(10, 10, dim=4))
        hist = Trainer(epochs=3, batch_size=16, lr=0.05, k=[5], progress=False,
                       seed=0, step_guard=guard).fit(model, train, val)
        runs.append((model.encoder.embedding.weight.detach().clone(),
                     [r["loss"] for r in hist.records]))
    torch.testing.assert_close(runs[0][0], runs[1][0], rtol=0, atol=0)
    assert runs[0][1] == runs[1][1]


def test_step_guard_validation():
    with pytest.raises(ValueError, match="step_guard"):
        Trainer(step_guard="never")
    from graphcl_rec.train.guards import DeferredStepGuard
    w = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="fused"):
        DeferredStepGuard(torch.optim.Adam([w]), [("w", w)])


def test_step_guard_auto_is_per_step_on_cpu():
    w = torch.nn.Parameter(torch.zeros(2))
    fused = torch.optim.Adam([w], fused=True)
    assert Trainer(step_guard="auto")._deferred_guard(fused, [("w", w)]) is None
    assert Trainer(step_guard="step")._deferred_guard(fused, [("w", w)]) is None
    guard = Trainer(step_guard="epoch")._deferred_guard(fused, [("w", w)])
    assert guard is not None
    guard.step({"loss": w.sum()}, 0)
    assert fused.found_inf.item() == 0.0
    guard.finish(0)
    assert not hasattr(fused, "found_inf")
