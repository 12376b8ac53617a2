"""The runtime's one idiom for process-wide on/off settings: Switch, switch(), switches()."""

import threading

import pytest

from tinytorch.core.tensor.runtime import Switch, switch, switches


def test_set_returns_the_previous_setting():
    s = Switch("test.set", enabled=True)
    assert s.set(False) is True and s.enabled is False
    assert s.set(1) is False and s.enabled is True  # stored as a bool


def test_context_manager_restores_even_after_an_error():
    s = Switch("test.block", enabled=True)
    with s(False):
        assert s.enabled is False
        with s():  # nested: on inside, off again after
            assert s.enabled is True
        assert s.enabled is False
    assert s.enabled is True
    with pytest.raises(RuntimeError), s(False):
        raise RuntimeError("inside")
    assert s.enabled is True


def test_resolve_prefers_the_ops_own_argument():
    s = Switch("test.resolve", enabled=False)
    assert s.resolve(None) is False and s.resolve(True) is True
    s.set(True)
    assert s.resolve(None) is True and s.resolve(0) is False


def test_switch_hands_out_one_object_per_name():
    first = switch("test.registry.one", default=False)
    again = switch("test.registry.one", default=True)  # the default only counts the first time
    assert again is first and again.enabled is False
    first.set(True)
    assert switches()["test.registry.one"] is True
    assert repr(first) == "Switch('test.registry.one', enabled=True)"


def test_switch_is_made_once_under_concurrent_first_use():
    made = []
    barrier = threading.Barrier(4)

    def ask():
        barrier.wait()
        made.append(switch("test.registry.race"))

    workers = [threading.Thread(target=ask) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len({id(s) for s in made}) == 1
