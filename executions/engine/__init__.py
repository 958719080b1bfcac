"""The execution engine's pure core: graph semantics, scheduling and expressions.

Nothing under this package imports Django (a test checks it in a fresh interpreter), so the
scheduler and the expression language can be reasoned about and tested without a database, and
replayed deterministically.
"""
