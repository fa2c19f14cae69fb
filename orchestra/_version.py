"""The package version, in a module of its own so that any layer can name it.

``orchestra.__version__`` re-exports it; modules inside the package import it
from here, because importing the package root from below would make every
layer depend on the whole public API.
"""

__version__ = "0.1.0"
