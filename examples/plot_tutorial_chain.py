"""
The tutorial network's chain, factor by factor
==============================================

The network every tutorial starts with: ``x → h1 → h2 → h3 → y``, one unit per
layer, MSE loss. The gradient reaching each layer is the output gradient times
the chain factors ``φ'(zᵢ)·wᵢ`` of the layers above it. With sigmoid,
``σ' ≤ 1/4``, so each factor is small and the product shrinks geometrically;
with ReLU and He initialisation each active unit's factor is ``wᵢ`` itself.
"""

# %%
# Every quantity of the chain for one sample (``x = 1``, ``t = 0``), for the
# sigmoid network (weights ``N(0, 1)``, seed 0) and for the same chain with ReLU
# hidden layers and positive He-scaled weights, as ``pyvanish seed`` shows it.
import matplotlib.pyplot as plt
import numpy as np

import pyvanish

sigmoid = pyvanish.seed_network()
relu = pyvanish.seed_network(np.abs(sigmoid.explain(1.0, 0.0).w) * np.sqrt(2), activation="relu")
chains = {"sigmoid, w ~ N(0, 1)": sigmoid.explain(x=1.0, t=0.0), "ReLU, |w| · √2": relu.explain(x=1.0, t=0.0)}
for name, ex in chains.items():
    print(f"{name:22}  factors {np.round(ex.factors, 4)}  |dL/dw1| / |dL/dw4| = {abs(ex.grad_w[0] / ex.grad_w[3]):.2e}")

# %%
# Left: the factor of each layer (sigmoid's are all below 1/4 in size). Right:
# ``|dL/dh|`` from the output back to the input — each step down multiplies by
# one factor.
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
layers = np.arange(1, 5)
for k, (name, ex) in enumerate(chains.items()):
    left.bar(layers + (k - 0.5) * 0.38, np.abs(ex.factors), width=0.38, label=name)
    right.semilogy(range(5), np.abs(ex.grad_h), "o-", label=name)
left.axhline(0.25, color="0.4", linestyle="--", linewidth=1)
left.annotate("σ' ≤ 1/4", (4.45, 0.26), ha="right", color="0.3")
left.set(xticks=layers, xlabel="layer i", ylabel="|factor φ'(zᵢ)·wᵢ|", title="chain factors")
right.set(
    xticks=range(5), xticklabels=["x", "h1", "h2", "h3", "y"], ylabel="|dL/dh|", title="the gradient on its way back"
)
right.legend(loc="lower right")
plt.show()

# %%
# The sigmoid network's report: in a notebook (and here) it shows as a card
# with the verdict highlighted and a sparkline of the per-layer norms.
sigmoid.gradient_report([[1.0]], [[0.0]])
