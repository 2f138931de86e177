"""A sphinx-gallery image scraper for figures that pyplot does not manage.

The toolkit draws with ``matplotlib.figure.Figure`` directly (no pyplot state: figures are
made in loops), which sphinx-gallery's matplotlib scraper cannot see. This one saves every
``Figure`` bound to a name in the example's globals (and every pyplot figure), once.
"""

from __future__ import annotations

from typing import Any

__all__ = ["figure_scraper"]


def figure_scraper(block: Any, block_vars: dict, gallery_conf: dict) -> str:
    """Save the example's new figures as PNG files; return their reST."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    from sphinx_gallery.scrapers import figure_rst

    figs: list[Figure] = []
    candidates = list(block_vars["example_globals"].values())
    candidates += [plt.figure(n) for n in plt.get_fignums()]
    for obj in candidates:
        if isinstance(obj, Figure) and not getattr(obj, "_statetrack_scraped", False) \
                and all(obj is not f for f in figs):
            figs.append(obj)
    paths = []
    for fig, path in zip(figs, block_vars["image_path_iterator"]):
        fig.savefig(path, dpi=110, bbox_inches="tight")
        fig._statetrack_scraped = True
        paths.append(path)
    plt.close("all")
    return figure_rst(paths, gallery_conf["src_dir"])
