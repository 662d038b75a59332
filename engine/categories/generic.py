"""Products without a national layout (gas cylinders, hazardous chemicals, fireworks...).

Scheme ``generic`` (schemes/builtin/generic.toml): a 6-character prefix, 12
FF1 characters over 0-9A-Z and a MOD 37,36 check character. A definition
file that names no category belongs here: its own length, alphabets, check
characters and product fields are its rules, with no prefix and no registry.

>>> from tracecode import categories
>>> [s.name for s in categories.schemes_of("generic")]
['generic']
>>> categories.get("generic").prefixes, categories.get("generic").registry
((), None)
"""
from .category import Category

CATEGORY = Category(
    name="generic",
    title="Other products (generic trace code)",
)
