"""A recipe's epoch count as the Trainer runs it: whole epochs, even when given as a float.

``Recipe.epochs`` is a float because airbench94 stops mid-epoch (9.9 epochs); every other
model trains through :class:`Trainer`, which runs whole epochs.
"""

from __future__ import annotations


import pytest

from tinytorch.core.training.cifar10 import Recipe, prepare_run, trainer_epochs


@pytest.fixture(scope="module")
def tiny_cifar(tmp_path_factory, write_tiny_cifar):
    """26 training and 13 test images of random pixels, in the official file layout."""
    return write_tiny_cifar(tmp_path_factory.mktemp("data"), [6, 5, 5, 5, 5], 13,
                            [f"c{i}" for i in range(10)])


def _recipe(epochs: float) -> Recipe:
    return Recipe("tiny", "small_cnn", epochs=epochs, batch_size=13, lr=0.05, widths=(4, 8))


def test_whole_epochs_given_as_floats_are_ints():
    assert trainer_epochs(_recipe(2.0)) == 2 and type(trainer_epochs(_recipe(2.0))) is int
    assert trainer_epochs(_recipe(3)) == 3


@pytest.mark.parametrize("epochs", [1.5, 0, -2.0])
def test_a_fraction_or_no_epoch_is_refused_in_one_line(epochs):
    with pytest.raises(ValueError, match=f"epochs must be a whole number >= 1.*got {epochs}"):
        trainer_epochs(_recipe(epochs))


def test_prepare_run_schedules_whole_float_epochs(tiny_cifar):
    # before: 2.0 · batches reached OneCycleLR as a float step count, which it refuses
    parts = prepare_run(_recipe(2.0), tiny_cifar)
    assert parts.scheduler.total_steps == 2 * len(parts.train)
    with pytest.raises(ValueError, match="epochs must be a whole number"):
        prepare_run(_recipe(1.5), tiny_cifar)
