"""The compiled (numba) bounded shortest-path searches behind :mod:`carecircle.network.reach`.

A bucket queue (delta-stepping) for walking limits, a binary heap for huge ones;
counting sorts for grouping; the chunk workers that run one search per source.
The module is private to the network stage; the names :mod:`~carecircle.network.reach`
calls (:func:`reach_chunk`, :func:`nodes_chunk`, :func:`multi_source`,
:func:`counting_order`) are its interface, the rest (underscored) its parts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np

_INF = np.inf


def _njit(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(cache=True, **options)``, or uncached when no cache folder is writable.

    numba keeps compiled kernels in the package's ``__pycache__``, else in
    ``$NUMBA_CACHE_DIR``, else in the user's cache folder (``~/.cache/numba``).  When
    none of them can be written (a read-only install and a read-only or missing home,
    as for a service account) numba refuses ``cache=True`` with "cannot cache function";
    then the kernels are compiled in memory at each start (a few seconds) instead.
    Set ``NUMBA_CACHE_DIR`` to a writable folder to keep the cache.
    """

    def wrap(fn: Callable[..., Any]) -> Any:
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError as exc:
            if "cannot cache" not in str(exc):
                raise
            return numba.njit(cache=False, **options)(fn)

    return wrap


# --------------------------------------------------------------------------- kernels


@_njit(nogil=True, inline="always")
def _push(hd, hn, hs, d, v):  # pragma: no cover - compiled
    """Sift (d, v) up into the binary min-heap of size hs; returns the new size."""
    j = hs
    while j > 0:
        p = (j - 1) >> 1
        if hd[p] <= d:
            break
        hd[j] = hd[p]
        hn[j] = hn[p]
        j = p
    hd[j] = d
    hn[j] = v
    return hs + 1


@_njit(nogil=True)
def _search(
    indptr, indices, weights, su, sv, du, dv, limit, dist, touched, hd, hn
):  # pragma: no cover
    """Bounded Dijkstra from two seeded nodes (the ends of a point's edge).

    A binary heap with lazy deletion; an entry is stale when its distance is
    above the node's current one.  With non-negative weights a node is
    expanded once, so the heap never holds more than ``nnz + 2`` entries: the
    caller preallocates that and no growth check is needed.  No ``settled``
    array either: a settled node never passes ``nd < dist[v]`` again.
    Returns ``nt``: ``touched[:nt]`` lists every node with ``dist <= limit``;
    the caller resets ``dist`` for them.
    """
    nt = 0
    hs = 0
    if du <= limit:
        dist[su] = du
        touched[nt] = su
        nt += 1
        hs = _push(hd, hn, hs, du, su)
    if dv <= limit and dv < dist[sv]:
        if dist[sv] == np.inf:
            touched[nt] = sv
            nt += 1
        dist[sv] = dv
        hs = _push(hd, hn, hs, dv, sv)
    while hs > 0:
        d = hd[0]
        u = hn[0]
        hs -= 1
        if hs > 0:
            dd = hd[hs]
            nn = hn[hs]
            j = 0
            while True:
                c = 2 * j + 1
                if c >= hs:
                    break
                if c + 1 < hs and hd[c + 1] < hd[c]:
                    c += 1
                if hd[c] >= dd:
                    break
                hd[j] = hd[c]
                hn[j] = hn[c]
                j = c
            hd[j] = dd
            hn[j] = nn
        if d > dist[u]:
            continue
        for k in range(indptr[u], indptr[u + 1]):
            v = indices[k]
            nd = d + weights[k]
            if nd <= limit and nd < dist[v]:
                if dist[v] == np.inf:
                    touched[nt] = v
                    nt += 1
                dist[v] = nd
                hs = _push(hd, hn, hs, nd, v)
    return nt


@_njit(nogil=True)
def _grow(a, n):  # pragma: no cover - compiled
    b = np.empty(max(2 * a.shape[0], n), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@_njit(nogil=True)
def _bucket_search(
    indptr, indices, weights, su, sv, du, dv, limit, inv, dist, touched, head, pn, pd, pnext
):  # pragma: no cover - compiled
    """Bounded search with a bucket queue (delta-stepping, run on one thread).

    Bucket ``b`` holds the entries with ``b <= d * inv < b + 1``, as linked
    lists in the pool ``pn, pd, pnext`` (node, distance, next entry).  Buckets
    are emptied in order; an entry is stale when its distance is no longer the
    node's.  An edge shorter than the bucket width can improve a node of the
    bucket being emptied: the node is pushed again into that bucket and
    expanded again, so the result is exact (label-correcting within a bucket,
    label-setting across buckets), not an approximation by bucket width.
    Shortest paths are the same as Dijkstra's; on street networks it does the
    same work without a heap's log factor and mispredicted branches.

    ``head`` comes in all ``-1`` and is left so.  Returns the number of
    touched nodes, or ``-1`` when the pool is full: the search is undone
    (``dist`` and ``head`` reset) and the caller grows the pool and runs it
    again.  Growing inside would let the arrays change in the loop, which costs
    the compiled loop more than the rare second run.
    """
    nt = 0
    npool = 0
    top = -1
    if du <= limit:
        dist[su] = du
        touched[nt] = su
        nt += 1
        b = int(du * inv)
        pn[npool] = su
        pd[npool] = du
        pnext[npool] = head[b]
        head[b] = npool
        npool += 1
        top = b
    if dv <= limit and dv < dist[sv]:
        if dist[sv] == np.inf:
            touched[nt] = sv
            nt += 1
        dist[sv] = dv
        b = int(dv * inv)
        pn[npool] = sv
        pd[npool] = dv
        pnext[npool] = head[b]
        head[b] = npool
        npool += 1
        top = max(top, b)
    b = 0
    while b <= top:
        i = head[b]
        if i < 0:
            b += 1
            continue
        head[b] = pnext[i]
        u = pn[i]
        d = pd[i]
        if d != dist[u]:
            continue
        for k in range(indptr[u], indptr[u + 1]):
            v = indices[k]
            nd = d + weights[k]
            if nd <= limit and nd < dist[v]:
                if dist[v] == np.inf:
                    touched[nt] = v
                    nt += 1
                dist[v] = nd
                if npool == pn.shape[0]:
                    for j in range(nt):
                        dist[touched[j]] = np.inf
                    for j in range(top + 1):
                        head[j] = -1
                    return -1
                bv = int(nd * inv)
                pn[npool] = v
                pd[npool] = nd
                pnext[npool] = head[bv]
                head[bv] = npool
                npool += 1
                if bv > top:
                    top = bv
    return nt


@_njit(nogil=True)
def _search_from(
    indptr, indices, weights, su, sv, du, dv, limit, inv, dist, touched, hd, hn, head, pd, pnext
):  # pragma: no cover - compiled
    """One bounded search with the queue ``inv`` selects (see :func:`reach_chunk`).

    Returns ``(nt, hn, pd, pnext)``: the bucket pool grows (and the search runs
    again) when it fills, and the caller keeps the grown arrays.
    """
    if inv <= 0.0:
        nt = _search(indptr, indices, weights, su, sv, du, dv, limit, dist, touched, hd, hn)
        return nt, hn, pd, pnext
    while True:
        nt = _bucket_search(
            indptr, indices, weights, su, sv, du, dv, limit, inv, dist, touched, head, hn, pd, pnext
        )
        if nt >= 0:
            return nt, hn, pd, pnext
        hn = _grow(hn, 2 * hn.shape[0])
        pd = _grow(pd, 2 * pd.shape[0])
        pnext = _grow(pnext, 2 * pnext.shape[0])


@_njit(nogil=True)
def counting_order(keys, n):  # pragma: no cover - compiled
    """Stable sort of integer keys in ``[0, n)`` by counting: (ptr, order).

    ``ptr`` has ``n + 1`` entries, ``order[ptr[k]:ptr[k + 1]]`` are the
    positions of key ``k`` in their original order.  O(len(keys) + n), where
    an argsort would be O(len(keys) log len(keys)).
    """
    ptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(keys.shape[0]):
        ptr[keys[i] + 1] += 1
    for k in range(n):
        ptr[k + 1] += ptr[k]
    order = np.empty(keys.shape[0], dtype=np.int64)
    # ptr[k] serves as the cursor of key k and ends at the start of key k + 1;
    # one shift puts the starts back (no second array of n entries).
    for i in range(keys.shape[0]):
        k = keys[i]
        order[ptr[k]] = i
        ptr[k] += 1
    for k in range(n, 0, -1):
        ptr[k] = ptr[k - 1]
    ptr[0] = 0
    return ptr, order


@_njit(nogil=True)
def reach_chunk(
    indptr,
    indices,
    weights,
    sources,
    src_u,
    src_v,
    src_du,
    src_dv,
    src_edge,
    src_t,
    src_c,
    att_ptr,
    att_tgt,
    att_off,
    att_edge,
    tgt_c,
    tgt_t,
    limit,
    inv,
    dist,
    touched,
    hd,
    hn,
    head,
    pd,
    pnext,
    best,
    hit,
):  # pragma: no cover - compiled
    """Pairs (source, target, metres) within ``limit`` for a chunk of sources.

    ``inv`` is 1 / bucket width for :func:`_bucket_search`, 0 for the heap
    search.  ``dist`` and ``best`` come in all ``inf``, ``head`` all ``-1``,
    and are left so; the other work arrays are scratch.  They belong to the
    calling thread and live across its chunks, so a chunk costs no O(nodes)
    allocation.
    """
    cap = 1024
    out_s = np.empty(cap, dtype=np.int64)
    out_t = np.empty(cap, dtype=np.int64)
    out_d = np.empty(cap, dtype=np.float64)
    n_out = 0
    for si in range(sources.shape[0]):
        s = sources[si]
        nt, hn, pd, pnext = _search_from(
            indptr,
            indices,
            weights,
            src_u[s],
            src_v[s],
            src_du[s],
            src_dv[s],
            limit,
            inv,
            dist,
            touched,
            hd,
            hn,
            head,
            pd,
            pnext,
        )
        nh = 0
        for j in range(nt):
            node = touched[j]
            dn = dist[node]
            dist[node] = np.inf  # reset for the next search in the same pass
            for a in range(att_ptr[node], att_ptr[node + 1]):
                k = att_tgt[a]
                cand = (dn + att_off[a]) + tgt_c[k]
                if cand <= limit and cand < best[k]:
                    if best[k] == np.inf:
                        hit[nh] = k
                        nh += 1
                    best[k] = cand
        # Targets on the source's own edge may walk straight along it.  Each of
        # them hangs off the edge's first end, so look there (whether or not the
        # search reached it: on a long edge the ends may be out of reach).
        e = src_edge[s]
        u0 = src_u[s]
        for a in range(att_ptr[u0], att_ptr[u0 + 1]):
            if att_edge[a] != e:
                continue
            k = att_tgt[a]
            cand = (src_c[s] + abs(src_t[s] - tgt_t[k])) + tgt_c[k]
            if cand <= limit and cand < best[k]:
                if best[k] == np.inf:
                    hit[nh] = k
                    nh += 1
                best[k] = cand
        if n_out + nh > cap:
            cap = max(2 * cap, n_out + nh)
            out_s = _grow(out_s, cap)
            out_t = _grow(out_t, cap)
            out_d = _grow(out_d, cap)
        for j in range(nh):
            k = hit[j]
            out_s[n_out] = s
            out_t[n_out] = k
            out_d[n_out] = best[k]
            n_out += 1
            best[k] = np.inf
    return out_s[:n_out].copy(), out_t[:n_out].copy(), out_d[:n_out].copy()


@_njit(nogil=True)
def nodes_chunk(
    indptr,
    indices,
    weights,
    sources,
    src_u,
    src_v,
    src_du,
    src_dv,
    limit,
    inv,
    dist,
    touched,
    hd,
    hn,
    head,
    pd,
    pnext,
):  # pragma: no cover - compiled
    """(source, node, metres) for every node within ``limit`` of each source.

    Work arrays as in :func:`reach_chunk`.
    """
    cap = 1024
    out_s = np.empty(cap, dtype=np.int64)
    out_n = np.empty(cap, dtype=np.int64)
    out_d = np.empty(cap, dtype=np.float64)
    n_out = 0
    for si in range(sources.shape[0]):
        s = sources[si]
        nt, hn, pd, pnext = _search_from(
            indptr,
            indices,
            weights,
            src_u[s],
            src_v[s],
            src_du[s],
            src_dv[s],
            limit,
            inv,
            dist,
            touched,
            hd,
            hn,
            head,
            pd,
            pnext,
        )
        if n_out + nt > cap:
            cap = max(2 * cap, n_out + nt)
            out_s = _grow(out_s, cap)
            out_n = _grow(out_n, cap)
            out_d = _grow(out_d, cap)
        for j in range(nt):
            node = touched[j]
            out_s[n_out] = s
            out_n[n_out] = node
            out_d[n_out] = dist[node]
            n_out += 1
            dist[node] = np.inf
    return out_s[:n_out].copy(), out_n[:n_out].copy(), out_d[:n_out].copy()


@_njit(nogil=True, inline="always")
def _before(d1, l1, d2, l2):  # pragma: no cover - compiled
    return d1 < d2 or (d1 == d2 and l1 < l2)


@_njit(nogil=True, inline="always")
def _push_labelled(hd, hl, hn, hs, d, lb, v):  # pragma: no cover - compiled
    """Sift (d, lb, v) up into the (distance, label) min-heap of size hs; the new size."""
    j = hs
    while j > 0:
        p = (j - 1) >> 1
        if not _before(d, lb, hd[p], hl[p]):
            break
        hd[j] = hd[p]
        hl[j] = hl[p]
        hn[j] = hn[p]
        j = p
    hd[j] = d
    hl[j] = lb
    hn[j] = v
    return hs + 1


@_njit(nogil=True)
def multi_source(
    indptr, indices, weights, n_nodes, seed_n, seed_d, seed_lab, limit
):  # pragma: no cover
    """Multi-source Dijkstra: per node the nearest seed label and its distance.

    The heap orders by (distance, label), so ties go to the smaller label.
    Each (node, label) improvement pushes once; a node is expanded once, so
    the heap holds at most ``nnz + seeds`` entries.  The pop is written out
    here, as in :func:`_search`: as a helper returning a tuple it cost this
    loop about a fifth of its speed.
    """
    dist = np.full(n_nodes, np.inf)
    lab = np.full(n_nodes, -1, dtype=np.int64)
    cap = indices.shape[0] + seed_n.shape[0] + 1
    hd = np.empty(cap, dtype=np.float64)
    hl = np.empty(cap, dtype=np.int64)
    hn = np.empty(cap, dtype=np.int64)
    hs = 0
    for i in range(seed_n.shape[0]):
        u = seed_n[i]
        d = seed_d[i]
        lb = seed_lab[i]
        if d <= limit and _before(d, lb, dist[u], lab[u]):
            dist[u] = d
            lab[u] = lb
            hs = _push_labelled(hd, hl, hn, hs, d, lb, u)
    while hs > 0:
        d = hd[0]
        lb = hl[0]
        u = hn[0]
        hs -= 1
        if hs > 0:
            dd = hd[hs]
            ll = hl[hs]
            nn = hn[hs]
            j = 0
            while True:
                c = 2 * j + 1
                if c >= hs:
                    break
                if c + 1 < hs and _before(hd[c + 1], hl[c + 1], hd[c], hl[c]):
                    c += 1
                if not _before(hd[c], hl[c], dd, ll):
                    break
                hd[j] = hd[c]
                hl[j] = hl[c]
                hn[j] = hn[c]
                j = c
            hd[j] = dd
            hl[j] = ll
            hn[j] = nn
        if d != dist[u] or lb != lab[u]:
            continue  # stale
        for k in range(indptr[u], indptr[u + 1]):
            v = indices[k]
            nd = d + weights[k]
            if nd <= limit and _before(nd, lb, dist[v], lab[v]):
                dist[v] = nd
                lab[v] = lb
                hs = _push_labelled(hd, hl, hn, hs, nd, lb, v)
    return dist, lab
