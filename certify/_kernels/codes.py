"""Kind codes of the kernels that have a numba hot path.

A kernel object hands the jitted kernels a pair ``(kind, params)``: an int from
this table and a float64 parameter vector. The formulas below are the single
source of truth for both the numba kernels and their pure-numpy twins
(``r`` is the Euclidean distance ``|x - y|``, ``<x, y>`` the dot product):

=============  ====  =========================  =========================================
kernel         kind  params                     value k(x, y)
=============  ====  =========================  =========================================
Gaussian       0     [lengthscale]              exp(-r^2 / (2 l^2))
Laplace        1     [lengthscale]              exp(-r / l)
Matern 3/2     2     [lengthscale]              (1 + sqrt(3) r / l) exp(-sqrt(3) r / l)
Matern 5/2     3     [lengthscale]              (1 + a + a^2 / 3) exp(-a), a = sqrt(5) r / l
Polynomial     4     [degree, offset, gamma]    (gamma <x, y> + offset)^degree
Brownian       5     []                         prod_i min(x_i, y_i)        (x, y >= 0)
Periodic       6     [kappa, period]            exp(kappa sum_i cos(2 pi (x_i - y_i) / p))
Arc-cosine 0   7     []                         1 - theta / pi
Arc-cosine 1   8     []                         |x| |y| (sin t + (pi - t) cos t) / pi, t = theta
Exp. dot       9     [scale]                    exp(<x, y> / scale)
=============  ====  =========================  =========================================

For the arc-cosine kernels ``theta`` is the angle between x and y, computed as
``2 atan2(|u - v|, |u + v|)`` with ``u = x/|x|``, ``v = y/|y|`` (Kahan's
formula, accurate at theta = 0 and pi, unlike arccos of the cosine); when
``x = 0`` or ``y = 0`` the order-0 kernel is 1/2 (the Heaviside step at 0 is
1/2) and the order-1 kernel is 0.
"""

from __future__ import annotations

GAUSSIAN = 0
LAPLACE = 1
MATERN32 = 2
MATERN52 = 3
POLYNOMIAL = 4
BROWNIAN = 5
PERIODIC = 6
ARCCOS0 = 7
ARCCOS1 = 8
EXPDOT = 9

N_KINDS = 10
