"""DynamicBatcher on its own event loop, without HTTP: who shares a forward pass, and who
gets which rows back."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tinytorch.core.mlops.batching import DynamicBatcher, Overloaded


def rowwise(x):
    """A stand-in model: class = row index of the max, 'probabilities' = the row itself."""
    flat = x.reshape(len(x), -1).astype(np.float64)
    return flat.argmax(axis=1), flat


def run(coro):
    return asyncio.run(coro)


def test_concurrent_requests_share_passes_and_get_their_own_rows():
    seen = []

    def model(x):
        seen.append(len(x))
        return rowwise(x)

    async def main():
        b = DynamicBatcher(model, max_batch=8, max_wait=0.05)
        b.start()
        rng = np.random.default_rng(0)
        xs = [rng.normal(size=(int(n), 3)) for n in rng.integers(1, 4, size=12)]
        outs = await asyncio.gather(*(b.submit(x) for x in xs))
        await b.stop()
        return b, xs, outs

    b, xs, outs = run(main())
    for x, (classes, probs) in zip(xs, outs):
        np.testing.assert_array_equal(probs, x)  # exactly this request's rows, in order
        np.testing.assert_array_equal(classes, x.argmax(axis=1))
    assert sum(seen) == sum(len(x) for x in xs) and max(seen) <= 8
    assert len(seen) < len(xs) and b.forward_passes == len(seen) and b.requests == 12


def test_a_request_larger_than_max_batch_runs_alone_and_shapes_never_mix():
    seen = []

    def model(x):
        seen.append(x.shape)
        return rowwise(x)

    async def main():
        b = DynamicBatcher(model, max_batch=4, max_wait=0.05)
        b.start()
        big = np.arange(18.0).reshape(6, 3)
        small = np.ones((1, 3))
        other = np.ones((2, 5))
        outs = await asyncio.gather(b.submit(small), b.submit(big), b.submit(other),
                                    b.submit(small * 2))
        await b.stop()
        return outs

    outs = run(main())
    np.testing.assert_array_equal(outs[1][1], np.arange(18.0).reshape(6, 3))
    np.testing.assert_array_equal(outs[1][0], [2, 2, 2, 2, 2, 2])
    np.testing.assert_array_equal(outs[3][1], [[2, 2, 2]])
    # the big request ran alone, in slices of max_batch: (4, 3) then (2, 3)
    assert all(s[1:] in ((3,), (5,)) for s in seen) and max(s[0] for s in seen) <= 4
    assert seen.count((2, 3)) >= 1 and sum(s[0] for s in seen) == 1 + 6 + 2 + 1


def test_no_wait_still_batches_what_queued_during_a_pass():
    seen = []

    def model(x):
        seen.append(len(x))
        return rowwise(x)

    async def main():
        b = DynamicBatcher(model, max_batch=64, max_wait=0.0)
        b.start()
        outs = await asyncio.gather(*(b.submit(np.full((1, 2), k)) for k in range(20)))
        await b.stop()
        return outs

    outs = run(main())
    assert [o[1][0, 0] for o in outs] == list(range(20))
    assert sum(seen) == 20


def test_model_failure_reaches_every_request_of_the_batch_and_batching_goes_on():
    calls = []

    def model(x):
        calls.append(len(x))
        if len(calls) == 1:
            raise RuntimeError("out of cheese")
        return rowwise(x)

    async def main():
        b = DynamicBatcher(model, max_batch=8, max_wait=0.05)
        b.start()
        first = await asyncio.gather(*(b.submit(np.ones((1, 2))) for _ in range(3)),
                                     return_exceptions=True)
        second = await b.submit(np.ones((1, 2)))
        await b.stop()
        return first, second

    first, second = run(main())
    assert all(isinstance(e, RuntimeError) and "cheese" in str(e) for e in first)
    assert second[0].tolist() == [0]


def test_a_full_queue_is_refused_and_stop_fails_what_is_left():
    import threading
    gate = threading.Event()

    def slow(x):
        gate.wait(30)
        return rowwise(x)

    async def main():
        b = DynamicBatcher(slow, max_batch=1, max_wait=0.0, max_queue=2)
        b.start()
        running = asyncio.ensure_future(b.submit(np.ones((1, 2))))
        await asyncio.sleep(0)  # it is queued ...
        while b.queued:  # ... until it is on the model thread
            await asyncio.sleep(0.01)
        queued = [asyncio.ensure_future(b.submit(np.ones((1, 2)))) for _ in range(2)]
        await asyncio.sleep(0)
        assert b.queued == 2
        with pytest.raises(Overloaded, match="2 requests are already waiting"):
            await b.submit(np.ones((1, 2)))
        stopping = asyncio.ensure_future(b.stop())
        await asyncio.sleep(0.05)
        gate.set()  # let the model thread finish, so the executor can shut down
        await stopping
        return await asyncio.gather(running, *queued, return_exceptions=True)

    outcomes = run(main())
    assert len(outcomes) == 3
    assert all(isinstance(e, Overloaded) and "shutting down" in str(e) for e in outcomes), outcomes


def test_an_idle_batch_waits_only_for_requests_on_their_way():
    seen = []

    def model(x):
        seen.append(len(x))
        return rowwise(x)

    async def main():
        b = DynamicBatcher(model, max_batch=8, max_wait=30.0)
        b.start()
        # nobody else is coming: the lone request goes at once, not after 30 s
        alone = await asyncio.wait_for(b.submit(np.ones((1, 2))), 10)
        # a second request is being read: the first waits for it and they share a pass
        coming = b.incoming()
        first = asyncio.ensure_future(b.submit(np.zeros((1, 2))))
        await asyncio.sleep(0.05)
        assert not first.done() and seen == [1]  # held for the one being read
        second = await b.submit(np.full((1, 2), 2.0), coming)
        # a request that fails while being read stops the wait
        failing = b.incoming()
        third = asyncio.ensure_future(b.submit(np.ones((1, 2))))
        await asyncio.sleep(0.05)
        assert not third.done()
        failing.close()
        await asyncio.wait_for(third, 10)
        await b.stop()
        return alone, await first, second

    alone, first, second = run(main())
    assert seen == [1, 2, 1]
    assert first[1].tolist() == [[0, 0]] and second[1].tolist() == [[2, 2]]


def test_settings_are_checked():
    for kwargs, words in [({"max_batch": 0}, "max_batch"), ({"max_wait": -1}, "max_wait"),
                          ({"max_queue": 0}, "max_queue")]:
        with pytest.raises(ValueError, match=words):
            DynamicBatcher(rowwise, **kwargs)
    with pytest.raises(RuntimeError, match="start"):
        run(DynamicBatcher(rowwise).submit(np.ones((1, 2))))
