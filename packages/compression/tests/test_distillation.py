"""Knowledge distillation: the loss against hand-computed values, its gradient, the recipe."""

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import gradcheck, no_grad
from tinytorch.core.compression import DistillationLoss, distill, distillation_loss, evaluate_accuracy
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense
from tinytorch.core.tensor import Tensor


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _by_hand(s, t, y, T, alpha):
    """α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1-α)·CE(s, y), batch-averaged, in float64."""
    p_t, p_s = _softmax(t / T), _softmax(s / T)
    kl = np.mean(np.sum(p_t * (np.log(p_t) - np.log(p_s)), axis=1))
    ce = -np.mean(np.log(_softmax(s)[np.arange(len(y)), y]))
    return alpha * T * T * kl + (1 - alpha) * ce


def test_distill_loss_on_a_worked_example():
    # one sample, two classes, T = 1, alpha = 1: KL((0.5, 0.5) ‖ softmax(0, ln 3)) = ln 2 ... by hand
    s = np.array([[0.0, np.log(3.0)]])   # student: (1/4, 3/4)
    t = np.array([[0.0, 0.0]])           # teacher: (1/2, 1/2)
    expected = 0.5 * np.log(0.5 / 0.25) + 0.5 * np.log(0.5 / 0.75)
    got = distillation_loss(Tensor(s, dtype=np.float64), t, [1], temperature=1.0, alpha=1.0)
    assert float(got.item()) == pytest.approx(expected, rel=1e-12)
    # alpha = 0 is plain cross-entropy: -ln(3/4)
    got = distillation_loss(Tensor(s, dtype=np.float64), t, [1], temperature=1.0, alpha=0.0)
    assert float(got.item()) == pytest.approx(-np.log(0.75), rel=1e-12)


@pytest.mark.parametrize("T", [1.0, 2.0, 4.0, 10.0])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.9, 1.0])
def test_distill_loss_matches_hand_computation(T, alpha):
    rng = np.random.default_rng(int(T * 10 + alpha * 100))
    s, t = rng.normal(size=(6, 5)) * 3, rng.normal(size=(6, 5)) * 3
    y = rng.integers(0, 5, 6)
    got = distillation_loss(Tensor(s, dtype=np.float64), t, y, T, alpha)
    assert float(got.item()) == pytest.approx(_by_hand(s, t, y, T, alpha), rel=1e-10)
    module = DistillationLoss(temperature=T, alpha=alpha)
    assert float(module(Tensor(s.astype(np.float32)), t.astype(np.float32), y).item()) == \
        pytest.approx(_by_hand(s, t, y, T, alpha), rel=1e-4)


def test_distill_loss_is_zero_kl_when_student_copies_teacher():
    t = np.random.default_rng(0).normal(size=(4, 3))
    got = distillation_loss(Tensor(t.copy(), dtype=np.float64), t, [0, 1, 2, 0], 3.0, 1.0)
    assert abs(float(got.item())) < 1e-12


def test_distill_loss_stays_float32_even_with_extreme_teacher():
    t = np.array([[1000.0, -1000.0, 0.0]], np.float32)  # softmax(t/T) underflows to exact zeros
    loss = distillation_loss(Tensor(np.zeros((1, 3), np.float32)), t, [0], 1.0, 0.5)
    assert loss.dtype == np.float32 and np.isfinite(loss.item())


@pytest.mark.parametrize("T,alpha", [(1.0, 0.5), (4.0, 0.9), (2.0, 1.0)])
def test_distill_loss_gradient_matches_the_closed_form(T, alpha):
    rng = np.random.default_rng(3)
    s, t = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    y = rng.integers(0, 4, 5)
    student = Tensor(s, dtype=np.float64, requires_grad=True)
    teacher = Tensor(t, dtype=np.float64, requires_grad=True)
    distillation_loss(student, teacher, y, T, alpha).backward()
    # d/ds [α T² KL] = α T (softmax(s/T) - softmax(t/T)) / N;  d/ds CE = (softmax(s) - onehot) / N
    onehot = np.eye(4)[y]
    expected = alpha * T * (_softmax(s / T) - _softmax(t / T)) / 5 + \
        (1 - alpha) * (_softmax(s) - onehot) / 5
    np.testing.assert_allclose(student.grad.data, expected, rtol=1e-10, atol=1e-12)
    assert teacher.grad is None  # the teacher is a constant


def test_distill_loss_gradcheck():
    rng = np.random.default_rng(4)
    t, y = rng.normal(size=(3, 4)), np.array([0, 3, 1])
    assert gradcheck(lambda s: distillation_loss(s, t, y, 2.5, 0.7), [rng.normal(size=(3, 4))])


def test_distill_loss_validates_arguments():
    s = Tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="batch, classes"):
        distillation_loss(s, np.zeros((2, 4)), [0, 1])
    with pytest.raises(ValueError, match="temperature"):
        DistillationLoss(temperature=0.0)
    with pytest.raises(ValueError, match="alpha"):
        DistillationLoss(alpha=1.5)
    assert "temperature=2.0" in repr(DistillationLoss(2.0, 0.5))


def _task(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 10)).astype(np.float32)
    return x


def test_distill_step_makes_the_student_imitate_the_teacher():
    teacher = Sequential([Dense(10, 32), ReLU(), Dense(32, 4)]).eval()
    teacher[2].weight.data *= 5  # confident enough that its soft targets carry information
    x = _task()
    with no_grad():
        labels = teacher(Tensor(x)).data.argmax(axis=1)  # the teacher is right by definition
    loader = [(Tensor(x[i:i + 32]), labels[i:i + 32]) for i in range(0, len(x), 32)]
    student = Sequential([Dense(10, 16), ReLU(), Dense(16, 4)])
    before = evaluate_accuracy(student, loader)
    history = distill(teacher, student, loader, epochs=15, temperature=2.0, alpha=0.9, lr=0.1,
                      progress=False)
    after = evaluate_accuracy(student, loader)
    assert len(history) == 15 and history[-1]["loss"] < history[0]["loss"] / 3
    assert after > max(before + 0.3, 0.8)
    # the teacher was not trained
    assert teacher.training is False


def test_distill_step_respects_max_steps_and_custom_optimizer():
    from tinytorch.core.optimizers import SGD

    teacher = Sequential([Dense(10, 4)])
    student = Sequential([Dense(10, 4)])
    x = _task(64)
    loader = [(Tensor(x[i:i + 16]), np.zeros(16, np.int64)) for i in range(0, 64, 16)]
    w0 = student[0].weight.data.copy()
    history = distill(teacher, student, loader, epochs=5, optimizer=SGD(student.parameters(), lr=0.1),
                      max_steps=3, progress=False)
    assert len(history) == 1 and not np.allclose(student[0].weight.data, w0)
