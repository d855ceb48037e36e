"""seemlab: the reproducible companion to Yue et al., NeurIPS 2023 (SEEM).

Modules follow the flow paper item -> notebook -> seemlab API -> run -> check record -> book.
Batch axis first everywhere: inputs are ``(N, d)``, scalar-output networks return ``(N,)``.
"""

__version__ = "0.1.0"
