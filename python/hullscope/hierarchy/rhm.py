"""The Random Hierarchy Model (RHM) and its sparse version (SRHM): rules, exact counts, sampling.

RHM (Cagnetta et al. 2024): L levels, vocabulary v per level, n_c classes at the top, patch size s,
m synonyms per symbol. Every symbol (class at the top) owns m distinct s-tuples of symbols of the
level below; tuples are drawn uniformly *without replacement* over all v^s tuples of a level, so no
tuple belongs to two symbols. A datum is generated top-down by choosing, at every node, one of its
symbol's m tuples; its input is the s^L symbols at the bottom. There are
P_max = n_c m^((s^L - 1)/(s - 1)) distinct data, indexed here by mixed-radix integers (Python ints:
no overflow) and sampled by index without enumeration.

SRHM (Tomasini & Wyart 2024): an "empty" symbol is added. Each child of an informative node sits in
its own sub-patch of s0 + 1 positions at a uniformly random slot (variant ``"subpatch"``), or the s
children keep their order at s random positions of the whole s(s0+1) patch (variant ``"ordered"``);
the other positions are empty, and an empty position expands into an all-empty patch. Positions are
resampled for every node and datum. The input length is (s(s0+1))^L.

Inputs are integer sequences with ``EMPTY = -1``; :func:`one_hot` encodes them.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from itertools import combinations
from typing import Dict, List, Sequence, Tuple

import numpy as np

__all__ = ["EMPTY", "Rules", "make_rules", "p_max", "n_positions", "sample_indices", "generate", "decode",
           "one_hot", "resample", "level_symbols"]

EMPTY = -1
#: Longest input (s^L positions) the generator accepts.
MAX_INPUT_LENGTH = 1 << 24


def _check_int(name: str, value: int, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"{name}: expected an int >= {lo}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Rules:
    """The grammar: ``rules[l][symbol]`` is the list of the m tuples of level-l symbols (l = 0 is the
    input level) that ``symbol`` of level l+1 can produce; level L's symbols are the classes."""

    v: int
    m: int
    n_c: int
    s: int
    L: int
    rules: Tuple[Tuple[Tuple[Tuple[int, ...], ...], ...], ...]
    inverse: Tuple[Dict[Tuple[int, ...], Tuple[int, int]], ...]  # per level: tuple -> (symbol, rule index)

    @property
    def n_internal(self) -> int:
        """Informative internal nodes of a datum: (s^L - 1) / (s - 1) (= L when s = 1)."""
        return sum(self.s ** k for k in range(self.L))


def make_rules(v: int, m: int, n_c: int, s: int, L: int, seed: int = 0) -> Rules:
    """Draw the rules of an RHM. Refuses m > v^(s-1) and n_c > v (tuples would run out)."""
    v = _check_int("v", v, 1)
    m = _check_int("m", m, 1)
    n_c = _check_int("n_c", n_c, 1)
    s = _check_int("s", s, 1)
    L = _check_int("L", L, 1)
    if s ** L > MAX_INPUT_LENGTH:
        raise ValueError(f"L: the input length s^L = {s}^{L} exceeds {MAX_INPUT_LENGTH:,} positions; "
                         "no sample of it could be stored")
    if v ** s > 10 ** 8:
        raise ValueError(f"v, s: v^s = {v}^{s} tuples per level exceed 1e8; the rules could not be drawn")
    if m > v ** (s - 1):
        raise ValueError(f"m: at most v^(s-1) = {v ** (s - 1)} synonyms fit without sharing tuples, got m = {m}")
    if n_c > v:
        raise ValueError(f"n_c: expected at most v = {v} classes, got {n_c}")
    rng = random.Random(seed)
    rules, inverse = [], []
    for level in range(L):  # tuples of level-`level` symbols, owned by symbols of level+1
        n_parents = n_c if level == L - 1 else v
        picks = rng.sample(range(v ** s), n_parents * m)  # without replacement
        level_rules, inv = [], {}
        for p in range(n_parents):
            tuples = []
            for r in range(m):
                code = picks[p * m + r]
                t = tuple((code // v ** (s - 1 - q)) % v for q in range(s))
                tuples.append(t)
                inv[t] = (p, r)
            level_rules.append(tuple(tuples))
        rules.append(tuple(level_rules))
        inverse.append(inv)
    return Rules(v, m, n_c, s, L, tuple(rules), tuple(inverse))


def n_positions(s: int, s0: int, variant: str = "subpatch") -> int:
    """Placements of an informative node's s children in its s(s0+1) patch."""
    s = _check_int("s", s, 1)
    s0 = _check_int("s0", s0, 0)
    if variant == "subpatch":
        return (s0 + 1) ** s
    if variant == "ordered":
        return math.comb(s * (s0 + 1), s)
    raise ValueError(f"variant: expected 'subpatch' or 'ordered', got {variant!r}")


def p_max(rules: Rules, s0: int = 0, variant: str = "subpatch") -> int:
    """Exact number of distinct inputs (a Python int): n_c m^N (positions)^N, N internal nodes."""
    N = rules.n_internal
    return rules.n_c * rules.m ** N * n_positions(rules.s, s0, variant) ** N


def sample_indices(total: int, P: int, seed: int = 0) -> List[int]:
    """P distinct uniform indices in [0, total), without enumerating (works for huge totals)."""
    P = _check_int("P", P, 0)
    if P > total:
        raise ValueError(f"P: asked for {P} distinct data but only {total} exist")
    rng = random.Random(seed)
    if total < 2 ** 62:
        return rng.sample(range(total), P)
    # range() of a huge int has no len(): draw with randrange (exact for any int) and reject repeats
    seen, out = set(), []
    while len(out) < P:
        i = rng.randrange(total)
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


def _placements(s: int, s0: int, variant: str) -> List[Tuple[int, ...]]:
    if variant == "subpatch":
        out = []
        for code in range((s0 + 1) ** s):
            slots = [(code // (s0 + 1) ** q) % (s0 + 1) for q in range(s)]
            out.append(tuple(q * (s0 + 1) + slots[q] for q in range(s)))
        return out
    return list(combinations(range(s * (s0 + 1)), s))


def generate(rules: Rules, indices: Sequence[int], s0: int = 0, variant: str = "subpatch") -> Tuple[np.ndarray, np.ndarray]:
    """The inputs and labels of data given by their indices in [0, p_max).

    Returns ``X`` int64 (P, (s(s0+1))^L) with EMPTY = -1, and labels (P,). The index is read as
    mixed-radix digits: class, then for every internal node in breadth-first order its rule choice,
    then (s0 > 0) its placement.
    """
    s0 = _check_int("s0", s0, 0)
    total = p_max(rules, s0, variant)
    s, L, m = rules.s, rules.L, rules.m
    places = _placements(s, s0, variant) if s0 > 0 else [tuple(range(s))]
    n_pl = len(places)
    width = s * (s0 + 1)
    X = np.full((len(indices), width ** L), EMPTY, dtype=np.int64)
    y = np.zeros(len(indices), dtype=np.int64)
    for row, idx in enumerate(indices):
        idx = int(idx)
        if not 0 <= idx < total:
            raise ValueError(f"indices: {idx} is outside [0, {total})")
        cls = idx % rules.n_c
        idx //= rules.n_c
        y[row] = cls
        level_syms = [cls]  # symbols of the current level, EMPTY included, in position order
        for level in range(L - 1, -1, -1):
            nxt = []
            for sym in level_syms:
                patch = [EMPTY] * width
                if sym != EMPTY:
                    r = idx % m
                    idx //= m
                    pl = places[0]
                    if n_pl > 1:
                        pl = places[idx % n_pl]
                        idx //= n_pl
                    for child, pos in zip(rules.rules[level][sym][r], pl):
                        patch[pos] = child
                nxt.extend(patch)
            level_syms = nxt
        X[row] = level_syms
    return X, y


def decode(rules: Rules, x: Sequence[int], s0: int = 0, variant: str = "subpatch") -> int:
    """The class of input ``x`` if it is a valid derivation under the rules, else ValueError."""
    s, L = rules.s, rules.L
    width = s * (s0 + 1)
    cur = [int(t) for t in x]
    if len(cur) != width ** L:
        raise ValueError(f"x: expected length {width ** L}, got {len(cur)}")
    for level in range(L):
        nxt = []
        for a in range(0, len(cur), width):
            patch = cur[a:a + width]
            if all(t == EMPTY for t in patch):
                nxt.append(EMPTY)
                continue
            pos = [i for i, t in enumerate(patch) if t != EMPTY]
            if len(pos) != s:
                raise ValueError(f"x: a level-{level} patch holds {len(pos)} informative symbols, not {s}")
            if variant == "subpatch" and [p // (s0 + 1) for p in pos] != list(range(s)):
                raise ValueError(f"x: a level-{level} patch does not put one symbol in each sub-patch")
            t = tuple(patch[p] for p in pos)
            hit = rules.inverse[level].get(t)
            if hit is None:
                raise ValueError(f"x: the level-{level} tuple {t} is not produced by any rule")
            nxt.append(hit[0])
        cur = nxt
    if len(cur) != 1 or cur[0] == EMPTY:
        raise ValueError("x: does not derive from a class")
    return cur[0]


def one_hot(X: np.ndarray, v: int, empty_channel: bool = False, whiten: bool = False) -> np.ndarray:
    """(P, d) symbols -> (P, v, d) float32 one-hot; EMPTY is all zeros, or channel v if ``empty_channel``.

    ``whiten``: informative positions become (e_x - 1/v) * sqrt(v / (v - 1)), centred and of unit norm
    (the one-hot vectors of a uniform symbol then have zero mean and isotropic covariance over the v
    channels' simplex); empty positions stay zero.
    """
    v = _check_int("v", v, 1)
    X = np.asarray(X)
    if X.ndim != 2 or not np.issubdtype(X.dtype, np.integer):
        raise ValueError(f"X: expected a 2-D integer array of symbols (P, d), got dtype {X.dtype}, shape {X.shape}")
    bad = (X != EMPTY) & ((X < 0) | (X >= v))
    if bad.any():
        raise ValueError(f"X: symbols must lie in [0, v) = [0, {v}) or be EMPTY ({EMPTY}); got {X[bad].flat[0]}")
    C = v + 1 if empty_channel else v
    out = np.zeros((X.shape[0], C, X.shape[1]), dtype=np.float32)
    P, d = np.indices(X.shape)
    inf = X != EMPTY
    out[P[inf], X[inf], d[inf]] = 1.0
    if whiten:
        if v < 2:
            raise ValueError("whiten: needs v >= 2")
        mask = np.zeros_like(out[:, :1])
        mask[P[inf], 0, d[inf]] = 1.0
        out[:, :v] = (out[:, :v] - mask / v) * np.sqrt(v / (v - 1))
    if empty_channel:
        out[P[~inf], v, d[~inf]] = 1.0
    return out


def _digits(rules: Rules, idx: int, s0: int, variant: str):
    """Split an index into (class, [[(rule, placement) per node] per depth])."""
    n_pl = n_positions(rules.s, s0, variant)
    cls = idx % rules.n_c
    idx //= rules.n_c
    depths = []
    for t in range(rules.L):
        nodes = []
        for _ in range(rules.s ** t):
            r = idx % rules.m
            idx //= rules.m
            pl = 0
            if n_pl > 1:
                pl = idx % n_pl
                idx //= n_pl
            nodes.append([r, pl])
        depths.append(nodes)
    return cls, depths


def _index(rules: Rules, cls: int, depths, s0: int, variant: str) -> int:
    n_pl = n_positions(rules.s, s0, variant)
    idx, mult = cls, rules.n_c
    for nodes in depths:
        for r, pl in nodes:
            idx += r * mult
            mult *= rules.m
            if n_pl > 1:
                idx += pl * mult
                mult *= n_pl
    return idx


def resample(rules: Rules, indices: Sequence[int], level: int, what: str = "synonyms", s0: int = 0,
             variant: str = "subpatch", seed: int = 0, and_above: bool = False) -> List[int]:
    """Indices of the same data with new random choices at one level of the hierarchy.

    ``what="synonyms"``: every node whose symbol lives at ``level`` (1..L; L = the class) re-draws
    which of its m tuples it produces, so symbols at levels >= ``level`` are kept and those below
    change. ``what="positions"``: those nodes re-draw where their children sit (SRHM, s0 > 0).
    ``and_above``: the nodes of every level >= ``level`` re-draw (the class is always kept).
    """
    level = _check_int("level", level, 1)
    if level > rules.L:
        raise ValueError(f"level: expected 1..{rules.L}, got {level}")
    if what not in ("synonyms", "positions"):
        raise ValueError(f"what: expected 'synonyms' or 'positions', got {what!r}")
    if what == "positions" and s0 == 0:
        raise ValueError("what: positions can only change in the sparse model (s0 > 0)")
    rng = random.Random(seed)
    n_pl = n_positions(rules.s, s0, variant)
    t = rules.L - level  # depth of the nodes whose symbols live at `level`
    depths_to_change = range(0, t + 1) if and_above else [t]
    out = []
    for idx in indices:
        cls, depths = _digits(rules, int(idx), s0, variant)
        for tt in depths_to_change:
            for node in depths[tt]:
                if what == "synonyms":
                    node[0] = rng.randrange(rules.m)
                else:
                    node[1] = rng.randrange(n_pl)
        out.append(_index(rules, cls, depths, s0, variant))
    return out


def level_symbols(rules: Rules, X: np.ndarray, s0: int = 0, variant: str = "subpatch") -> List[np.ndarray]:
    """The exact hierarchical representation: for every input, its symbols at levels 0..L (decoded
    with the true rules; EMPTY kept), as a list of L+1 int arrays of shape (P, positions at level)."""
    width = rules.s * (s0 + 1)
    cur = np.asarray(X, dtype=np.int64)
    out = [cur]
    for level in range(rules.L):
        P, d = cur.shape
        nxt = np.full((P, d // width), EMPTY, dtype=np.int64)
        for i in range(P):
            for a in range(d // width):
                patch = cur[i, a * width:(a + 1) * width]
                info = patch[patch != EMPTY]
                if info.size:
                    nxt[i, a] = rules.inverse[level][tuple(int(t) for t in info)][0]
        cur = nxt
        out.append(cur)
    return out
