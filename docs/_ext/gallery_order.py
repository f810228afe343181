"""The order of the gallery's examples: the user guide's order."""

ORDER = ("plot_tutorial_chain.py", "plot_recipes.py", "plot_ensemble_theory.py", "plot_training_heatmap.py")


class GuideOrder:
    """sphinx-gallery's ``within_subsection_order``: listed examples first, in ``ORDER``; any other after, by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename: str):
        return (ORDER.index(filename), "") if filename in ORDER else (len(ORDER), filename)
