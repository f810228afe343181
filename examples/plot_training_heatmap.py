"""
Training: which layers learn
============================

Every recipe of :func:`pyvanish.compare` trained on the same teacher–student
task (16 → 10 × 64 → 1, SGD with learning rate 0.01, 200 steps of 32 samples;
what ``pyvanish train`` runs). Each heat map shows the update ratio
``|ΔW_l| / |W_l|`` of every layer at every step, all on **one** colour scale,
so layers can be compared across recipes: the plain sigmoid network's first
layers stay dark — they do not learn.
"""

import matplotlib.pyplot as plt

import pyvanish
from pyvanish import plot
from pyvanish.compare import parse_config

X, T = pyvanish.teacher_task(256, 16, seed=0)
histories = {}
for recipe in ("tutorial", "relu+he", "relu+he+bn", "transformer", "isometry"):
    name, kw = parse_config(recipe)
    net = pyvanish.Network([16] + [64] * 10 + [1], **{"init": "xavier", **kw, "seed": 0})
    histories[name] = pyvanish.train(net, X, T, steps=200, batch_size=32, lr=0.01)

axes = plot.training_heatmaps(histories)  # one panel per recipe, one shared colour bar
plt.show()

# %%
# The ResNet recipe is left out: at this learning rate it diverges (its
# residual stream grows with depth, so its last layer's gradient is the
# largest). The loss curves of the others:
ax = plot.loss_curves(histories)
plt.show()

# %%
# How far each layer's weights moved, for the tutorial network:
print(histories["tutorial"].summary())
