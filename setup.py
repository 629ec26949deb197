"""Package discovery for the ``feedbackgym`` distribution; every other setting lives in pyproject.toml.

The import package ``feedbackgym`` is assembled from top-level folders (``envs/`` becomes
``feedbackgym.envs``, ...). pyproject's ``find`` directive cannot prefix names, so the subpackages
are found here, under each mapped folder: a new subpackage is included without being listed.
"""

from __future__ import annotations

from setuptools import find_packages, setup

# import name -> folder in the repository
PACKAGE_DIRS = {
    "feedbackgym": "feedbackgym",
    "feedbackgym.envs": "envs",
    "feedbackgym.wrappers": "wrappers",
    "feedbackgym.agents": "agents",
    "feedbackgym.experiments": "experiments",
    "feedbackgym.conf": "conf",
}


def discovered_packages() -> list[str]:
    """Every mapped folder and every package below it, under its ``feedbackgym`` name."""
    packages: list[str] = []
    for name, folder in PACKAGE_DIRS.items():
        packages.append(name)
        packages.extend(f"{name}.{sub}" for sub in find_packages(folder, exclude=["*.__pycache__"]))
    return sorted(packages)


if __name__ == "__main__":
    setup(
        packages=discovered_packages(),
        package_dir=PACKAGE_DIRS,
        # the Hydra configs (conf/**.yaml) ship with every package that holds them
        package_data={"": ["*.yaml", "**/*.yaml"]},
    )
