"""The diagnosis run's one accuracy difference, looked at image by image.

    nice -n 10 python capstone/performance/airbench_ties.py

Trains the ``airbench`` recipe as the diagnosis command does (3 epochs, the first 2,048 training
images, seed 0; no evaluations in between, which change nothing: evaluation touches no weights
and no random generator), in TinyTorch and in its PyTorch twin, then measures both on the first
200 test images with TTA level 2 and writes to results/airbench-diagnosis-ties.json which images
the two predict differently, with their top-2 logit margins and the largest logit difference
between the frameworks.
"""
import json
from pathlib import Path
from dataclasses import asdict
import numpy as np
import torch

from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.autograd import no_grad
from tinytorch.core.training.cifar10 import RECIPES, Recipe, prepare_run, tta_logits
from tinytorch.core.training.airbench import AirbenchTrainer, airbench_total_steps, airbench_lr_factor
from tinytorch.capstone.speedrun import torch_twin
from tinytorch.capstone.speedrun_airbench import torch_airbench_optimizer, TorchLookahead

r = Recipe(**{**asdict(RECIPES["airbench"]), "epochs": 3})
o = r.options


def test_logits(fwd, test):
    xs, ys = [], []
    for x, y in test:
        xs.append(tta_logits(fwd, x.data, 2))
        ys.append(np.asarray(y.data))
    return np.concatenate(xs), np.concatenate(ys)

manual_seed(0)
p = prepare_run(r, None, 0, 2048, 200)
run = AirbenchTrainer(p.model, p.optimizer, airbench_total_steps(len(p.train), r.epochs), r.label_smoothing, o["whiten_bias_epochs"], o["lookahead_every"])
for _ in range(3):
    run.train_epoch(p.train)
p.model.eval()
with no_grad():
    ours, labels = test_logits(lambda a: p.model(Tensor(a)).data, p.test)

manual_seed(0)
q = prepare_run(r, None, 0, 2048, 200)
net = torch_twin(q.model, torch)
opt = torch_airbench_optimizer(q.model, net, r, torch)
total = airbench_total_steps(len(q.train), r.epochs)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: airbench_lr_factor(s, total))
loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=r.label_smoothing, reduction="sum")
look = TorchLookahead(net)
step = 0
for epoch in range(3):
    net[0].bias.requires_grad_(epoch < o["whiten_bias_epochs"])
    net.train()
    for x, y in q.train:
        loss = loss_fn(net(torch.from_numpy(np.ascontiguousarray(x.data))),
                       torch.from_numpy(np.asarray(y.data, dtype=np.int64)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        with torch.no_grad():
            if step % 5 == 0:
                look.update(net, 0.95 ** 5 * (step / total) ** 3)
            if step >= total:
                look.update(net, 1.0)
net.eval()
with torch.no_grad():
    theirs, _ = test_logits(lambda a: net(torch.from_numpy(a)).numpy(), q.test)

diff = np.nonzero(ours.argmax(1) != theirs.argmax(1))[0]


def margin(logits):
    s = np.sort(logits, axis=1)
    return s[:, -1] - s[:, -2]


out = {"images": int(len(labels)), "acc_tinytorch": float((ours.argmax(1) == labels).mean()),
       "acc_torch": float((theirs.argmax(1) == labels).mean()),
       "max_abs_logit_diff": float(np.abs(ours - theirs).max()),
       "median_top2_margin": float(np.median(margin(ours))),
       "differing": [{"index": int(i), "margin_tinytorch": float(margin(ours)[i]), "margin_torch": float(margin(theirs)[i]),
                      "max_abs_logit_diff": float(np.abs(ours[i] - theirs[i]).max())} for i in diff]}
out["command"] = "nice -n 10 python capstone/performance/airbench_ties.py"
path = Path(__file__).resolve().parent / "results" / "airbench-diagnosis-ties.json"
path.write_text(json.dumps(out, indent=1) + "\n")
print(json.dumps(out, indent=1))
