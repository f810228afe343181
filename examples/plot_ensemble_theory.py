"""
Random networks against mean-field theory
=========================================

Three ensembles of 500 random tanh networks (depth 30, width 32), with
``σ_w² = 0.64`` (ordered), ``1`` (critical) and ``4`` (chaotic). For each
layer: the median of ``|dL/dh_l|`` across members and the 5–95 % band, their
root-mean-square (×), and mean-field theory's prediction (dashed), anchored at
the last hidden layer. Theory predicts the mean *square*; in the chaotic phase
the median grows far more slowly than it.
"""

import matplotlib.pyplot as plt

import pyvanish
from pyvanish import plot

fig, axes = plt.subplots(3, 1, figsize=(11, 10), sharex=True, layout="constrained")
reports = {}
for ax, (sw, phase) in zip(axes, ((0.8, "ordered"), (1.0, "critical"), (2.0, "chaotic"))):
    reports[phase] = rep = pyvanish.ensemble([32] * 31 + [1], n=500, activation="tanh", init="normal", sw=sw, seed=0)
    plot.ensemble_bands(rep, ax=ax)
    ax.set_title(rf"{phase}: $\sigma_w^2$ = {sw * sw:.3g}, 500 random tanh networks, depth 30, width 32")
plt.show()

# %%
# The critical ensemble's comparison in numbers:
print(reports["critical"].compare_theory())

# %%
# Where those three sit on tanh's phase diagram: ``χ₁`` over
# ``(σ_w², σ_b²)``, with the critical line ``χ₁ = 1``.
ax = plot.phase_diagram("tanh")
plt.show()
