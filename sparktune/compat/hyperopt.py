"""hyperopt internals sparktune relies on: the defaults of TPE's settings.

``hyperopt.tpe.suggest`` takes its settings as keyword arguments whose defaults are private
module constants; sparktune's TPE exposes the same settings with the same defaults.
"""

from __future__ import annotations

from hyperopt import tpe

#: ``hyperopt.tpe.suggest``'s defaults for gamma, n_EI_candidates and prior_weight.
TPE_GAMMA: float = tpe._default_gamma
TPE_EI_CANDIDATES: int = tpe._default_n_EI_candidates
TPE_PRIOR_WEIGHT: float = tpe._default_prior_weight
