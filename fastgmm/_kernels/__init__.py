"""Numba kernels, one module per covariance type with the same functions.

Each of ``full``, ``tied``, ``diag`` and ``spherical`` defines:

``stats(X, sw, R, means, prec, const, center)``
    One fused, parallel pass over ``X`` returning the additive sufficient
    statistics ``(N, S1, S2, T)`` with ``S2`` flat. When ``R`` has rows, they
    are the responsibilities of the rows of ``X`` (initialisation); otherwise
    they are computed from the parameters (E-step).
``score_rows(X, means, prec, const, center, lpn, resp, labels)``
    Per-row log-likelihood into ``lpn``; when given rows, responsibilities
    into ``resp`` and arg-max labels into ``labels``.
``S2_SIZE(K, d)``
    The length of the flat ``S2`` statistic.
``update(total, means, center, reg)`` and ``kernel_const(weights, means, prec, const, center)``
    The M-step from a statistics vector, and the per-component constants
    and centre the passes take (see :mod:`mstep`).

``full_small.kernels_for(d)`` gives the first three for full covariances on
3 to 16 features, with the per-component loops unrolled for that d, and on
one feature those of :mod:`diag` (:mod:`full_1d`); the covariance table's
``kernels_for(d)`` picks them.
"""
