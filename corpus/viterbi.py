"""Viterbi decoding of a hidden Markov model in log space (max-plus recursion), then the backtrack."""

import numpy as np
import numpy.typing as npt

SIZES = (100, 1_000, 30_000, 500_000)  # observations; 16 states, 8 symbols
STATES = 16
SYMBOLS = 8


def viterbi(
    log_init: np.ndarray, log_trans: np.ndarray, log_emit: np.ndarray, obs: npt.NDArray[np.int64]
) -> tuple:
    T = len(obs)
    S = len(log_init)
    score = np.empty((T, S))
    back = np.zeros((T, S), dtype=np.int64)
    for s in range(S):
        score[0, s] = log_init[s] + log_emit[s, obs[0]]
    for t in range(1, T):
        for s in range(S):
            best = score[t - 1, 0] + log_trans[0, s]
            arg = 0
            for r in range(1, S):
                cand = score[t - 1, r] + log_trans[r, s]
                if cand > best:
                    best = cand
                    arg = r
            score[t, s] = best + log_emit[s, obs[t]]
            back[t, s] = arg
    path = np.zeros(T, dtype=np.int64)
    last = 0
    for s in range(1, S):
        if score[T - 1, s] > score[T - 1, last]:
            last = s
    path[T - 1] = last
    t = T - 1
    while t > 0:
        path[t - 1] = back[t, path[t]]
        t -= 1
    return score[T - 1, last], path


def inputs(size: int) -> tuple:
    rng = np.random.default_rng((175, size))
    init = rng.dirichlet(np.ones(STATES))
    trans = rng.dirichlet(np.ones(STATES), STATES)
    emit = rng.dirichlet(np.ones(SYMBOLS), STATES)
    return np.log(init), np.log(trans), np.log(emit), rng.integers(0, SYMBOLS, size, dtype=np.int64)


def reference(
    log_init: np.ndarray, log_trans: np.ndarray, log_emit: np.ndarray, obs: npt.NDArray[np.int64]
) -> tuple:
    T = len(obs)
    back = np.zeros((T, len(log_init)), dtype=np.int64)
    score = log_init + log_emit[:, obs[0]]
    for t in range(1, T):
        cand = score[:, None] + log_trans  # cand[r, s]
        back[t] = np.argmax(cand, axis=0)
        score = cand[back[t], np.arange(len(log_init))] + log_emit[:, obs[t]]
    path = np.zeros(T, dtype=np.int64)
    path[-1] = np.argmax(score)
    for t in range(T - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return score[path[-1]], path
