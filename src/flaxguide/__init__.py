"""flaxguide: a literate guide to JAX, Flax and Optax.

The package holds the code the chapters embed: what a reader sees on a page is the code the
tests run.
"""

__version__ = "0.1.0"
